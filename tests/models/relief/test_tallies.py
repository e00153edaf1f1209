"""The statistics' summary (``tallies``) against the timeline: a scene made through the domain's own functions
(submit, return and resubmit, reject, approve, pay singly and in a batch, reverse, pay again, archive) across
units, kinds, months and the Beijing day's boundary, with the clock of the timeline set per step. Every report,
for every unit, grouping and a range of periods, equals the count straight from the timeline
(``stats_oracle``, the former code); the summary kept as the events were written equals what ``rebuild``
counts afresh; ``people`` counts each worker once in any period; and payments and reversals at once (MariaDB)
leave the summary exact."""
from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa

from models.core.actors import Actor
from models.members.tables import members
from models.relief import applying, archive, consent, payments, records, reviewing, statistics, tallies
from models.relief.tables import relief_applications, relief_tallies, relief_tally_paid
from server.crypto import PiiCipher, load_keyring
from tests.factories import org_tree
from tests.models.relief import stats_oracle
from tests.models.relief.helpers import submitted, worker
from tests.relief_helpers import fund, staff

MEDICAL = {"patient": "self", "diagnosis": "慢性肾功能衰竭，需长期透析治疗", "self_paid": 300_000,
           "situation": "本人患慢性肾衰竭，每周透析三次，家庭收入难以负担医疗费用。"}
TEMPORARY = {"event": "illness", "event_date": "2026-01-05", "situation": "突发脑梗住院，家中无其他收入来源。"}
FORMS = {"medical": MEDICAL, "temporary": TEMPORARY}
PERIODS = [{}, {"from": "2025-12-31", "to": "2026-02-28"}, {"from": "2026-02-01", "to": "2026-03-01"},
           {"from": "2026-01-31", "to": "2026-01-31"}, {"from": "2026-02-01", "to": "2026-02-01"},
           {"from": "2025-01-01", "to": "2026-12-01"}, {"from": "2026-02-15", "to": "2026-04-04"},
           {"from": "2026-03-02", "to": "2026-05-31"}, {"from": "2026-01-01", "to": "2026-06-30"},
           # a worker paid in the first days and again in a whole month after them (A6, A8), and just before
           {"from": "2026-01-07", "to": "2026-05-31"}, {"from": "2026-01-21", "to": "2026-05-03"}]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


class Clock:
    """The time the timeline and the submissions are written at (the records' and applying's clocks)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = utc("2026-01-01T00:00")
        monkeypatch.setattr(records, "utcnow", lambda: self.now)
        monkeypatch.setattr(applying, "utcnow", lambda: self.now)

    def at(self, text: str) -> None:
        self.now = utc(text)


async def _staff(conn: Any) -> dict[str, Actor]:
    return {"station": await staff(conn, "station.c01", "C01", "station"),
            "approver": await staff(conn, "approver.c01", "C01", "approver"),
            "finance": await staff(conn, "finance.c01", "C01", "finance"),
            "finance2": await staff(conn, "finance2.c01", "C01", "finance"),
            "reviewer": await staff(conn, "reviewer.c01", "C01", "reviewer")}


async def at_approval(conn: Any, cipher: PiiCipher, app_id: int, proposed: int) -> None:
    """Past the steps before approval (their own tests cover them): at ``approval`` with a proposed amount."""
    await conn.execute(relief_applications.update().where(relief_applications.c.id == app_id)
                       .values(step="approval", proposed_amount=proposed))


def approve(fund_id: int, amount: int) -> reviewing.Decision:
    return reviewing.Decision.of({"step": "approval", "decision": "pass", "amount": amount, "fund_id": fund_id})


def paying(amount: int) -> payments.Payment:
    return payments.Payment.of({"amount": amount, "method": "cash", "voucher_no": "PZ-1",
                                "paid_on": date.today().isoformat()})


async def _scene(engine: Any, config: Any, clock: Clock) -> dict[str, Any]:  # noqa: C901 - one story
    cipher = PiiCipher(load_keyring(config))
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        s = await _staff(conn)
        money = await fund(conn, s["finance"], "C01", 100_000_000, kinds=("temporary", "medical"))
        w = [await worker(conn, cipher, tree[unit], 300 + i, name=name) for i, (unit, name) in enumerate(
            [("G01", "甲一"), ("K02", "乙二"), ("S01", "丙三"), ("G01", "丁四"), ("K02", "戊五"), ("G02", "己六"),
             ("G01", "庚七"), ("G02", "辛八")])]
    apps: dict[str, int] = {}

    async def step(when: str, call: Any) -> Any:
        clock.at(when)
        async with engine.begin() as conn:
            return await call(conn)

    async def submit(name: str, who: int, kind: str, when: str) -> None:
        async def go(conn: Any) -> None:
            apps[name] = (await submitted(conn, cipher, w[who], kind, FORMS[kind])).id
        await step(when, go)

    def decide(name: str, who: str, body: reviewing.Decision) -> Any:
        return lambda conn: reviewing.decide(conn, cipher, s[who], apps[name], body)

    def pay(name: str, amount: int, who: str = "finance") -> Any:
        return lambda conn: payments.pay(conn, cipher, s[who], apps[name], paying(amount))

    def reverse(name: str) -> Any:
        return lambda conn: payments.reverse(conn, cipher, s["finance2"], apps[name],
                                             payments.Reversal.of({"reason": "账户已销户，退回"}))

    async def ready_for_approval(name: str, proposed: int) -> None:
        async with engine.begin() as conn:
            await at_approval(conn, cipher, apps[name], proposed)

    # A6: submitted on Beijing's 2025-12-31 23:59, approved, paid and archived in January.
    await submit("a6", 3, "temporary", "2025-12-31T15:59:59")
    await ready_for_approval("a6", 120_000)
    await step("2026-01-15T02:00", decide("a6", "approver", approve(money, 120_000)))
    await step("2026-01-20T02:00", pay("a6", 120_000))
    await step("2026-01-21T02:00", lambda conn: archive.archive(conn, cipher, s["reviewer"], apps["a6"],
                                                              archive.ArchiveBody.of({"completed_on": "2026-01-21"})))
    # A7 at K02: the other county.
    await submit("a7", 4, "medical", "2026-01-05T03:00")
    await ready_for_approval("a7", 90_000)
    await step("2026-01-06T03:00", decide("a7", "approver", approve(money, 90_000)))
    await step("2026-01-07T03:00", pay("a7", 90_000))
    # A1: submitted on the last second of 2026-01-31 (Beijing), approved on the first of 2026-02-01, paid on the
    # last millisecond of February.
    await submit("a1", 0, "temporary", "2026-01-31T15:59:59")
    await ready_for_approval("a1", 100_000)
    await step("2026-01-31T16:00:00", decide("a1", "approver", approve(money, 100_000)))
    await step("2026-02-28T15:59:59.999", pay("a1", 100_000))
    # A2: the same worker, another kind; paid on the first second of March (Beijing), reversed, paid in April.
    await submit("a2", 0, "medical", "2026-02-10T01:00")
    await ready_for_approval("a2", 150_000)
    await step("2026-02-20T01:00", decide("a2", "approver", approve(money, 150_000)))
    await step("2026-02-28T16:00:01", pay("a2", 150_000))
    await step("2026-03-02T01:00", reverse("a2"))
    await step("2026-04-05T01:00", pay("a2", 150_000))
    # A3 at K02: rejected at verification.
    await submit("a3", 1, "temporary", "2026-03-03T01:00")
    await step("2026-03-04T01:00", decide("a3", "station", reviewing.Decision.of(
        {"step": "verification", "decision": "reject", "comment": "不符合条件"})))
    # A4 at S01: returned, resubmitted (still received on its first day), then rejected at approval.
    await submit("a4", 2, "medical", "2026-03-05T01:00")
    await step("2026-03-06T01:00", decide("a4", "station", reviewing.Decision.of(
        {"step": "verification", "decision": "return", "comment": "请补充",
         "missing": [{"item": "other", "note": "请补充收入证明"}]})))

    async def again(conn: Any) -> None:
        ready = await applying.ready(conn, cipher, w[2], apps["a4"],
                                     applying.Submission.of({"consent_version": consent.CONSENT_VERSION}))
        await applying.submit(conn, cipher, w[2], ready, check=SimpleNamespace(verdict="pass"))
    await step("2026-03-20T01:00", again)
    await ready_for_approval("a4", 80_000)
    await step("2026-03-21T01:00", decide("a4", "approver", reviewing.Decision.of(
        {"step": "approval", "decision": "reject", "comment": "家庭收入超过标准"})))
    # A5: approved, paid, reversed and not paid again: approved, never paid.
    await submit("a5", 3, "medical", "2026-04-01T01:00")
    await ready_for_approval("a5", 70_000)
    await step("2026-04-02T01:00", decide("a5", "approver", approve(money, 70_000)))
    await step("2026-04-03T01:00", pay("a5", 70_000))
    await step("2026-04-04T01:00", reverse("a5"))
    # A8, A9, A10: paid together by one bank transfer batch (the worker of A8 was helped before, by A6).
    for name, who, kind, amount in (("a8", 3, "temporary", 60_000), ("a9", 6, "temporary", 50_000),
                                    ("a10", 7, "medical", 40_000)):
        await submit(name, who, kind, "2026-05-01T01:00")
        await ready_for_approval(name, amount)
        await step("2026-05-02T01:00", decide(name, "approver", approve(money, amount)))
    async with engine.begin() as conn:
        for who in (3, 6, 7):
            await conn.execute(members.update().where(members.c.id == w[who].member_id).values(
                bank_account_enc=cipher.encrypt(f"622202000000{who:04d}", purpose=payments.BANK_ACCOUNT_PURPOSE)))
    await step("2026-05-03T01:00", lambda conn: payments.pay_batch(conn, cipher, s["finance"], payments.Batch.of({
        "application_ids": [apps["a8"], apps["a9"], apps["a10"]], "method": "bank_transfer", "voucher_no": "PL-1",
        "paid_on": date.today().isoformat()})))
    # A draft, never submitted: nothing counted.
    async with engine.begin() as conn:
        await applying.create(conn, cipher, w[5], applying.NewApplication.of({"kind": "temporary",
                                                                               "form": TEMPORARY}))
    return {"cipher": cipher, "tree": tree, "apps": apps, "staff": s}


async def reports(engine: Any, actor: Actor, org: str | None) -> list[tuple[Any, Any, Any]]:
    """(query, summary's answer, timeline's answer) of both reports for every grouping and period."""
    out = []
    async with engine.connect() as conn:
        for period in PERIODS:
            for by in ("kind", "month", "org"):
                q = statistics.StatsQuery.model_validate({**period, "by": by, **({"org": org} if org else {})})
                for mine, oracle in ((statistics.applications, stats_oracle.applications),
                                     (statistics.payments, stats_oracle.payments)):
                    out.append((q, await mine(conn, actor, q), await oracle(conn, actor, q)))
    return out


async def test_every_report_equals_the_count_from_the_timeline_and_rebuild_the_kept_summary(
        engine: Any, config: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    s = await _scene(engine, config, clock)
    city = s["staff"]["approver"]
    compared = 0
    for org in (None, "K01", "S01", "G01", "G02", "K02"):
        for q, mine, oracle in await reports(engine, city, org):
            assert mine == oracle, (q, mine, oracle)
            compared += 1
    assert compared == 6 * len(PERIODS) * 3 * 2
    # Spot checks by hand: what the story counts for the city this year.
    async with engine.connect() as conn:
        year = statistics.StatsQuery.model_validate({"from": "2026-01-01", "to": "2026-12-01", "by": "month"})
        apps = await statistics.applications(conn, city, year)
        paid = await statistics.payments(conn, city, year)
    assert apps["total"] == {"received": 9, "approved": 8, "rejected": 2}  # A6 was received in 2025 (Beijing)
    assert {r["key"]: r["received"] for r in apps["rows"] if r["received"]} == {
        "2026-01": 2, "2026-02": 1, "2026-03": 2, "2026-04": 1, "2026-05": 3}
    assert {r["key"]: (r["times"], r["amount"]) for r in paid["rows"]} == {
        "2026-01": (2, 210_000), "2026-02": (1, 100_000), "2026-04": (1, 150_000), "2026-05": (3, 150_000)}
    assert paid["total"]["people"] == 5  # 甲一 twice (A1, A2), 丁四 twice (A6, A8): 7 payments, 5 workers
    # The summary kept as the events were written is what a count afresh writes.
    async with engine.begin() as conn:
        assert await tallies.drift(conn) == []
        kept = await _rows(conn)
        await tallies.rebuild(conn)
        assert await _rows(conn) == kept


async def _rows(conn: Any) -> tuple[list[Any], list[Any]]:
    t, p = relief_tallies.c, relief_tally_paid.c
    return ([tuple(r) for r in await conn.execute(sa.select(relief_tallies).order_by(
                t.scope, t.span, t.day, t.kind, t.figure))],
            [tuple(r) for r in await conn.execute(sa.select(relief_tally_paid).order_by(p.application_id, p.scope))])


def test_spans_cover_the_period_once_whole_months_from_month_rows() -> None:
    d = date
    assert tallies.spans(d(2026, 1, 1), d(2026, 12, 5)) == [("m", d(2026, 1, 1), d(2026, 11, 30)),
                                                            ("d", d(2026, 12, 1), d(2026, 12, 5))]
    assert tallies.spans(d(2026, 1, 31), d(2026, 3, 1)) == [("m", d(2026, 2, 1), d(2026, 2, 28)),
                                                            ("d", d(2026, 1, 31), d(2026, 1, 31)),
                                                            ("d", d(2026, 3, 1), d(2026, 3, 1))]
    assert tallies.spans(d(2026, 2, 2), d(2026, 2, 27)) == [("d", d(2026, 2, 2), d(2026, 2, 27))]
    assert tallies.spans(d(2025, 12, 1), d(2026, 1, 31)) == [("m", d(2025, 12, 1), d(2026, 1, 31))]
    for start in (d(2025, 11, 17) + timedelta(days=i) for i in range(0, 90, 7)):
        for end in (start + timedelta(days=j) for j in range(0, 120, 11)):
            covered: list[date] = []
            for span, lo, hi in tallies.spans(start, end):
                assert span == "d" or (lo.day == 1 and (hi + timedelta(days=1)).day == 1)
                covered += [lo + timedelta(days=k) for k in range((hi - lo).days + 1)]
            assert sorted(covered) == [start + timedelta(days=k) for k in range((end - start).days + 1)]


def test_a_path_lies_in_every_subtree_above_it() -> None:
    assert tallies.scopes("/1/5/23/") == ["/1/", "/1/5/", "/1/5/23/"]
    assert tallies.scopes("/7/") == ["/7/"]


async def _bench_staff(conn: Any) -> list[Actor]:
    found = (await conn.execute(sa.text(
        "SELECT s.id, s.roles, s.org_id, o.path FROM staff s JOIN orgs o ON o.id = s.org_id ORDER BY s.id"))).all()
    return [Actor(kind="staff", id=r.id, roles=frozenset(r.roles.split(",")), org_id=r.org_id, org_path=r.path)
            for r in found]


async def test_the_benchmarks_city_counted_by_rebuild_reports_as_the_timeline_and_live(engine: Any,
                                                                                      config: Any) -> None:
    from scripts.bench_relief import seed

    cipher = PiiCipher(load_keyring(config))
    async with engine.begin() as conn:  # two years of timelines written directly, then rebuild (in seed)
        await seed(conn, cipher, 400, 150, districts=2, units_each=3)
        everyone = await _bench_staff(conn)
    today = statistics.local_today()
    periods = [{}, {"from": (today - timedelta(days=400)).isoformat(), "to": (today - timedelta(days=20)).isoformat()}]
    async with engine.connect() as conn:
        for actor in everyone[::3]:
            for period in periods:
                for by in ("kind", "month", "org"):
                    q = statistics.StatsQuery.model_validate({**period, "by": by})
                    assert await statistics.applications(conn, actor, q) == await stats_oracle.applications(
                        conn, actor, q)
                    assert await statistics.payments(conn, actor, q) == await stats_oracle.payments(conn, actor, q)
    city, q = everyone[0], statistics.StatsQuery(by="kind")
    async with engine.connect() as conn:
        before = await statistics.applications(conn, city, q)
    async with engine.begin() as conn:  # a rejection now: the next report, on any connection, counts it
        first = (await conn.execute(sa.select(sa.func.min(relief_applications.c.id)))).scalar_one()
        await records.event(conn, await records.load(conn, cipher, first), "rejected", step="verification")
    async with engine.connect() as conn:
        after = await statistics.applications(conn, city, q)
        assert after["total"]["rejected"] == before["total"]["rejected"] + 1
        assert after == await stats_oracle.applications(conn, city, q)


async def test_payments_and_reversals_at_once_keep_the_summary_exact(engine: Any, config: Any, backend: str) -> None:
    """Thirty payments at once (three a worker, to several units and kinds), then half of them reversed at once,
    on MariaDB: no lost count, no deadlock on the summary's shared rows, each worker's chain of payments whole."""
    from tests.relief_helpers import at_approval as approval_ready
    from tests.relief_helpers import worker as roster_worker

    if backend != "mysql":
        pytest.skip("row-lock races need MariaDB/MySQL: SQLite runs one writer at a time")
    cipher = PiiCipher(load_keyring(config))
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        s = await _staff(conn)
        payers = [await staff(conn, f"finance.race{i}", "C01", "finance") for i in range(3)]
        # A fund per payment of a worker: their payments do not queue on one fund's row.
        funds = [await fund(conn, s["finance"], "C01", 100_000_000, kinds=("temporary", "medical"), name=f"专项{j}")
                 for j in range(3)]
        apps = []
        for i in range(10):
            member_id, user_id = await roster_worker(conn, cipher, tree[("G01", "G02", "K02")[i % 3]], 400 + i,
                                                     name="王李张刘陈杨赵黄周吴"[i] + "明")
            for j, unit in enumerate(("G01", "S01", "K02")):
                kind = ("temporary", "medical")[(i + j) % 2]
                apps.append(await approval_ready(conn, cipher, member_id, user_id, tree[unit], proposed=10_000 + i,
                                                 kind=kind, form=FORMS[kind]))
        await tallies.rebuild(conn)  # the applications above were written directly
    for n, app_id in enumerate(apps):
        async with engine.begin() as conn:
            await reviewing.decide(conn, cipher, s["approver"], app_id,
                                   approve(funds[n % 3], await _proposed(conn, app_id)))

    async def pay(k: int, app_id: int) -> None:
        async with engine.begin() as conn:
            amount = await _proposed(conn, app_id)
            await payments.pay(conn, cipher, payers[k % 3], app_id, paying(amount))

    async def reverse(app_id: int) -> None:
        async with engine.begin() as conn:
            await payments.reverse(conn, cipher, s["finance2"], app_id, payments.Reversal.of({"reason": "退回重发"}))

    await asyncio.gather(*(pay(k, a) for k, a in enumerate(apps)))
    await asyncio.gather(*(reverse(a) for a in apps[::2]))
    async with engine.begin() as conn:
        assert await tallies.drift(conn) == []
    for q, mine, oracle in await reports(engine, s["approver"], None):
        assert mine == oracle, q


async def _proposed(conn: Any, app_id: int) -> int:
    return int((await conn.execute(sa.select(relief_applications.c.proposed_amount).where(
        relief_applications.c.id == app_id))).scalar_one())
