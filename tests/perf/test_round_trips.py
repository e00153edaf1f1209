"""What one request of the counter costs the database, pinned so that it cannot creep back.

Counted on the app's engine (tests/perf/round_trips.py): every statement sent, every connection
checked out of the pool (on MySQL each checkout may also ping), commits and rollbacks. The second
of two rounds is counted, once the process's programme cache is warm, as a busy counter runs.
SQLite's counts carry its explicit BEGINs (MySQL begins implicitly) and the same statements otherwise.
On MySQL the caller's query (in ``prepare``, before the body is read) runs on the app's autocommit
engine, which ends it with no ROLLBACK; a checkout costs no round trip (a pooled connection is pinged
only after 5 s idle, server/db.py), so the MySQL figures are the statements and the commit.
"""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.factories import counter
from tests.perf.round_trips import Trips, counting
from tests.redeem_helpers import SCAN, add_program, clear_of_midnight, items, new_key, redeem  # noqa: F401

pytestmark = pytest.mark.usefixtures("clear_of_midnight")

#: backend -> route -> (statements, checkouts, commits, rollbacks, rollbacks on return to the pool). On MySQL a
#: connection goes back to the pool without a ROLLBACK after its COMMIT (server/db.py). The statements, on MySQL:
#: QR: the caller (token, roles, merchant, reference stamp, live card).
#: scan: the caller, the card with its holder and their quota usage, the session (the code's claim), the audit.
#: redemption: the caller, the scan with its holder locked and their usage, the scan spent, the quota taken
#: (a savepoint first only when several programmes take theirs), the redemption, its usage, the worker's
#: notice, the audit, the key claimed with the kept answer (one insert, no claim up front).
EXPECTED = {
    "mysql": {"qr": (1, 1, 0, 0, 0), "scan": (4, 2, 1, 0, 0), "redeem": (9, 2, 1, 0, 0)},
    "sqlite": {"qr": (2, 1, 0, 1, 0), "scan": (6, 2, 1, 1, 1), "redeem": (11, 2, 1, 1, 1)},  # SQLAlchemy's reset
}


async def _settled(*engines: Any) -> None:
    """Wait until the request's connection is back in its pool (it is given back after the answer)."""
    for _ in range(500):
        if all(e is None or e.sync_engine.pool.checkedout() == 0 for e in engines):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("a connection stayed checked out after the request")


async def _one_round(api: Any, engines: tuple[Any, Any], scene: Any) -> dict[str, Trips]:
    found: dict[str, Trips] = {}
    await _settled(*engines)
    with counting(*engines) as found["qr"]:
        qr = await api.get("/api/v1/me/card/qr", token=scene.worker)
        await _settled(*engines)
    assert qr.status == 200, qr.data
    with counting(*engines) as found["scan"]:
        scanned = await api.post(SCAN, {"qr": qr.data["token"]}, token=scene.cashier)
        await _settled(*engines)
    assert scanned.status == 200, scanned.data
    with counting(*engines) as found["redeem"]:
        done = await redeem(api, scene.cashier, scanned.data["scan_id"], items(("drug", 12800)), key=new_key())
        await _settled(*engines)
    assert done.status == 200, done.data
    return found


async def test_the_counter_s_round_trips_are_pinned(api, engine, running, backend):
    scene = await counter(api, engine, running)
    await add_program(engine, scene, "pharmacy_drug_card", eligibility="all_members", hardship_categories=[])
    await add_program(engine, scene, "discount_pharmacy")
    engines = (engine, running.settings["autocommit_engine"])  # all the app's
    await _one_round(api, engines, scene)  # fills the programme cache
    found = await _one_round(api, engines, scene)
    for route, expected in EXPECTED[backend].items():
        trips = found[route]
        assert (len(trips.statements), trips.checkouts, trips.commits, trips.rollbacks,
                trips.pool_rollbacks) == expected, \
            f"{route}: {trips}"
        assert not any("FROM programs" in s for s in trips.statements), f"{route} read the programmes: {trips}"
