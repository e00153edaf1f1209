"""The demo's relief work: fund sources, and applications in every state of the procedure, for the console.

Everything is made through the domain functions the handlers call, in the order the handlers call them,
so each step has its checks, its four eyes, its audit record, its timeline event and its notice to the
worker: the workers log in with WeChat and claim their roster records, fill in their forms, upload proofs
through the attachment store and submit with consent; the station visits and decides, the county
reviews, the committee's meeting votes, the notice is published and objected to, the notice job ends a
period, the approver reserves on an earmarked fund, finance pays, the center archives.

Two things of the story lie in the past, and the domain takes no time for them: an application that has
waited at the station beyond its deadline, and a notice period that is over. After the real calls,
``_moved_back`` moves the times (never a state) of those applications, their timeline and notices, and of
their notice batch, back by some days; the notice job then ends the period now, as it would. Everything
else happened "now", when the demo was loaded. The audit log keeps the real times.

The workers are WeChat users of the sandbox: in ``serve --demo``, ``<login>.1`` (e.g. ``guilan.1``) logs
in as the worker and shows their applications on the phone.
"""
from __future__ import annotations

import functools
import io
import json
import secrets
import struct
import textwrap
import zlib
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from models.cards import usecases as card_flows
from models.core.actors import Actor
from models.core.clock import LOCAL_TZ, local_today
from models.core.tables import notifications
from models.funds import sources
from models.identity import accounts
from models.identity import staff_accounts as staff
from models.identity.tables import staff as staff_table
from models.members import hardship, hardship_review
from models.members.idcard import check_digit
from models.members.tables import members as members_table
from models.network import tree
from models.relief import applying, archive, calendar, consent, meetings, notices, objections, payments, proofs
from models.relief import records, reviewing, tallies, visits
from models.relief.kinds import PRESET_DEFINITIONS
from models.relief.tables import relief_applications, relief_events
from models.relief.tables import relief_notices as relief_notices_table
from server.attachments import AttachmentStore
from server.config import Config
from server.crypto import PiiCipher, load_keyring
from server.wechat import ContentCheck
from server.wechat_sandbox_state import SandboxState

#: The district whose assistance center does the relief work, and where its fund sources sit.
DISTRICT = "CS-FR"
#: What the WeChat content check answers for the demo's plain texts (the sandbox passes them).
PASSED = ContentCheck("pass")
#: Where the demo's household members were registered (长沙市天心区), apart from the members' own district.
HOUSEHOLD_REGION = "430103"

# The walkthrough's summary of what follows (scripts/demo.py prints it).
SUMMARY = (
    "Relief work (芙蓉区): two fund sources of this year (中央财政专项, 工会帮扶资金) and 13 applications of 12 workers\n"
    "in every state: a draft; two at 基层核实 (one overdue); one returned with what is missing; one at 县级审核;\n"
    "one at 集体评议; one in the public notice in force, with an open objection; one at 审批; one waiting for\n"
    "payment; one paid; one archived; one rejected; one withdrawn. Each worker logs in with the WeChat code\n"
    "<login>.1 (e.g. guilan.1): " + "{logins}.")


@dataclass(frozen=True)
class Case:
    """One demo application: whose, which kind, what the worker fills in, and how far it goes."""

    state: str
    login: str
    name: str
    kind: str
    form: dict[str, Any]
    household: list[dict[str, Any]] = field(default_factory=list)
    amount: int | None = None
    proofs: tuple[str, ...] = ()
    visit: str = ""
    visit_days_ago: int = 3
    proposed: int | None = None


def _household_id(birth: str, seq: int, gender: str) -> str:
    """A valid ID number (GB 11643) for a household member born on ``birth``."""
    first17 = f"{HOUSEHOLD_REGION}{birth.replace('-', '')}{seq:02d}{1 if gender == 'male' else 2}"
    return first17 + check_digit(first17)


def _person(name: str, relation: str, birth: str, seq: int, gender: str, income: int = 0) -> dict[str, Any]:
    return {"name": name, "relation": relation, "id_number": _household_id(birth, seq, gender),
            "monthly_income": income}


def _cases(today: date) -> list[Case]:
    """The demo's applications, one per state (two at verification, one of them overdue)."""
    year = today.year

    def ago(days: int) -> str:
        return (today - timedelta(days=days)).isoformat()

    return [
        Case("draft", "xiaoyan", "刘晓燕", "temporary",
             {"event": "accident", "event_date": ago(6),
              "situation": "下班途中骑电动车被货车刮倒，右腿胫骨骨折住院，至少三个月不能上班。"},
             proofs=("event_proof",)),
        Case("verification", "hongwei", "陈宏伟", "school",
             {"student_name": "陈思远", "student_id_number": _household_id("2006-09-14", 51, "male"),
              "stage": "university", "school": "湖南师范大学", "enrolled_year": year - 1, "tuition": 550_000},
             [_person("刘芳", "spouse", "1989-03-02", 52, "female", 260_000),
              _person("陈思远", "child", "2006-09-14", 51, "male")],
             proofs=("admission_letter", "tuition_receipt", "income_proof", "household_register")),
        Case("overdue", "guohua", "吴国华", "medical",
             {"patient": "self", "diagnosis": "急性脑梗死", "hospital": "中南大学湘雅医院", "treated_on": ago(30),
              "self_paid": 1_860_000,
              "situation": "突发脑梗住院治疗两周，医保报销后自付一万八千余元，出院后仍需康复治疗，家中仅靠妻子打零工维持。"},
             [_person("孙桂香", "spouse", "1969-05-21", 53, "female", 150_000)],
             proofs=("diagnosis", "medical_bills", "income_proof", "id_card")),
        Case("returned", "lijuan", "赵丽娟", "temporary",
             {"event": "accident", "event_date": ago(12), "loss": 2_350_000,
              "situation": "家中老房电线老化起火，厨房和卧室被烧毁，家具电器全部损毁，目前借住在亲戚家。"},
             amount=300_000, proofs=("event_proof", "income_proof")),
        Case("county_review", "guilan", "王桂兰", "living",
             {"cause": "illness", "household_monthly_income": 150_000,
              "situation": "丈夫脑出血后瘫痪在床需长期护理，本人患糖尿病病休，女儿读高中，家庭月收入仅一千五百元。"},
             [_person("李国强", "spouse", "1966-04-11", 54, "male"),
              _person("李婷", "child", "2009-10-03", 55, "female")],
             amount=480_000, proofs=("income_proof", "id_card", "household_register"),
             visit="家中三口人，丈夫卧床，屋内陈设简陋；本人每月病休工资约一千五百元，无其他收入来源，情况属实。"),
        Case("collective_review", "xiuzhen", "周秀珍", "medical",
             {"patient": "child", "diagnosis": "急性淋巴细胞白血病", "hospital": "湖南省儿童医院",
              "treated_on": ago(45), "self_paid": 1_560_000,
              "situation": "儿子确诊白血病后住院化疗，医保报销后自付一万五千余元，后续还需长期治疗，夫妻二人收入难以负担。"},
             [_person("张伟", "spouse", "1983-08-19", 56, "male", 380_000),
              _person("张浩然", "child", "2014-02-27", 57, "male")],
             proofs=("diagnosis", "insurance_settlement", "income_proof", "id_card"), visit_days_ago=8,
             visit="核实诊断证明与住院结算单，孩子仍在化疗；丈夫在物流公司上班，家庭负担重，情况属实。",
             proposed=1_000_000),
        Case("objected", "jianhua", "李建华", "temporary",
             {"event": "illness", "event_date": ago(20), "loss": 860_000,
              "situation": "妻子突发心肌梗塞住院抢救，自付医疗费八千余元，本人请假陪护期间收入减少。"},
             [_person("唐小红", "spouse", "1977-01-30", 58, "female")],
             amount=300_000, proofs=("event_proof", "income_proof"), visit_days_ago=7,
             visit="妻子已出院在家休养，病历与费用清单齐全，家庭收入主要靠本人工资，情况属实。", proposed=300_000),
        Case("approval", "chunsheng", "黄春生", "holiday",
             {"situation": "企业改制后失业，靠打零工和失业金生活，母亲常年卧病，春节前想请工会看看老人。"},
             visit_days_ago=16, visit="节前走访，母亲卧床，家中取暖设施不足，已登记慰问需求。", proposed=50_000),
        Case("payment", "shufen", "李淑芬", "medical",
             {"patient": "parent", "diagnosis": "肺癌（化疗中）", "hospital": "湖南省肿瘤医院", "treated_on": ago(60),
              "self_paid": 2_680_000,
              "situation": "父亲肺癌住院化疗，医保报销后自付两万六千余元，本人是独生女，工资收入难以负担治疗费用。"},
             [_person("李德顺", "parent", "1952-11-06", 60, "male", 180_000)],
             proofs=("diagnosis", "medical_bills", "income_proof", "id_card"), visit_days_ago=16,
             visit="父亲与本人同住，化疗费用票据齐全，父亲退休金每月一千八百元，情况属实。", proposed=800_000),
        Case("paid", "chunsheng", "黄春生", "living",
             {"cause": "unemployment", "household_monthly_income": 300_000,
              "situation": "企业改制后失业，妻子在餐馆做帮工，母亲常年卧病需要照顾，家庭月收入约三千元，三口人生活困难。"},
             [_person("何小梅", "spouse", "1975-07-12", 61, "female", 300_000),
              _person("黄秀英", "parent", "1946-12-25", 62, "female")],
             amount=600_000, proofs=("income_proof", "id_card", "household_register"), visit_days_ago=16,
             visit="本人失业在家，妻子月收入约三千元，母亲卧床，家庭人均收入低于相对困难线，情况属实。",
             proposed=600_000),
        Case("archived", "meiling", "杨美玲", "school",
             {"student_name": "何雨欣", "student_id_number": _household_id("2005-04-16", 63, "female"),
              "stage": "university", "school": "中南大学", "enrolled_year": year - 2, "tuition": 570_000,
              "bank_account": "6217002920108765432"},
             [_person("何雨欣", "child", "2005-04-16", 63, "female")],
             proofs=("admission_letter", "tuition_receipt", "income_proof", "household_register"), visit_days_ago=16,
             visit="本人离异独自抚养女儿，在社区保洁岗位工作，月收入约二千二百元，女儿在读大二，情况属实。",
             proposed=400_000),
        Case("rejected", "deming", "张德明", "register",
             {"cause": "schooling", "employer_post": "东湖社区物业 维修工",
              "situation": "妻子下岗在家，本人工资收入较低，孩子读大学开支大，申请建立困难职工档案。"},
             [_person("罗春兰", "spouse", "1972-09-09", 64, "female", 200_000),
              _person("张宇", "child", "2004-05-20", 65, "male")],
             proofs=("income_proof", "id_card", "household_register"), visit_days_ago=6,
             visit="本人月工资约四千五百元，妻子做家政月收入约二千元，家庭人均月收入约二千一百元。"),
        Case("withdrawn", "chunmei", "赵春梅", "temporary",
             {"event": "illness", "event_date": ago(15),
              "situation": "本人突发阑尾炎住院手术，住院期间无收入，家中孩子无人照顾。"},
             proofs=("event_proof", "income_proof")),
    ]


# --- tiny proofs ----------------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


@functools.lru_cache(maxsize=4)
def tiny_png(seed: int = 0, width: int = 96, height: int = 72) -> bytes:
    """A small valid PNG that looks like a scanned page: lines of "text" and a red stamp (four looks)."""
    rows = []
    shade = 0x60 + (seed * 23) % 0x40
    for y in range(height):
        row = bytearray()
        for x in range(width):
            if (x - width + 22) ** 2 + (y - height + 20) ** 2 < 120:
                pixel = (0xD0, 0x20, 0x20)
            elif y % 8 in (5, 6) and 8 <= x < width - 8 - (y * 7 + seed) % 30:
                pixel = (shade, shade, shade)
            else:
                pixel = (0xFA, 0xF8, 0xF2)
            row += bytes(pixel)
        rows.append(b"\x00" + bytes(row))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
            + _png_chunk(b"IEND", b""))


def tiny_pdf(title: str) -> bytes:
    """A one-page PDF (A6) with one line of text: a plain, valid document for the upload check."""
    text = title.encode("ascii").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    stream = b"BT /F1 11 Tf 24 360 Td (UnionAid demo proof: " + text + b") Tj ET"
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 298 420] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    start = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, start)
    return bytes(out)


# Which proofs are scans (PNG) and which are documents (PDF).
_PDF_PROOFS = {"income_proof", "diagnosis", "admission_letter", "insurance_settlement"}


# --- the loader -----------------------------------------------------------------------------------


class _Loader:
    """What the demo's relief work needs while it is made: the connection, the keys, the store, the actors."""

    def __init__(self, config: Config, cipher: PiiCipher, store: AttachmentStore, request_id: str | None) -> None:
        self.config = config
        self.request_id = request_id  # every audit record carries it (``demo-data`` seals its own by it)
        self.cipher = cipher
        self.store = store
        self.stored: list[str] = []  # blobs written, deleted again if the transaction does not commit
        self.staff: dict[str, Actor] = {}
        self.workers: dict[str, Actor] = {}
        self.today = local_today()
        self.openids = SandboxState(appid=config.wechat_appid)

    async def actors(self, conn: AsyncConnection) -> None:
        """Every demo member of staff as the Actor a login would give."""
        rows = (await conn.execute(sa.select(staff_table.c.id, staff_table.c.username))).all()
        for row in rows:
            self.staff[row.username] = await staff.actor_for(conn, row.id, self.request_id, None)

    async def worker(self, conn: AsyncConnection, login: str, name: str) -> Actor:
        """The worker logged in with WeChat and bound to their roster record (the card comes with it)."""
        if login in self.workers:
            return self.workers[login]
        user = await accounts.login_wechat(conn, self.cipher, openid=self.openids.openid_for(login), unionid=None,
                                           session_key=secrets.token_urlsafe(16))
        visitor = Actor(kind="user", id=user.id, user_id=user.id, roles=frozenset({"visitor"}),
                        request_id=self.request_id)
        id_number = await self._id_number(conn, name)
        member = await card_flows.claim_membership(conn, self.cipher, visitor, name=name, id_number=id_number)
        self.workers[login] = replace(visitor, member_id=member.id, roles=frozenset({"member"}))
        return self.workers[login]

    async def _id_number(self, conn: AsyncConnection, name: str) -> str:
        """The roster's ID number of the demo member called ``name`` (what the worker types to bind)."""
        from models.members.membership import ID_NUMBER

        enc = (await conn.execute(sa.select(members_table.c.id_number_enc)
                                  .where(members_table.c.name == name))).scalar_one()
        return str(self.cipher.decrypt(enc, purpose=ID_NUMBER))

    async def register(self, conn: AsyncConnection, name: str, causes: list[str], household: list[dict[str, Any]],
                       note: str) -> None:
        """The station enters the member in the difficult-worker register, after a home visit; the district's
        reviewer, a second person, confirms the entry."""
        member_id = (await conn.execute(sa.select(members_table.c.id).where(members_table.c.name == name))).scalar_one()
        entered = await hardship.enter(conn, self.cipher, self.staff["clerk"], member_id, hardship.HardshipEntry.of({
            "causes": causes, "verification_method": "home_visit", "household": household, "visit_note": note,
            "valid_from": (self.today - timedelta(days=90)).isoformat()}))
        await hardship_review.confirm(conn, self.staff["reviewer"], entered.id, note="已核对入户走访记录")

    async def fund(self, conn: AsyncConnection, source: str, name: str, budget: int, kinds: list[str]) -> int:
        """A fund source of this year at the district, created by its accountant."""
        made = await sources.create(conn, self.staff["accountant"], sources.NewFund.of({
            "org": DISTRICT, "source": source, "name": name, "year": self.today.year, "budget": budget,
            "kinds": kinds}))
        return made.id

    def put(self, data: bytes, purpose: str) -> Any:
        """Store a file as the upload handler does (checked, re-encoded, encrypted); remembered for a rollback."""
        stored = self.store.put(io.BytesIO(data), purpose=purpose)
        self.stored.append(stored.key)
        return stored

    async def apply(self, conn: AsyncConnection, case: Case) -> int:
        """The worker's draft with its household and proofs, as the phone makes it; its id."""
        worker = await self.worker(conn, case.login, case.name)
        draft = applying.NewApplication.of({"kind": case.kind, "form": case.form, "household": case.household,
                                            **({"amount": case.amount} if case.amount is not None else {})})
        # The handler checks the free text with WeChat first (the demo's units define no kinds of their own).
        check = PASSED if applying.free_text(PRESET_DEFINITIONS[case.kind], case.form) else None
        app = await applying.create(conn, self.cipher, worker, draft, check=check)
        for n, proof_type in enumerate(case.proofs):
            data = tiny_pdf(proof_type) if proof_type in _PDF_PROOFS else tiny_png((app.id + n) % 4)
            await applying.attach(conn, self.cipher, worker, app.id, proof_type, self.put(data, proofs.PURPOSE),
                                  max_total=self.config.relief_max_attachments)
        return app.id

    async def submit(self, conn: AsyncConnection, login: str, app_id: int) -> None:
        """The worker agrees to the consent text and submits."""
        worker = self.workers[login]
        ready = await applying.ready(conn, self.cipher, worker, app_id,
                                     applying.Submission.of({"consent_version": consent.CONSENT_VERSION}))
        await applying.submit(conn, self.cipher, worker, ready, check=PASSED if ready.text else None)

    async def visit(self, conn: AsyncConnection, app_id: int, case: Case) -> None:
        """The station's home visit with a photo."""
        clerk = self.staff["clerk"]
        made = await visits.record(conn, self.cipher, clerk, app_id, visits.VisitBody.of({
            "date": (self.today - timedelta(days=case.visit_days_ago)).isoformat(),
            "visitors": ["刘明（服务站站长）", "陈静（社区工会干事）"], "findings": case.visit}))
        await visits.check_photo_room(conn, clerk, made.id)
        await visits.add_photo(conn, clerk, made.id, self.put(tiny_png(app_id % 4), visits.PHOTO_PURPOSE))

    async def decide(self, conn: AsyncConnection, who: str, app_id: int, **body: Any) -> None:
        """A decision at the application's step by the member of staff ``who``."""
        await reviewing.decide(conn, self.cipher, self.staff[who], app_id, reviewing.Decision.of(body))

    async def meeting(self, conn: AsyncConnection, days_ago: int, votes: list[tuple[int, int, int]]) -> None:
        """The district's collective review: 5 of the committee's 7 present."""
        await meetings.record(conn, self.cipher, self.staff["approver"], meetings.MeetingBody.of({
            "org": DISTRICT, "date": (self.today - timedelta(days=days_ago)).isoformat(), "members": 7,
            "present": ["周建国（主任）", "罗慧（副主任）", "谭志明", "邓丽华", "曾凡"],
            "minutes": "逐一听取县级审核意见，审阅申请材料与入户核查记录，无记名表决。",
            "votes": [{"application_id": a, "for": f, "against": g} for a, f, g in votes]}))

    async def publish(self, conn: AsyncConnection, app_ids: list[int]) -> dict[str, Any]:
        """The district publishes the applications for the 7-day public notice."""
        return await notices.publish(conn, self.cipher, self.staff["reviewer"],
                                     notices.PublishBody.of({"application_ids": app_ids}),
                                     visible_days=self.config.relief_notice_visible_days)


async def _moved_back(conn: AsyncConnection, cipher: PiiCipher, app_ids: list[int], days: int, *,
                      notice_id: int | None = None, visible_days: int = 30) -> None:
    """Move what happened to these applications ``days`` back in time: their own times, their timeline, the
    notices their workers got about them and, given ``notice_id``, that batch's period. Times only: no state
    changes, and the deadline of the step they wait at is counted again from when they reached it."""
    delta = timedelta(days=days)
    a = relief_applications.c
    rows = (await conn.execute(sa.select(relief_applications).where(a.id.in_(app_ids)))).all()
    for row in rows:
        moved = {name: getattr(row, name) - delta for name in ("created_at", "updated_at", "submitted_at",
                                                               "consented_at", "step_since")
                 if getattr(row, name) is not None}
        if row.status == "submitted" and row.step_since is not None:
            app = await records.load(conn, cipher, row.id)
            moved["due_at"] = await calendar.step_due(conn, app, str(row.step), moved["step_since"])
        await conn.execute(relief_applications.update().where(a.id == row.id).values(**moved))
    users = {row.user_id for row in rows}
    first = min(row.created_at for row in rows)
    for event in (await conn.execute(sa.select(relief_events.c.id, relief_events.c.at)
                                     .where(relief_events.c.application_id.in_(app_ids)))).all():
        await conn.execute(relief_events.update().where(relief_events.c.id == event.id).values(at=event.at - delta))
    n = notifications.c
    for note in (await conn.execute(sa.select(n.id, n.event_at, n.created_at, n.next_attempt_at).where(
            n.user_id.in_(users), n.kind.like("relief.%"), n.created_at >= first))).all():
        await conn.execute(notifications.update().where(n.id == note.id).values(
            event_at=note.event_at - delta, created_at=note.created_at - delta,
            next_attempt_at=note.next_attempt_at - delta))
    await tallies.rebuild(conn)  # the statistics' summary counted again at the moved times
    if notice_id is None:
        return
    t = relief_notices_table.c
    batch = (await conn.execute(sa.select(relief_notices_table).where(t.id == notice_id))).one()
    org = await tree.get(conn, batch.org_id)
    starts = batch.starts_at - delta
    ends, _ = await notices.period_end(conn, org, starts, batch.days)
    await conn.execute(relief_notices_table.update().where(t.id == notice_id).values(
        starts_at=starts, created_at=batch.created_at - delta, ends_at=ends,
        visible_until=ends + timedelta(days=visible_days)))
    # What the timeline and the workers' notices said of the period's end.
    old_end, new_end = f"{batch.ends_at.astimezone(LOCAL_TZ):%Y-%m-%d}", f"{ends.astimezone(LOCAL_TZ):%Y-%m-%d}"
    for event in (await conn.execute(sa.select(relief_events.c.id, relief_events.c.detail).where(
            relief_events.c.application_id.in_(app_ids), relief_events.c.action == "published"))).all():
        detail = {**json.loads(event.detail), "ends_at": ends.isoformat()}
        await conn.execute(relief_events.update().where(relief_events.c.id == event.id)
                           .values(detail=json.dumps(detail, ensure_ascii=False)))
    for said in (await conn.execute(sa.select(n.id, n.payload).where(n.user_id.in_(users),
                                                                      n.kind == "relief.notice"))).all():
        await conn.execute(notifications.update().where(n.id == said.id)
                           .values(payload=said.payload.replace(old_end, new_end)))


async def _already_loaded(conn: AsyncConnection) -> bool:
    return (await conn.execute(sa.select(relief_applications.c.id).limit(1))).first() is not None


async def load(config: Config, engine: AsyncEngine, *, request_id: str | None = None) -> bool:
    """Make the demo's relief work unless there is relief work already; whether it was made now.

    Three transactions, as the service would run them: the applications up to their notices; the notice
    job ending the period that is over; the approvals, payments and the archive."""
    keyring = load_keyring(config)
    loader = _Loader(config, PiiCipher(keyring), AttachmentStore.from_config(config, keyring), request_id)
    try:
        async with engine.begin() as conn:
            if await _already_loaded(conn):
                return False
            ids, funds = await _up_to_the_notice(conn, loader)
        moved = await notices.end_notice_periods(engine, loader.cipher)
        if moved != 4:
            raise RuntimeError(f"the demo's ended notice moved {moved} applications, not 4")
        async with engine.begin() as conn:
            await _approval_to_archive(conn, loader, ids, funds)
    except BaseException:
        for key in loader.stored:
            loader.store.delete(key)
        raise
    return True


async def _up_to_the_notice(conn: AsyncConnection, loader: _Loader) -> tuple[dict[str, int], dict[str, int]]:
    """Funds, two more difficult workers, every application as far as the notices; ids by state, funds by source."""
    await loader.actors(conn)
    funds = {
        "central": await loader.fund(conn, "central", "中央财政专项帮扶资金", 150_000_000,
                                     ["living", "medical", "school"]),
        "union": await loader.fund(conn, "union", "工会帮扶资金（送温暖）", 80_000_000,
                                   ["holiday", "living", "medical", "school", "temporary"]),
    }
    today = loader.today
    await loader.register(conn, "王桂兰", ["illness"], [
        {"relation": "本人", "name": "王桂兰", "age": 57, "health": "糖尿病", "work": "东湖社区保洁（病休）",
         "monthly_income": 150_000},
        {"relation": "配偶", "name": "李国强", "age": 59, "health": "脑出血后瘫痪", "work": "无", "monthly_income": 0},
        {"relation": "子女", "name": "李婷", "age": 16, "work": "高中在读", "monthly_income": 0},
    ], "入户走访：丈夫瘫痪卧床，本人病休，女儿读高中。")
    await loader.register(conn, "黄春生", ["unemployment", "illness"], [
        {"relation": "本人", "name": "黄春生", "age": 53, "work": "失业（打零工）", "monthly_income": 0},
        {"relation": "配偶", "name": "何小梅", "age": 50, "work": "餐馆帮工", "monthly_income": 300_000},
        {"relation": "母亲", "name": "黄秀英", "age": 79, "health": "常年卧病", "work": "无", "monthly_income": 0},
    ], "入户走访：本人失业，母亲卧病需照顾，靠妻子收入维持。")
    cases = _cases(today)
    ids = {case.state: await loader.apply(conn, case) for case in cases}
    by_state = {case.state: case for case in cases}
    for case in cases:
        if case.state != "draft":
            await loader.submit(conn, case.login, ids[case.state])
    # The worker withdraws; the station sends one back with everything missing at once (一次性告知).
    await applying.withdraw(conn, loader.cipher, loader.workers["chunmei"], ids["withdrawn"])
    await loader.decide(conn, "clerk", ids["returned"], step="verification", decision="return",
                        comment="材料不全，请补充后重新提交", missing=[
                            {"item": "event_proof", "note": "请补充社区居委会或消防部门出具并盖章的火灾情况证明"},
                            {"item": "household", "note": "请填写共同生活的家庭成员及其身份证号"}])
    # Home visits, then the station's pass; the county's review with the amount it proposes.
    reviewed = ["county_review", "collective_review", "objected", "approval", "payment", "paid", "archived", "rejected"]
    for state in reviewed:
        await loader.visit(conn, ids[state], by_state[state])
        await loader.decide(conn, "clerk", ids[state], step="verification", decision="pass", comment="入户核实，情况属实")
    for state in reviewed[1:-1]:
        await loader.decide(conn, "reviewer", ids[state], step="county_review", decision="pass",
                            amount=by_state[state].proposed, comment="符合救助条件，金额在标准之内")
    await loader.decide(conn, "reviewer", ids["rejected"], step="county_review", decision="reject",
                        comment="经入户核查，家庭人均月收入约二千一百元，高于困难职工认定标准（相对困难线一千二百元），暂不予建档；"
                                "家庭情况发生变化时可重新申请。")
    # Twelve days ago the committee carried four; their notice was published and ran its 7 days.
    early = [ids[s] for s in ("approval", "payment", "paid", "archived")]
    await loader.meeting(conn, 12, [(i, 5, 0) for i in early])
    batch = await loader.publish(conn, early)
    await _moved_back(conn, loader.cipher, early, 10, notice_id=int(batch["id"]),
                      visible_days=loader.config.relief_notice_visible_days)
    # Yesterday it carried one more, published today; someone objects to it.
    await loader.meeting(conn, 1, [(ids["objected"], 4, 1)])
    batch = await loader.publish(conn, [ids["objected"]])
    entry = int(batch["items"][0]["id"])
    objection = objections.ObjectionBody.of({
        "entry": entry, "reason": "听说申请人在老家另有一套住房出租，收入情况与申报的不一致，请核实。",
        "contact": "13807310000（张先生）"})
    objections.check_body(objection)
    await objections.throttled(conn, None, entry)
    public = Actor(kind="public", id=None, request_id=loader.request_id)
    await objections.raise_objection(conn, loader.cipher, public, int(batch["id"]), objection,
                                     verdict=None, due_days=loader.config.relief_objection_days)
    # One has waited at the station beyond its 5 working days.
    await _moved_back(conn, loader.cipher, [ids["overdue"]], 9)
    return ids, funds


async def _approval_to_archive(conn: AsyncConnection, loader: _Loader, ids: dict[str, int],
                               funds: dict[str, int]) -> None:
    """The city's approver reserves three on earmarked funds; finance pays two; the center archives one."""
    for state, fund in (("payment", "central"), ("paid", "central"), ("archived", "union")):
        app = await records.load(conn, loader.cipher, ids[state])
        await loader.decide(conn, "director", ids[state], step="approval", decision="pass",
                            amount=app.proposed_amount, fund_id=funds[fund], comment="同意")
    today = loader.today.isoformat()
    year = loader.today.year
    paid = await records.load(conn, loader.cipher, ids["paid"])
    await payments.pay(conn, loader.cipher, loader.staff["accountant"], ids["paid"], payments.Payment.of({
        "amount": paid.approved_amount, "method": "cash", "voucher_no": f"FR{year}-0117", "paid_on": today}))
    done = await records.load(conn, loader.cipher, ids["archived"])
    account = str(done.form["bank_account"])
    await payments.pay(conn, loader.cipher, loader.staff["treasurer"], ids["archived"], payments.Payment.of({
        "amount": done.approved_amount, "method": "bank_transfer", "account_last4": account[-4:],
        "voucher_no": f"FR{year}-0118", "paid_on": today}))
    await archive.archive(conn, loader.cipher, loader.staff["reviewer"], ids["archived"], archive.ArchiveBody.of({
        "completed_on": today, "note": "助学金已转入申请人银行卡，回执与签收单归档。"}))


def logins() -> list[tuple[str, str, str]]:
    """(WeChat login, name, state) of every demo application, in the order they were made."""
    return [(c.login, c.name, c.state) for c in _cases(local_today())]


def summary() -> str:
    """What the walkthrough says of the relief work."""
    seen: dict[str, str] = {}
    for login, name, _ in logins():
        seen.setdefault(login, name)
    text = SUMMARY.format(logins=", ".join(f"{login} ({name})" for login, name in seen.items()))
    return "\n".join(textwrap.wrap(text.replace("\n", " "), 110, break_long_words=False))
