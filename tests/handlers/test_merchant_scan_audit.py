"""A cashier's scan is audited: which card, at which store, by which cashier, under the merchant's unit,
in the scan's own transaction (a refused scan leaves no record)."""
from __future__ import annotations

import json

import sqlalchemy as sa

from models.core.tables import audit_log
from models.partners.tables import merchants
from models.network.tables import orgs
from tests.factories import counter


async def scans(engine) -> list:
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(audit_log).where(audit_log.c.action == "counter.scan")
                                   .order_by(audit_log.c.id))).all()


async def test_a_scan_is_audited_with_card_store_cashier_and_merchant_unit(api, engine, running):
    scene = await counter(api, engine, running)
    qr = (await api.get("/api/v1/me/card/qr", token=scene.worker)).data["token"]
    scanned = await api.post("/api/v1/merchant/scan", {"qr": qr}, token=scene.cashier)
    assert scanned.status == 200, scanned.data
    again = await api.post("/api/v1/merchant/scan", {"qr": qr}, token=scene.cashier)  # the same session
    assert again.data["scan_id"] == scanned.data["scan_id"]
    refused = await api.post("/api/v1/merchant/scan", {"qr": qr[:-1] + ("A" if qr[-1] != "A" else "B")},
                             token=scene.cashier)
    assert refused.status >= 400
    (row,) = await scans(engine)
    async with engine.connect() as conn:
        merchant_path = (await conn.execute(sa.select(orgs.c.path).join(merchants, merchants.c.org_id == orgs.c.id)
                                            .where(merchants.c.id == scene.merchant_id))).scalar_one()
    summary = json.loads(row.summary)
    assert (row.target_kind, row.target_id, row.org_path) == ("card", str(scene.card_id), merchant_path)
    assert row.actor_kind == "merchant" and row.actor_role == "cashier" and row.request_id and row.ip == "127.0.0.1"
    assert summary["card_id"] == scene.card_id and summary["store_id"] == scene.store_id
    assert summary["merchant_id"] == scene.merchant_id and summary["cashier_id"] == row.actor_id
    assert summary["member_id"] == scene.member_id and summary["printed"] is False
    assert scanned.data["scan_id"] not in row.summary  # the session id redeems: it stays out of the log
