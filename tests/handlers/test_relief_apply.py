"""Applying for relief over HTTP with the sandbox: drafts, real proofs, hostile uploads, consent, the content
check, withdrawal, ownership and the duplicate and limit flags; on both databases."""
from __future__ import annotations

import io
from pathlib import Path

import sqlalchemy as sa
from PIL import Image

from models.core.tables import audit_log, notifications
from models.relief import consent, flags
from models.relief.tables import relief_applications, relief_attachments, relief_household
from tests import hostile_files as hf
from tests.factories import id_number, import_rows, org_tree

BASE = "/api/v1/relief/applications"
WANG, ZHAO, SPOUSE = id_number(41), id_number(42), id_number(43, birth="19820202")
FORM = {"patient": "self", "diagnosis": "慢性肾功能衰竭，需长期透析治疗", "self_paid": 1_500_000,
        "situation": "本人患慢性肾衰竭，每周透析三次，家庭收入难以负担医疗费用。", "treated_on": "2026-03-02"}
PROOFS = {"diagnosis": ("diag.jpg", hf.jpeg_with_gps), "medical_bills": ("bill.png", hf.png),
          "income_proof": ("income.pdf", hf.pdf_plain), "id_card": ("id.jpg", hf.jpeg)}


async def scene(api, engine, running) -> dict:
    """C01 > K01 > S01 > G01, G02: wang bound at G01, zhao at G02."""
    cipher = running.settings["cipher"]
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        await import_rows(conn, cipher, tree["G01"], [("王秀英", WANG, "")])
        await import_rows(conn, cipher, tree["G02"], [("赵六", ZHAO, "")])
    out: dict = {"tree": tree}
    for key, code, name, number in (("wang", "wang.1", "王秀英", WANG), ("zhao", "zhao.1", "赵六", ZHAO)):
        token = await api.login(code)
        bound = await api.post("/api/v1/me/bind", {"name": name, "id_number": number}, token=token)
        assert bound.status == 200, bound.data
        out[key] = token
    return out


def multipart(fields: dict[str, str], filename: str, content: bytes) -> tuple[bytes, dict[str, str]]:
    boundary = "----relief-test-boundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                 "Content-Type: image/png\r\n\r\n".encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


async def upload(api, token, app_id, proof, filename, content):
    body, headers = multipart({"proof": proof}, filename, content)
    return await api.request("POST", f"{BASE}/{app_id}/attachments", body=body, headers=headers, token=token)


async def create(api, token, **body):
    got = await api.post(BASE, {"kind": "medical", **body}, token=token)
    assert got.status == 201, got.data
    return got.data


async def complete(api, token, *, household=None) -> int:
    """A medical application with every field and proof, ready to submit."""
    app = await create(api, token, form=FORM, household=household or [])
    for proof, (name, make) in PROOFS.items():
        got = await upload(api, token, app["id"], proof, name, make())
        assert got.status == 201, got.data
    return int(app["id"])


async def submit(api, token, app_id, version=consent.CONSENT_VERSION):
    return await api.post(f"{BASE}/{app_id}/submit", {"consent_version": version}, token=token)


def stored_files(running) -> list[Path]:
    root = Path(running.settings["attachments"].root)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_a_worker_applies_with_real_proofs_and_submits_with_consent(api, engine, running, wechat):
    s = await scene(api, engine, running)
    draft = await create(api, s["wang"], form={"patient": "self", "diagnosis": "慢性肾功能衰竭，需长期透析治疗"},
                         household=[{"name": "李强", "relation": "spouse", "id_number": SPOUSE,
                                     "monthly_income": 200_000}])
    assert (draft["status"], draft["step"], draft["editable"], draft["kind_name"]) == ("draft", None, True, "医疗救助")
    assert draft["household"][0]["id_number_masked"] == SPOUSE[:4] + "*" * 10 + SPOUSE[-4:]
    assert draft["requested_amount"] is None  # the self-paid part is not given yet
    app_id = draft["id"]
    # PATCH merges the form (null removes a field) and keeps a listed person's ID number when omitted.
    patched = await api.request("PATCH", f"{BASE}/{app_id}", json_body={
        "form": {**FORM, "hospital": None}, "household": [{"id": draft["household"][0]["id"], "name": "李强",
                                                           "relation": "spouse"}]}, token=s["wang"])
    assert patched.status == 200, patched.data
    assert patched.data["form"] == FORM and patched.data["requested_amount"] == 1_000_000  # at most the cap
    assert patched.data["household"][0]["id_number_masked"] == draft["household"][0]["id_number_masked"]
    for proof, (name, make) in PROOFS.items():
        got = await upload(api, s["wang"], app_id, proof, name, make())
        assert got.status == 201, got.data
        assert got.data["kind"] == proof and got.data["mime"] in ("image/jpeg", "image/png", "application/pdf")
    read = await api.get(f"{BASE}/{app_id}", token=s["wang"])
    assert sorted(p["proof_type"] for p in read.data["proofs"]) == sorted(PROOFS)
    photo = next(p for p in read.data["proofs"] if p["proof_type"] == "diagnosis")
    served = await api.get(f"{BASE}/{app_id}/attachments/{photo['id']}", token=s["wang"])
    assert served.status == 200 and served.headers["Content-Type"] == "image/jpeg"
    assert served.headers["Content-Disposition"].startswith("inline")
    with Image.open(io.BytesIO(served.body)) as im:
        assert im.getexif().get_ifd(0x8825) == {}  # the GPS position is gone
    # Consent: missing, then an old version, are refused and nothing changes.
    assert (await api.post(f"{BASE}/{app_id}/submit", {}, token=s["wang"])).error_code == "consent_required"
    assert (await submit(api, s["wang"], app_id, "2020-01-v0")).error_code == "consent_outdated"
    assert (await api.get(f"{BASE}/{app_id}", token=s["wang"])).data["status"] == "draft"
    done = await submit(api, s["wang"], app_id)
    assert (done.status, done.data) == (200, {"id": app_id, "status": "submitted", "step": "verification"})
    read = await api.get(f"{BASE}/{app_id}", token=s["wang"])
    assert (read.data["editable"], read.data["consent_version"]) == (False, consent.CONSENT_VERSION)
    assert [(e["action"], e["unit"]) for e in read.data["timeline"]] == [("created", "东湖社区工会"),
                                                                        ("submitted", "东湖社区工会")]
    # Frozen: no change, no upload, no removal.
    frozen = await api.request("PATCH", f"{BASE}/{app_id}", json_body={"form": {"hospital": "湘雅医院"}}, token=s["wang"])
    assert (frozen.status, frozen.error_code) == (409, "application_not_editable")
    late = await upload(api, s["wang"], app_id, "other", "x.png", hf.png())
    assert late.error_code == "application_not_editable"
    gone = await api.request("DELETE", f"{BASE}/{app_id}/attachments/{photo['id']}", token=s["wang"])
    assert gone.error_code == "application_not_editable"
    listed = await api.get(BASE, token=s["wang"])
    assert [(i["id"], i["status"], i["step_name"]) for i in listed.data["items"]] == [(app_id, "submitted", "基层核实")]
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(relief_applications).where(relief_applications.c.id == app_id))).one()
        assert row.due_at is not None and row.step_since is not None and row.consented_at is not None
        notes = (await conn.execute(sa.select(notifications.c.kind))).scalars().all()
        assert "relief.submitted" in notes
        actions = (await conn.execute(sa.select(audit_log.c.action))).scalars().all()
        assert {"relief.create", "relief.update", "relief.attach", "relief.submit"} <= set(actions)


async def test_a_submission_lists_every_missing_item_at_once(api, engine, running, wechat):
    s = await scene(api, engine, running)
    app = await create(api, s["wang"], household=[{"name": "李强", "relation": "spouse"}])
    got = await submit(api, s["wang"], app["id"])
    assert (got.status, got.error_code) == (422, "application_incomplete")
    items = {d["item"] for d in got.data["error"]["details"]}
    assert items == {"patient", "diagnosis", "self_paid", "situation", "household[0].id_number", "diagnosis",
                     "medical_cost", "income_proof", "id_card"}
    # The insurance sheet alone does for the group of medical costs.
    await upload(api, s["wang"], app["id"], "insurance_settlement", "s.pdf", hf.pdf_plain())
    got = await submit(api, s["wang"], app["id"])
    assert "medical_cost" not in {d["item"] for d in got.data["error"]["details"]}


async def test_every_hostile_upload_is_refused_with_its_code_and_nothing_is_stored(api, engine, running, wechat):
    s = await scene(api, engine, running)
    app = await create(api, s["wang"])
    before = stored_files(running)
    refused = {name: code for name, (_, code) in hf.ATTACHMENT_CATALOGUE.items() if code is not None}
    for name, code in refused.items():
        got = await upload(api, s["wang"], app["id"], "diagnosis", "proof.png", hf.ATTACHMENT_CATALOGUE[name][0]())
        assert got.status < 500 and got.error_code == code, (name, got.status, got.data)
    big = await upload(api, s["wang"], app["id"], "diagnosis", "big.jpg", b"\xff\xd8\xff" + b"\0" * (11 << 20))
    assert (big.status, big.error_code) in ((413, "upload_too_large"), (413, "body_too_large")), big.data
    wrong = await upload(api, s["wang"], app["id"], "tuition_receipt", "x.png", hf.png())
    assert (wrong.status, wrong.error_code) == (422, "proof_type")
    assert stored_files(running) == before
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(relief_attachments))).scalar() == 0


async def test_a_proof_type_holds_at_most_its_max_files(api, engine, running, wechat):
    s = await scene(api, engine, running)
    app = await create(api, s["wang"])
    for _ in range(4):  # id_card: max_files 4
        assert (await upload(api, s["wang"], app["id"], "id_card", "id.png", hf.png())).status == 201
    before = stored_files(running)
    over = await upload(api, s["wang"], app["id"], "id_card", "id.png", hf.png())
    assert (over.status, over.error_code) == (422, "proof_too_many")
    assert stored_files(running) == before  # the blob stored for it was deleted again
    first = (await api.get(f"{BASE}/{app['id']}", token=s["wang"])).data["proofs"][0]
    removed = await api.request("DELETE", f"{BASE}/{app['id']}/attachments/{first['id']}", token=s["wang"])
    assert removed.status == 200 and len(stored_files(running)) == len(before) - 1
    again = await api.get(f"{BASE}/{app['id']}/attachments/{first['id']}", token=s["wang"])
    assert (again.status, again.error_code) == (404, "attachment_not_found")


async def test_risky_text_is_refused_with_nothing_saved_review_text_is_held(api, engine, running, wechat):
    s = await scene(api, engine, running)
    risky = {**FORM, "situation": "家里困难，有人介绍我去赌博还债，现在欠了很多钱。"}
    got = await api.post(BASE, {"kind": "medical", "form": risky}, token=s["wang"])
    assert (got.status, got.error_code) == (422, "content_risky")
    assert got.data["error"]["message"] == "内容含有不适宜发布的信息，请修改后再提交"
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(relief_applications))).scalar() == 0
    app = await create(api, s["wang"], form=FORM)
    patched = await api.request("PATCH", f"{BASE}/{app['id']}", json_body={
        "form": {"diagnosis": "可以代开发票报销医疗费用的那种"}}, token=s["wang"])
    assert (patched.status, patched.error_code) == (422, "content_risky")
    assert (await api.get(f"{BASE}/{app['id']}", token=s["wang"])).data["form"] == FORM
    held = await api.request("PATCH", f"{BASE}/{app['id']}", json_body={
        "form": {"situation": "因病致贫，曾经多次维权上访，希望得到帮助。"}}, token=s["wang"])
    assert held.status == 200, held.data
    async with engine.connect() as conn:
        status = (await conn.execute(sa.select(relief_applications.c.content_status))).scalar()
    assert status == "review"


async def test_wechat_down_saves_the_draft_unchecked(api, engine, running, wechat):
    s = await scene(api, engine, running)
    wechat.state.inject("msg_sec_check", -1, times=3)
    app = await create(api, s["wang"], form=FORM)
    assert app["form"] == FORM
    async with engine.connect() as conn:
        status = (await conn.execute(sa.select(relief_applications.c.content_status))).scalar()
    assert status == "unchecked"


async def test_a_create_retried_with_its_key_makes_one_draft(api, engine, running, wechat):
    """The phone lost the answer to its create and asks again with the same key: the same draft comes back."""
    s = await scene(api, engine, running)
    body = {"kind": "medical", "form": FORM, "household": [{"name": "李建国", "relation": "spouse", "id_number": SPOUSE}]}
    first = await api.post(BASE, body, token=s["wang"], headers={"Idempotency-Key": "relief-create-0001"})
    assert first.status == 201 and "Idempotent-Replayed" not in first.headers, first.data
    again = await api.post(BASE, body, token=s["wang"], headers={"Idempotency-Key": "relief-create-0001"})
    assert again.status == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.data == first.data
    other = await api.post(BASE, {**body, "form": {**FORM, "self_paid": 1}}, token=s["wang"],
                           headers={"Idempotency-Key": "relief-create-0001"})
    assert (other.status, other.error_code) == (422, "idempotency_key_reused")
    # the key is the caller's: another worker's same key is another request
    zhao = await api.post(BASE, {"kind": "medical", "form": FORM}, token=s["zhao"],
                          headers={"Idempotency-Key": "relief-create-0001"})
    assert zhao.status == 201 and zhao.data["id"] != first.data["id"]
    plain = await api.post(BASE, body, token=s["wang"])  # no key: a new draft, as before keys
    assert plain.status == 201 and plain.data["id"] != first.data["id"]
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(relief_applications))).scalar() == 3
    bad = await api.post(BASE, body, token=s["wang"], headers={"Idempotency-Key": "short"})
    assert (bad.status, bad.error_code) == (400, "idempotency_key_format")


async def test_a_worker_never_reads_or_touches_anothers_application_or_files(api, engine, running, wechat):
    s = await scene(api, engine, running)
    app_id = await complete(api, s["wang"])
    proof_id = (await api.get(f"{BASE}/{app_id}", token=s["wang"])).data["proofs"][0]["id"]
    for target in (app_id, 987654):
        calls = [
            api.get(f"{BASE}/{target}", token=s["zhao"]),
            api.request("PATCH", f"{BASE}/{target}", json_body={"form": {}}, token=s["zhao"]),
            submit(api, s["zhao"], target),
            api.post(f"{BASE}/{target}/withdraw", token=s["zhao"]),
            api.get(f"{BASE}/{target}/attachments/{proof_id}", token=s["zhao"]),
            api.request("DELETE", f"{BASE}/{target}/attachments/{proof_id}", token=s["zhao"]),
            upload(api, s["zhao"], target, "diagnosis", "x.png", hf.png()),
        ]
        for call in calls:
            got = await call
            assert (got.status, got.data["error"]["code"], got.data["error"]["message"]) == (
                404, "application_not_found", "找不到该救助申请"), got.data
    assert (await api.get(BASE, token=s["zhao"])).data["items"] == []
    visitor = await api.login("visitor.9")
    assert (await api.get(BASE, token=visitor)).error_code == "member_not_bound"


async def test_withdraw_before_a_decision(api, engine, running, wechat):
    s = await scene(api, engine, running)
    app_id = await complete(api, s["wang"])
    assert (await submit(api, s["wang"], app_id)).status == 200
    got = await api.post(f"{BASE}/{app_id}/withdraw", token=s["wang"])
    assert (got.status, got.data["status"]) == (200, "withdrawn")
    again = await api.post(f"{BASE}/{app_id}/withdraw", token=s["wang"])
    assert (again.status, again.error_code) == (409, "application_not_withdrawable")
    read = await api.get(f"{BASE}/{app_id}", token=s["wang"])
    assert read.data["timeline"][-1]["action"] == "withdrawn"


async def test_duplicates_and_the_yearly_limit_are_flagged_at_submission(api, engine, running, wechat):
    s = await scene(api, engine, running)
    first = await complete(api, s["wang"])
    assert (await submit(api, s["wang"], first)).status == 200
    second = await complete(api, s["wang"])
    assert (await submit(api, s["wang"], second)).status == 200
    # zhao lists wang as household member: wang's open application of the same kind is named.
    third = await complete(api, s["zhao"], household=[{"name": "王秀英", "relation": "spouse", "id_number": WANG}])
    assert (await submit(api, s["zhao"], third)).status == 200
    async with engine.connect() as conn:
        mine = {(f.reason, f.other_application_id) for f in await flags.open_flags(conn, second)}
        theirs = {(f.reason, f.other_application_id) for f in await flags.open_flags(conn, third)}
        assert await flags.open_flags(conn, first) == []
        marks = dict((await conn.execute(sa.select(relief_applications.c.id, relief_applications.c.flagged))).all())
        people = (await conn.execute(sa.select(relief_household.c.id_number_enc))).scalars().all()
    assert mine == {("same_kind_open", first), ("frequency", first)}
    assert theirs == {("household_open", first), ("household_open", second)}
    assert (bool(marks[first]), bool(marks[second]), bool(marks[third])) == (False, True, True)
    assert all(WANG not in (p or "") for p in people)  # encrypted at rest
