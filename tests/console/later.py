"""Relief applications past the decisions, for the console's later steps: at collective review, at the notice
step, in a published notice with an objection, waiting for payment with money reserved on a fund; a member of
staff who both approves and pays (four eyes); and one application of another county at each of those steps."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from models.core.actors import SYSTEM, Actor
from models.identity import staff_accounts
from models.relief import objections, reviewing
from models.relief.tables import relief_applications
from server.passwords import ARGON2
from tests.console.scene import PASSWORD, Scene, actor_of

YEAR = date.today().year


@dataclass
class Later:
    meeting: list[int]        # at collective review (K01), the second flagged
    notice: int               # at the notice step (K01)
    published: int            # in a published batch, with an open objection
    notice_id: int
    objection: int
    payment: int              # waiting for payment (approved 2,500.00 on the fund)
    both_paid: int            # approved by "both1" (approver and finance): four eyes refuse them the payment
    fund: int
    elsewhere: dict[str, int]  # K02's application at each step, and its fund


async def _at(conn: Any, cipher: Any, tree: Any, seq: int, org: str, step: str, name: str,
              proposed: int | None = 250_000) -> int:
    from tests.relief_helpers import submitted, worker

    m, u = await worker(conn, cipher, tree[org], seq, name=name)
    app = await submitted(conn, cipher, m, u, tree[org], step=step)
    if proposed is not None:
        await conn.execute(relief_applications.update().where(relief_applications.c.id == app)
                           .values(proposed_amount=proposed))
    return app


async def approve(conn: Any, cipher: Any, actor: Actor, app: int, fund: int, amount: int = 250_000) -> None:
    await reviewing.decide(conn, cipher, actor, app, reviewing.Decision.of(
        {"step": "approval", "decision": "pass", "amount": amount, "fund_id": fund}))


async def later_scene(running: Any, engine: Any, scene: Scene) -> Later:
    from tests.relief_helpers import flag, fund, publish

    cipher = running.settings["cipher"]
    tree = scene.tree
    async with engine.begin() as conn:
        both = await staff_accounts.create(conn, SYSTEM, hasher=ARGON2, username="both1", password=PASSWORD,
                                           roles=["approver", "finance"], org_code="K01", display_name="both1的名字")
        far = await staff_accounts.create(conn, SYSTEM, hasher=ARGON2, username="farfinance", password=PASSWORD,
                                          roles=["finance", "approver"], org_code="K02", display_name="远处财务")
        meeting = [await _at(conn, cipher, tree, 81, "G01", "collective_review", "周一"),
                   await _at(conn, cipher, tree, 82, "G02", "collective_review", "吴二")]
        await flag(conn, meeting[1], other=meeting[0])
        notice = await _at(conn, cipher, tree, 83, "G01", "notice", "郑三")
        published = await _at(conn, cipher, tree, 84, "G02", "notice", "冯四")
        batch = await publish(conn, cipher, actor_of(scene.staff["reviewer1"]), [published], days=7)
        raised = await objections.raise_objection(
            conn, cipher, Actor(kind="public", id=None, request_id="later", ip="10.0.0.9"), batch["id"],
            objections.ObjectionBody.of({"entry": batch["items"][0]["id"], "reason": "申请人家中另有商铺出租收入",
                                         "contact": "13800001234"}), verdict=None, due_days=5)
        fund_id = await fund(conn, actor_of(scene.staff["finance1"]), "K01", 1_000_000)
        payment = await _at(conn, cipher, tree, 85, "G01", "approval", "陈五")
        await approve(conn, cipher, actor_of(scene.staff["approver1"]), payment, fund_id)
        both_paid = await _at(conn, cipher, tree, 86, "G02", "approval", "褚六")
        await approve(conn, cipher, actor_of(both), both_paid, fund_id)
        far_fund = await fund(conn, actor_of(far), "K02", 500_000)
        elsewhere = {"meeting": await _at(conn, cipher, tree, 87, "K02", "collective_review", "卫七"),
                     "notice": await _at(conn, cipher, tree, 88, "K02", "notice", "蒋八"),
                     "payment": await _at(conn, cipher, tree, 89, "K02", "approval", "沈九"), "fund": far_fund}
        await approve(conn, cipher, actor_of(far), elsewhere["payment"], far_fund)
    return Later(meeting, notice, published, batch["id"], int(raised["id"]), payment, both_paid, fund_id, elsewhere)


async def app_row(engine: Any, app_id: int) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(relief_applications).where(relief_applications.c.id == app_id))).one()
