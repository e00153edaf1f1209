"""GET /api/v1/me says the member once, at the top level; the login answer carries it in ``user``."""
from __future__ import annotations

from server.crypto import PiiCipher
from tests.factories import id_number, import_rows, org_tree


async def test_me_names_the_member_once(api, engine, running):
    cipher: PiiCipher = running.settings["cipher"]
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        await import_rows(conn, cipher, tree["G01"], [("王秀兰", id_number(22), "13800000022")])
    token = await api.login("mia.1")
    visitor = await api.get("/api/v1/me", token=token)
    assert visitor.data == {"user": visitor.data["user"], "member": None}
    assert "member" not in visitor.data["user"] and visitor.data["user"]["roles"] == ["visitor"]
    bound = await api.post("/api/v1/me/bind", {"name": "王秀兰", "id_number": id_number(22)}, token=token)
    assert bound.status == 200
    me = await api.get("/api/v1/me", token=token)
    assert "member" not in me.data["user"] and me.data["user"]["roles"] == ["member"]
    assert me.data["member"] == bound.data["member"]
    login = await api.post("/api/v1/auth/wechat", {"code": "mia.2"})
    assert login.data["user"]["member"] == bound.data["member"]
