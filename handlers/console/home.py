"""The console's home: today's work of the signed-in member of staff, by role and subtree, each a count with a
link to the list that does it."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from handlers.console.base import HOME_URL, ConsoleHandler
from models.core.policy import Access
from models.counter import settlement
from models.members import hardship, hardship_review
from models.relief import worklist

QUEUE_URL = "/console/relief/queue"
#: The lists of the other areas the home page links to (their pages live in their own modules).
OBJECTIONS_URL = "/console/relief/objections?status=open"
NOTICES_URL = "/console/relief/notices"
RECHECKS_URL = "/console/register/rechecks"
PENDING_URL = "/console/register"
STATEMENTS_URL = "/console/statements?status=draft"
TO_PAY_URL = "/console/statements?status=confirmed"
#: Days ahead a register re-check counts as due (the register's own list uses the same default).
RECHECK_DAYS = 30


@dataclass(frozen=True)
class Task:
    """One line of the day's work: what, how many, where to do it, and whether it is urgent."""

    label: str
    count: int
    url: str
    urgent: bool = False
    capped: bool = False


def queue_url(step: str, **filters: str) -> str:
    """The queue of one step, with filters."""
    return QUEUE_URL + "?" + urlencode({"step": step, **filters})


class HomePage(ConsoleHandler):
    """Today's work, grouped: applications at my steps (overdue first), then the other areas my roles have."""

    access = {"get": Access("console.home")}

    async def get(self) -> None:
        """Count the work in one read and render it."""
        actor = await self.actor()
        async with self.reading() as conn:
            relief = await worklist.today(conn, actor)
            register = ((await hardship_review.count_pending(conn, actor),
                         await hardship.count_due_for_recheck(conn, actor, within_days=RECHECK_DAYS))
                        if self.may("hardship.view") else None)
            money = ((await settlement.count_for_staff(conn, actor, status="draft"),
                      await settlement.count_for_staff(conn, actor, status="confirmed"))
                     if self.may("settlement.view") else None)
        groups: list[tuple[str, list[Task]]] = []
        for work in relief.steps:
            tasks = [Task("已超期", work.overdue, queue_url(work.step, overdue="1"), urgent=work.overdue > 0),
                     Task("待办理", work.waiting, queue_url(work.step)),
                     Task("退回后重新提交", work.resubmitted, queue_url(work.step, resubmitted="1")),
                     Task("有重复或超限提示", work.flagged, queue_url(work.step, flagged="1"),
                          urgent=work.flagged > 0)]
            groups.append((f"{work.name}环节", tasks))
        others: list[Task] = []
        if relief.objections_open is not None:
            others.append(Task("待调查的异议", relief.objections_open, OBJECTIONS_URL,
                               urgent=bool(relief.objections_overdue)))
        if relief.notices_ending is not None:
            others.append(Task("两日内公示期满", relief.notices_ending, NOTICES_URL))
        if register is not None:
            pending, due = register
            if self.may("hardship.confirm"):
                others.append(Task("待确认的困难职工档案", pending, PENDING_URL, urgent=pending > 0))
            others.append(Task(f"{RECHECK_DAYS} 日内到期的困难职工复核", due, RECHECKS_URL))
        if money is not None:
            drafts, to_pay = money
            others.append(Task("待确认的商家月结单", drafts, STATEMENTS_URL))
            others.append(Task("已确认待登记收付款的月结单", to_pay, TO_PAY_URL))
        if others:
            groups.append(("其他待办", others))
        done = "密码已修改。" if self.get_query_argument("done", "") == "password" else None
        self.page("home.html", "今日工作", groups=groups, done=done)


routes = [
    (HOME_URL, HomePage),
]
