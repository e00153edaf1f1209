"""The programme cache across processes: a change made through one process (its own app, engine and
cache) is honoured by another from its first request after the change committed, because every
request reads the reference stamp with its caller (models/core/stamps.py). And the cache is real:
a change that draws no stamp (raw SQL, behind the domain's back) is not seen until one is drawn."""
from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from models.core import stamps
from models.partners import programmes as benefits
from models.partners.tables import programs
from server.db import make_engine
from tests.client import ApiClient
from tests.conftest import serve_app
from tests.factories import counter
from tests.perf.round_trips import counting
from tests.redeem_helpers import SCAN, add_program, clear_of_midnight, items, new_key, redeem  # noqa: F401

pytestmark = pytest.mark.usefixtures("clear_of_midnight")


@pytest.fixture
async def second(config: Any) -> Any:
    """A second serving process: its own app, engine, pool and programme cache, on the same database."""
    engine = make_engine(config)
    app = await serve_app(config, engine)
    yield app, ApiClient(app.url, app.settings["openapi"]), engine
    app.server.stop()
    app.gateway.close()
    await engine.dispose()


async def _offered(api: Any, scene: Any) -> set[int]:
    qr = await api.get("/api/v1/me/card/qr", token=scene.worker)
    scanned = await api.post(SCAN, {"qr": qr.data["token"]}, token=scene.cashier)
    assert scanned.status == 200, scanned.data
    return {b["program_id"] for b in scanned.data["benefits"]}


async def test_a_programme_ended_in_one_process_is_honoured_by_another_at_its_next_request(api, engine, running,
                                                                                         second):
    _, api_b, engine_b = second
    scene = await counter(api, engine, running)
    pid = await add_program(engine, scene, "discount_pharmacy")
    assert await _offered(api_b, scene) == {pid}  # process B has cached the merchant's programmes
    with counting(engine_b, second[0].settings["autocommit_engine"]) as trips:
        assert await _offered(api_b, scene) == {pid}
    assert not any("FROM programs" in s for s in trips.statements), trips  # ... and uses its cache
    async with engine.begin() as conn:  # process A ends the programme
        await benefits.end(conn, scene.admin, pid)
    assert await _offered(api_b, scene) == set()
    qr = await api_b.get("/api/v1/me/card/qr", token=scene.worker)
    scanned = await api_b.post(SCAN, {"qr": qr.data["token"]}, token=scene.cashier)
    refused = await redeem(api_b, scene.cashier, scanned.data["scan_id"], items(("drug", 10000)), key=new_key())
    assert (refused.status, refused.error_code) == (422, "no_benefit"), refused.data


async def test_a_new_programme_and_its_merchants_reach_the_other_process(api, engine, running, second):
    _, api_b, _ = second
    scene = await counter(api, engine, running)
    first = await add_program(engine, scene, "discount_pharmacy")
    assert await _offered(api_b, scene) == {first}
    extra = await add_program(engine, scene, "pharmacy_drug_card", eligibility="all_members", hardship_categories=[])
    assert await _offered(api_b, scene) == {first, extra}
    async with engine.begin() as conn:
        await benefits.set_merchants(conn, scene.admin, first, [])
    assert await _offered(api_b, scene) == {extra}


async def test_the_cache_is_only_as_fresh_as_the_stamp(api, engine, running, second):
    _, api_b, _ = second
    scene = await counter(api, engine, running)
    pid = await add_program(engine, scene, "discount_pharmacy")
    assert await _offered(api_b, scene) == {pid}
    async with engine.begin() as conn:  # behind the domain's back: no stamp drawn
        await conn.execute(sa.update(programs).where(programs.c.id == pid).values(status="ended"))
    assert await _offered(api_b, scene) == {pid}  # process B still answers from its cache
    async with engine.begin() as conn:
        await stamps.bump(conn)
    assert await _offered(api_b, scene) == set()
