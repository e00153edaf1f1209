"""WeChat's documented answers, one row per situation, and what the gateway makes of each.

The sandbox test drives the sandbox into each row's situation and checks WeChat's errcode
(tests/server/test_wechat_sandbox.py); the gateway test injects each errcode at the row's
endpoint and checks the AppError the gateway raises, or the verdict the content check gives
(tests/server/test_wechat_gateway.py). ``errmsg`` is WeChat's own text (its English errmsg,
or the documentation's description); ``source`` is the page of WeChat's documentation the row
comes from, and a comment above a row quotes that page where the rule is not in the errmsg.
"""
from __future__ import annotations

from dataclasses import dataclass

# The pages the rows come from.
ERRCODES = "https://developers.weixin.qq.com/doc/oplatform/developers/errCode/errCode.html"
STABLE_TOKEN = "https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-access-token/getStableAccessToken.html"
ACCESS_TOKEN = "https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-access-token/getAccessToken.html"
CODE2SESSION = "https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/user-login/code2Session.html"
PHONE = "https://developers.weixin.qq.com/minigame/dev/api-backend/open-api/phonenumber/phonenumber.getPhoneNumber.html"
SEND = "https://developers.weixin.qq.com/minigame/dev/api-backend/open-api/subscribe-message/subscribeMessage.send.html"
WXACODE = "https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/qrcode-link/qr-code/getUnlimitedQRCode.html"
SEC_CHECK = "https://developers.weixin.qq.com/miniprogram/dev/api-backend/open-api/sec-check/security.msgSecCheck.html"


@dataclass(frozen=True)
class Raises:
    """The gateway raises this AppError: its code, HTTP status, and whether it is final (no Retry-After)."""

    code: str
    status: int
    final: bool


@dataclass(frozen=True)
class Unchecked:
    """The content check answers ``unchecked`` with this reason (it never raises)."""

    reason: str


@dataclass(frozen=True)
class Answer:
    """One documented answer: the endpoint (as the sandbox names it), the situation, WeChat's errcode and errmsg."""

    endpoint: str
    situation: str
    errcode: int
    errmsg: str
    gateway: Raises | Unchecked | None  # None: the gateway never calls this endpoint
    source: str  # the documentation page it comes from

    @property
    def id(self) -> str:
        """A test id: endpoint, situation and errcode."""
        return f"{self.endpoint}-{self.situation}-{self.errcode}"


_RETRY = False
_FINAL = True
_TOKEN_REFUSED = Raises("wechat_token_invalid", 502, _RETRY)  # after the one refresh and retry

DOCUMENTED: tuple[Answer, ...] = (
    # -- cgi-bin/stable_token: the service's access token (also in ERRCODES) ----------------
    Answer("stable_token", "appid_missing", 41002, "appid missing",
           Raises("wechat_error", 502, _RETRY), STABLE_TOKEN),
    Answer("stable_token", "secret_missing", 41004, "appsecret missing",
           Raises("wechat_error", 502, _RETRY), STABLE_TOKEN),
    Answer("stable_token", "grant_type_wrong", 40002, "invalid grant_type",
           Raises("wechat_error", 502, _RETRY), STABLE_TOKEN),
    Answer("stable_token", "appid_wrong", 40013, "invalid appid",
           Raises("wechat_error", 502, _RETRY), STABLE_TOKEN),
    Answer("stable_token", "secret_wrong", 40125, "invalid appsecret",
           Raises("wechat_error", 502, _RETRY), STABLE_TOKEN),
    # "该接口仅支持 POST JSON 形式的调用"
    Answer("stable_token", "get_not_post_json", 43002, "require POST method",
           Raises("wechat_error", 502, _RETRY), STABLE_TOKEN),
    # "建议开发者仅在 access_token 泄漏时使用强制刷新模式，该模式限制每天20次"
    Answer("stable_token", "force_refresh_21st_today", 45009, "reach max api daily quota limit",
           Raises("wechat_daily_limit", 502, _RETRY), STABLE_TOKEN),
    # -- cgi-bin/token: other users of the AppID (the service never calls it) ----------------
    Answer("token", "secret_wrong", 40125, "invalid appsecret", None, ACCESS_TOKEN),
    # -- the access token on any API (here getuserphonenumber) -------------------------------
    Answer("getuserphonenumber", "token_missing", 41001, "access_token missing",
           Raises("wechat_error", 502, _RETRY), ERRCODES),
    Answer("getuserphonenumber", "token_expired", 42001, "access_token expired",
           _TOKEN_REFUSED, ERRCODES),
    # "在刷新过程中……公众平台后台会保证在5分钟内，新老 access_token 都可用"
    Answer("getuserphonenumber", "token_replaced_after_5_minutes", 40001,
           "invalid credential, access_token is invalid or not latest", _TOKEN_REFUSED, ACCESS_TOKEN),
    # "强制刷新模式，会导致上次获取的 access_token 失效，并返回新的 access_token"
    Answer("getuserphonenumber", "stable_token_force_refreshed", 40001,
           "invalid credential, access_token is invalid or not latest", _TOKEN_REFUSED, STABLE_TOKEN),
    # -- wxa/business/getuserphonenumber: "每个 code 只能使用一次" -------------------------------
    Answer("getuserphonenumber", "code_used", 40029, "invalid code",
           Raises("wechat_code_invalid", 400, _FINAL), PHONE),
    # -- sns/jscode2session ---------------------------------------------------------------------
    Answer("jscode2session", "code_invalid", 40029, "invalid code",
           Raises("wechat_code_invalid", 400, _FINAL), CODE2SESSION),
    Answer("jscode2session", "code_used", 40163, "code been used",
           Raises("wechat_code_used", 400, _FINAL), ERRCODES),
    # "高风险等级用户，小程序登录拦截"
    Answer("jscode2session", "user_blocked", 40226, "code blocked",
           Raises("wechat_login_blocked", 403, _FINAL), CODE2SESSION),
    Answer("jscode2session", "rate_limited", 45011, "api minute-quota reach limit  mustslower  retry next minute",
           Raises("wechat_rate_limited", 502, _RETRY), CODE2SESSION),
    Answer("jscode2session", "busy", -1, "system error",
           Raises("wechat_busy", 502, _RETRY), CODE2SESSION),
    # -- cgi-bin/message/subscribe/send ---------------------------------------------------------
    Answer("subscribe_send", "openid_never_issued", 40003, "touser字段openid为空或者不正确",
           Raises("wechat_openid_invalid", 502, _FINAL), SEND),
    Answer("subscribe_send", "template_unknown", 40037, "订阅模板id为空不正确",
           Raises("wechat_template_invalid", 502, _FINAL), SEND),
    # the value rules: "thing.DATA 事物 20个以内字符"
    Answer("subscribe_send", "thing_over_20_characters", 47003,
           "模板参数不准确，可能为空或者不满足规则，errmsg会提示具体是哪个字段出错",
           Raises("wechat_field_invalid", 502, _FINAL), SEND),
    Answer("subscribe_send", "keyword_missing", 47003,
           "模板参数不准确，可能为空或者不满足规则，errmsg会提示具体是哪个字段出错",
           Raises("wechat_field_invalid", 502, _FINAL), SEND),
    Answer("subscribe_send", "page_not_released", 41030,
           "page路径不正确，需要保证在现网版本小程序中存在，与app.json保持一致",
           Raises("wechat_page_invalid", 502, _FINAL), SEND),
    Answer("subscribe_send", "not_accepted", 43101,
           "用户拒绝接受消息，如果用户之前曾经订阅过，则表示用户取消了订阅关系",
           Raises("wechat_not_subscribed", 400, _FINAL), SEND),
    # a one-time acceptance allows one message ("一次性订阅")
    Answer("subscribe_send", "grant_spent", 43101,
           "用户拒绝接受消息，如果用户之前曾经订阅过，则表示用户取消了订阅关系",
           Raises("wechat_not_subscribed", 400, _FINAL), SEND),
    # -- wxa/getwxacodeunlimit: "page 根路径前不要填加 /，不能携带参数"; check_path defaults to true --
    Answer("getwxacodeunlimit", "page_not_released", 41030, "所传page页面不存在，或者小程序没有发布",
           Raises("wechat_page_invalid", 502, _FINAL), WXACODE),
    Answer("getwxacodeunlimit", "page_leading_slash", 41030, "所传page页面不存在，或者小程序没有发布",
           Raises("wechat_page_invalid", 502, _FINAL), WXACODE),
    Answer("getwxacodeunlimit", "page_with_query", 41030, "所传page页面不存在，或者小程序没有发布",
           Raises("wechat_page_invalid", 502, _FINAL), WXACODE),
    # env_version: "正式版为 release，体验版为 trial，开发版为 develop"; 40097 is the general "invalid args"
    Answer("getwxacodeunlimit", "env_version_unknown", 40097, "invalid args",
           Raises("wechat_args_invalid", 502, _FINAL), WXACODE),
    # scene: "最大32个可见字符"
    Answer("getwxacodeunlimit", "scene_over_32_characters", 40169,
           "invalid length for scene, or the data is not json string",
           Raises("wechat_args_invalid", 502, _FINAL), WXACODE),
    # -- wxa/msg_sec_check, version 2: "openid 用户的openid（用户需在近两小时访问过小程序）" ---------
    Answer("msg_sec_check", "scene_unknown", 40129, "场景值错误（目前支持场景 1 资料；2 评论；3 论坛；4 社交日志）",
           Unchecked("wechat_scene_invalid"), SEC_CHECK),
    Answer("msg_sec_check", "openid_never_issued", 40003, "openid无效",
           Unchecked("wechat_openid_invalid"), SEC_CHECK),
    Answer("msg_sec_check", "user_not_seen_for_2_hours", 61010, "用户访问记录超时（用户未在近两小时访问小程序）",
           Unchecked("wechat_user_inactive"), SEC_CHECK),
    Answer("msg_sec_check", "content_empty", 44002, "传递的参数为空",
           Unchecked("wechat_error"), SEC_CHECK),
    Answer("msg_sec_check", "busy", -1, "系统繁忙，此时请开发者稍候再试",
           Unchecked("wechat_busy"), SEC_CHECK),
)
