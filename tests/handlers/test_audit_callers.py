"""Every audit record says who acted, in which role, in which request and from where: a walk through
the audited actions of each kind of caller (worker, cashier, manager, staff, the CLI as the system)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from models.core import actors
from models.core.tables import audit_log
from models.identity import sessions
from models.identity import staff_accounts as staff
from models.members import membership as members
from models.members.roster import parse_roster
from models.network import tree as orgs
from server.passwords import ARGON2
from tests.factories import counter, id_number, roster_csv
from tests.redeem_helpers import (  # noqa: F401 - clear_of_midnight is the fixture
    add_program,
    clear_of_midnight,
    items,
    redeem_now,
    refund,
    void,
)

PASSWORD = "audit-Walk-2026!"
pytestmark = pytest.mark.usefixtures("clear_of_midnight")  # a void is for the same day


async def test_every_audit_record_has_who_role_request_and_address(api, engine, running, wechat):
    scene = await counter(api, engine, running)  # test data (made as the system, outside any request) ...
    await add_program(engine, scene, "discount_pharmacy")
    async with engine.connect() as conn:
        since = (await conn.execute(sa.select(sa.func.max(audit_log.c.id)))).scalar_one()
    # ... then the walk: the CLI imports a roster line, its worker binds on the phone (card.issue), a manager
    # binds to the merchant (merchant.bind).
    async with engine.begin() as conn:
        await members.import_roster(conn, running.settings["cipher"], actors.command("import-members"),
                                    parse_roster(roster_csv([("李娜", id_number(31), "")]), "roster.csv"),
                                    org=scene.tree["G01"])
    li = await api.login("li.1")
    bound = await api.post("/api/v1/me/bind", {"name": "李娜", "id_number": id_number(31)}, token=li)
    assert bound.status == 200, bound.data
    async with engine.begin() as conn:
        await orgs.create(conn, actors.command("create-org"), code="G09", name="新工会", type_="grassroots",
                          parent_code="S01")
        made = await staff.create(conn, actors.command("create-staff"), hasher=ARGON2, username="audit.admin", password=PASSWORD,
                                  roles=["station", "admin"], org_code="K01")
        token = (await sessions.issue(conn, "staff", made.id, ttl=3600)).token
    invite = await api.post(f"/api/v1/staff/merchants/{scene.merchant_id}/invites", {"role": "manager"}, token=token)
    assert invite.status == 201, invite.data
    manager = await api.login("manager.1")
    joined = await api.post("/api/v1/merchant/bind", {"invite_code": invite.data["invite"]["code"]}, token=manager)
    assert joined.status == 200, joined.data
    # The cashier redeems and voids; the manager refunds and invites a cashier; the worker reports the card lost.
    first = await redeem_now(api, scene, items(("drug", 10000)))
    assert first.status == 200, first.data
    voided = await void(api, scene.cashier, first.data["id"], "顾客取消")
    assert voided.status == 200, voided.data
    second = await redeem_now(api, scene, items(("drug", 10000)))
    assert second.status == 200, second.data
    refunded = await refund(api, manager, second.data["id"], 500)
    assert refunded.status == 200, refunded.data
    invited = await api.post("/api/v1/merchant/invites", {"store_id": scene.store_id}, token=manager)
    assert invited.status == 200, invited.data
    lost = await api.post("/api/v1/me/card/report-lost", {"reason": "丢了"}, token=scene.worker)
    assert lost.status == 200, lost.data
    # The member of staff the CLI made freezes the new card.
    frozen = await api.post(f"/api/v1/staff/cards/{lost.data['card']['id']}/freeze", {"reason": "核查"}, token=token)
    assert frozen.status == 200, frozen.data

    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(audit_log).where(audit_log.c.id > since).order_by(audit_log.c.id))).all()
    by_kind: dict[str, set[str]] = {}
    for row in rows:
        by_kind.setdefault(row.actor_kind, set()).add(row.action)
        who = row.actor_id is not None or row.actor_kind == "system"
        assert who and row.actor_role and row.request_id and row.ip, (
            row.action, row.actor_kind, row.actor_id, row.actor_role, row.request_id, row.ip)
    assert {"card.issue", "card.report_lost"} <= by_kind["user"]
    assert {"merchant.bind", "redemption.create", "redemption.void", "redemption.refund",
            "merchant.invite"} <= by_kind["merchant"]
    assert {"merchant.invite", "card.freeze"} <= by_kind["staff"]
    assert {"member.import", "org.create", "staff.create"} <= by_kind["system"]
    # A request's records carry that request's id and the caller's address as the server saw it.
    http = [r for r in rows if r.actor_kind != "system"]
    assert all(r.ip == "127.0.0.1" for r in http)
    assert len({r.request_id for r in http}) >= 8
