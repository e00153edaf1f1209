"""The archive over HTTP: only a paid application is archived, by the roles that may, in reach; afterwards it is
read-only everywhere; its whole file downloads as one Chinese PDF with masked identity and embedded images."""
from __future__ import annotations

import io
import json
import subprocess

import pypdf
import pytest
import sqlalchemy as sa
from PIL import Image

from models.core.clock import local_today, utcnow
from models.core.tables import audit_log, notifications
from models.relief.kinds import PRESET_DEFINITIONS
from models.relief.queue import PROOF_PURPOSE
from models.relief.tables import relief_applications, relief_attachments, relief_completions
from tests.factories import id_number, org_tree
from tests.handlers.test_staff_members import multipart
from tests.relief_helpers import paid, staff, submitted, token, worker, worker_token

BASE = "/api/v1/staff/relief/applications"
VISIT = {"date": "2026-01-06", "visitors": ["李站长"], "findings": "家中确有困难，情况属实。"}
SEQ = 81


def picture(kind: str, size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, kind)
    return out.getvalue()


@pytest.fixture
async def scene(api, engine, running):
    cipher = running.settings["cipher"]
    store = running.settings["attachments"]
    s: dict = {"cipher": cipher}
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        member_id, user_id = await worker(conn, cipher, tree["G01"], SEQ)
        s["app"] = await submitted(conn, cipher, member_id, user_id, tree["G01"])
        s["unpaid"] = await submitted(conn, cipher, member_id, user_id, tree["G01"], step="payment")
        stored = store.put(io.BytesIO(picture("PNG", (120, 80), (20, 90, 200))), purpose=PROOF_PURPOSE)
        await conn.execute(relief_attachments.insert().values(
            application_id=s["app"], proof_type="id_card", store_key=stored.key, mime=stored.mime,
            size=stored.size, sha256=stored.sha256, key_id=stored.key_id, uploaded_by=f"user:{user_id}",
            created_at=utcnow()))
        s["worker"] = await worker_token(conn, member_id, user_id)
        for name, org, roles in (("station", "S01", ["station"]), ("reviewer", "K01", ["reviewer"]),
                                 ("finance", "K01", ["finance"]), ("approver", "K01", ["approver"]),
                                 ("far", "K02", ["reviewer", "finance", "admin"])):
            actor = await staff(conn, f"{name}.archive", org, *roles)
            s[name], s[name + "_id"] = await token(conn, actor), actor.id
    # The station's visit with a photo and its pass, over HTTP; then the payment (F's route) through the helper.
    visit = await api.post(f"{BASE}/{s['app']}/visit", VISIT, token=s["station"])
    assert visit.status == 201, visit.data
    s["visit"] = visit.data["id"]
    payload, headers = multipart({}, "photo.jpg", picture("JPEG", (64, 48), (200, 120, 40)))
    photo = await api.request("POST", f"/api/v1/staff/relief/visits/{s['visit']}/photos", body=payload,
                              headers=headers, token=s["station"])
    assert photo.status == 201, photo.data
    passed = await api.post(f"{BASE}/{s['app']}/decision", {"step": "verification", "decision": "pass"},
                            token=s["station"])
    assert passed.status == 200, passed.data
    async with engine.begin() as conn:
        await paid(conn, cipher, s["app"], amount=250_000)
    return s


async def test_only_a_paid_application_in_reach_is_archived_by_the_roles_that_may(api, engine, scene):
    s, app = scene, scene["app"]
    body = {"completed_on": local_today().isoformat(), "note": "材料齐全，已归档。"}
    unpaid = await api.post(f"{BASE}/{s['unpaid']}/archive", body, token=s["reviewer"])
    assert (unpaid.status, unpaid.error_code) == (409, "application_not_paid")
    far = await api.post(f"{BASE}/{app}/archive", body, token=s["far"])
    assert (far.status, far.error_code) == (404, "application_not_found")
    for role in ("station", "approver"):
        refused = await api.post(f"{BASE}/{app}/archive", body, token=s[role])
        assert (refused.status, refused.error_code) == (403, "role_forbidden"), role
    future = await api.post(f"{BASE}/{app}/archive", {"completed_on": "2999-01-01"}, token=s["reviewer"])
    assert (future.status, future.error_code) == (400, "completed_on_future")
    done = await api.post(f"{BASE}/{app}/archive", body, token=s["finance"])
    assert done.status == 200 and done.data == {"id": app, "status": "archived", "step": "archived"}, done.data
    again = await api.post(f"{BASE}/{app}/archive", body, token=s["reviewer"])
    assert (again.status, again.error_code) == (409, "application_not_paid")
    async with engine.connect() as conn:
        completion = (await conn.execute(sa.select(relief_completions))).one()
        assert (completion.application_id, completion.completed_on, completion.note, completion.staff_id) == (
            app, local_today(), "材料齐全，已归档。", s["finance_id"])
        audited = (await conn.execute(sa.select(audit_log.c.actor_id).where(
            audit_log.c.action == "relief.archive", audit_log.c.target_id == str(app)))).all()
        assert [r.actor_id for r in audited] == [s["finance_id"]]
        notice = (await conn.execute(sa.select(notifications).where(notifications.c.kind == "relief.archived"))).one()
        assert json.loads(notice.payload)["values"] == {"kind": "临时救助", "step": "已办结"}
    file = await api.get(f"{BASE}/{app}", token=s["reviewer"])
    assert file.data["status"] == "archived" and file.data["timeline"][-1]["action"] == "archived"


async def test_an_archived_application_is_read_only_everywhere(api, engine, scene):
    s, app = scene, scene["app"]
    done = await api.post(f"{BASE}/{app}/archive", {"completed_on": local_today().isoformat()}, token=s["reviewer"])
    assert done.status == 200, done.data
    for step in ("payment", "archived"):
        decided = await api.post(f"{BASE}/{app}/decision", {"step": step, "decision": "reject", "comment": "不符"},
                                 token=s["finance"])
        assert (decided.status, decided.error_code) == (409, "step_mismatch"), step
    visit = await api.post(f"{BASE}/{app}/visit", VISIT, token=s["station"])
    assert (visit.status, visit.error_code) == (422, "application_not_under_review")
    payload, headers = multipart({}, "photo.jpg", picture("JPEG", (64, 48), (1, 2, 3)))
    photo = await api.request("POST", f"/api/v1/staff/relief/visits/{s['visit']}/photos", body=payload,
                              headers=headers, token=s["station"])
    assert (photo.status, photo.error_code) == (422, "application_not_under_review")
    mine = f"/api/v1/relief/applications/{app}"
    patched = await api.request("PATCH", mine, json_body={"form": {"situation": "改一改，家中仍然困难。"}}, token=s["worker"])
    assert (patched.status, patched.error_code) == (409, "application_not_editable"), patched.data
    payload, headers = multipart({"proof": "id_card"}, "p.png", picture("PNG", (30, 30), (9, 9, 9)))
    attached = await api.request("POST", f"{mine}/attachments", body=payload, headers=headers, token=s["worker"])
    assert (attached.status, attached.error_code) == (409, "application_not_editable"), attached.data
    withdrawn = await api.post(f"{mine}/withdraw", {}, token=s["worker"])
    assert (withdrawn.status, withdrawn.error_code) == (409, "application_not_withdrawable"), withdrawn.data
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(relief_applications).where(relief_applications.c.id == app))).one()
        photos = (await conn.execute(sa.select(sa.func.count()).select_from(relief_attachments)
                                     .where(relief_attachments.c.application_id == app))).scalar_one()
    assert (row.status, row.step, photos) == ("archived", "archived", 2)


def pdf_text(data: bytes) -> str:
    return subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True).stdout.decode()


async def test_the_archived_file_downloads_as_one_chinese_pdf(api, engine, scene):
    s, app = scene, scene["app"]
    early = await api.get(f"{BASE}/{app}/archive.pdf", token=s["reviewer"])
    assert (early.status, early.error_code) == (409, "application_not_archived")
    await api.post(f"{BASE}/{app}/archive", {"completed_on": "2026-02-03", "note": "归档"}, token=s["reviewer"])
    far = await api.get(f"{BASE}/{app}/archive.pdf", token=s["far"])
    assert (far.status, far.error_code) == (404, "application_not_found")
    got = await api.get(f"{BASE}/{app}/archive.pdf", token=s["station"])
    assert got.status == 200, got.data
    assert got.headers["Content-Type"] == "application/pdf"
    assert got.headers["Cache-Control"] == "no-store"
    assert got.headers["Content-Disposition"] == f'attachment; filename="relief-{app}-archive.pdf"'
    reader = pypdf.PdfReader(io.BytesIO(got.body))
    assert reader.pages and sum(len(page.images) for page in reader.pages) == 2  # the proof and the visit photo
    text = pdf_text(got.body)
    for shown in ("王*英", PRESET_DEFINITIONS["temporary"].name, "东湖街道服务站", "2026-02-03", "家中确有困难",
                  "李站长", "2500.00 元", "办结", "突发疾病", "身份证"):
        assert shown in text, shown
    assert id_number(SEQ) not in text.replace(" ", "") and "王秀英" not in text
    async with engine.connect() as conn:
        audited = (await conn.execute(sa.select(sa.func.count()).select_from(audit_log).where(
            audit_log.c.action == "relief.archive_pdf", audit_log.c.target_id == str(app)))).scalar_one()
    assert audited == 1
