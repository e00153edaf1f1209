"""Relief statistics over HTTP: a known set of applications and events, every grouping's rows against a
brute-force count, each total the sum of its rows, and staff of another subtree refused."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest

from models.relief import tallies
from models.relief.tables import relief_applications, relief_events
from tests.factories import org_tree
from tests.relief_helpers import staff, submitted, token, worker

URL = "/api/v1/staff/relief/statistics"
PERIOD = {"from": "2026-01-01", "to": "2026-03-31"}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


# (unit, kind, submitted at (UTC), [(action, step, at (UTC))], status, approved amount)
CASES = [
    ("G01", "temporary", "2026-01-05T02:00", [("passed", "approval", "2026-01-20T03:00"),
                                              ("paid", "payment", "2026-01-31T16:30")], "paid", 120_000),
    ("G01", "temporary", "2026-01-10T02:00", [("rejected", "county_review", "2026-02-02T01:00")], "rejected", None),
    ("G02", "medical", "2026-02-01T02:00", [("passed", "approval", "2026-02-10T01:00"),
                                            ("paid", "payment", "2026-02-12T01:00")], "archived", 300_000),
    ("S01", "temporary", "2025-12-31T16:00", [], "submitted", None),  # 2026-01-01 00:00 in Beijing: inside
    ("G02", "medical", "2025-12-31T15:59", [("passed", "approval", "2026-03-31T16:10")], "submitted", None),
    ("K01", "temporary", "2026-03-01T02:00", [("passed", "approval", "2026-03-02T01:00"),
                                              ("paid", "payment", "2026-03-03T01:00"),
                                              ("reversed", "payment", "2026-03-04T01:00")], "submitted", 50_000),
    ("G01", "medical", "2026-03-05T02:00", [("passed", "approval", "2026-03-06T01:00"),
                                            ("paid", "payment", "2026-03-07T01:00")], "paid", 80_000),
]
# What the cases count, by hand (Beijing days and months).
RECEIVED = {"kind": {"temporary": 4, "medical": 2}, "month": {"2026-01": 3, "2026-02": 1, "2026-03": 2},
            "org": {"S01": 5, "K01": 1}}
APPROVED_BY_MONTH = {"2026-01": 1, "2026-02": 1, "2026-03": 2}  # the 2026-04-01 (Beijing) pass is outside
PAID_BY_MONTH = {"2026-02": (2, 420_000), "2026-03": (1, 80_000)}  # 2026-01-31T16:30Z is 2026-02-01 in Beijing


@pytest.fixture
async def scene(api, engine, running):
    cipher = running.settings["cipher"]
    s: dict = {}
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        people = [await worker(conn, cipher, tree["G01"], 90 + i, name=name)
                  for i, name in enumerate(("甲一", "乙二", "丙三"))]
        for i, (unit, kind, at, events, status, amount) in enumerate(CASES):
            member_id, user_id = people[i % 2]  # two workers: 甲一 is helped twice
            app = await submitted(conn, cipher, member_id, user_id, tree[unit], kind=kind)
            await conn.execute(relief_applications.update().where(relief_applications.c.id == app).values(
                submitted_at=utc(at), status=status, approved_amount=amount))
            for action, step, when in events:
                await conn.execute(relief_events.insert().values(application_id=app, step=step, action=action,
                                                                 amount=amount, at=utc(when)))
        await tallies.rebuild(conn)  # the timelines above were written directly: the statistics' summary of them
        for name, org in (("k01", "K01"), ("g02", "G02"), ("far", "K02")):
            actor = await staff(conn, f"{name}.stats", org, "station")
            s[name] = await token(conn, actor)
    return s


def brute_applications(by: str) -> dict[str, Counter[str]]:
    lo, hi = utc("2025-12-31T16:00"), utc("2026-03-31T16:00")
    out: dict[str, Counter[str]] = {}
    for unit, kind, at, events, _status, _amount in CASES:
        def key(when: datetime) -> str:
            if by == "kind":
                return kind
            if by == "month":
                return (when + timedelta(hours=8)).strftime("%Y-%m")  # Beijing
            return "K01" if unit == "K01" else "S01"
        if lo <= utc(at) < hi:
            out.setdefault(key(utc(at)), Counter())["received"] += 1
        for action, step, when in events:
            field = {"passed": "approved" if step == "approval" else None, "rejected": "rejected"}.get(action)
            if field and lo <= utc(when) < hi:
                out.setdefault(key(utc(when)), Counter())[field] += 1
    return out


@pytest.mark.parametrize("by", ["kind", "month", "org"])
async def test_application_rows_equal_a_brute_force_count_and_the_total_their_sum(api, scene, by):
    got = await api.get(f"{URL}/applications?" + urlencode({**PERIOD, "org": "K01", "by": by}), token=scene["k01"])
    assert got.status == 200, got.data
    want = brute_applications(by)
    rows = {r["key"]: {f: r[f] for f in ("received", "approved", "rejected")} for r in got.data["rows"]}
    assert rows == {k: {f: c[f] for f in ("received", "approved", "rejected")} for k, c in want.items()}
    for f in ("received", "approved", "rejected"):
        assert got.data["total"][f] == sum(r[f] for r in got.data["rows"])
    assert got.data["total"] == {"received": 6, "approved": 4, "rejected": 1}
    if by == "kind":
        assert {r["key"]: r["received"] for r in got.data["rows"]} == RECEIVED["kind"]
        assert {r["name"] for r in got.data["rows"]} == {"临时救助", "医疗救助"}
    elif by == "month":
        assert {r["key"]: r["received"] for r in got.data["rows"]} == RECEIVED["month"]
        assert {r["key"]: r["approved"] for r in got.data["rows"] if r["approved"]} == APPROVED_BY_MONTH
    else:
        assert {r["key"]: r["received"] for r in got.data["rows"]} == RECEIVED["org"]


async def test_payments_count_paid_and_archived_applications_at_their_payment(api, scene):
    by_month = await api.get(f"{URL}/payments?" + urlencode({**PERIOD, "org": "K01", "by": "month"}), token=scene["k01"])
    assert by_month.status == 200, by_month.data
    assert {r["key"]: (r["times"], r["amount"]) for r in by_month.data["rows"]} == PAID_BY_MONTH
    assert by_month.data["total"] == {"times": 3, "amount": 500_000, "people": 1}  # the reversed one is not paid
    by_kind = await api.get(f"{URL}/payments?" + urlencode({**PERIOD, "by": "kind"}), token=scene["k01"])
    assert {r["key"]: (r["times"], r["amount"]) for r in by_kind.data["rows"]} == {
        "temporary": (1, 120_000), "medical": (2, 380_000)}
    by_org = await api.get(f"{URL}/payments?" + urlencode({**PERIOD, "by": "org"}), token=scene["k01"])
    assert {r["key"]: r["amount"] for r in by_org.data["rows"]} == {"S01": 500_000}
    for report in (by_month, by_kind, by_org):
        assert report.data["total"]["amount"] == sum(r["amount"] for r in report.data["rows"])
        assert report.data["total"]["times"] == sum(r["times"] for r in report.data["rows"])
    # A unit further down sees its own subtree only.
    g02 = await api.get(f"{URL}/payments?" + urlencode(PERIOD), token=scene["g02"])
    assert g02.data["org"] == "G02" and g02.data["total"] == {"times": 1, "amount": 300_000, "people": 1}


async def test_staff_of_another_subtree_are_refused_and_periods_checked(api, scene):
    for report in ("applications", "payments"):
        far = await api.get(f"{URL}/{report}?" + urlencode({**PERIOD, "org": "K01"}), token=scene["far"])
        assert (far.status, far.error_code) == (404, "org_not_found"), far.data
        up = await api.get(f"{URL}/{report}?" + urlencode({"org": "C01"}), token=scene["k01"])
        assert (up.status, up.error_code) == (404, "org_not_found")
        own = await api.get(f"{URL}/{report}?" + urlencode(PERIOD), token=scene["far"])
        assert own.status == 200 and own.data["rows"] == [] and own.data["org"] == "K02"
        backwards = await api.get(f"{URL}/{report}?from=2026-02-01&to=2026-01-01",
                                  token=scene["k01"])
        assert (backwards.status, backwards.error_code) == (400, "period_order")
        anonymous = await api.get(f"{URL}/{report}")
        assert anonymous.status == 401
