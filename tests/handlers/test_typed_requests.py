"""One declaration per operation, over HTTP: the published schema is the model's, bodies are strict,
dates real, and every list pages with an opaque cursor."""
from __future__ import annotations

from typing import Any

from models.core.typed import encode_cursor
from server.app import ROUTES
from server.openapi import Operation, model_schema, query_parameters
from tests.factories import id_number, roster_csv
from tests.handlers.test_staff import network, token_of
from tests.handlers.test_staff_members import upload


def _operations() -> list[tuple[str, str, Any]]:
    found = []
    for pattern, handler, *_ in ROUTES:
        for method, operation in getattr(handler, "spec", {}).items():
            found.append((pattern, method, operation))
    return found


def test_every_json_body_and_query_is_declared_by_a_model_and_published_from_it() -> None:
    bodies = queries = 0
    for pattern, method, operation in _operations():
        assert isinstance(operation, Operation), (pattern, method)
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            assert operation.body is not None, f"{method} {pattern}: a JSON body without a model"
            assert content["application/json"]["schema"] == model_schema(operation.body, {})
            bodies += 1
        if "multipart/form-data" in content:
            assert operation.form is not None, f"{method} {pattern}: an upload without a form model"
        published = [p for p in operation.get("parameters", []) if p["in"] == "query"]
        if published:
            assert operation.query is not None, f"{method} {pattern}: query parameters without a model"
            assert published == query_parameters(operation.query, {})
            queries += 1
    assert bodies >= 25 and queries >= 8


#: Lists bounded by configuration rather than by data (a unit's kinds of relief), answered whole.
UNPAGED = {r"/api/v1/relief/kinds", r"/api/v1/staff/orgs/(?P<org_code>[A-Za-z0-9_-]+)/relief-kinds",
           # bounded: one year's calendar days; the public notice's shape is fixed by the brief (no cursor)
           r"/api/v1/staff/calendar", r"/api/v1/public/notices"}


def test_every_list_route_pages_with_a_cursor() -> None:
    """A list that pages publishes ?cursor=&limit= and answers {"items", "next"} with a string cursor."""
    paged = 0
    for pattern, method, operation in _operations():
        names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        assert not names & {"after", "before", "offset", "page"}, (pattern, names)
        answer = operation["responses"].get("200", {}).get("content", {}).get("application/json", {})
        properties = answer.get("schema", {}).get("properties", {})
        if "items" in properties and pattern not in UNPAGED:
            assert "next" in properties, f"{method} {pattern}: a list without a cursor"
        if "next" in properties:
            assert {"cursor", "limit"} <= names, pattern
            assert answer["schema"]["properties"]["next"]["type"] == ["string", "null"], pattern
            paged += 1
    assert paged >= 12


async def test_body_integers_and_dates_are_strict_and_fields_named(api, engine) -> None:
    await network(engine)
    admin = await token_of(api, "admin1")
    path = "/api/v1/staff/orgs/C1/hardship-lines"
    text_number = await api.request("PUT", path, json_body={"deep_line": "500", "relative_line": 800}, token=admin)
    assert (text_number.status, text_number.error_code) == (400, "invalid_body"), text_number.data
    assert text_number.data["error"]["details"] == [{"field": "deep_line", "reason": "deep_line 的类型不对"}]
    ok = await api.request("PUT", path, json_body={"deep_line": 500, "relative_line": 800}, token=admin)
    assert ok.status == 200, ok.data
    for day in ("2026-13-45", "2026-02-30", "2026-1-1"):
        resp = await api.post("/api/v1/staff/merchants", {"name": "药房", "type": "pharmacy", "org": "C1",
                                                          "agreement_from": day, "agreement_to": "2027-01-01"},
                              token=admin)
        assert (resp.status, resp.error_code) == (400, "invalid_body"), (day, resp.data)
        assert resp.data["error"]["details"] == [{"field": "agreement_from", "reason": "agreement_from 格式不对"}]
    made = await api.post("/api/v1/staff/merchants", {"name": "药房", "type": "pharmacy", "org": "C1",
                                                      "agreement_from": "2024-02-29", "agreement_to": "2027-01-01"},
                          token=admin)
    assert made.status == 201 and made.data["agreement_from"] == "2024-02-29", made.data


async def test_staff_members_page_through_with_opaque_cursors(api, engine) -> None:
    await network(engine)
    clerk = await token_of(api, "clerk1")
    rows = [(name, id_number(n), "") for n, name in enumerate(["张三", "李四", "王五", "赵六", "钱七", "孙八", "周九"], 1)]
    imported = await upload(api, clerk, "G1", roster_csv(rows))
    assert imported.data["created"] == 7, imported.data
    everyone = await api.get("/api/v1/staff/members", token=clerk)
    assert everyone.status == 200 and everyone.data["next"] is None and len(everyone.data["items"]) == 7
    seen: list[int] = []
    url = "/api/v1/staff/members?limit=3"
    pages = 0
    while True:
        page = await api.get(url, token=clerk)
        assert page.status == 200, page.data
        seen += [m["id"] for m in page.data["items"]]
        pages += 1
        if page.data["next"] is None:
            break
        assert page.data["next"] != str(page.data["items"][-1]["id"])
        url = f"/api/v1/staff/members?limit=3&cursor={page.data['next']}"
    assert seen == [m["id"] for m in everyone.data["items"]] and pages == 3
    good = encode_cursor(seen[2])  # type: ignore[index]
    tampered = good[:-1] + ("y" if good[-1] == "x" else "x")  # its last character changed (it may have been an x)
    for bad in (str(seen[2]), "abcd", tampered):
        refused = await api.get(f"/api/v1/staff/members?cursor={bad}", token=clerk)
        assert (refused.status, refused.error_code) == (400, "invalid_query"), (bad, refused.data)
        assert refused.data["error"]["details"][0]["field"] == "cursor"
    wrong = await api.get("/api/v1/staff/members?limit=abc", token=clerk)
    assert (wrong.status, wrong.error_code) == (400, "invalid_query")
    assert wrong.data["error"]["details"] == [{"field": "limit", "reason": "limit 的类型不对"}]


async def test_lists_that_returned_everything_now_page(api, engine) -> None:
    await network(engine)
    admin = await token_of(api, "admin1")
    made = []
    for n in range(3):
        resp = await api.post("/api/v1/staff/merchants", {"name": f"药房{n}", "type": "pharmacy", "org": "C1",
                                                          "agreement_from": "2026-01-01", "agreement_to": "2027-01-01"},
                              token=admin)
        assert resp.status == 201, resp.data
        made.append(resp.data["id"])
    first = await api.get("/api/v1/staff/merchants?limit=2", token=admin)
    assert [m["id"] for m in first.data["items"]] == made[:2] and first.data["next"]
    rest = await api.get(f"/api/v1/staff/merchants?limit=2&cursor={first.data['next']}", token=admin)
    assert [m["id"] for m in rest.data["items"]] == made[2:] and rest.data["next"] is None
    exact = await api.get("/api/v1/staff/merchants?limit=3", token=admin)
    assert len(exact.data["items"]) == 3 and exact.data["next"] is None  # no empty last page


async def test_the_roster_form_fields_are_validated_by_their_model(api, engine) -> None:
    await network(engine)
    clerk = await token_of(api, "clerk1")
    content = roster_csv([("张三", id_number(1), "")])
    from tests.handlers.test_staff_members import multipart

    body, headers = multipart({"org": "G1", "strict": "yes"}, "roster.csv", content)
    resp = await api.request("POST", "/api/v1/staff/members/import", body=body, headers=headers, token=clerk)
    assert (resp.status, resp.error_code) == (400, "invalid_body"), resp.data
    assert resp.data["error"]["details"][0]["field"] == "strict"
    body, headers = multipart({"strict": "1"}, "roster.csv", content)
    resp = await api.request("POST", "/api/v1/staff/members/import", body=body, headers=headers, token=clerk)
    assert (resp.status, resp.error_code) == (400, "invalid_body"), resp.data
    assert resp.data["error"]["details"] == [{"field": "org", "reason": "缺少必填字段 org"}]


async def test_a_list_in_tree_order_pages_by_a_composite_cursor(api, engine) -> None:
    await network(engine)
    admin = await token_of(api, "admin1")
    first = await api.get("/api/v1/staff/orgs?limit=2", token=admin)
    assert [o["code"] for o in first.data["items"]] == ["C1", "K1"] and first.data["next"], first.data
    rest = await api.get(f"/api/v1/staff/orgs?limit=2&cursor={first.data['next']}", token=admin)
    assert [o["code"] for o in rest.data["items"]] == ["G1"] and rest.data["next"] is None
    # A cursor of another list (an id) is not a position in this one.
    wrong = await api.get(f"/api/v1/staff/orgs?cursor={encode_cursor(5)}", token=admin)
    assert (wrong.status, wrong.error_code) == (400, "invalid_query")
