"""Submitted relief applications and the staff who review them, made through the core (the worker's
routes are engineer A's; the end-to-end path over HTTP comes after the merge)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from models.core.actors import SYSTEM, Actor
from models.core.clock import utcnow
from models.identity import sessions
from models.identity import staff_accounts
from models.identity.tables import users
from models.members.tables import members
from models.network import tree as orgs
from models.relief import kinds, records
from models.relief.tables import relief_applications, relief_flags
from server.passwords import ARGON2
from tests.factories import id_number, import_rows

FORM = {"event": "illness", "event_date": "2026-01-05", "situation": "突发脑梗住院，家中无其他收入来源。"}


async def worker(conn: Any, cipher: Any, org: orgs.Org, seq: int, name: str = "王秀英") -> tuple[int, int]:
    """(member id, user id) of a member of ``org`` with a WeChat user."""
    await import_rows(conn, cipher, org, [(name, id_number(seq), "")])
    member_id = (await conn.execute(sa.select(members.c.id).where(members.c.org_id == org.id,
                                                                  members.c.name == name))).scalar_one()
    now = utcnow()
    done = await conn.execute(users.insert().values(openid=f"relief-{seq}", created_at=now, last_login_at=now))
    return int(member_id), int(done.inserted_primary_key[0])


async def submitted(conn: Any, cipher: Any, member_id: int, user_id: int, org: orgs.Org, *,
                    kind: str = "temporary", form: dict[str, Any] | None = None, step: str = "verification",
                    status: str = "submitted", due_in_days: int = 5) -> int:
    """A submitted application at ``step``; its id. A negative ``due_in_days`` makes it overdue."""
    now = utcnow()
    done = await conn.execute(relief_applications.insert().values(
        member_id=member_id, user_id=user_id, org_id=org.id, org_path=org.path, kind=kind,
        kind_definition=kinds.PRESET_DEFINITIONS[kind].model_dump_json(), status=status, step=step, version=1,
        form_enc=records.encrypt_form(cipher, form if form is not None else FORM), requested_amount=300_000,
        consent_version="2026-01", consented_at=now, flagged=False, step_since=now,
        due_at=records.add_working_days(now, due_in_days) if due_in_days > 0 else now + timedelta(days=due_in_days),
        submitted_at=now, created_at=now, updated_at=now))
    return int(done.inserted_primary_key[0])


async def resubmit(conn: Any, cipher: Any, application_id: int) -> None:
    """What the worker's resubmission does to a returned application: back at the step that returned it."""
    app = await records.load(conn, cipher, application_id)
    now = utcnow()
    await records.save(conn, cipher, app, status="submitted", step=app.returned_step, missing=None,
                       step_since=now, due_at=records.add_working_days(now, 5))
    await records.event(conn, app, "resubmitted", step=app.returned_step)


async def flag(conn: Any, application_id: int, other: int | None = None, reason: str = "same_kind_open") -> int:
    """An open flag on the application (A's flags.raise_flags writes these)."""
    done = await conn.execute(relief_flags.insert().values(
        application_id=application_id, other_application_id=other, reason=reason, step="verification",
        status="open", detail="同一会员另有在办的同类申请", created_at=utcnow()))
    await conn.execute(relief_applications.update().where(relief_applications.c.id == application_id)
                       .values(flagged=True))
    return int(done.inserted_primary_key[0])


async def staff(conn: Any, username: str, org_code: str, *roles: str) -> Actor:
    """A member of staff with an account row, as the Actor the domain takes."""
    made = await staff_accounts.create(conn, SYSTEM, hasher=ARGON2, username=username, password="Relief-Pass-2026!",
                                       roles=list(roles), org_code=org_code)
    org = await orgs.by_code(conn, org_code)
    return Actor(kind="staff", id=made.id, roles=frozenset(roles), org_id=org.id, org_path=org.path)


async def token(conn: Any, actor: Actor) -> str:
    """A bearer token for the member of staff."""
    return (await sessions.issue(conn, "staff", actor.id, ttl=3600)).token


async def publish(conn: Any, cipher: Any, actor: Actor, application_ids: list[int], **body: Any) -> dict[str, Any]:
    """A notice batch of the applications (at the notice step) published by ``actor``."""
    from models.relief import notices

    return await notices.publish(conn, cipher, actor, notices.PublishBody.of({"application_ids": application_ids,
                                                                               **body}), visible_days=30)
async def at_approval(conn: Any, cipher: Any, member_id: int, user_id: int, org: orgs.Org, *,
                      proposed: int = 300_000, kind: str = "temporary", form: dict[str, Any] | None = None) -> int:
    """An application that passed its notice: submitted at ``approval`` with a proposed amount; its id."""
    app_id = await submitted(conn, cipher, member_id, user_id, org, kind=kind, form=form, step="approval")
    await conn.execute(relief_applications.update().where(relief_applications.c.id == app_id)
                       .values(proposed_amount=proposed))
    return app_id


async def fund(conn: Any, actor: Actor, org_code: str, budget: int, *, kinds: tuple[str, ...] = ("temporary",),
               name: str = "临时救助专项", source: str = "union", year: int | None = None) -> int:
    """A fund source of this year (Beijing) at ``org_code``; its id."""
    from models.core.clock import LOCAL_TZ
    from models.funds import sources

    made = await sources.create(conn, actor, sources.NewFund.of({
        "org": org_code, "source": source, "name": name, "year": year or utcnow().astimezone(LOCAL_TZ).year,
        "budget": budget, "kinds": list(kinds)}))
    return made.id
async def paid(conn: Any, cipher: Any, application_id: int, amount: int = 200_000) -> None:
    """What recording the payment does (engineer F's route): status ``paid`` at step ``archived``, the
    approved amount, and the ``paid`` event on the timeline."""
    app = await records.load(conn, cipher, application_id)
    now = utcnow()
    await records.save(conn, cipher, app, status="paid", step="archived", approved_amount=amount,
                       proposed_amount=app.proposed_amount or amount, step_since=now, due_at=None)
    await records.event(conn, app, "paid", step="payment", amount=amount)


async def worker_token(conn: Any, member_id: int, user_id: int) -> str:
    """A bearer token for the worker: the user bound to the member, as the WeChat bind does."""
    await conn.execute(members.update().where(members.c.id == member_id).values(user_id=user_id, bound_at=utcnow()))
    return (await sessions.issue(conn, "user", user_id, ttl=3600)).token
