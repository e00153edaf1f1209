"""The benefit calculation: worked examples for the seeds' deals, refusals, and invariants over random bills."""
from __future__ import annotations

import dataclasses
import json
import math
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.core.errors import Invalid
from models.partners.rules import (
    CATEGORIES,
    MAX_LINE_AMOUNT,
    PRESETS,
    BillLine,
    ProgramTerms,
    Quote,
    Remaining,
    Usage,
    allocate,
    apply_rate,
    benefit_summary,
    calculate,
    parse_rule,
    zhe,
)

CATS = list(CATEGORIES)


def terms(key: str, id: int = 1, **changes: Any) -> ProgramTerms:
    """The preset ``key`` as the terms of program ``id``."""
    p = PRESETS[key]
    base = ProgramTerms(id, p["name"], parse_rule(p["rule"]), p["union_bp"], frozenset(p["categories"]),
                        frozenset(p["excluded"]), p["per_txn_cap"])
    return dataclasses.replace(base, **changes)


def bill(*lines: tuple[str, int]) -> list[BillLine]:
    return [BillLine(c, a) for c, a in lines]


def figures(q: Quote) -> list[tuple[int, int, int, int | None]]:
    """(discount, union, merchant, program) per line."""
    return [(ln.discount, ln.union_share, ln.merchant_share, ln.program_id) for ln in q.lines]


def half_up(x: Fraction) -> int:
    return math.floor(x + Fraction(1, 2))


def expected_total(rule: dict[str, Any], covered: int) -> int:
    """The program total on the covered amount, computed here independently of the module."""
    kind = rule["kind"]
    if kind == "fee_waived":
        return covered
    if kind == "threshold_percent" and covered <= rule["over"]:
        return 0
    if kind != "tiered":
        return half_up(Fraction(covered * rule["rate_bp"], 10000))
    total, lower = 0, 0
    for t in rule["tiers"]:
        upper = covered if t["up_to"] is None else min(covered, t["up_to"])
        if upper <= lower:
            break
        total += half_up(Fraction((upper - lower) * t["rate_bp"], 10000))
        lower = upper
    return total


def refused(code: str, fn: Any, *args: Any) -> str:
    with pytest.raises(Invalid) as info:
        fn(*args)
    assert info.value.code == code
    assert info.value.message  # Chinese, for the person
    return info.value.message


# ---------------------------------------------------------------- rounding and allocation


def test_apply_rate_rounds_half_up_to_the_fen() -> None:
    assert apply_rate(5, 5000) == 3  # 2.5 -> 3 (banker's rounding would give 2)
    assert apply_rate(10030, 1500) == 1505  # 1504.5 -> 1505
    assert apply_rate(10003, 1500) == 1500  # 1500.45 -> 1500
    assert apply_rate(10004, 1500) == 1501  # 1500.6 -> 1501
    assert apply_rate(12345, 10000) == 12345
    assert apply_rate(12345, 0) == 0
    with pytest.raises(ValueError):
        apply_rate(-1, 1000)


@given(st.integers(0, 5 * 10**10), st.integers(0, 10000))
def test_apply_rate_matches_exact_arithmetic(amount: int, rate: int) -> None:
    assert apply_rate(amount, rate) == half_up(Fraction(amount * rate, 10000))


def test_allocate_gives_leftover_fen_to_largest_remainders_then_earlier_lines() -> None:
    assert allocate(100, [333, 333, 333]) == [34, 33, 33]  # equal remainders: the first line
    assert allocate(1500, [6000, 4001]) == [900, 600]  # 899.91 / 600.09
    assert allocate(10, [1, 1, 8]) == [1, 1, 8]
    assert allocate(0, [5, 7]) == [0, 0]
    with pytest.raises(ValueError):
        allocate(13, [5, 7])


@given(st.lists(st.integers(0, 10**9), min_size=1, max_size=50), st.data())
def test_allocate_is_exact_bounded_and_proportional(weights: list[int], data: st.DataObject) -> None:
    total = data.draw(st.integers(0, sum(weights)))
    parts = allocate(total, weights)
    assert sum(parts) == total
    for p, w in zip(parts, weights):
        assert 0 <= p <= w
        if total:
            assert abs(p * sum(weights) - total * w) < sum(weights)  # within one fen of the exact share


# ---------------------------------------------------------------- presets


def test_presets_cover_the_seeds_deals_and_parse() -> None:
    assert set(PRESETS) == {"supermarket_card", "pharmacy_drug_card", "discount_pharmacy", "hospital_registration",
                            "hospital_large_exam", "hospital_inpatient", "school_tuition"}
    for key, p in PRESETS.items():
        assert set(p) == {"name", "merchant_type", "rule", "union_bp", "categories", "excluded", "per_txn_cap",
                          "money_quota", "count_quota", "period", "eligibility", "hardship_categories"}, key
        assert parse_rule(p["rule"]).to_json() == p["rule"], key
        assert p["merchant_type"] in {"pharmacy", "hospital", "supermarket", "school"}
        assert p["period"] in {"month", "year"} and p["eligibility"] in {"all_members", "difficult"}
        assert set(p["hardship_categories"]) <= {"deep", "relative", "accident"}
        assert (p["eligibility"] == "difficult") == bool(p["hardship_categories"])
        json.dumps(p)  # storable as is
        terms(key)  # valid terms
    assert PRESETS["supermarket_card"]["union_bp"] == 8800
    assert PRESETS["pharmacy_drug_card"]["union_bp"] == 8500
    assert PRESETS["school_tuition"]["union_bp"] == 8000
    assert 800 <= PRESETS["discount_pharmacy"]["rule"]["rate_bp"] <= 2000
    assert PRESETS["supermarket_card"]["excluded"] == ["tobacco_alcohol"]


def test_supermarket_card_pays_daily_goods_union_88_chain_12() -> None:
    b = bill(("daily_goods", 12000), ("food", 8000), ("tobacco_alcohol", 5000))
    q = calculate(b, [terms("supermarket_card")], {1: Remaining(50000, None)})
    # 20000 covered, card pays 100 %; union 88 % = 17600 split 12000:8000 -> 10560 / 7040.
    assert figures(q) == [(12000, 10560, 1440, 1), (8000, 7040, 960, 1), (0, 0, 0, None)]
    assert (q.amount, q.discount, q.payable, q.union_share, q.merchant_share) == (25000, 20000, 5000, 17600, 2400)
    assert q.lines[2].reason == "该商家不可在此项目下销售此类商品"
    assert q.usage == {1: Usage(money=20000, count=1)}


def test_supermarket_card_stops_at_the_money_left_on_the_card() -> None:
    b = bill(("daily_goods", 12000), ("food", 8000))
    q = calculate(b, [terms("supermarket_card")], {1: Remaining(15000, None)})
    # Capped at 15000: split 12000:8000 -> 9000 / 6000; union 88 % of 15000 = 13200 -> 7920 / 5280.
    assert figures(q) == [(9000, 7920, 1080, 1), (6000, 5280, 720, 1)]
    assert q.payable == 5000 and q.usage == {1: Usage(15000, 1)}
    assert all("受本期额度限制" in ln.reason for ln in q.lines)
    empty = calculate(b, [terms("supermarket_card")], {1: Remaining(0, None)})
    assert empty.discount == 0 and empty.usage == {} and "本期额度已用完" in empty.lines[0].reason


def test_drug_card_union_85_pharmacy_15() -> None:
    b = bill(("drug", 3333), ("drug", 6667), ("daily_goods", 1000))
    q = calculate(b, [terms("pharmacy_drug_card")], {})
    # 10000 paid by the card; union 8500 split 3333:6667 -> 2833.05 / 5666.95 -> 2833 / 5667.
    assert figures(q) == [(3333, 2833, 500, 1), (6667, 5667, 1000, 1), (0, 0, 0, None)]
    assert q.lines[2].reason == "不在优惠范围"
    assert (q.payable, q.union_share, q.merchant_share) == (1000, 8500, 1500)


def test_discount_pharmacy_rounds_on_the_covered_total_not_per_line() -> None:
    q = calculate(bill(("drug", 333), ("drug", 333), ("drug", 333)), [terms("discount_pharmacy")], {})
    # 10 % of 999 = 99.9 -> 100 (per line it would be 3 x 33.3 -> 99, a fen lost); 100 split 34 / 33 / 33.
    assert figures(q) == [(34, 0, 34, 1), (33, 0, 33, 1), (33, 0, 33, 1)]
    assert q.discount == 100 and q.merchant_share == 100 and q.union_share == 0
    assert q.lines[0].reason == "药品 9 折"


def test_hospital_waives_the_registration_fee_only() -> None:
    q = calculate(bill(("registration", 500), ("outpatient", 2000)), [terms("hospital_registration")], {})
    assert figures(q) == [(500, 0, 500, 1), (0, 0, 0, None)]
    assert q.payable == 2000 and q.lines[0].reason == "挂号费减免"


@pytest.mark.parametrize(("amounts", "discount", "per_line"), [
    ([10000], 0, [0]),  # exactly 100 yuan: not over
    ([10001], 1500, [1500]),  # 15 % of 10001 = 1500.15 -> 1500
    ([5000, 5000], 0, [0, 0]),  # the threshold is on the covered total
    ([6000, 4001], 1500, [900, 600]),  # 1500 split 899.91 / 600.09
    ([20000], 3000, [3000]),
])
def test_large_exams_15_percent_off_only_over_100_yuan(amounts: list[int], discount: int, per_line: list[int]) -> None:
    q = calculate([BillLine("large_exam", a) for a in amounts], [terms("hospital_large_exam")], {})
    assert q.discount == discount and [ln.discount for ln in q.lines] == per_line
    assert q.merchant_share == discount and q.union_share == 0
    if discount:
        assert q.usage == {1: Usage(discount, 1)} and "85 折" in q.lines[0].reason
    else:
        assert q.usage == {} and q.lines[0].reason == "大型设备检查未超过 100.00 元，不享受优惠"


def test_inpatient_10_percent_to_10000_yuan_then_15_percent() -> None:
    b = bill(("bed", 300000), ("exam", 200000), ("treatment", 1000000), ("surgery", 800000), ("drug", 400000))
    q = calculate(b, [terms("hospital_inpatient")], {})
    # Covered 1,500,000: 10 % of 1,000,000 = 100,000 + 15 % of 500,000 = 75,000 -> 175,000,
    # split 3:2:10 -> 35000 / 23333.33 / 116666.67 -> 35000 / 23333 / 116667. Surgery and drugs are not covered.
    assert [ln.discount for ln in q.lines] == [35000, 23333, 116667, 0, 0]
    assert q.discount == 175000 and q.payable == 2700000 - 175000
    assert [ln.program_id for ln in q.lines] == [1, 1, 1, None, None]
    assert "超过 10000.00 元部分 85 折" in q.lines[0].reason


@pytest.mark.parametrize(("covered", "discount"), [
    (1000000, 100000), (999999, 100000),  # 99999.9 -> 100000
    (1000001, 100000),  # + 15 % of 1 = 0.15 -> 0
    (1000004, 100001),  # + 15 % of 4 = 0.6 -> 1
    (1, 0), (5, 1),  # 0.5 -> 1
])
def test_inpatient_tier_boundaries(covered: int, discount: int) -> None:
    assert calculate(bill(("bed", covered)), [terms("hospital_inpatient")], {}).discount == discount


def test_school_union_80_school_20_within_the_yearly_quota() -> None:
    full = calculate(bill(("tuition", 250000)), [terms("school_tuition")], {1: Remaining(300000, None)})
    assert figures(full) == [(250000, 200000, 50000, 1)] and full.payable == 0
    capped = calculate(bill(("tuition", 250000)), [terms("school_tuition")], {1: Remaining(200000, None)})
    assert figures(capped) == [(200000, 160000, 40000, 1)] and capped.payable == 50000
    assert "受本期额度限制" in capped.lines[0].reason


# ---------------------------------------------------------------- caps, quotas, priority


def test_per_transaction_cap_then_money_quota() -> None:
    t = terms("discount_pharmacy", per_txn_cap=5000)
    q = calculate(bill(("drug", 100000)), [t], {})  # 10 % = 10000, capped at 5000
    assert q.discount == 5000 and "单笔最多优惠 50.00 元" in q.lines[0].reason
    q = calculate(bill(("drug", 100000)), [t], {1: Remaining(3000, 5)})  # the quota is tighter still
    assert q.discount == 3000 and "受本期额度限制" in q.lines[0].reason and q.usage == {1: Usage(3000, 1)}
    q = calculate(bill(("drug", 30000)), [t], {1: Remaining(3000, 5)})  # 3000 exactly: no cap applies
    assert q.discount == 3000 and q.lines[0].reason == "药品 9 折"


def test_count_quota_used_up_refuses_the_program() -> None:
    b = bill(("drug", 10000))
    q = calculate(b, [terms("discount_pharmacy")], {1: Remaining(None, 0)})
    assert q.discount == 0 and q.usage == {} and "本期次数已用完" in q.lines[0].reason
    q = calculate(b, [terms("discount_pharmacy")], {1: Remaining(None, 1)})
    assert q.discount == 1000 and q.usage == {1: Usage(1000, 1)}


def test_programs_apply_in_priority_order_and_exclusion_passes_a_line_on() -> None:
    off = terms("discount_pharmacy", id=1)
    card = terms("pharmacy_drug_card", id=2)
    assert [ln.program_id for ln in calculate(bill(("drug", 1000)), [off, card], {}).lines] == [1]
    assert [ln.program_id for ln in calculate(bill(("drug", 1000)), [card, off], {}).lines] == [2]
    shop = terms("supermarket_card", id=3, categories=frozenset({"food"}), excluded=frozenset({"drug"}))
    q = calculate(bill(("drug", 1000), ("food", 500)), [shop, card], {})
    assert [ln.program_id for ln in q.lines] == [2, 3] and q.discount == 1500
    assert set(q.usage) == {2, 3}


def test_programs_need_distinct_ids() -> None:
    with pytest.raises(ValueError):
        calculate(bill(("drug", 1)), [terms("discount_pharmacy"), terms("pharmacy_drug_card")], {})


def test_view_is_json_with_every_figure() -> None:
    q = calculate(bill(("daily_goods", 12000), ("tobacco_alcohol", 5000)), [terms("supermarket_card", id=7)], {})
    v = json.loads(json.dumps(q.view()))
    assert {k: v[k] for k in ("amount", "discount", "payable", "union_share", "merchant_share")} == {
        "amount": 17000, "discount": 12000, "payable": 5000, "union_share": 10560, "merchant_share": 1440}
    assert v["lines"][0] == {"index": 0, "category": "daily_goods", "category_label": "日用品", "amount": 12000,
                             "discount": 12000, "payable": 0, "union_share": 10560, "merchant_share": 1440,
                             "program_id": 7, "reason": "日用品卡内补贴 100%"}
    assert v["lines"][1]["program_id"] is None
    assert v["usage"] == [{"program_id": 7, "money": 12000, "count": 1}]


def test_benefit_summary_for_the_cashier() -> None:
    assert benefit_summary(terms("discount_pharmacy")) == "药品 9 折，商家让利 100%"
    assert benefit_summary(terms("supermarket_card")) == "日用品、食品卡内补贴 100%，工会承担 88%，商家让利 12%，不含烟酒"
    assert benefit_summary(terms("hospital_inpatient", per_txn_cap=50000)) == (
        "床位费、检查费、治疗费 10000.00 元以内 9 折，超过 10000.00 元部分 85 折，商家让利 100%，单笔最多优惠 500.00 元")
    t = terms("discount_pharmacy", rule=parse_rule({"kind": "percent_off", "rate_bp": 1500}), union_bp=8500)
    assert benefit_summary(t) == "药品 85 折，工会承担 85%，商家让利 15%"
    assert [zhe(1500), zhe(1000), zhe(2000), zhe(1250), zhe(0)] == ["85 折", "9 折", "8 折", "减 12.5%", "无优惠"]


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(("data", "field"), [
    ({"kind": "percent_off", "rate_bp": True}, "rate_bp"),
    ({"kind": "percent_off", "rate_bp": 1500.0}, "rate_bp"),
    ({"kind": "percent_off", "rate_bp": "1500"}, "rate_bp"),
    ({"kind": "percent_off", "rate_bp": 0}, "rate_bp"),
    ({"kind": "percent_off", "rate_bp": 10001}, "rate_bp"),
    ({"kind": "percent_off"}, "rate_bp"),
    ({"kind": "percent_off", "rate_bp": 1500, "union_bp": 100}, "union_bp"),
    ({"kind": "fee_waived", "rate_bp": 10000}, "rate_bp"),
    ({"kind": "discount", "rate_bp": 1500}, "kind"),
    ({"rate_bp": 1500}, "kind"),
    ({"kind": "threshold_percent", "rate_bp": 1500}, "over"),
    ({"kind": "threshold_percent", "rate_bp": 1500, "over": -1}, "over"),
    ({"kind": "threshold_percent", "rate_bp": 1500, "over": None}, "over"),
    ({"kind": "subsidy", "rate_bp": -100}, "rate_bp"),
    ({"kind": "tiered", "tiers": []}, "tiers"),
    ({"kind": "tiered", "tiers": {"up_to": None, "rate_bp": 1000}}, "tiers"),
    ({"kind": "tiered", "tiers": [[None, 1000]]}, "tiers"),
    ({"kind": "tiered", "tiers": [{"up_to": 1000, "rate_bp": 1000}]}, "tiers.up_to"),
    ({"kind": "tiered", "tiers": [{"up_to": None, "rate_bp": 1000}, {"up_to": None, "rate_bp": 1500}]}, "tiers.up_to"),
    ({"kind": "tiered", "tiers": [{"up_to": 500, "rate_bp": 1000}, {"up_to": 500, "rate_bp": 1200},
                                  {"up_to": None, "rate_bp": 1500}]}, "tiers.up_to"),
    ({"kind": "tiered", "tiers": [{"up_to": 0, "rate_bp": 1000}, {"up_to": None, "rate_bp": 1500}]}, "tiers.up_to"),
    ({"kind": "tiered", "tiers": [{"up_to": True, "rate_bp": 1000}, {"up_to": None, "rate_bp": 1500}]}, "tiers.up_to"),
    ({"kind": "tiered", "tiers": [{"up_to": None, "rate_bp": 10001}]}, "tiers.rate_bp"),
    ({"kind": "tiered", "tiers": [{"up_to": None}]}, "tiers.rate_bp"),
    ({"kind": "tiered", "tiers": [{"up_to": None, "rate_bp": 1000, "cap": 5}]}, "tiers.cap"),
    ({"kind": "tiered", "tiers": [{"up_to": None, "rate_bp": 0}] * 11}, "tiers"),
])
def test_bad_rules_are_refused_naming_the_field(data: dict[str, Any], field: str) -> None:
    assert field in refused("invalid_rule", parse_rule, data)


def test_a_rule_must_be_an_object() -> None:
    refused("invalid_rule", parse_rule, [("kind", "fee_waived")])


@pytest.mark.parametrize("change", [
    {"union_bp": 10001}, {"union_bp": -1}, {"union_bp": True}, {"categories": frozenset()},
    {"categories": frozenset({"jewellery"})}, {"excluded": frozenset({"drug"})}, {"per_txn_cap": 0},
    {"name": " "},
])
def test_bad_program_terms_are_refused(change: dict[str, Any]) -> None:
    refused("invalid_program", lambda: terms("discount_pharmacy", **change))


@pytest.mark.parametrize(("lines", "code"), [
    ([], "invalid_bill"),
    ([BillLine("drug", 100)] * 51, "invalid_bill"),
    ([("drug", 100)], "invalid_bill"),
    ("drug", "invalid_bill"),
    ([BillLine("jewellery", 100)], "unknown_category"),
    ([BillLine("drug", 0)], "invalid_amount"),
    ([BillLine("drug", -100)], "invalid_amount"),
    ([BillLine("drug", True)], "invalid_amount"),
    ([BillLine("drug", 100.0)], "invalid_amount"),  # type: ignore[arg-type]
    ([BillLine("drug", MAX_LINE_AMOUNT + 1)], "invalid_amount"),
])
def test_bad_bills_are_refused(lines: Any, code: str) -> None:
    refused(code, calculate, lines, [terms("discount_pharmacy")], {})


def test_the_largest_bill_is_accepted() -> None:
    q = calculate([BillLine("drug", MAX_LINE_AMOUNT)] * 50, [terms("discount_pharmacy")], {})
    assert q.discount == 50 * MAX_LINE_AMOUNT // 10


# ---------------------------------------------------------------- properties over random bills and programs

rates = st.integers(1, 10000)
money = st.one_of(st.integers(1, 2000), st.integers(1, MAX_LINE_AMOUNT))


@st.composite
def rule_json(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["percent_off", "fee_waived", "threshold_percent", "tiered", "subsidy"]))
    if kind == "fee_waived":
        return {"kind": kind}
    if kind == "threshold_percent":
        return {"kind": kind, "rate_bp": draw(rates), "over": draw(st.integers(0, 10**7))}
    if kind == "tiered":
        bounds = sorted(draw(st.sets(st.integers(1, 10**7), max_size=4)))
        tiers = [{"up_to": b, "rate_bp": draw(st.integers(0, 10000))} for b in bounds]
        return {"kind": kind, "tiers": [*tiers, {"up_to": None, "rate_bp": draw(st.integers(0, 10000))}]}
    return {"kind": kind, "rate_bp": draw(rates)}


@st.composite
def programs(draw: st.DrawFn, unlimited: bool = False) -> tuple[list[ProgramTerms], dict[int, Remaining]]:
    out, left = [], {}
    for pid in range(1, draw(st.integers(0, 4)) + 1):
        cats = draw(st.sets(st.sampled_from(CATS), min_size=1, max_size=6))
        excluded = draw(st.sets(st.sampled_from([c for c in CATS if c not in cats]), max_size=2))
        cap = None if unlimited else draw(st.none() | st.integers(1, 10**6))
        out.append(ProgramTerms(pid, f"项目{pid}", parse_rule(draw(rule_json())), draw(st.integers(0, 10000)),
                                frozenset(cats), frozenset(excluded), cap))
        if not unlimited and draw(st.booleans()):
            left[pid] = Remaining(draw(st.none() | st.integers(0, 10**6)), draw(st.none() | st.integers(0, 3)))
    return out, left


bills = st.lists(st.builds(BillLine, st.sampled_from(CATS), money), min_size=1, max_size=50)


@settings(max_examples=150, deadline=None)
@given(bills, programs())
def test_every_quote_adds_up(lines: list[BillLine], progs: tuple[list[ProgramTerms], dict[int, Remaining]]) -> None:
    plist, left = progs
    q = calculate(lines, plist, left)
    assert [(ln.index, ln.category, ln.amount) for ln in q.lines] == [(i, b.category, b.amount)
                                                                      for i, b in enumerate(lines)]
    for ln in q.lines:
        assert 0 <= ln.discount <= ln.amount
        assert 0 <= ln.union_share <= ln.discount and ln.union_share + ln.merchant_share == ln.discount
        # coverage: the first program that covers the category, or none (and then nothing off)
        first = next((p.id for p in plist if ln.category in p.categories and ln.category not in p.excluded), None)
        assert ln.program_id == first and ln.reason
        if first is None:
            assert ln.discount == 0
    assert q.amount == sum(b.amount for b in lines) == sum(ln.amount for ln in q.lines)
    assert q.discount == sum(ln.discount for ln in q.lines) <= q.amount
    assert q.payable + q.discount == q.amount
    assert q.union_share == sum(ln.union_share for ln in q.lines)
    assert q.merchant_share == sum(ln.merchant_share for ln in q.lines)
    assert q.union_share + q.merchant_share == q.discount
    for p in plist:
        mine = [ln for ln in q.lines if ln.program_id == p.id]
        given_ = sum(ln.discount for ln in mine)
        quota = left.get(p.id, Remaining(None, None))
        if given_ == 0:
            assert p.id not in q.usage
            continue
        assert q.usage[p.id] == Usage(given_, 1)
        assert quota.count != 0
        assert quota.money is None or given_ <= quota.money  # no quota goes below zero
        assert p.per_txn_cap is None or given_ <= p.per_txn_cap
        covered = sum(ln.amount for ln in mine)
        caps = [c for c in (p.per_txn_cap, quota.money) if c is not None]
        assert given_ == min([expected_total(p.rule.to_json(), covered), *caps])
        assert sum(ln.union_share for ln in mine) == half_up(Fraction(given_ * p.union_bp, 10000))
        for ln in mine:  # largest remainder: within one fen of the proportional share
            assert abs(ln.discount * covered - given_ * ln.amount) < covered
    assert set(q.usage) <= {p.id for p in plist}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.builds(BillLine, st.sampled_from(CATS), st.integers(1, 999)), min_size=1, max_size=50),
       programs(unlimited=True))
def test_rounding_loses_no_fen_across_many_lines(lines: list[BillLine],
                                                 progs: tuple[list[ProgramTerms], dict[int, Remaining]]) -> None:
    plist, _ = progs
    q = calculate(lines, plist, {})
    for p in plist:
        mine = [ln for ln in q.lines if ln.program_id == p.id]
        assert sum(ln.discount for ln in mine) == expected_total(p.rule.to_json(), sum(ln.amount for ln in mine))


@given(rule_json())
def test_rules_round_trip_through_json(data: dict[str, Any]) -> None:
    rule = parse_rule(data)
    assert rule.to_json() == data
    assert parse_rule(json.loads(json.dumps(rule.to_json()))) == rule
