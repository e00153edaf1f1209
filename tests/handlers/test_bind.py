"""A worker claims their roster record by real name and ID number."""
from __future__ import annotations

from server.crypto import PiiCipher
from tests.factories import id_number, import_rows, org_tree


async def _roster(engine, running):
    cipher: PiiCipher = running.settings["cipher"]
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        await import_rows(conn, cipher, tree["G01"], [("张三丰", id_number(11), "13800000011"),
                                                      ("李四", id_number(12), "")])
    return tree


async def test_bind_makes_a_member(api, engine, running):
    await _roster(engine, running)
    token = await api.login("amy.1")
    resp = await api.post("/api/v1/me/bind", {"name": "张三丰", "id_number": id_number(11)}, token=token)
    assert resp.status == 200
    member = resp.data["member"]
    assert member["name_masked"] == "张*丰"
    assert member["id_number_masked"].endswith(id_number(11)[-4:]) and id_number(11) not in resp.body.decode()
    me = await api.get("/api/v1/me", token=token)
    assert me.data["user"]["roles"] == ["member"] and me.data["member"]["id"] == member["id"]
    again = await api.post("/api/v1/auth/wechat", {"code": "amy.2"})
    assert again.data["user"]["member"]["id"] == member["id"]
    # Binding again to the same record is harmless.
    same = await api.post("/api/v1/me/bind", {"name": "张三丰", "id_number": id_number(11)}, token=token)
    assert same.status == 200


async def test_wrong_pair_does_not_say_which_half(api, engine, running):
    await _roster(engine, running)
    token = await api.login("ben.1")
    wrong_name = await api.post("/api/v1/me/bind", {"name": "张三", "id_number": id_number(11)}, token=token)
    wrong_id = await api.post("/api/v1/me/bind", {"name": "张三丰", "id_number": id_number(13)}, token=token)
    malformed = await api.post("/api/v1/me/bind", {"name": "张三丰", "id_number": "110101198001011230"},
                               token=token)
    for resp in (wrong_name, wrong_id, malformed):
        assert resp.status == 404 and resp.error_code == "member_not_found"
    assert wrong_name.data["error"]["message"] == wrong_id.data["error"]["message"]


async def test_five_failures_lock_binding(api, engine, running):
    await _roster(engine, running)
    token = await api.login("cat.1")
    for _ in range(5):
        resp = await api.post("/api/v1/me/bind", {"name": "王五", "id_number": id_number(11)}, token=token)
        assert resp.status == 404
    locked = await api.post("/api/v1/me/bind", {"name": "张三丰", "id_number": id_number(11)}, token=token)
    assert (locked.status, locked.error_code) == (429, "bind_locked")
    assert int(locked.headers["Retry-After"]) > 0
    other = await api.login("dan.1")  # another user is not locked
    ok = await api.post("/api/v1/me/bind", {"name": "张三丰", "id_number": id_number(11)}, token=other)
    assert ok.status == 200


async def test_record_bound_elsewhere_is_refused_until_released(api, engine, running):
    from models.cards import usecases as card_flows
    from models.core.actors import Actor

    tree = await _roster(engine, running)
    first = await api.login("eve.1")
    assert (await api.post("/api/v1/me/bind", {"name": "李四", "id_number": id_number(12)}, token=first)).status == 200
    second = await api.login("fay.1")
    taken = await api.post("/api/v1/me/bind", {"name": "李四", "id_number": id_number(12)}, token=second)
    assert (taken.status, taken.error_code) == (409, "already_bound")
    staff = Actor(kind="staff", id=1, roles=frozenset({"station"}), org_id=tree["S01"].id, org_path=tree["S01"].path)
    member_id = (await api.get("/api/v1/me", token=first)).data["member"]["id"]
    async with engine.begin() as conn:
        await card_flows.release_binding(conn, staff, member_id, scope=staff.org_path)
    retry = await api.post("/api/v1/me/bind", {"name": "李四", "id_number": id_number(12)}, token=second)
    assert retry.status == 200


async def test_bind_body_is_validated(api):
    token = await api.login("gus.1")
    assert (await api.post("/api/v1/me/bind", {"name": "张三"}, token=token)).status == 400
    assert (await api.post("/api/v1/me/bind", {"name": "", "id_number": "x" * 18}, token=token)).status == 400
    assert (await api.post("/api/v1/me/bind", {"name": "张三", "id_number": id_number(1)})).status == 401
