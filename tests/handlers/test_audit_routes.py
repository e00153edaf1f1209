"""The audit chain over HTTP: admins read the signed checkpoints, page by page, with the keys that verify
them; the check answers in Chinese, against every checkpoint, and seals nothing."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from models.core import audit
from models.core.actors import SYSTEM
from models.core.tables import audit_head, audit_log
from models.identity import sessions
from models.identity import staff_accounts as staff
from models.network import tree as orgs
from server import jobs
from server.audit_checkpoints import load_checkpoints
from server.passwords import ARGON2

VERIFY = "/api/v1/staff/audit/verify"
CHECKPOINTS = "/api/v1/staff/audit/checkpoints"


@pytest.fixture
def checkpoints(running, tmp_path):
    """A checkpoint file of this test's own in place of the app's (the data dir outlives the tables)."""
    log = load_checkpoints(tmp_path)
    kept = running.settings["audit_checkpoints"]
    running.settings["audit_checkpoints"] = log
    yield log
    running.settings["audit_checkpoints"] = kept


async def admin_token(engine) -> tuple[str, str]:
    """An admin's and a station clerk's bearer tokens, at a province made for the test."""
    async with engine.begin() as conn:
        await orgs.create(conn, SYSTEM, code="P", name="省总工会", type_="province", parent_code=None)
        tokens = []
        for username, roles in (("audit.admin", ["admin"]), ("audit.clerk", ["station", "reviewer"])):
            made = await staff.create(conn, SYSTEM, hasher=ARGON2, username=username, password="Audit-pass-2026",
                                      roles=roles, org_code="P")
            tokens.append((await sessions.issue(conn, "staff", made.id, ttl=3600)).token)
    return tokens[0], tokens[1]


async def test_admins_page_through_the_checkpoints_newest_first_with_the_keys(api, engine, checkpoints):
    admin, clerk = await admin_token(engine)
    for _ in range(3):
        async with engine.begin() as conn:
            await audit.record(conn, SYSTEM, "test.action")
        await jobs.seal_audit(engine)
        assert await jobs.checkpoint_audit(engine, checkpoints) is not None
    first = await api.get(CHECKPOINTS + "?limit=2", token=admin)
    assert first.status == 200, first.data
    assert [c["seq"] for c in first.data["items"]] == [6, 5] and [c["line"] for c in first.data["items"]] == [3, 2]
    assert all(c["valid"] and c["problem"] is None for c in first.data["items"])
    assert first.data["keys"] == checkpoints.public_keys() and first.data["keys"][0]["alg"] == "Ed25519"
    rest = await api.get(CHECKPOINTS + f"?limit=2&cursor={first.data['next']}", token=admin)
    assert [c["seq"] for c in rest.data["items"]] == [4] and rest.data["next"] is None
    refused = await api.get(CHECKPOINTS, token=clerk)
    assert (refused.status, refused.error_code) == (403, "role_forbidden")


async def test_the_check_answers_in_chinese_against_the_checkpoints_and_seals_nothing(api, engine, checkpoints):
    admin, _ = await admin_token(engine)
    await jobs.seal_and_checkpoint(engine, checkpoints)
    whole = await api.get(VERIFY, token=admin)
    assert whole.status == 200, whole.data
    assert whole.data["ok"] is True and whole.data["checked"] == whole.data["head"] == 3
    assert whole.data["checkpoints"] == 1 and whole.data["newest_checkpoint"]["seq"] == 3
    # Cut the last record and roll the head back with it; one more record waits unsealed.
    async with engine.begin() as conn:
        await conn.execute(audit_log.delete().where(audit_log.c.seq == 3))
        second = (await conn.execute(sa.select(audit_log.c.hash).where(audit_log.c.seq == 2))).scalar_one()
        await conn.execute(audit_head.update().values(last_id=2, last_hash=second))
        await audit.record(conn, SYSTEM, "test.pending")
    cut = await api.get(VERIFY, token=admin)
    assert cut.status == 200
    assert cut.data["ok"] is False and cut.data["code"] == "head_behind_checkpoint"
    assert re.search(r"[\u4e00-\u9fff]", cut.data["reason"]) and not re.search(r"[A-Za-z]{3,}", cut.data["reason"])
    assert cut.data["problems"] == [cut.data["reason"]]
    assert cut.data["pending"] == 1 and cut.data["pending_since"].endswith("Z")
    async with engine.connect() as conn:
        assert await audit.has_pending(conn)  # still unsealed after the check
