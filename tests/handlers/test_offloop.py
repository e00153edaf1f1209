"""Work off the event loop, uploads spooled to disk, reads that wait for no writer: seen over real HTTP."""
from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from models.counter.tables import redemptions
from tests.factories import id_number, roster_csv
from tests.handlers.test_settlement_routes import _last_month_redemption
from tests.handlers.test_staff import network, token_of
from tests.handlers.test_staff_members import upload
from tests.redeem_helpers import clear_of_midnight  # noqa: F401 - the fixture, for pytestmark

pytestmark = pytest.mark.usefixtures("clear_of_midnight")

#: Rows of the statement exported while the loop is watched: openpyxl writes 2,000-5,000 a second here,
#: so the export lasts seconds on a quiet machine too (4,000 once took only 0.8 s).
EXPORT_ROWS = 12000


async def _statement_of(api, engine, running, rows: int):
    """A built statement of ``rows`` redemptions last month, and the finance clerk's token."""
    c, month, finance, manager, _done = await _last_month_redemption(api, engine, running)
    async with engine.begin() as conn:
        first = (await conn.execute(sa.select(redemptions))).mappings().one()
        copy = {k: v for k, v in first.items() if k != "id"}
        if rows > 1:
            await conn.execute(redemptions.insert(), [{**copy, "scan_id": f"clone{i:08d}"} for i in range(rows - 1)])
    built = await api.post("/api/v1/staff/statements", {"merchant_id": c.merchant_id, "month": month}, token=finance)
    assert built.status == 200, built.data
    assert built.data["statement"]["redemptions"] == rows
    return c, built.data["statement"], finance, manager


class _Watch(threading.Thread):
    """Asks /healthz again and again from its own thread (its own clock, not the loop's), noting how long each took."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.stop = threading.Event()
        self.answers: list[tuple[float, float]] = []  # (asked at, seconds to answer)

    def run(self) -> None:
        while not self.stop.is_set():
            asked = time.monotonic()
            with urllib.request.urlopen(self.base + "/healthz", timeout=60) as resp:
                assert resp.status == 200
            self.answers.append((asked, time.monotonic() - asked))
            time.sleep(0.02)


async def test_health_answers_at_once_while_a_large_xlsx_export_is_written(api, engine, running):
    _c, statement, finance, _manager = await _statement_of(api, engine, running, EXPORT_ROWS)
    watch = _Watch(running.url)
    watch.start()
    try:
        await asyncio.sleep(0.3)  # a few answers before, to see the watch itself works
        start = time.monotonic()
        exported = await api.get(f"/api/v1/staff/statements/{statement['id']}/export?format=xlsx", token=finance,
                                 timeout=300)
        took = time.monotonic() - start
    finally:
        watch.stop.set()
        await asyncio.to_thread(watch.join, 60)
    assert exported.status == 200 and exported.body.startswith(b"PK")
    during = [seconds for asked, seconds in watch.answers if start <= asked <= start + took]
    print(f"\nexport of {EXPORT_ROWS} rows took {took:.2f} s; /healthz meanwhile: {len(during)} answers, "
          f"slowest {max(during, default=0) * 1000:.0f} ms")
    assert took > 0.8, "the export is too small to show anything"
    # On the loop, the export held every /healthz until it was done: one answer, as slow as the export.
    assert len(during) >= 5, during
    assert max(during) < 0.5 * took, (max(during), took)


async def test_read_only_requests_answer_while_another_connection_holds_the_write_lock(api, engine, running):
    if engine.dialect.name != "sqlite":
        pytest.skip("the write lock is SQLite's")
    c, statement, finance, manager = await _statement_of(api, engine, running, 1)
    gets = [("/api/v1/me/card", c.worker), ("/api/v1/me", c.worker), ("/api/v1/staff/statements", finance),
            (f"/api/v1/staff/statements/{statement['id']}", finance), ("/api/v1/merchant/statements", manager)]
    holder = sqlite3.connect(engine.url.database, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # a long write elsewhere (another process, a CLI import)
        for path, token in gets:
            # A read that began IMMEDIATE would wait here for the writer (busy_timeout: 30 s).
            resp = await asyncio.wait_for(api.get(path, token=token), 5)
            assert resp.status == 200, (path, resp.data)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def _open_spools(tmp: Path) -> list[str]:
    """This process's open files inside the spool dir (the server runs in the test's process)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(tmp)):
            found.append(target)
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="reads /proc")
async def test_an_upload_is_spooled_in_a_private_dir_and_gone_after_the_request(api, engine, running):
    await network(engine)
    token = await token_of(api, "clerk1")
    tmp = running.settings["config"].data_dir / "tmp"
    ok = await upload(api, token, "G1", roster_csv([("张三", id_number(1), "13800000001")]))
    assert ok.status == 200 and ok.data["created"] == 1, ok.data
    assert stat.S_IMODE(tmp.stat().st_mode) == 0o700
    refused = await upload(api, token, "G1", b"PK\x03\x04 not really a workbook", filename="r.xlsx")
    assert refused.status == 400 and refused.error_code == "roster_format", refused.data
    unknown = await upload(api, token, "NOPE", roster_csv([("李四", id_number(2), "")]))
    assert unknown.status == 404, unknown.data
    assert _open_spools(tmp) == []
    assert list(tmp.iterdir()) == []
