"""Benchmark the relief side at volume over HTTP against MariaDB: the reviewers' queue, the file, the public
notice and the statistics, with a city's two years of applications.

    python -m scripts.bench_relief [--mysql mysql+aiomysql://root@127.0.0.1:3306/test]
        [--applications 100000] [--members 60000] [--concurrency 16] [--requests 2000] [--workers N]
        [--keep] [--reuse DATA_DIR] [--phases queue,file] [--driver aiomysql|asyncmy]

(needs the bench extra: pip install -e '.[bench]'; with the fast extra, '.[bench,fast]', the service runs on
uvloop and asyncmy as a deployment with it would)

Builds a scratch database: a city with 12 districts of 25 units each (streets and enterprises), members
stored the real way (ID numbers encrypted with the service's cipher and found by its blind index), and
``--applications`` applications over two years with their timelines, households, proofs, home visits, collective
review votes, notice batches, flags and completions, spread over kinds, steps and statuses (bulk inserts of the
real tables; the rows are what the domain functions write; the statistics' summary of them counted by
``tallies.rebuild``). Then it starts the service in a subprocess and
drives, from ``--concurrency`` members of staff (city, district and street level, each with their own roles and
subtree) in this process, one phase per page, printing req/s, p50, p99 and the CPU time each request cost
the serving process(es) and the database server (``/proc``: on shared cores the rates follow the machine's
load, the CPU per request much less):

  GET /api/v1/staff/relief/applications (each staff's default queue and the typical filters), its next page
  (the cursor), GET /api/v1/staff/relief/applications/{id} (files in the staff's subtree; every view audited),
  GET /api/v1/public/notices, GET /notices, and the statistics (applications and payments, by kind, month, unit).

Last it prints rows, data and index bytes per table (information_schema) for the capacity plan in
docs/operations.md. ``--keep`` leaves the scratch database (its name printed) for EXPLAIN by hand, with the
data dir (its keys) and the staff's scene in it; ``--reuse DATA_DIR`` runs the phases again on such a kept
database without building it anew (the build of 100,000 applications takes minutes). ``--workers N`` serves
with N processes on one port (``server/workers.py``, as ``serve --workers N``).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from scripts.bench_counter import Result, _database_pids, _drive, _free_port, _loop_name, add_driver_option
from scripts.bench_counter import _spawn as _spawn_server

WARMUP = 100
CHUNK = 2000
DISTRICTS = 12
UNITS = 25  # per district
DAYS = 730  # the history loaded
RECENT = 45  # applications younger than this are still moving
KIND_SHARE = {"living": 22, "medical": 30, "school": 20, "holiday": 12, "temporary": 14, "register": 2}
STEP_SHARE = {"verification": 30, "county_review": 25, "collective_review": 15, "notice": 12, "approval": 10,
              "payment": 8}
RECENT_STATUS = {"draft": 12, "submitted": 62, "returned": 10, "withdrawn": 5, "rejected": 11}
OLD_STATUS = {"archived": 64, "paid": 9, "rejected": 16, "withdrawn": 6, "draft": 3, "returned": 2}
#: The staff driving the load: (roles, level) with level city, district (index) or unit.
STAFF = [("admin", "city"), ("reviewer", "city"), ("approver", "city"), ("finance", "city"),
         ("reviewer", "d0"), ("reviewer", "d1"), ("reviewer", "d2"), ("reviewer", "d3"), ("reviewer", "d4"),
         ("reviewer", "d5"), ("approver", "d6"), ("approver", "d7"), ("station", "u0"), ("station", "u1"),
         ("station", "u2"), ("station", "u3")]


# --- the data ---------------------------------------------------------------------------------------


def _pick(rng: random.Random, shares: dict[str, int]) -> str:
    return rng.choices(list(shares), weights=list(shares.values()))[0]


@dataclass
class Scene:
    """The staff driving the load (token, subtree, application ids in it) and what was loaded."""

    tokens: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)  # each staff's subtree
    files: list[list[int]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    generated: float = 0.0
    loaded: float = 0.0


@dataclass
class Rows:
    """The rows of every table, gathered before the bulk inserts."""

    apps: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    household: list[dict[str, Any]] = field(default_factory=list)
    visits: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    votes: list[dict[str, Any]] = field(default_factory=list)
    meetings: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    notices: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    entries: list[dict[str, Any]] = field(default_factory=list)
    flags: list[dict[str, Any]] = field(default_factory=list)
    completions: list[dict[str, Any]] = field(default_factory=list)
    publisher: int = 0  # the staff id that publishes the notices


def _form(kind: str, rng: random.Random) -> dict[str, Any]:
    situation = "家庭成员长期患病，收入微薄，生活困难，申请救助。" * rng.randint(1, 3)
    if kind == "medical":
        return {"patient": "self", "diagnosis": "慢性肾病", "hospital": "市第一人民医院", "treated_on": "2026-03-02",
                "self_paid": rng.randint(5_000_00, 80_000_00), "situation": situation}
    if kind == "school":
        return {"student_name": "王小明", "student_id_number": "430102200601010011", "stage": "university",
                "school": "湖南大学", "enrolled_year": 2025, "tuition": 5_500_00}
    if kind == "holiday":
        return {"situation": situation}
    if kind == "temporary":
        return {"event": "accident", "event_date": "2026-02-11", "loss": rng.randint(1_000_00, 20_000_00),
                "situation": situation}
    return {"cause": "illness", "situation": situation, "household_monthly_income": rng.randint(1_000_00, 4_000_00)}


def _application(rng: random.Random, rows: Rows, cipher: Any, app_id: int, member: tuple[int, int, int, str, int],
                 now: datetime, created: datetime, definitions: dict[str, str], staff_ids: list[int]) -> None:
    """One application with everything the domain would have written for where it stands."""
    from models.members.membership import ID_NUMBER
    from models.relief.records import FORM_PURPOSE, STEPS

    member_id, user_id, org_id, org_path, district = member
    kind = _pick(rng, KIND_SHARE)
    recent = (now - created).days < RECENT
    status = _pick(rng, RECENT_STATUS if recent else OLD_STATUS)
    form = _form(kind, rng)
    requested = form.get("self_paid") or form.get("loss") or rng.randint(1_000_00, 10_000_00)
    at = created
    step: str | None = None
    reached = 0  # how many steps it passed
    if status == "submitted":
        step = _pick(rng, STEP_SHARE)
        reached = STEPS.index(step)
    elif status in ("returned", "rejected"):
        reached = rng.randint(0, 4)
        step = STEPS[reached]
    elif status == "withdrawn":
        reached = rng.randint(0, 1)
        step = STEPS[reached]
    elif status == "paid":
        reached, step = 6, "archived"  # a payment moves it on to the archive step
    elif status == "archived":
        reached, step = 7, "archived"

    def ev(action: str, ev_step: str | None, *, hours: float = 30, amount: int | None = None,
           comment: str | None = None, detail: dict[str, Any] | None = None) -> datetime:
        nonlocal at
        at = min(at + timedelta(hours=rng.uniform(1, hours)), now - timedelta(minutes=1))
        rows.events.append({"application_id": app_id, "step": ev_step, "action": action, "org_id": org_id,
                            "staff_id": rng.choice(staff_ids) if ev_step else None, "comment": comment,
                            "detail": json.dumps(detail, ensure_ascii=False) if detail else None,
                            "amount": amount, "at": at})
        return at

    ev("created", None, hours=1)
    submitted_at = None
    if status != "draft":
        submitted_at = ev("submitted", None, hours=48)
        for n in range(rng.randint(2, 4)):
            rows.attachments.append({"application_id": app_id, "visit_id": None, "proof_type": "income_proof",
                                     "store_key": uuid.uuid4().hex, "mime": "image/jpeg", "size": 180_000 + n,
                                     "sha256": "0" * 64, "key_id": "k1", "uploaded_by": f"user:{user_id}",
                                     "created_at": submitted_at})
        for h in range(rng.randint(0, 3) if kind in ("living", "medical", "school", "register") else 0):
            number = f"43010219{60 + h:02d}0101{app_id % 1000:03d}{h}"
            rows.household.append({"application_id": app_id, "name": "李桂英", "relation": "spouse" if h == 0 else "child",
                                   "id_number_enc": cipher.encrypt(number, purpose=ID_NUMBER),
                                   "id_number_bidx": cipher.blind_index(number, purpose=ID_NUMBER),
                                   "monthly_income": rng.randint(0, 3_000_00)})
    proposed = approved = None
    for i in range(min(reached, 6)):
        done_step = STEPS[i]
        if done_step == "verification":
            visit_at = ev("visited", done_step, hours=72)
            visit_id = len(rows.visits) + 1
            rows.visits.append({"id": visit_id, "application_id": app_id, "visit_date": visit_at.date(),
                                "visitors": json.dumps(["张强", "刘芳"], ensure_ascii=False),
                                "findings_enc": cipher.encrypt("入户核实情况属实，家庭困难。", purpose="relief_visit"),
                                "staff_id": rng.choice(staff_ids), "org_id": org_id, "created_at": visit_at})
            rows.attachments.append({"application_id": app_id, "visit_id": visit_id, "proof_type": "visit_photo",
                                     "store_key": uuid.uuid4().hex, "mime": "image/jpeg", "size": 250_000,
                                     "sha256": "0" * 64, "key_id": "k1", "uploaded_by": "staff:1",
                                     "created_at": visit_at})
            ev("passed", done_step)
        elif done_step == "county_review":
            proposed = min(requested, 10_000_00)
            ev("passed", done_step, amount=proposed)
        elif done_step == "collective_review":
            meet_at = ev("meeting", done_step)
            key = (district, meet_at.year * 12 + meet_at.month)
            meeting = rows.meetings.setdefault(key, {"id": len(rows.meetings) + 1, "org_id": org_id,
                                                     "meeting_date": meet_at.date(), "members": 7,
                                                     "present": json.dumps(["甲", "乙", "丙", "丁", "戊", "己"]),
                                                     "minutes": "评议通过。", "recorded_by": staff_ids[0],
                                                     "created_at": meet_at, "district": district})
            rows.votes.append({"meeting_id": meeting["id"], "application_id": app_id, "votes_for": 6,
                               "votes_against": 0, "carried": True})
        elif done_step == "notice":
            published = ev("published", done_step, amount=proposed)
            _entry(rows, app_id, district, published, member, kind, definitions, proposed, "ended")
            ev("notice_ended", done_step, hours=24 * 8)
        elif done_step == "approval":
            approved = proposed
            ev("passed", done_step, amount=approved)
        elif done_step == "payment":
            ev("paid", done_step, amount=approved)
    if status == "submitted" and step == "notice":
        published = ev("published", "notice", amount=proposed)
        _entry(rows, app_id, district, published, member, kind, definitions, proposed, "in_notice")
    if status == "returned":
        ev("returned", step, comment="请补充收入证明")
    elif status == "rejected":
        ev("rejected", step, comment="不符合救助条件")
    elif status == "withdrawn":
        ev("withdrawn", step)
    elif status == "archived":
        done = ev("archived", "archived")
        rows.completions.append({"application_id": app_id, "completed_on": done.date(), "note": "办结",
                                 "staff_id": staff_ids[0], "created_at": done})
    flagged = status == "submitted" and rng.random() < 0.08
    if flagged or rng.random() < 0.02:
        rows.flags.append({"application_id": app_id, "other_application_id": None, "reason": "same_kind_open",
                           "step": step, "status": "open" if flagged else "cleared", "detail": None,
                           "override_reason": None, "override_by": None, "created_at": submitted_at or created,
                           "resolved_at": None if flagged else at})
    step_since = at if status == "submitted" else None
    rows.apps.append({
        "id": app_id, "member_id": member_id, "user_id": user_id, "org_id": org_id, "org_path": org_path,
        "kind": kind, "kind_definition": definitions[kind], "status": status, "step": step, "version": 1 + reached * 2,
        "form_enc": cipher.encrypt(json.dumps(form, ensure_ascii=False, sort_keys=True), purpose=FORM_PURPOSE),
        "requested_amount": requested, "proposed_amount": proposed, "approved_amount": approved,
        "consent_version": "2025-01" if submitted_at else None, "consented_at": submitted_at,
        "content_status": "pass" if submitted_at else None, "returned_step": step if status == "returned" else None,
        "missing": json.dumps([{"item": "income_proof", "note": "请补充"}]) if status == "returned" else None,
        "reject_reason": "不符合救助条件" if status == "rejected" else None, "flagged": flagged,
        "step_since": step_since, "due_at": step_since + timedelta(days=rng.uniform(2, 9)) if step_since else None,
        "submitted_at": submitted_at, "created_at": created, "updated_at": at})


def _entry(rows: Rows, app_id: int, district: int, published: datetime, member: tuple[int, int, int, str, int],
           kind: str, definitions: dict[str, str], amount: int | None, state: str) -> None:
    week = (published - datetime(2020, 1, 6, tzinfo=published.tzinfo)).days // 7
    notice = rows.notices.setdefault((district, week), {
        "id": len(rows.notices) + 1, "org_id": member[2], "org_path": member[3], "starts_at": published,
        "ends_at": published + timedelta(days=7), "visible_until": published + timedelta(days=37),
        "working_days": False, "days": 7, "published_by": rows.publisher, "created_at": published})
    rows.entries.append({"notice_id": notice["id"], "application_id": app_id, "masked_name": "王*英",
                         "unit": f"第{member[2]}基层工会", "kind_name": json.loads(definitions[kind])["name"],
                         "amount": amount, "state": state})


async def _insert(conn: AsyncConnection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), CHUNK):
        await conn.execute(table.insert(), rows[i:i + CHUNK])


TABLES = ("members", "users", "relief_applications", "relief_events", "relief_household", "relief_visits",
          "relief_attachments", "relief_meetings", "relief_votes", "relief_notices", "relief_notice_entries",
          "relief_flags", "relief_completions", "relief_tallies", "relief_tally_paid")


async def seed(conn: AsyncConnection, cipher: Any, n_apps: int, n_members: int, *, districts: int = DISTRICTS,
               units_each: int = UNITS) -> Scene:
    """A city's network with ``n_members`` members and ``n_apps`` applications and all they carry, in ``conn``'s
    transaction (the benchmark's database, or a test's); the staff of ``STAFF`` with their tokens."""
    from models.core.actors import SYSTEM
    from models.core.clock import utcnow
    from models.identity import sessions
    from models.identity.tables import staff, users
    from models.members.idcard import check_digit
    from models.members.membership import ID_NUMBER
    from models.members.tables import members
    from models.network import tree
    from models.relief.kinds import PRESET_DEFINITIONS
    from models.relief import tallies
    from models.relief.presets import PRESETS
    from models.relief.tables import (relief_applications, relief_attachments, relief_completions, relief_events,
                                      relief_flags, relief_household, relief_meetings, relief_notice_entries,
                                      relief_notices, relief_visits, relief_votes)
    from scripts.bench_import import GIVEN, SURNAMES

    rng = random.Random(18)
    now = utcnow()
    definitions = {code: PRESET_DEFINITIONS[code].model_dump_json() for code in PRESETS}
    city = await tree.create(conn, SYSTEM, code="C", name="基准市总工会", type_="city", parent_code=None)
    counties, units = [], []
    for d in range(districts):
        counties.append(await tree.create(conn, SYSTEM, code=f"D{d:02d}", name=f"基准{d}区总工会", type_="county",
                                          parent_code="C"))
        for u in range(units_each):
            units.append((d, await tree.create(conn, SYSTEM, code=f"D{d:02d}U{u:02d}", name=f"基准{d}区第{u}单位",
                                               type_="street" if u % 3 == 0 else "grassroots",
                                               parent_code=f"D{d:02d}")))
    staff_ids, scene = [], Scene()
    for i, (role, level) in enumerate(STAFF):
        org = (city if level == "city" else counties[int(level[1:]) % districts] if level[0] == "d"
               else units[int(level[1:]) * 7 % len(units)][1])
        sid = int((await conn.execute(staff.insert().values(
            username=f"bench-{i}", display_name=f"员工{i}", password_hash="x", roles=role, org_id=org.id,
            active=True, created_at=now, updated_at=now))).inserted_primary_key[0])  # type: ignore[index]
        staff_ids.append(sid)
        scene.tokens.append((await sessions.issue(conn, "staff", sid, ttl=86400)).token)
        scene.scopes.append(org.path)
    started = time.perf_counter()
    people: list[tuple[int, int, int, str, int]] = []
    member_rows, user_rows = [], []
    for i in range(n_members):
        d, unit = units[i % len(units)]
        first17 = (f"430102{1950 + (i // 336000) % 50}{(i // 28000) % 12 + 1:02d}{(i // 1000) % 28 + 1:02d}"
                   f"{i % 1000:03d}")
        number = first17 + check_digit(first17)
        name = SURNAMES[i % len(SURNAMES)] + GIVEN[i % len(GIVEN)] + GIVEN[(i // 7) % len(GIVEN)]
        member_rows.append({"id": i + 1, "name": name,
                            "id_number_enc": cipher.encrypt(number, purpose=ID_NUMBER),
                            "id_number_bidx": cipher.blind_index(number, purpose=ID_NUMBER), "id_last4": number[-4:],
                            "gender": "male" if i % 2 else "female", "birth_date": datetime(1970, 1, 1).date(),
                            "employer": f"第{i % 300}机械厂", "org_id": unit.id, "status": "active",
                            "joined_on": None, "user_id": i + 1, "bound_at": now, "created_at": now, "updated_at": now})
        user_rows.append({"id": i + 1, "openid": f"bench-{i}", "created_at": now, "last_login_at": now})
        people.append((i + 1, i + 1, unit.id, unit.path, d))
    rows = Rows(publisher=staff_ids[1])
    # ids follow time, as auto-increment gives them: the applications in flight are the newest
    ages = sorted((rng.uniform(0, DAYS) for _ in range(n_apps)), reverse=True)
    for app_id, age in enumerate(ages, start=1):
        # a few members apply often, most once or twice
        member = people[rng.randrange(max(1, n_members // 30)) if rng.random() < 0.2 else rng.randrange(n_members)]
        _application(rng, rows, cipher, app_id, member, now, now - timedelta(days=age), definitions, staff_ids)
    scene.generated = time.perf_counter() - started
    started = time.perf_counter()
    meetings = [{k: v for k, v in m.items() if k != "district"} for m in rows.meetings.values()]
    for table, data in ((users, user_rows), (members, member_rows), (relief_applications, rows.apps),
                        (relief_events, rows.events), (relief_household, rows.household), (relief_visits, rows.visits),
                        (relief_attachments, rows.attachments), (relief_meetings, meetings),
                        (relief_votes, rows.votes), (relief_notices, list(rows.notices.values())),
                        (relief_notice_entries, rows.entries), (relief_flags, rows.flags),
                        (relief_completions, rows.completions)):
        await _insert(conn, table, data)
        scene.counts[table.name] = len(data)
    scene.counts.update(await tallies.rebuild(conn))  # the statistics' summary of the timelines written above
    scene.loaded = time.perf_counter() - started
    return scene


async def _build(url: str, data_dir: Path, n_apps: int, n_members: int) -> Scene:
    from models.db import schema
    from models.relief.tables import relief_applications
    from scripts.bench_counter import _config
    from server.crypto import PiiCipher, load_keyring
    from server.db import make_engine

    config = _config(str(data_dir), url, 1)
    engine = make_engine(config)
    await schema.upgrade(engine)
    cipher = PiiCipher(load_keyring(config))
    async with engine.begin() as conn:
        scene = await seed(conn, cipher, n_apps, n_members)
    print(f"generated {n_apps} applications in {scene.generated:.1f} s", flush=True)
    async with engine.connect() as conn:
        for table in TABLES:
            await conn.execute(sa.text(f"ANALYZE TABLE {table}"))
        for path in scene.scopes:
            ids = (await conn.execute(sa.select(relief_applications.c.id).where(
                relief_applications.c.org_path.startswith(path)).order_by(sa.func.rand()).limit(500))).scalars().all()
            scene.files.append(list(ids))
    await engine.dispose()
    print("loaded " + ", ".join(f"{n} {t}" for t, n in scene.counts.items()) + f" in {scene.loaded:.1f} s", flush=True)
    return scene


# --- the client -------------------------------------------------------------------------------------

QUEUE_FILTERS = ["", "?flagged=1", "?overdue=1", "?resubmitted=0", "?limit=20"]
STATS = [f"/api/v1/staff/relief/statistics/{report}?by={by}" for report in ("applications", "payments")
         for by in ("kind", "month", "org")]
#: Fewer statistics requests than the other phases' (each counts a year of the caller's subtree).
STATS_SHARE = 4


async def _phases(aiohttp: Any, args: argparse.Namespace, scene: Scene, app: str,
                  server: list[int]) -> dict[str, Result]:
    conc, total = args.concurrency, args.requests
    database = _database_pids()
    out: dict[str, Result] = {}
    cursors: list[list[str]] = [[] for _ in range(conc)]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc * 2)) as http:

        async def get(path: str, token: str | None = None) -> tuple[bool, bytes]:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with http.get(app + path, headers=headers) as resp:
                return resp.status == 200, await resp.read()

        def staff_of(k: int) -> int:
            return k % len(scene.tokens)

        async def queue(k: int, n: int) -> bool:
            ok, body = await get("/api/v1/staff/relief/applications" + QUEUE_FILTERS[n // conc % len(QUEUE_FILTERS)],
                                 scene.tokens[staff_of(k)])
            nxt = json.loads(body).get("next") if ok else None
            if nxt:
                query = QUEUE_FILTERS[n // conc % len(QUEUE_FILTERS)]
                cursors[k].append(f"{query}{'&' if query else '?'}cursor={nxt}")
            return ok

        async def next_page(k: int, n: int) -> bool:
            if not cursors[k]:
                return (await get("/api/v1/staff/relief/applications", scene.tokens[staff_of(k)]))[0]
            return (await get("/api/v1/staff/relief/applications" + cursors[k][n % len(cursors[k])],
                              scene.tokens[staff_of(k)]))[0]

        async def file(k: int, n: int) -> bool:
            ids = scene.files[staff_of(k)]
            return (await get(f"/api/v1/staff/relief/applications/{ids[n % len(ids)]}", scene.tokens[staff_of(k)]))[0]

        async def notices_json(k: int, n: int) -> bool:
            return (await get("/api/v1/public/notices"))[0]

        async def notices_page(k: int, n: int) -> bool:
            return (await get("/notices"))[0]

        async def stats(k: int, n: int) -> bool:
            return (await get(STATS[(n // conc + k) % len(STATS)], scene.tokens[staff_of(k)]))[0]

        for label, call in (("queue (page 1)", queue), ("queue (next page)", next_page), ("application file", file),
                            ("GET /api/v1/public/notices", notices_json), ("GET /notices", notices_page),
                            ("statistics", stats)):
            if args.phases and not any(p in label for p in args.phases.split(",")):
                continue
            share = STATS_SHARE if call is stats else 1
            await _drive("warm-up", WARMUP // share, conc, call)
            r = out[label] = await _drive(label, total // share, conc, call, server, database)
            print(f"  {label}: {r.rate:.0f} req/s, p50 {r.quantile(0.50):.2f} ms, p99 {r.quantile(0.99):.2f} ms, "
                  f"{r.errors} errors, server CPU {r.per_request_ms(r.server_cpu)} ms/req, "
                  f"db CPU {r.per_request_ms(r.db_cpu)} ms/req", flush=True)
    return out


async def _sizes(url: str) -> list[tuple[str, int, int, int]]:
    """(table, rows, data bytes, index bytes) of the relief and member tables, largest first."""
    engine = create_async_engine(url)
    out = []
    async with engine.connect() as conn:
        found = (await conn.execute(sa.text(
            "SELECT table_name, data_length, index_length FROM information_schema.TABLES "
            "WHERE table_schema = DATABASE() AND (table_name LIKE 'relief%' OR table_name IN "
            "('members', 'users', 'audit_log')) ORDER BY data_length + index_length DESC"))).all()
        for name, data, index in found:
            count = (await conn.execute(sa.text(f"SELECT COUNT(*) FROM {name}"))).scalar_one()
            out.append((str(name), int(count), int(data), int(index)))
    await engine.dispose()
    return out


def _save_scene(data_dir: str, url: str, scene: Scene) -> None:
    """The scene and the database's address beside the kept keys, for ``--reuse``."""
    Path(data_dir, "bench_relief_scene.json").write_text(json.dumps({
        "url": url, "tokens": scene.tokens, "scopes": scene.scopes, "files": scene.files, "counts": scene.counts}))


def _load_scene(data_dir: str) -> tuple[str, Scene]:
    """The database's address and the scene a ``--keep`` run left in ``data_dir``."""
    kept = json.loads(Path(data_dir, "bench_relief_scene.json").read_text())
    return str(kept["url"]), Scene(tokens=kept["tokens"], scopes=kept["scopes"], files=kept["files"],
                                   counts=kept["counts"])


async def _run(args: argparse.Namespace) -> None:
    import aiohttp

    server_url = make_url(args.mysql)
    admin = create_async_engine(server_url)
    if args.reuse:
        url, scene = _load_scene(args.reuse)
        args.applications = scene.counts.get("relief_applications", args.applications)
        name = make_url(url).database or ""
    else:
        name = f"{args.database_prefix}{uuid.uuid4().hex[:8]}"  # apart from the counter bench's
        async with admin.begin() as conn:
            await conn.execute(sa.text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
        url = server_url.set(database=name).render_as_string(hide_password=False)
    keep = args.keep or bool(args.reuse)
    proc: subprocess.Popen[str] | None = None
    tmp = ""
    try:
        with tempfile.TemporaryDirectory() as scratch:
            tmp = args.reuse or (tempfile.mkdtemp(prefix="unionaid-bench-") if args.keep else scratch)
            if not args.reuse:
                started = time.perf_counter()
                scene = await _build(url, Path(tmp), args.applications, args.members)
                print(f"setup: {time.perf_counter() - started:.1f} s", flush=True)
                if args.keep:
                    _save_scene(tmp, url, scene)
            port = _free_port()
            served = make_url(url).set(drivername=f"mysql+{args.driver}").render_as_string(hide_password=False)
            print(f"the service on {args.driver}, {_loop_name()}", flush=True)
            proc = _spawn_server(["_serve", tmp, served, str(port), str(args.workers)], ready=args.workers)
            print(f"load average before the phases: {Path('/proc/loadavg').read_text().strip()}", flush=True)
            results = await _phases(aiohttp, args, scene, f"http://127.0.0.1:{port}", [proc.pid])
            load = Path("/proc/loadavg").read_text().strip()
            sizes = await _sizes(url) if not args.reuse else []
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        if keep:
            print(f"kept the database {name} (keys and scene in the data dir {tmp}: --reuse {tmp})")
        else:
            async with admin.begin() as conn:
                await conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        await admin.dispose()
    _report(args, results, sizes, load)


def _report(args: argparse.Namespace, results: dict[str, Result], sizes: list[tuple[str, int, int, int]],
            load: str) -> None:
    processes = "one server process" if args.workers == 1 else f"{args.workers} server processes"
    print(f"\n{args.concurrency} concurrent staff, {args.requests} requests a phase "
          f"({args.requests // STATS_SHARE} for the statistics), {args.applications} applications, MariaDB, "
          f"{processes}; load average after: {load}")
    print(f"{'phase':30} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}  {'server CPU ms/req':>17}"
          f"  {'db CPU ms/req':>13}")
    for label, r in results.items():
        print(f"{label:30} {r.rate:9.0f} {r.quantile(0.50):8.2f} {r.quantile(0.99):8.2f} {r.errors:7d}"
              f"  {r.per_request_ms(r.server_cpu):>17}  {r.per_request_ms(r.db_cpu):>13}")
    if not sizes:
        return
    print(f"\n{'table':24} {'rows':>9} {'data MB':>8} {'index MB':>9} {'B/row data':>11} {'B/row index':>12}")
    for table, count, data, index in sizes:
        per = (data / count, index / count) if count else (0.0, 0.0)
        print(f"{table:24} {count:9d} {data / 2**20:8.1f} {index / 2**20:9.1f} {per[0]:11.0f} {per[1]:12.0f}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mysql", default="mysql+aiomysql://root@127.0.0.1:3306/test")
    parser.add_argument("--applications", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=60_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--database-prefix", default="unionaid_relief_bench_",
                        help="the scratch database's name: this and 8 random hex digits")
    parser.add_argument("--workers", type=int, default=1, help="serve with this many processes on one port")
    add_driver_option(parser)
    parser.add_argument("--keep", action="store_true",
                        help="leave the scratch database (and its keys and the scene) for EXPLAIN or --reuse")
    parser.add_argument("--reuse", default="", metavar="DATA_DIR",
                        help="run the phases on the database a --keep run left (its data dir); no build, no drop")
    parser.add_argument("--phases", default="",
                        help="only the phases whose names contain one of these (comma-separated)")
    args = parser.parse_args(argv)
    asyncio.run(_run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
