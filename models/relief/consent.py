"""The consent to the processing of sensitive personal information that an application records (PIPL).

Change the text only with a new version: an application keeps the version its applicant agreed to.
"""
from __future__ import annotations

from typing import Any

CONSENT_VERSION = "2026-12-v1"
CONSENT_TEXT = (
    "为办理您的帮扶救助申请，工会需要处理您及家庭成员的敏感个人信息，包括身份证件号码、健康状况与医疗信息、"
    "收入与财产状况、家庭成员及其关系、子女就学情况等。依照《中华人民共和国个人信息保护法》，我们告知您："
    "一、这些信息仅用于困难情况核实、入户走访、集体评议、公示（仅公示姓名的部分字样、所在单位、救助类别和金额）、"
    "审批与发放救助资金，以及依法审计与档案备查；"
    "二、信息由受理您申请的工会组织及其上级工会的经办人员按职责查看，证件号码和证明材料加密保存，每次查看均有记录；"
    "三、信息按帮扶档案管理的规定期限保存，期满后删除或匿名化；"
    "四、您可以查阅、更正您的信息，也可以在作出决定前撤回申请；撤回同意不影响此前已进行的处理，但申请将无法继续办理；"
    "五、您提供家庭成员的信息，应当已告知并取得其同意。"
    "您点击“同意”，即表示您已阅读并单独同意上述敏感个人信息的处理。"
)


def consent() -> dict[str, Any]:
    """The consent as the phone shows it: version and text."""
    return {"version": CONSENT_VERSION, "text": CONSENT_TEXT}
