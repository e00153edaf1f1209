"""The register at the counter, over HTTP: only a confirmed record within its validity opens the
difficult workers' programmes; a pending entry, an expired record and a declined re-check do not."""
from __future__ import annotations

from datetime import timedelta

import pytest

from models.core.actors import SYSTEM
from models.identity import staff_accounts as staff
from models.members import hardship
from models.members.tables import hardship_records
from server.passwords import ARGON2
from tests.factories import counter
from tests.handlers.test_staff import PASSWORD, token_of
from tests.redeem_helpers import (
    add_program,
    clear_of_midnight,  # noqa: F401 - the fixture, for pytestmark
    items,
    local_today,
    redeem_now,
    refused,
)

pytestmark = pytest.mark.usefixtures("clear_of_midnight")

HOUSEHOLD = [{"relation": "本人", "name": "王秀英", "age": 50, "monthly_income": 40_000}]


async def offered(api, scene) -> list[int]:
    """The programmes the cashier's scan offers the worker (the card's list agrees)."""
    qr = await api.get("/api/v1/me/card/qr", token=scene.worker)
    resp = await api.post("/api/v1/merchant/scan", {"qr": qr.data["token"]}, token=scene.cashier)
    assert resp.status == 200, resp.data
    return sorted(b["program_id"] for b in resp.data["benefits"])


async def kind_codes(api, scene) -> list[str]:
    got = await api.get("/api/v1/relief/kinds", token=scene.worker)
    assert got.status == 200, got.data
    return [k["code"] for k in got.data["items"]]


async def test_only_a_confirmed_record_in_force_gives_the_difficult_workers_benefit(api, engine, running):
    scene = await counter(api, engine, running)
    drug_card = await add_program(engine, scene, "pharmacy_drug_card")
    async with engine.begin() as conn:
        await hardship.set_income_lines(conn, scene.admin, "K01", 50_000, 80_000)
        for username, roles, org in (("station.s1", ["station"], "S01"), ("reviewer.k1", ["reviewer"], "K01")):
            await staff.create(conn, SYSTEM, hasher=ARGON2, username=username, password=PASSWORD, roles=roles,
                               org_code=org)
    station, checker = await token_of(api, "station.s1"), await token_of(api, "reviewer.k1")
    entry = {"household": HOUSEHOLD, "causes": ["illness"], "verification_method": "home_visit"}

    # Entered, not yet confirmed: nothing at the counter, nor relief for registered workers.
    rec = await api.post(f"/api/v1/staff/members/{scene.member_id}/hardship", entry, token=station)
    assert rec.status == 201 and rec.data["status"] == "pending", rec.data
    assert await offered(api, scene) == []
    assert "living" not in await kind_codes(api, scene)
    refused(await redeem_now(api, scene, items(("drug", 1000))), 422, "no_benefit")

    # Confirmed by a second person: the drug card pays.
    assert (await api.post(f"/api/v1/staff/hardship/{rec.data['id']}/confirm", {}, token=checker)).status == 200
    assert await offered(api, scene) == [drug_card]
    paid = await redeem_now(api, scene, items(("drug", 1000)))
    assert paid.status == 200 and paid.data["discount"] == 1000, paid.data
    assert "living" in await kind_codes(api, scene)

    # The year is over (its last day was yesterday): expired, and no benefit.
    today = local_today()
    async with engine.begin() as conn:
        await conn.execute(hardship_records.update().where(hardship_records.c.id == rec.data["id"]).values(
            valid_from=today - timedelta(days=365), valid_to=today - timedelta(days=1)))
    history = await api.get(f"/api/v1/staff/members/{scene.member_id}/hardship", token=station)
    assert [r["status"] for r in history.data["items"]] == ["expired"]
    assert await offered(api, scene) == []
    refused(await redeem_now(api, scene, items(("drug", 1000))), 422, "no_benefit")
    # Nor for relief: the kinds for registered workers close again (living relief is theirs alone).
    assert "living" not in await kind_codes(api, scene)

    # A re-check waiting for confirmation does not count either; once confirmed, the card pays again.
    back = await api.post(f"/api/v1/staff/hardship/{rec.data['id']}/recheck",
                          {**entry, "visit_note": "复核入户：仍无业"}, token=station)
    assert back.status == 201, back.data
    assert await offered(api, scene) == []
    assert (await api.post(f"/api/v1/staff/hardship/{back.data['id']}/confirm", {}, token=checker)).status == 200
    assert await offered(api, scene) == [drug_card]
    assert "living" in await kind_codes(api, scene)
