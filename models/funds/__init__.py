"""Earmarked funds (专款专用): fund sources per unit and year, and the ledger of every movement on them."""
