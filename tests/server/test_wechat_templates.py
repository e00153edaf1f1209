"""The four notice templates: keyword maps checked at start, and every value shaped so WeChat takes it."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.config import ConfigError, load_config
from server.wechat_templates import (
    DEFAULT_TEMPLATES,
    KEYWORD_TYPES,
    NoticeTemplates,
    TemplateConfigError,
    fits,
    keyword_type,
    parse_fields,
    shape,
)

AT = datetime(2026, 12, 31, 16, 30, tzinfo=timezone.utc)  # 00:30 on 1 January in Beijing


@pytest.mark.parametrize(("keyword", "kind"), [("thing1", "thing"), ("character_string12", "character_string"),
                                               ("phrase3", "phrase"), ("amount10", "amount"), ("time4", "time")])
def test_a_keywords_type_is_its_name_without_the_number(keyword, kind):
    assert keyword_type(keyword) == kind


@pytest.mark.parametrize("keyword", ["thing", "colour1", "1thing", "thing123", "THING1", ""])
def test_what_is_not_a_keyword_is_refused(keyword):
    with pytest.raises(TemplateConfigError):
        keyword_type(keyword)


@pytest.mark.parametrize(("category", "text", "why"), [
    ("card", "", "empty"), ("card", "thing1", "keyword=value"), ("card", "thing1=merchant", "not a value"),
    ("card", "thing1=title,thing1=body", "twice"), ("redemption", "colour1=title", "not a WeChat"),
    ("relief", "thing1=amount", "not a value")])
def test_a_keyword_map_that_cannot_work_is_refused(category, text, why):
    with pytest.raises(TemplateConfigError, match=why):
        parse_fields(category, text)


def test_a_bad_map_stops_the_service_at_start_naming_the_setting(tmp_path):
    with pytest.raises(ConfigError, match="UNIONAID_WECHAT_TEMPLATE_PAYMENT_FIELDS"):
        load_config(env={"UNIONAID_WECHAT_TEMPLATE_PAYMENT_FIELDS": "thing1=merchant"}, data_dir=tmp_path)


def test_a_deployment_maps_its_own_templates(tmp_path):
    config = load_config(env={"UNIONAID_WECHAT_TEMPLATE_CARD": "tmpl-abc",
                              "UNIONAID_WECHAT_TEMPLATE_CARD_FIELDS": "phrase3=status, character_string1=card_no"},
                         data_dir=tmp_path)
    templates = config.notice_templates()
    assert templates.template_id("card") == "tmpl-abc"
    assert templates.ids()["relief"] == DEFAULT_TEMPLATES["relief"][0]  # the others keep their defaults
    data = templates.render("card", {"title": "t", "body": "b", "status": "服务卡已冻结", "card_no": "****1234"}, AT)
    assert data == {"phrase3": {"value": "服务卡已冻"}, "character_string1": {"value": "****1234"}}


def test_each_default_template_renders_values_wechat_takes():
    templates = NoticeTemplates.from_settings({}, {})
    values = {"title": "服务卡已冻结，请联系所在单位工会核实情况", "body": "", "status": "Frozen!", "card_no": "****1234",
              "merchant": "x" * 40, "amount": 10**11, "discount": 0, "kind": "医疗救助", "step": "县级审核通过"}
    for category in DEFAULT_TEMPLATES:
        data = templates.render(category, values, AT)
        for keyword, item in data.items():
            assert fits(keyword_type(keyword), item["value"]), (category, keyword, item)
    assert templates.render("payment", {"amount": 123456}, AT)["amount2"] == {"value": "1234.56元"}
    assert templates.render("payment", {}, AT)["time3"] == {"value": "2027-01-01 00:30"}


def test_money_is_yuan_without_a_sign_and_text_is_never_a_sum():
    assert shape("amount", -250) == "2.50元" and fits("amount", shape("amount", -250))
    templates = NoticeTemplates.from_settings({}, {})
    assert templates.render("redemption", {"amount": "12"}, AT)["amount2"] == {"value": "0.00元"}


@given(kind=st.sampled_from([k for k in KEYWORD_TYPES if k not in ("amount", "time", "date")]),
       value=st.text(max_size=60))
def test_any_text_is_shaped_to_fit_its_keyword(kind, value):
    shaped = shape(kind, value)
    if kind in ("letter", "number", "symbol", "phone_number", "car_number", "character_string"):
        # These keep what they were given (cut to length): a template maps only fitting values to them.
        assert len(shaped) <= 32
    else:
        assert fits(kind, shaped), (kind, value, shaped)


@given(fen=st.integers(min_value=-10**12, max_value=10**12))
def test_any_amount_in_fen_fits(fen):
    shaped = shape("amount", fen)
    assert fits("amount", shaped) or len(str(abs(fen) // 100)) > 10, shaped


@given(moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2200, 1, 1),
                           timezones=st.just(timezone.utc)))
def test_any_moment_fits_time_and_date(moment):
    assert fits("time", shape("time", moment)) and fits("date", shape("date", moment))
