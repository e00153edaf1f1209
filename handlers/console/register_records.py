"""A member's page of the difficult-worker register (history, masked unless my role may see it whole, each
full view audited as the API does) with the entry form, and the re-check (复核) form of a record. The
household's incomes are typed in yuan; the form becomes the API's own body model (the same validation)."""
from __future__ import annotations

from typing import Any, TypeVar

from handlers.console.base import ConsoleHandler, Refusal, yuan_to_fen
from handlers.console.register import NAMES, PENDING_URL, RECHECKS_URL, member_url, record_url
from handlers.hardship import MEMBER, RECORD_TARGET, HistoryQuery
from models.core.errors import AppError
from models.core.money import yuan as plain_yuan
from models.core.policy import Access
from models.core.typed import paged
from models.members import hardship

E = TypeVar("E", bound=hardship.HardshipEntry)
#: Household rows offered by the form (the register takes up to ``hardship.MAX_HOUSEHOLD``).
ROWS = 6
_PERSON = ("relation", "name", "age", "health", "work", "income")
#: Refusals of the domain that belong next to a field of the form.
_FIELD_OF = {"hardship_above_line": "category", "hardship_reason_required": "category_reason",
             "hardship_valid_ended": "valid_to", "hardship_valid_period": "valid_to",
             "hardship_recheck_start": "valid_from", "hardship_active": "household",
             "hardship_pending": "household", "hardship_recheck_pending": "household"}


def typed(handler: ConsoleHandler) -> dict[str, Any]:
    """What was typed, kept to show again: every field, the causes as a list."""
    return {**handler.form_values(), "causes": handler.form_list("causes")}


def entry_of(handler: ConsoleHandler, model: type[E]) -> E:
    """The form as the API's entry (or re-check) body: household rows with their income in yuan, the causes."""
    values = handler.form_values()
    household = []
    for i in range(hardship.MAX_HOUSEHOLD):
        person = {k: values.get(f"h{i}_{k}", "") for k in _PERSON}
        if not any(person.values()):
            continue
        row: dict[str, Any] = {k: v for k, v in person.items() if v and k != "income"}
        if person["age"].isdigit() and len(person["age"]) < 4:
            row["age"] = int(person["age"])
        row["monthly_income"] = yuan_to_fen(person["income"] or "0", "household")
        household.append(row)
    return handler.form_model(model, values, extra={"household": household, "causes": handler.form_list("causes")})


def refusal_of(handler: ConsoleHandler, exc: AppError) -> Refusal:
    """The refusal, with the domain's codes placed next to their field."""
    refusal = handler.refused(exc)
    field = _FIELD_OF.get(exc.code)
    if field:
        refusal.fields.setdefault(field, refusal.message)
    return refusal


def prefill(record: hardship.HardshipRecord) -> dict[str, Any]:
    """A re-check form filled with the record's figures (names and health are typed again: the list is masked)."""
    out: dict[str, Any] = {"causes": list(record.causes), "verification_method": "home_visit"}
    for i, person in enumerate(record.household):
        out.update({f"h{i}_relation": person.relation, f"h{i}_age": str(person.age),
                    f"h{i}_work": person.work or "", f"h{i}_income": plain_yuan(person.monthly_income)})
    return out


class MemberRegisterPage(ConsoleHandler):
    """A member's records, newest first (``full=1`` unmasks and is audited), and the entry form."""

    access = {"get": Access("hardship.view", MEMBER), "post": Access("hardship.manage", MEMBER)}

    async def get(self, member_id: int) -> None:
        """The history, and the entry form for roles that may enter."""
        await self.show(int(member_id))

    async def show(self, member_id: int, *, form: dict[str, Any] | None = None,
                   refusal: Refusal | None = None) -> None:
        """Render the page (again after a refused entry: what was typed kept, refusals by their field); the
        URL's query is the API's (``full``, ``cursor``, ``limit``)."""
        actor = await self.actor()
        q = self.url_query(HistoryQuery)
        full = q.full == "1" and refusal is None
        async with self.writing() as conn:  # a full view writes its audit record
            records = await hardship.history(conn, self.cipher, actor, member_id, full=full, before=q.cursor,
                                             page=q.limit)
        shown, nxt = paged(records, q.limit, lambda r: r.id)
        done = {"entered": "已录入，待另一位审核人员确认后生效。"}.get(self.get_query_argument("done", ""))
        self.page("register_member.html", f"会员 {member_id} 的困难职工档案",
                  crumbs=[("困难职工档案", PENDING_URL), (f"会员 {member_id}", None)],
                  status=refusal.status if refusal else 200, records=shown, full=full, member_id=member_id,
                  next_url=self.page_url(cursor=nxt) if nxt else None, rows=ROWS, done=done,
                  action=member_url(member_id), form=form or {"verification_method": "home_visit"},
                  errors=refusal.fields if refusal else {}, refusal=refusal, recheck=False, **NAMES)

    async def post(self, member_id: int) -> None:
        """Enter the member in the register: a pending record for a second person."""
        actor = await self.actor()
        try:
            entry = entry_of(self, hardship.HardshipEntry)
            async with self.writing() as conn:
                await hardship.enter(conn, self.cipher, actor, int(member_id), entry)
        except AppError as exc:
            await self.show(int(member_id), form=typed(self), refusal=refusal_of(self, exc))
            return
        self.redirect(member_url(int(member_id)) + "?done=entered")


class RecheckPage(ConsoleHandler):
    """The re-check (复核) of a record: the household now (incomes in yuan), the visit, causes, category, validity."""

    access = {"get": Access("hardship.manage", RECORD_TARGET), "post": Access("hardship.manage", RECORD_TARGET)}

    async def get(self, record_id: int) -> None:
        """The form, filled with the record's figures."""
        await self.show(int(record_id))

    async def show(self, record_id: int, *, form: dict[str, Any] | None = None,
                   refusal: Refusal | None = None) -> None:
        """Render the form (again after a refusal, with what was typed)."""
        actor = await self.actor()
        async with self.reading() as conn:
            await hardship.record_in_scope(conn, actor, record_id)
            record = await hardship.load_one(conn, None, record_id)
        title = f"复核档案 {record_id}"
        self.page("register_recheck.html", title,
                  crumbs=[("困难职工档案", PENDING_URL), ("待复核", RECHECKS_URL), (title, None)],
                  status=refusal.status if refusal else 200, record=record, rows=ROWS,
                  action=record_url(record_id, "recheck"), form=form or prefill(record),
                  errors=refusal.fields if refusal else {}, refusal=refusal, recheck=True, **NAMES)

    async def post(self, record_id: int) -> None:
        """Submit the re-check: a pending record that renews this one once a second person confirms it."""
        rid = int(record_id)
        actor = await self.actor()
        try:
            entry = entry_of(self, hardship.HardshipRecheck)
            async with self.writing() as conn:
                done = await hardship.recheck(conn, self.cipher, actor, rid, entry)
        except AppError as exc:
            await self.show(rid, form=typed(self), refusal=refusal_of(self, exc))
            return
        self.redirect(member_url(done.member_id) + "?done=entered")


routes: list[tuple[str, Any]] = [
    (PENDING_URL + r"/members/(?P<member_id>[0-9]+)", MemberRegisterPage),
    (PENDING_URL + r"/records/(?P<record_id>[0-9]+)/recheck", RecheckPage),
]
