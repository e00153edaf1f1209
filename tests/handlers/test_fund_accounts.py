"""The funds' accounts: staff see a year's income, reservations and spending in their subtree by source,
kind, unit or month, each total the sum of its rows and of the ledger; the public sees the year's income
and spending by source and kind, as JSON and as a page, with nothing about any person."""
from __future__ import annotations

from models.funds import ledger
from tests.handlers.test_relief_payments import APPS, YEAR, approve_both, new_fund, pay_body, scene  # noqa: F401

ACCOUNTS = "/api/v1/staff/funds/accounts"


async def _money_moved(api, s) -> tuple[int, int]:
    """Two sources; both applications approved on the union fund, one paid; a donation topped up."""
    union = (await api.post("/api/v1/staff/funds", new_fund(), token=s["finance"])).data["id"]
    gift = (await api.post("/api/v1/staff/funds", new_fund(source="donation", name="爱心捐赠", donor="某企业",
                                                           budget=500_000), token=s["finance"])).data["id"]
    await api.post(f"/api/v1/staff/funds/{gift}/top-ups", {"amount": 120_000, "note": "追加"}, token=s["finance"])
    await approve_both(api, s, union)
    paid = await api.post(f"{APPS}/{s['app']}/payment", pay_body(), token=s["finance"],
                          headers={"Idempotency-Key": "accounts-pay-0001"})
    assert paid.status == 200, paid.data
    return union, gift


async def test_staff_accounts_group_the_ledger_and_each_total_is_its_rows(api, engine, scene):
    s = scene
    union, gift = await _money_moved(api, s)
    by_source = await api.get(f"{ACCOUNTS}?org=K01&year={YEAR}&by=source", token=s["finance"])
    assert by_source.status == 200, by_source.data
    rows = {r["source"]: r for r in by_source.data["rows"]}
    assert (rows["union"]["income"], rows["union"]["reserved"], rows["union"]["spent"]) == (1_000_000, 200_000, 300_000)
    assert (rows["donation"]["income"], rows["donation"]["spent"], rows["donation"]["source_name"]) == (
        620_000, 0, "社会捐赠")
    assert by_source.data["total"] == {"income": 1_620_000, "reserved": 200_000, "spent": 300_000}
    async with engine.connect() as conn:
        proven = [await ledger.sums(conn, f) for f in (union, gift)]
    assert sum(p["income"] for p in proven) == by_source.data["total"]["income"]
    assert sum(p["spent"] for p in proven) == by_source.data["total"]["spent"]
    for by in ("kind", "org", "month", "fund"):
        grouped = await api.get(f"{ACCOUNTS}?org=K01&year={YEAR}&by={by}", token=s["finance"])
        assert grouped.data["total"] == by_source.data["total"], by
        for figure in ("income", "reserved", "spent"):
            assert sum(r[figure] for r in grouped.data["rows"]) == grouped.data["total"][figure], (by, figure)
    kinds = {r["kind"]: r["spent"] for r in (await api.get(f"{ACCOUNTS}?org=K01&year={YEAR}&by=kind",
                                                            token=s["finance"])).data["rows"]}
    assert kinds["temporary"] == 300_000
    # Another county sees nothing of it, and cannot name this one.
    far = await api.get(f"{ACCOUNTS}?year={YEAR}", token=s["far"])
    assert far.data["total"] == {"income": 0, "reserved": 0, "spent": 0}
    assert (await api.get(f"{ACCOUNTS}?org=K01", token=s["far"])).status == 404
    assert (await api.get(f"{ACCOUNTS}?by=person", token=s["finance"])).status == 400


async def test_the_public_sees_the_years_income_and_spending_and_no_person(api, engine, scene):
    s = scene
    await _money_moved(api, s)
    public = await api.get(f"/api/v1/public/funds?year={YEAR}")
    assert public.status == 200, public.data
    assert set(public.data) == {"year", "total", "by_source", "by_kind"}
    assert public.data["total"] == {"income": 1_620_000, "spent": 300_000}
    assert {(r["source_name"], r["income"], r["spent"]) for r in public.data["by_source"]} == {
        ("工会经费", 1_000_000, 300_000), ("社会捐赠", 620_000, 0)}
    assert public.data["by_kind"] == [{"kind": "temporary", "kind_name": "临时救助", "spent": 300_000}]
    page = await api.get(f"/funds?year={YEAR}", validate=False)
    html = page.body.decode("utf-8")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html") and "<script" not in html
    assert "1620000.00" not in html and "16200.00" in html and "3000.00" in html and "临时救助" in html
    for secret in ("王秀英", "赵六", "6222021234567890123", "某企业"):
        assert secret not in html and secret not in public.body.decode("utf-8")
    assert (await api.get("/funds?year=abc", validate=False)).status == 400
    empty = await api.get("/api/v1/public/funds?year=2001")
    assert empty.data == {"year": 2001, "total": {"income": 0, "spent": 0}, "by_source": [], "by_kind": []}
