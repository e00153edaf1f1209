"""The preset kinds of relief: the practice of the seeds and the ACFTU rules (docs/domain.md), in fen.

Units change them (amounts, caps, fields, proofs), disable them for their subtree, or add their own
kinds; these are what is in force where no unit on the path said otherwise.
"""
from __future__ import annotations

from typing import Any

from models.core.typed import FEN_MAX

CAUSES = {"illness": "因病", "disability": "因残", "unemployment": "下岗失业", "schooling": "因学",
          "disaster": "因灾", "accident": "意外"}


def text(title: str, max_len: int, *, min_len: int = 0, **extra: Any) -> dict[str, Any]:
    """A text field of the form."""
    return {"type": "string", "title": title, "maxLength": max_len, "minLength": min_len, **extra}


def choice(title: str, labels: dict[str, str]) -> dict[str, Any]:
    """A field that takes one of the codes, shown by their Chinese labels."""
    return {"type": "string", "title": title, "maxLength": 40, "enum": list(labels), "x-labels": dict(labels)}


def money(title: str, maximum: int = FEN_MAX, **extra: Any) -> dict[str, Any]:
    """An amount of money in fen."""
    return {"type": "integer", "title": title, "minimum": 0, "maximum": maximum, "x-unit": "fen", **extra}


def day(title: str) -> dict[str, Any]:
    """A date (YYYY-MM-DD)."""
    return {"type": "string", "title": title, "maxLength": 10, "format": "date"}


def form(required: list[str], **props: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of a flat form."""
    return {"type": "object", "properties": props, "required": required, "additionalProperties": False}


def proof(type_: str, name: str, *, required: bool = True, group: str | None = None, max_files: int = 5,
          note: str | None = None) -> dict[str, Any]:
    """A proof the kind asks for; proofs sharing a ``group`` are alternatives (any one of them will do)."""
    return {"type": type_, "name": name, "required": required, "group": group, "max_files": max_files, "note": note}


INCOME = proof("income_proof", "家庭成员收入证明", note="由工作单位或村（社区）出具并盖章，含本人及共同生活的家庭成员")
ID_CARD = proof("id_card", "身份证", max_files=4)
HOUSEHOLD_REGISTER = proof("household_register", "户口簿", max_files=10)
SITUATION = text("困难情况说明", 1000, min_len=10)
#: Where the money goes by bank transfer (the roster's account when left blank); stored with the form, encrypted.
BANK_ACCOUNT = text("收款银行账号", 30, format="digits", description="本人银行卡号，不填则使用会员档案登记的账号")

PRESETS: dict[str, dict[str, Any]] = {
    "living": {
        "name": "生活救助",
        "description": "已建档困难职工家庭基本生活困难的救助，每户每年最高不超过当地 12 个月低保标准。",
        "who": "registered",
        "suggest_for": ["deep", "relative"],
        "fields": form(["cause", "situation", "household_monthly_income"],
                       cause=choice("主要致困原因", CAUSES),
                       situation=SITUATION,
                       household_monthly_income=money("家庭月收入", 10**8),
                       bank_account=BANK_ACCOUNT),
        "proofs": [INCOME, ID_CARD, HOUSEHOLD_REGISTER],
        "amount": {"basis": "line_months", "months": 12},
        "frequency": {"period": "year", "times": 1},
    },
    "medical": {
        "name": "医疗救助",
        "description": "本人或家庭成员患病，医保报销后个人自付部分的救助，最高不超过自付金额。",
        "who": "member",
        "suggest_for": ["deep", "relative", "accident"],
        "fields": form(["patient", "diagnosis", "self_paid", "situation"],
                       patient=choice("患者与本人关系", {"self": "本人", "spouse": "配偶", "child": "子女",
                                                        "parent": "父母"}),
                       diagnosis=text("诊断疾病", 200, min_len=2),
                       hospital=text("就诊医院", 100),
                       treated_on=day("就诊（入院）日期"),
                       self_paid=money("医保报销后个人自付金额", 10**9),
                       situation=SITUATION,
                       bank_account=BANK_ACCOUNT),
        "proofs": [proof("diagnosis", "本年度诊断证明", max_files=5),
                   proof("medical_bills", "近三个月自付医疗费用票据", group="medical_cost", max_files=10),
                   proof("insurance_settlement", "医保结算单", group="medical_cost", max_files=10),
                   INCOME, ID_CARD],
        "amount": {"basis": "field", "field": "self_paid", "amount": 1_000_000},
        "frequency": {"period": "year", "times": 1},
    },
    "school": {
        "name": "金秋助学",
        "description": "困难职工家庭子女上大学、高中的助学金，按学段每生每年一次。",
        "who": "member",
        "suggest_for": ["deep", "relative", "accident"],
        "fields": form(["student_name", "student_id_number", "stage", "school", "enrolled_year"],
                       student_name=text("学生姓名", 50, min_len=2),
                       student_id_number=text("学生身份证号", 18, min_len=18),
                       stage=choice("学段", {"university": "大学（本科、专科）", "high_school": "高中（含中职）"}),
                       school=text("就读学校", 100, min_len=2),
                       enrolled_year={"type": "integer", "title": "入学年份", "minimum": 2000, "maximum": 2100,
                                      "x-unit": "year"},
                       tuition=money("每年学费", 10**8),
                       bank_account=BANK_ACCOUNT),
        "proofs": [proof("admission_letter", "录取通知书或在读证明", max_files=3),
                   proof("tuition_receipt", "学费收据", max_files=5), INCOME, HOUSEHOLD_REGISTER],
        "amount": {"basis": "by_choice", "field": "stage",
                   "amounts": {"university": 400_000, "high_school": 200_000},
                   "registered_amounts": {"university": 500_000, "high_school": 300_000}},
        "frequency": {"period": "year", "times": 1, "per_field": "student_id_number"},
    },
    "holiday": {
        "name": "两节送温暖",
        "description": "元旦、春节期间对已建档困难职工家庭的走访慰问。",
        "who": "registered",
        "suggest_for": ["deep", "relative"],
        "fields": form(["situation"], situation=text("近况说明", 500, min_len=2)),
        "proofs": [proof("other", "其他材料", required=False)],
        "amount": {"basis": "fixed", "amount": 50_000},
        "frequency": {"period": "year", "times": 1},
    },
    "temporary": {
        "name": "临时救助",
        "description": "因突发疾病、意外事故、自然灾害等导致基本生活暂时困难的应急救助。",
        "who": "member",
        "suggest_for": ["accident", "deep", "relative"],
        "fields": form(["event", "event_date", "situation"],
                       event=choice("突发事件", {"illness": "突发疾病", "accident": "意外事故",
                                                 "disaster": "自然灾害", "other": "其他"}),
                       event_date=day("发生日期"),
                       loss=money("损失或支出金额", 10**9),
                       situation=SITUATION,
                       bank_account=BANK_ACCOUNT),
        "proofs": [proof("event_proof", "事故、灾害或病情证明", max_files=10), INCOME],
        "amount": {"basis": "cap", "amount": 500_000},
        "frequency": {"period": "year", "times": 2},
    },
    "register": {
        "name": "申请建立困难职工档案",
        "description": "家庭生活困难的会员申请进入困难职工档案（先建档、后帮扶）。",
        "who": "unregistered",
        "suggest_for": ["deep", "relative", "accident"],
        "fields": form(["cause", "situation"],
                       cause=choice("主要致困原因", CAUSES),
                       secondary_cause=choice("次要致困原因", CAUSES),
                       employer_post=text("工作单位及岗位", 100),
                       situation=SITUATION),
        "proofs": [INCOME, ID_CARD, HOUSEHOLD_REGISTER,
                   proof("hardship_proof", "致困原因证明", required=False, max_files=10,
                         note="如诊断证明、残疾证、失业证明、受灾证明")],
        "amount": {"basis": "none"},
        "frequency": {"period": "none"},
    },
}
