"""Relief (帮扶救助): the kinds of relief as data, per unit and inherited down the tree; the consent text."""
