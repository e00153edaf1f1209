"""Staff import rosters over HTTP and release bindings, within their subtree and role only."""
from __future__ import annotations

import sqlalchemy as sa

from models.core.actors import SYSTEM
from models.core.tables import audit_log
from models.identity import staff_accounts as staff
from models.members.tables import members
from server.passwords import ARGON2
from tests.factories import id_number, roster_csv
from tests.handlers.test_staff import PASSWORD, network, same_refusal, token_of


def multipart(fields: dict[str, str], filename: str, content: bytes) -> tuple[bytes, dict[str, str]]:
    boundary = "----unionaid-test-boundary"
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                 "Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


async def upload(api, token, org, content, *, strict=False, filename="roster.csv"):
    body, headers = multipart({"org": org, "strict": "1" if strict else "0"}, filename, content)
    return await api.request("POST", "/api/v1/staff/members/import", body=body, headers=headers, token=token)


async def _clerks(engine):
    t = await network(engine)
    async with engine.begin() as conn:
        await staff.create(conn, SYSTEM, hasher=ARGON2,
                           username="finance1", password=PASSWORD, roles=["finance"], org_code="C1")
        await staff.create(conn, SYSTEM, hasher=ARGON2,
                           username="clerk2", password=PASSWORD, roles=["station"], org_code="C2")
    return t


async def test_import_report_by_row_and_idempotent(api, engine):
    await _clerks(engine)
    token = await token_of(api, "clerk1")
    bad = id_number(2)[:-1] + ("0" if id_number(2)[-1] != "0" else "1")
    content = roster_csv([("张三", id_number(1), "13800000001"), ("李四", bad, ""), ("王五", id_number(3), "")])
    strict = await upload(api, token, "G1", content, strict=True)
    assert strict.status == 200 and strict.data["committed"] is False
    assert [(p["line"], p["field"], p["code"]) for p in strict.data["problems"]] == [(3, "id_number",
                                                                                       "id_number_checksum")]
    first = await upload(api, token, "G1", content)
    assert (first.data["created"], first.data["refused"], first.data["committed"]) == (2, 1, True)
    again = await upload(api, token, "G1", content)
    assert (again.data["created"], again.data["unchanged"]) == (0, 2)
    gbk = await upload(api, token, "G1", roster_csv([("赵六", id_number(4), "")]).decode().encode("gbk"))
    assert gbk.data["created"] == 1
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(members))).scalar_one() == 3
        actions = (await conn.execute(sa.select(audit_log.c.action))).scalars().all()
    assert actions.count("member.import") == 3


async def test_import_refusals(api, engine):
    await _clerks(engine)
    clerk = await token_of(api, "clerk1")
    content = roster_csv([("张三", id_number(1), "")])
    empty = await upload(api, clerk, "G1", b"")
    assert (empty.status, empty.error_code) == (400, "roster_empty")
    outside, missing = await upload(api, clerk, "K2", content), await upload(api, clerk, "NOPE", content)
    assert (outside.status, outside.error_code) == (missing.status, missing.error_code) == (404, "org_not_found")
    # The message only echoes the code the caller typed.
    assert outside.data["error"]["message"].replace("K2", "NOPE") == missing.data["error"]["message"]
    finance = await token_of(api, "finance1")
    refused = await upload(api, finance, "G1", content)
    assert (refused.status, refused.error_code) == (403, "role_forbidden")
    as_json = await api.post("/api/v1/staff/members/import", {"org": "G1"}, token=clerk)
    assert as_json.status == 415


async def test_release_binding_scoped(api, engine):
    await _clerks(engine)
    clerk = await token_of(api, "clerk1")
    await upload(api, clerk, "G1", roster_csv([("张三", id_number(1), "")]))
    worker = await api.login("wendy.1")
    bound = await api.post("/api/v1/me/bind", {"name": "张三", "id_number": id_number(1)}, token=worker)
    member_id = bound.data["member"]["id"]
    outsider = await token_of(api, "clerk2")
    same_refusal(await api.post(f"/api/v1/staff/members/{member_id}/release-binding", token=outsider),
                 await api.post("/api/v1/staff/members/999999/release-binding", token=outsider))
    finance = await token_of(api, "finance1")
    assert (await api.post(f"/api/v1/staff/members/{member_id}/release-binding", token=finance)).status == 403
    released = await api.post(f"/api/v1/staff/members/{member_id}/release-binding", token=clerk)
    assert released.status == 200 and released.data["member"]["bound"] is False
    me = await api.get("/api/v1/me", token=worker)
    assert me.data["member"] is None


async def test_search_masked_and_full_view_audited(api, engine):
    await _clerks(engine)
    clerk = await token_of(api, "clerk1")
    await upload(api, clerk, "G1", roster_csv([("张三丰", id_number(1), "13800000001"), ("李四", id_number(2), "")]))
    by_id = await api.get(f"/api/v1/staff/members?id_number={id_number(1)}", token=clerk)
    assert [m["name_masked"] for m in by_id.data["items"]] == ["张*丰"]
    assert id_number(1) not in by_id.body.decode()
    by_phone = await api.get("/api/v1/staff/members?phone=13800000001", token=clerk)
    assert len(by_phone.data["items"]) == 1
    listing = await api.get("/api/v1/staff/members?org=G1", token=clerk)
    assert len(listing.data["items"]) == 2
    outsider = await token_of(api, "clerk2")
    assert (await api.get(f"/api/v1/staff/members?id_number={id_number(1)}", token=outsider)).data["items"] == []
    member_id = by_id.data["items"][0]["id"]
    full = await api.get(f"/api/v1/staff/members/{member_id}/full", token=clerk)
    assert full.status == 200 and full.data["id_number"] == id_number(1) and full.data["phone"] == "13800000001"
    async with engine.connect() as conn:
        views = (await conn.execute(sa.select(audit_log).where(audit_log.c.action == "member.view_full"))).all()
    assert len(views) == 1 and views[0].target_id == str(member_id)
    finance = await token_of(api, "finance1")
    assert (await api.get(f"/api/v1/staff/members/{member_id}/full", token=finance)).status == 403
    same_refusal(await api.get(f"/api/v1/staff/members/{member_id}/full", token=outsider),
                 await api.get("/api/v1/staff/members/999999/full", token=outsider))


async def test_update_member_and_end_membership(api, engine, running):
    await _clerks(engine)
    clerk = await token_of(api, "clerk1")
    await upload(api, clerk, "G1", roster_csv([("张三丰", id_number(1), "13800000001")]))
    worker = await api.login("xena.1")
    member_id = (await api.post("/api/v1/me/bind", {"name": "张三丰", "id_number": id_number(1)},
                                token=worker)).data["member"]["id"]
    path = f"/api/v1/staff/members/{member_id}"
    changed = await api.request("PATCH", path, json_body={"phone": "139 0000 0002", "bank_account": "6222021234567890123"},
                                token=clerk)
    assert changed.status == 200
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(members))).one()
    cipher = running.settings["cipher"]
    assert cipher.decrypt(row.bank_account_enc, purpose="bank_account") == "6222021234567890123"
    assert "6222021234567890123" not in row.bank_account_enc
    full = await api.get(f"{path}/full", token=clerk)
    assert full.data["phone"] == "13900000002"
    for bad in ({"phone": "12345"}, {"bank_account": "abc"}, {}, {"status": "deleted"}, {"ended_on": "2026-13-01"}):
        resp = await api.request("PATCH", path, json_body=bad, token=clerk)
        assert resp.status == 400, bad
    ended = await api.request("PATCH", path, json_body={"status": "ended", "ended_on": "2026-11-01"}, token=clerk)
    assert ended.data["member"]["status"] == "ended" and ended.data["member"]["bound"] is False
    assert (await api.get("/api/v1/me", token=worker)).data["member"] is None
    outsider = await token_of(api, "clerk2")
    same_refusal(await api.request("PATCH", path, json_body={"employer": "x"}, token=outsider),
                 await api.request("PATCH", "/api/v1/staff/members/999999", json_body={"employer": "x"},
                                   token=outsider))


async def test_oversized_upload_is_refused_before_reading(api, engine, config):
    await _clerks(engine)
    clerk = await token_of(api, "clerk1")
    big = b"a" * (config.max_upload_bytes + 1024)
    resp = await upload(api, clerk, "G1", big)
    assert (resp.status, resp.error_code) == (413, "body_too_large")
    assert (await upload(api, clerk, "G1", roster_csv([("张三", id_number(1), "")]))).data["created"] == 1
