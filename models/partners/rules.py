"""The benefit calculation: what a bill at a partner merchant costs the worker and who pays what.

Pure code, no I/O. Money is integer fen, rates integer basis points (10000 = 100 %);
every percentage goes through ``apply_rate``, the one rounding rule.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from models.core.errors import Invalid
from models.core.money import yuan

BP = 10000
MAX_LINE_AMOUNT = 10_000_000_00  # ten million yuan
MAX_LINES = 50
MAX_BILL = MAX_LINE_AMOUNT * MAX_LINES
MAX_TIERS = 10

CATEGORIES: dict[str, str] = {
    "drug": "药品", "registration": "挂号费", "outpatient": "门诊诊疗", "large_exam": "大型设备检查",
    "bed": "床位费", "exam": "检查费", "treatment": "治疗费", "surgery": "手术费",
    "daily_goods": "日用品", "food": "食品", "tobacco_alcohol": "烟酒", "tuition": "学杂费", "other": "其他",
}


def apply_rate(amount_fen: int, rate_bp: int) -> int:
    """``rate_bp`` of ``amount_fen``, rounded half up to the fen: the one rounding rule."""
    if amount_fen < 0 or rate_bp < 0:
        raise ValueError("apply_rate takes non-negative figures")
    return (amount_fen * rate_bp + BP // 2) // BP


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` over ``weights`` by largest remainder (ties to the earlier line); each part ≤ its weight."""
    whole = sum(weights)
    if not 0 <= total <= whole or min(weights, default=0) < 0:
        raise ValueError("allocate needs 0 <= total <= sum(weights) and non-negative weights")
    if total == 0:
        return [0] * len(weights)
    parts = [total * w // whole for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def percent(rate_bp: int) -> str:
    """Basis points shown as a percentage, e.g. 1250 -> "12.5%"."""
    whole, frac = divmod(rate_bp, 100)
    return f"{whole}%" if not frac else f"{whole}.{frac:02d}".rstrip("0") + "%"


def zhe(rate_bp: int) -> str:
    """A discount the Chinese way: 1500 bp off -> "85 折", 1000 -> "9 折"; otherwise "减 12.5%"."""
    if rate_bp == 0:
        return "无优惠"
    paid = BP - rate_bp
    if paid % 100 or paid < 1000:
        return f"减 {percent(rate_bp)}"
    tenths = paid // 100
    return f"{tenths // 10 if tenths % 10 == 0 else tenths} 折"


def _bad_rule(field: str, why: str) -> Invalid:
    return Invalid("invalid_rule", f"优惠规则字段 {field} {why}")


def _check_int(value: Any, field: str, low: int, high: int) -> int:
    if type(value) is not int:  # bool is not a figure
        raise _bad_rule(field, "必须是整数")
    if not low <= value <= high:
        raise _bad_rule(field, f"必须在 {low} 到 {high} 之间")
    return value


# ------------------------------------------------------------------ rules


@dataclass(frozen=True)
class Tier:
    """A band of a tiered rule: its rate (bp) applies to the part of the total up to ``up_to`` fen."""

    up_to: int | None  # None: no upper bound (the last tier)
    rate_bp: int


# The JSON fields of each rule kind besides "kind".
KINDS: dict[str, tuple[str, ...]] = {
    "percent_off": ("rate_bp",), "fee_waived": (), "threshold_percent": ("rate_bp", "over"),
    "tiered": ("tiers",), "subsidy": ("rate_bp",),
}


@dataclass(frozen=True)
class Rule:
    """The arithmetic of one deal; build it with ``parse_rule``. Fields a kind does not use keep their defaults."""

    kind: str
    rate_bp: int = 0
    over: int = 0
    tiers: tuple[Tier, ...] = ()

    def discount(self, covered: int) -> int:
        """The discount on a program's covered total, before caps and quotas."""
        if self.kind == "fee_waived":
            return apply_rate(covered, BP)
        if self.kind == "threshold_percent" and covered <= self.over:
            return 0
        if self.kind != "tiered":
            return apply_rate(covered, self.rate_bp)
        total = lower = 0
        for tier in self.tiers:  # marginal: each tier's rate on the part of the total inside it
            upper = covered if tier.up_to is None else min(covered, tier.up_to)
            if upper > lower:
                total, lower = total + apply_rate(upper - lower, tier.rate_bp), upper
        return total

    def describe(self, label: str) -> str:
        """The deal in Chinese for the categories named by ``label``."""
        if self.kind == "fee_waived":
            return f"{label}减免"
        if self.kind == "subsidy":
            return f"{label}卡内补贴 {percent(self.rate_bp)}"
        if self.kind == "threshold_percent":
            return f"{label}超过 {yuan(self.over)} 元 {zhe(self.rate_bp)}"
        if self.kind == "percent_off":
            return f"{label} {zhe(self.rate_bp)}"
        parts, lower = [], 0
        for tier in self.tiers:
            if tier.up_to is None:
                parts.append(f"超过 {yuan(lower)} 元部分 {zhe(tier.rate_bp)}" if lower else zhe(tier.rate_bp))
            else:
                span = f"{yuan(lower)}–{yuan(tier.up_to)} 元部分" if lower else f"{yuan(tier.up_to)} 元以内"
                parts.append(f"{span} {zhe(tier.rate_bp)}")
                lower = tier.up_to
        return f"{label} " + "，".join(parts)

    def reason(self, label: str, covered: int) -> str:
        """Why a covered line got what it got, given the program's covered total."""
        if self.kind == "threshold_percent" and covered <= self.over:
            return f"{label}未超过 {yuan(self.over)} 元，不享受优惠"
        return self.describe(label)

    def to_json(self) -> dict[str, Any]:
        """The JSON dict ``parse_rule`` reads back."""
        out: dict[str, Any] = {"kind": self.kind}
        for name in KINDS[self.kind]:
            out[name] = [{"up_to": t.up_to, "rate_bp": t.rate_bp} for t in self.tiers] if name == "tiers" \
                else getattr(self, name)
        return out


def _exact_keys(data: Mapping[str, Any], fields: Sequence[str], prefix: str = "") -> None:
    unknown = sorted(str(k) for k in data if k not in fields)
    if unknown:
        raise _bad_rule(prefix + unknown[0], "是未知字段")
    for name in fields:
        if name not in data:
            raise _bad_rule(prefix + name, "缺失")


def _tiers(raw: Any) -> tuple[Tier, ...]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_TIERS or not all(isinstance(t, Mapping) for t in raw):
        raise _bad_rule("tiers", f"须为 1 到 {MAX_TIERS} 个档位对象的列表")
    tiers, lower = [], 0
    for n, t in enumerate(raw):
        _exact_keys(t, ("up_to", "rate_bp"), "tiers.")
        last = n == len(raw) - 1
        if (t["up_to"] is None) != last:
            raise _bad_rule("tiers.up_to", "只有最后一档为空（null）")
        up_to = None if last else _check_int(t["up_to"], "tiers.up_to", lower + 1, MAX_BILL)
        tiers.append(Tier(up_to, _check_int(t["rate_bp"], "tiers.rate_bp", 0, BP)))
        lower = up_to or lower
    return tuple(tiers)


def parse_rule(data: Mapping[str, Any]) -> Rule:
    """A rule from its stored JSON dict, validated strictly (``Invalid("invalid_rule")``)."""
    if not isinstance(data, Mapping):
        raise Invalid("invalid_rule", "优惠规则格式有误，应为对象")
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise _bad_rule("kind", "必须是 " + "、".join(KINDS) + " 之一")
    _exact_keys(data, ("kind", *KINDS[kind]))
    if kind == "tiered":
        return Rule(kind, tiers=_tiers(data["tiers"]))
    if kind == "fee_waived":
        return Rule(kind)
    over = _check_int(data["over"], "over", 0, MAX_BILL) if kind == "threshold_percent" else 0
    return Rule(kind, rate_bp=_check_int(data["rate_bp"], "rate_bp", 1, BP), over=over)


# ------------------------------------------------------------------ programs and bills


def _bad_program(why: str) -> Invalid:
    return Invalid("invalid_program", f"优惠项目设置有误：{why}")


@dataclass(frozen=True)
class ProgramTerms:
    """One program of a merchant: its rule, the union's part of each discount and what it covers."""

    id: int
    name: str
    rule: Rule
    union_bp: int  # the union's part of each discount; the merchant concedes the rest
    categories: frozenset[str]
    excluded: frozenset[str] = frozenset()  # may not be sold under the program at this merchant
    per_txn_cap: int | None = None  # max discount in one transaction, fen

    def __post_init__(self) -> None:
        object.__setattr__(self, "categories", frozenset(self.categories))
        object.__setattr__(self, "excluded", frozenset(self.excluded))
        if type(self.id) is not int or not isinstance(self.name, str) or not self.name.strip():
            raise _bad_program("缺少编号或名称")
        if not isinstance(self.rule, Rule):
            raise _bad_program("缺少优惠规则")
        if type(self.union_bp) is not int or not 0 <= self.union_bp <= BP:
            raise _bad_program(f"工会承担比例须在 0 到 {BP} 之间")
        if not self.categories or not (self.categories | self.excluded) <= CATEGORIES.keys():
            raise _bad_program("优惠类别为空或含未知类别")
        if self.categories & self.excluded:
            raise _bad_program("同一类别不能既优惠又排除")
        if self.per_txn_cap is not None and (type(self.per_txn_cap) is not int or self.per_txn_cap < 1):
            raise _bad_program("单笔优惠上限须为正整数（分）")

    def covers(self, category: str) -> bool:
        """Whether a line of ``category`` falls under this program (``excluded`` is disjoint by construction)."""
        return category in self.categories


@dataclass(frozen=True)
class BillLine:
    """One line of a bill: a goods category and its amount in fen."""

    category: str
    amount: int


@dataclass(frozen=True)
class Remaining:
    """What is left of a card's quotas this period; None = no quota."""

    money: int | None
    count: int | None

    def __post_init__(self) -> None:
        if any(v is not None and (type(v) is not int or v < 0) for v in (self.money, self.count)):
            raise ValueError("remaining quotas are non-negative ints or None")


UNLIMITED = Remaining(None, None)


def check_bill(bill: Sequence[BillLine]) -> tuple[BillLine, ...]:
    """The bill's lines, or ``Invalid`` naming what is wrong with them."""
    if not isinstance(bill, (list, tuple)) or not 1 <= len(bill) <= MAX_LINES:
        raise Invalid("invalid_bill", f"账单须有 1 到 {MAX_LINES} 项")
    for n, line in enumerate(bill, 1):
        if not isinstance(line, BillLine):
            raise Invalid("invalid_bill", f"账单第 {n} 项格式有误")
        if not isinstance(line.category, str) or line.category not in CATEGORIES:
            raise Invalid("unknown_category", f"账单第 {n} 项的类别不存在")
        if type(line.amount) is not int or not 0 < line.amount <= MAX_LINE_AMOUNT:
            raise Invalid("invalid_amount", f"账单第 {n} 项金额须在 0.01 到 {yuan(MAX_LINE_AMOUNT)} 元之间")
    return tuple(bill)


# ------------------------------------------------------------------ the quote


@dataclass(frozen=True)
class LineResult:
    """One bill line quoted: its discount, union and merchant shares, the programme, and why."""

    index: int
    category: str
    amount: int
    discount: int
    union_share: int
    merchant_share: int
    program_id: int | None
    reason: str

    @property
    def payable(self) -> int:
        """What the worker pays for the line: its amount less the discount."""
        return self.amount - self.discount


@dataclass(frozen=True)
class Usage:
    """What a redemption takes off one programme's quotas: money (fen) and count."""

    money: int
    count: int


@dataclass(frozen=True)
class Quote:
    """A priced bill: its quoted lines, totals, the two shares, and the quota usage per programme."""

    lines: tuple[LineResult, ...]
    amount: int
    discount: int
    payable: int
    union_share: int
    merchant_share: int
    usage: dict[int, Usage]  # per program that gave a discount: what to take off its quotas

    def view(self) -> dict[str, Any]:
        """The quote as JSON: fen ints and Chinese reasons."""
        return {
            "amount": self.amount, "discount": self.discount, "payable": self.payable,
            "union_share": self.union_share, "merchant_share": self.merchant_share,
            "lines": [{
                "index": ln.index, "category": ln.category, "category_label": CATEGORIES[ln.category],
                "amount": ln.amount, "discount": ln.discount, "payable": ln.payable,
                "union_share": ln.union_share, "merchant_share": ln.merchant_share,
                "program_id": ln.program_id, "reason": ln.reason,
            } for ln in self.lines],
            "usage": [{"program_id": pid, "money": u.money, "count": u.count} for pid, u in self.usage.items()],
        }


def _program_discount(terms: ProgramTerms, covered: int, left: Remaining) -> tuple[int, str]:
    """The program's discount on its covered total after caps and quotas, and a note for the reason."""
    if left.count == 0:
        return 0, "（本期次数已用完）"
    discount, note = min(terms.rule.discount(covered), covered), ""
    if terms.per_txn_cap is not None and discount > terms.per_txn_cap:
        discount, note = terms.per_txn_cap, f"（单笔最多优惠 {yuan(terms.per_txn_cap)} 元）"
    if left.money is not None and discount > left.money:
        discount, note = left.money, "（本期额度已用完）" if left.money == 0 else "（受本期额度限制）"
    return discount, note


def calculate(bill: Sequence[BillLine], programs: Sequence[ProgramTerms],
              remaining: Mapping[int, Remaining]) -> Quote:
    """Price ``bill`` under ``programs`` (in priority order) given what is left of each program's quotas."""
    lines = check_bill(bill)
    if len({p.id for p in programs}) != len(programs):
        raise ValueError("programs must have distinct ids")
    owner = [next((p for p in programs if p.covers(ln.category)), None) for ln in lines]
    results: list[LineResult | None] = [None] * len(lines)
    usage: dict[int, Usage] = {}
    for terms in programs:
        idx = [i for i, o in enumerate(owner) if o is terms]
        if not idx:
            continue
        amounts = [lines[i].amount for i in idx]
        covered = sum(amounts)
        discount, note = _program_discount(terms, covered, remaining.get(terms.id, UNLIMITED))
        shares = allocate(discount, amounts)
        union = allocate(apply_rate(discount, terms.union_bp), shares)
        for i, d, u in zip(idx, shares, union):
            ln = lines[i]
            reason = terms.rule.reason(CATEGORIES[ln.category], covered) + note
            results[i] = LineResult(i, ln.category, ln.amount, d, u, d - u, terms.id, reason)
        if discount > 0:
            usage[terms.id] = Usage(money=discount, count=1)
    for i, ln in enumerate(lines):
        if results[i] is None:
            excluded = any(ln.category in p.excluded for p in programs)
            reason = "该商家不可在此项目下销售此类商品" if excluded else "不在优惠范围"
            results[i] = LineResult(i, ln.category, ln.amount, 0, 0, 0, None, reason)
    done = tuple(r for r in results if r is not None)
    amount, discount = sum(r.amount for r in done), sum(r.discount for r in done)
    union_share = sum(r.union_share for r in done)
    return Quote(done, amount, discount, amount - discount, union_share, discount - union_share, usage)


def benefit_summary(terms: ProgramTerms) -> str:
    """The deal in one Chinese line for the cashier screen, e.g. "药品卡内补贴 100%，工会承担 85%，商家让利 15%"."""
    order = list(CATEGORIES)
    labels = "、".join(CATEGORIES[c] for c in sorted(terms.categories, key=order.index))
    parts = [terms.rule.describe(labels)]
    if terms.union_bp:
        parts.append(f"工会承担 {percent(terms.union_bp)}")
    if terms.union_bp < BP:
        parts.append(f"商家让利 {percent(BP - terms.union_bp)}")
    if terms.per_txn_cap is not None:
        parts.append(f"单笔最多优惠 {yuan(terms.per_txn_cap)} 元")
    if terms.excluded:
        parts.append("不含" + "、".join(CATEGORIES[c] for c in sorted(terms.excluded, key=order.index)))
    return "，".join(parts)


# ------------------------------------------------------------------ presets: the seeds' deals

_ALL_HARDSHIP = ["deep", "relative", "accident"]


def _preset(name: str, merchant_type: str, rule: dict[str, Any], union_bp: int, categories: list[str], *,
            excluded: list[str] | None = None, per_txn_cap: int | None = None, money_quota: int | None = None,
            count_quota: int | None = None, period: str = "year", difficult: bool = True) -> dict[str, Any]:
    return {
        "name": name, "merchant_type": merchant_type, "rule": rule, "union_bp": union_bp,
        "categories": categories, "excluded": excluded or [], "per_txn_cap": per_txn_cap,
        "money_quota": money_quota, "count_quota": count_quota, "period": period,
        "eligibility": "difficult" if difficult else "all_members",
        "hardship_categories": list(_ALL_HARDSHIP) if difficult else [],
    }


PRESETS: dict[str, dict[str, Any]] = {
    # Love supermarket: the loaded shopping card pays daily necessities; union 88 %, chain 12 %.
    "supermarket_card": _preset("爱心超市购物卡", "supermarket", {"kind": "subsidy", "rate_bp": 10000}, 8800,
                                ["daily_goods", "food"], excluded=["tobacco_alcohol"], money_quota=50000),
    # Love pharmacy: drug purchase card; union 85 %, pharmacy 15 %.
    "pharmacy_drug_card": _preset("爱心购药卡", "pharmacy", {"kind": "subsidy", "rate_bp": 10000}, 8500,
                                  ["drug"], money_quota=50000),
    # Another city: listed drugs 8 %-20 % off at chain stores, conceded by the pharmacy.
    "discount_pharmacy": _preset("爱心药店药品折扣", "pharmacy", {"kind": "percent_off", "rate_bp": 1000}, 0,
                                 ["drug"], period="month", difficult=False),
    # Love hospital, outpatient: registration fee waived.
    "hospital_registration": _preset("爱心医院门诊挂号费减免", "hospital", {"kind": "fee_waived"}, 0,
                                     ["registration"], period="month"),
    # Love hospital: large-equipment exams 15 % off when over 100 yuan.
    "hospital_large_exam": _preset("爱心医院大型设备检查优惠", "hospital",
                                   {"kind": "threshold_percent", "rate_bp": 1500, "over": 10000}, 0,
                                   ["large_exam"], period="month"),
    # Love hospital, inpatient (bed, exam, treatment; not drugs or surgery): 10 % to 10,000 yuan, 15 % above.
    "hospital_inpatient": _preset("爱心医院住院费用优惠", "hospital",
                                  {"kind": "tiered", "tiers": [{"up_to": 1000000, "rate_bp": 1000},
                                                               {"up_to": None, "rate_bp": 1500}]},
                                  0, ["bed", "exam", "treatment"]),
    # Love school: children of difficult workers; union 80 %, school 20 %.
    "school_tuition": _preset("爱心学校助学", "school", {"kind": "subsidy", "rate_bp": 10000}, 8000,
                              ["tuition"], money_quota=300000),
}
