"""The typed-request pieces: strict bodies, real dates, opaque cursors, Chinese errors naming fields."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import pytest
from pydantic import Field

from models.core.errors import Invalid
from models.core.typed import (
    FEN_MAX,
    ID_MAX,
    Body,
    Cursor,
    Date,
    Fen,
    Id,
    Keyset,
    Month,
    PageQuery,
    Paging,
    Query,
    encode_cursor,
    encode_key,
    paged,
    text,
)
from server.openapi import op
from server.validation import query_values, validate


class Item(Body):
    name: Annotated[str, text(10, min_len=1)]
    amount: Fen


class Sample(Body):
    id: Id
    on: Date | None = None
    kind: Literal["a", "b"] = "a"
    flag: bool = False
    items: Annotated[list[Item], Field(min_length=1)] = [Item(name="x", amount=0)]


def refusal(data: object, model: type = Sample, code: str = "invalid_body") -> Invalid:
    with pytest.raises(Invalid) as refused:
        validate(model, data, code=code)
    assert refused.value.code == code and refused.value.status == 400
    return refused.value


def fields(err: Invalid) -> dict[str | None, str]:
    return {d["field"]: d["reason"] for d in err.details or []}


def test_a_body_takes_json_types_only_no_coercion() -> None:
    assert validate(Sample, {"id": 12}).id == 12
    assert fields(refusal({"id": "12"})) == {"id": "id 的类型不对"}
    assert fields(refusal({"id": 1, "flag": "true"})) == {"flag": "flag 的类型不对"}
    assert fields(refusal({"id": 1, "flag": 1})) == {"flag": "flag 的类型不对"}
    assert fields(refusal({"id": True})) == {"id": "id 的类型不对"}
    assert fields(refusal({"id": 1.5})) == {"id": "id 的类型不对"}
    assert fields(refusal([1])) == {None: "请求体 的类型不对"}


def test_bounds_published_today_hold() -> None:
    assert validate(Sample, {"id": ID_MAX}).id == ID_MAX
    assert fields(refusal({"id": ID_MAX + 1})) == {"id": "id 太大"}
    assert fields(refusal({"id": 0})) == {"id": "id 太小"}
    err = refusal({"id": 1, "items": [{"name": "x", "amount": FEN_MAX + 1}, {"name": "", "amount": -1}]})
    assert fields(err) == {"items.0.amount": "items.0.amount 太大", "items.1.name": "items.1.name 不能为空",
                           "items.1.amount": "items.1.amount 太小"}


@pytest.mark.parametrize("text_", ["2026-13-45", "2026-02-30", "2026-1-5", "20260105", "2026-01-05T00:00:00", ""])
def test_a_day_that_does_not_exist_is_refused(text_: str) -> None:
    assert fields(refusal({"id": 1, "on": text_})) == {"on": "on 格式不对"}


def test_a_real_day_is_a_date() -> None:
    assert validate(Sample, {"id": 1, "on": "2024-02-29"}).on == date(2024, 2, 29)
    assert fields(refusal({"id": 1, "on": 20240229})) == {"on": "on 的类型不对"}


def test_missing_unknown_and_enum_fields_are_named_in_chinese() -> None:
    err = refusal({"kind": "c", "zz": 1, "aa": 2})
    assert fields(err) == {"id": "缺少必填字段 id", "kind": "kind 只能取以下值之一：a、b",
                           None: "含有不认识的字段：aa, zz"}
    assert err.message in fields(err).values()
    nested = refusal({"id": 1, "items": [{"name": "x", "amount": 1, "extra": 0}]})
    assert fields(nested) == {"items.0": "含有不认识的字段：extra"}
    assert fields(refusal({"id": 1, "items": []})) == {"items": "items 不能为空"}


def test_the_domain_builds_a_model_with_the_same_refusal() -> None:
    assert Sample.of({"id": 3}).given() == {"id"}
    with pytest.raises(Invalid) as refused:
        Sample.of({"id": "3"})
    assert refused.value.code == "invalid_body"


class Search(PageQuery):
    n: Annotated[int, Field(ge=0, le=10)] = 0
    month: Month | None = None
    on: Date | None = None


def test_query_text_is_typed_and_unknown_parameters_ignored() -> None:
    got = validate(Search, query_values(Search, {"n": [b"1", b"7"], "other": [b"x"]}), code="invalid_query")
    assert (got.n, got.cursor, got.limit) == (7, None, 50)
    assert fields(refusal({"n": "11"}, Search, "invalid_query")) == {"n": "n 太大"}
    assert fields(refusal({"month": "2026-13"}, Search, "invalid_query")) == {"month": "month 格式不对"}
    assert fields(refusal({"on": "2026-13-45"}, Search, "invalid_query")) == {"on": "on 格式不对"}
    assert fields(refusal({"limit": "0"}, Search, "invalid_query")) == {"limit": "limit 太小"}
    with pytest.raises(Invalid) as refused:
        query_values(Search, {"n": [b"\xed\xa0\x80"]})
    assert refused.value.code == "invalid_query"


def test_a_cursor_is_opaque_round_trips_and_refuses_tampering() -> None:
    cursor = encode_cursor(12345)
    assert cursor is not None and "12345" not in cursor
    assert validate(Search, {"cursor": cursor}).cursor == 12345
    assert encode_cursor(None) is None
    forged = [str(12345), "abc", "", "a" * 41, encode_cursor(0), encode_cursor(ID_MAX + 1), cursor + "=", "!!!!",
              cursor[:-1] + ("A" if cursor[-1] != "A" else "B")]
    for bad in forged:
        err = refusal({"cursor": bad}, Search, "invalid_query")
        assert fields(err) == {"cursor": "cursor 无效：请原样使用上一页回答中的 next"}, bad


def test_the_published_schema_is_generated_from_the_models() -> None:
    class Q(Query):
        cursor: Cursor | None = None
        kind: Literal["x", "y"] = "x"

    operation = op("t", responses={200: {"type": "object"}}, body=Sample, query=Q)
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body["additionalProperties"] is False and body["required"] == ["id"]
    assert body["properties"]["id"] == {"type": "integer", "minimum": 1, "maximum": ID_MAX}
    assert body["properties"]["items"]["items"] == {"$ref": "#/components/schemas/Item"}
    assert operation.defs["Item"]["properties"]["amount"] == {"type": "integer", "minimum": 0, "maximum": FEN_MAX}
    params = {p["name"]: p for p in operation["parameters"]}
    assert params["kind"]["schema"]["enum"] == ["x", "y"] and params["kind"]["required"] is False
    assert params["cursor"]["schema"]["type"] == "string"  # not nullable: a query parameter is text or absent
    assert (operation.body, operation.query) == (Sample, Q)


class ByMonth(Paging):
    cursor: Annotated[tuple[Any, ...], Keyset(str, int)] | None = None


class ByDay(Paging):
    cursor: Annotated[tuple[Any, ...], Keyset(date, int)] | None = None


def test_a_composite_cursor_round_trips_and_refuses_the_wrong_shape() -> None:
    cursor = encode_key("2026-03", 17)
    assert "2026" not in cursor
    assert validate(ByMonth, {"cursor": cursor}).cursor == ("2026-03", 17)
    assert validate(ByDay, {"cursor": encode_key(date(2026, 3, 1), 5)}).cursor == (date(2026, 3, 1), 5)
    for bad in (encode_key("2026-03"), encode_key(17, "2026-03"), encode_key("2026-03", True), encode_cursor(17),
                encode_key("2026-03", 17)[:-2] + "AA", "abcd"):
        assert fields(refusal({"cursor": bad}, ByMonth, "invalid_query")) == {
            "cursor": "cursor 无效：请原样使用上一页回答中的 next"}, bad
    assert fields(refusal({"cursor": encode_key("2026-13-45", 5)}, ByDay, "invalid_query"))
    assert fields(refusal({"cursor": encode_key("x" * 201, 5)}, ByMonth, "invalid_query"))


def test_a_page_has_a_next_cursor_only_when_more_was_fetched() -> None:
    assert paged([1, 2, 3], 3, lambda n: n) == ([1, 2, 3], None)
    items, nxt = paged([1, 2, 3], 2, lambda n: n)
    assert items == [1, 2] and nxt == encode_cursor(2)
    items, nxt = paged(["a", "b"], 1, lambda s: (s, 1))
    assert items == ["a"] and nxt == encode_key("a", 1)
    assert paged([], 5, lambda n: n) == ([], None)
