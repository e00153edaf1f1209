"""The one configuration object, read once from ``UNIONAID_*`` variables or a TOML file."""
from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import stat
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from server.wechat_templates import DEFAULT_TEMPLATES, NoticeTemplates, TemplateConfigError

WECHAT_API_BASE = "https://api.weixin.qq.com"
ENV_PREFIX = "UNIONAID_"


class ConfigError(Exception):
    """A bad setting; the message is one line naming it."""


def setting_name(field_name: str) -> str:
    """The environment variable of a :class:`Config` field, e.g. ``card_font`` -> ``UNIONAID_CARD_FONT``."""
    return ENV_PREFIX + field_name.upper()


@dataclass(frozen=True)
class Config:
    """Every setting of the service; see README.md for each."""

    data_dir: Path = Path("var")
    database_url: str = ""
    port: int = 8000
    host: str = "127.0.0.1"
    wechat_appid: str = "wx_sandbox_appid"
    wechat_secret: str = "sandbox-secret"
    wechat_api_base: str = WECHAT_API_BASE
    wechat_timeout: float = 5.0
    redis_url: str = ""
    # Keys: base64 of 32 bytes; empty means "generate once into the data dir".
    pii_key: str = ""
    pii_key_id: str = ""
    blind_index_key: str = ""
    # Signs the staff console's cookies (base64 of 32 bytes); empty: generated once into the data dir.
    cookie_secret: str = ""
    token_ttl: int = 7 * 24 * 3600
    # The staff console (/console/): how long a login lasts at most, and after how many seconds without a
    # page it ends (the session cookie carries the last activity; an older one is revoked at the next request).
    console_session_ttl: int = 12 * 3600
    console_idle_timeout: int = 30 * 60
    # The card's QR code: how long a phone code lives, the clock skew allowed, how long a scan lasts.
    qr_ttl: int = 60
    qr_clock_skew: int = 15
    scan_ttl: int = 300
    # Ed25519 signing key for card codes (base64 of the 32-byte seed) and its id; empty: data dir keys.
    qr_key: str = ""
    qr_key_id: int = 1
    # Ed25519 key signing the audit chain's checkpoints (base64 of the 32-byte seed) and its id; empty:
    # audit_keys.json in the data dir. How often (seconds, at most 300) the serving process checkpoints
    # the chain's head when it moved.
    audit_key: str = ""
    audit_key_id: int = 1
    audit_checkpoint_every: int = 300
    # The TrueType font (.ttf/.ttc) with Chinese glyphs for printed cards; empty: an installed one.
    card_font: str = ""
    # Which build of the mini-program codes and notices open: release, trial or develop.
    wechat_env_version: str = "release"
    # The subscribe-message template of each kind of notice, and which event value fills which
    # keyword ("thing1=title,time2=at"); empty: the sandbox's placeholder (server/wechat_templates.py).
    wechat_template_card: str = ""
    wechat_template_card_fields: str = ""
    wechat_template_redemption: str = ""
    wechat_template_redemption_fields: str = ""
    wechat_template_relief: str = ""
    wechat_template_relief_fields: str = ""
    wechat_template_payment: str = ""
    wechat_template_payment_fields: str = ""
    max_json_bytes: int = 64 * 1024
    max_upload_bytes: int = 10 * 1024 * 1024
    db_pool_size: int = 10
    db_max_overflow: int = 20
    db_pool_recycle: int = 1800
    db_pool_timeout: float = 10.0
    # Threads for CPU-bound work kept off the event loop (exports, imports, card images).
    cpu_workers: int = 4
    behind_https: bool = False
    # Take the client address from X-Real-Ip/X-Forwarded-For (only behind a proxy that sets them).
    trust_proxy: bool = False
    log_level: str = "INFO"
    # The attachment store (relief proofs, home-visit photos): its directory (empty: "attachments" in
    # the data dir) and the largest file accepted, checked before reading it and again after re-encoding.
    attachments_dir: str = ""
    max_attachment_bytes: int = 10 * 1024 * 1024
    # The most proof files one relief application may carry (each proof type also has its own max_files).
    relief_max_attachments: int = 30
    # The public notice: days a batch stays on the public page after its period ends; working days
    # staff have to resolve an objection (DOMAIN.md: 20) before it shows as overdue.
    relief_notice_visible_days: int = 30
    relief_objection_days: int = 20
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def effective_database_url(self) -> str:
        """The database URL; the embedded SQLite file in the data dir when none is set."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'unionaid.sqlite3').resolve()}"

    def notice_templates(self) -> NoticeTemplates:
        """The subscribe-message templates of the four kinds of notice, as configured."""
        ids = {c: getattr(self, f"wechat_template_{c}") for c in DEFAULT_TEMPLATES}
        maps = {c: getattr(self, f"wechat_template_{c}_fields") for c in DEFAULT_TEMPLATES}
        return NoticeTemplates.from_settings(ids, maps)

    @property
    def talks_to_wechat(self) -> bool:
        """Whether the service is pointed at WeChat itself (any ``*.weixin.qq.com``, e.g. a regional or
        standby domain) rather than a sandbox."""
        host = (urlsplit(self.wechat_api_base).hostname or "").lower().rstrip(".")
        return host == "weixin.qq.com" or host.endswith(".weixin.qq.com")

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is SQLite (set or the embedded default)."""
        return self.effective_database_url.startswith("sqlite")


def _coerce(name: str, kind: Any, raw: Any) -> Any:
    """Turn a raw TOML or environment value into the field's type, or raise ConfigError."""
    setting = ENV_PREFIX + name.upper()
    if kind in (int, "int"):
        if isinstance(raw, bool):
            raise ConfigError(f"{setting}: expected an integer, got {raw!r}")
        try:
            return int(str(raw).strip())
        except ValueError:
            raise ConfigError(f"{setting}: expected an integer, got {raw!r}") from None
    if kind in (float, "float"):
        try:
            return float(str(raw).strip())
        except ValueError:
            raise ConfigError(f"{setting}: expected a number, got {raw!r}") from None
    if kind in (bool, "bool"):
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{setting}: expected true or false, got {raw!r}")
    if kind in (Path, "Path"):
        return Path(str(raw))
    if not isinstance(raw, str):
        raise ConfigError(f"{setting}: expected a string, got {raw!r}")
    return raw.strip()


def _is_key(text: str) -> bool:
    try:
        return len(base64.b64decode(text, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


#: The database drivers the service runs on: aiomysql (the default for MySQL/MariaDB), asyncmy (the same
#: protocol with its parsing compiled, from the ``fast`` extra: a fifth less CPU a counter request, see
#: docs/operations.md) and aiosqlite (the embedded file).
DATABASE_SCHEMES = ("mysql+aiomysql://", "mysql+asyncmy://", "sqlite+aiosqlite://")


def _validate(cfg: Config) -> None:
    def bad(name: str, why: str) -> ConfigError:
        return ConfigError(f"{ENV_PREFIX}{name.upper()}: {why}")

    if not 1 <= cfg.port <= 65535:
        raise bad("port", f"must be between 1 and 65535, got {cfg.port}")
    url = cfg.effective_database_url
    if not url.startswith(DATABASE_SCHEMES):
        raise bad("database_url", f"must start with {', '.join(DATABASE_SCHEMES[:-1])} or {DATABASE_SCHEMES[-1]}")
    base = urlsplit(cfg.wechat_api_base)
    if base.scheme not in ("http", "https") or not base.netloc:
        raise bad("wechat_api_base", f"must be an http(s) URL, got {cfg.wechat_api_base!r}")
    if cfg.redis_url and urlsplit(cfg.redis_url).scheme not in ("redis", "rediss", "unix"):
        raise bad("redis_url", "must start with redis:// or rediss://")
    if cfg.wechat_timeout <= 0 or cfg.wechat_timeout > 60:
        raise bad("wechat_timeout", "must be between 0 and 60 seconds")
    if cfg.token_ttl < 60:
        raise bad("token_ttl", "must be at least 60 seconds")
    if not 300 <= cfg.console_session_ttl <= 7 * 24 * 3600:
        raise bad("console_session_ttl", "must be between 300 seconds and 7 days")
    if not 60 <= cfg.console_idle_timeout <= cfg.console_session_ttl:
        raise bad("console_idle_timeout", "must be at least 60 seconds and at most console_session_ttl")
    if not 10 <= cfg.qr_ttl <= 600:
        raise bad("qr_ttl", "must be between 10 and 600 seconds")
    if not 0 <= cfg.qr_clock_skew <= 120:
        raise bad("qr_clock_skew", "must be between 0 and 120 seconds")
    if not 30 <= cfg.scan_ttl <= 1800:
        raise bad("scan_ttl", "must be between 30 and 1800 seconds")
    if not 1 <= cfg.qr_key_id <= 255:
        raise bad("qr_key_id", "must be between 1 and 255")
    if not 1 <= cfg.audit_key_id <= 255:
        raise bad("audit_key_id", "must be between 1 and 255")
    if cfg.audit_key and not _is_key(cfg.audit_key):
        raise bad("audit_key", "must be base64 of a 32-byte Ed25519 seed")
    if not 1 <= cfg.audit_checkpoint_every <= 300:
        raise bad("audit_checkpoint_every", "must be between 1 and 300 seconds")
    if cfg.cookie_secret and not _is_key(cfg.cookie_secret):
        raise bad("cookie_secret", "must be base64 of 32 bytes")
    if cfg.qr_key and not _is_key(cfg.qr_key):
        raise bad("qr_key", "must be base64 of a 32-byte Ed25519 seed")
    for name in ("max_json_bytes", "max_upload_bytes", "db_pool_size", "db_pool_recycle", "cpu_workers"):
        if getattr(cfg, name) <= 0:
            raise bad(name, "must be positive")
    if cfg.db_max_overflow < 0:
        raise bad("db_max_overflow", "must not be negative")
    if not 1 <= cfg.relief_max_attachments <= 500:
        raise bad("relief_max_attachments", "must be between 1 and 500")
    if not 0 <= cfg.relief_notice_visible_days <= 3650:
        raise bad("relief_notice_visible_days", "must be between 0 and 3650")
    if not 1 <= cfg.relief_objection_days <= 365:
        raise bad("relief_objection_days", "must be between 1 and 365")
    if cfg.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise bad("log_level", "must be DEBUG, INFO, WARNING or ERROR")
    if cfg.wechat_env_version not in ("release", "trial", "develop"):
        raise bad("wechat_env_version", "must be release, trial or develop")
    for category in DEFAULT_TEMPLATES:
        try:
            NoticeTemplates.from_settings({}, {category: getattr(cfg, f"wechat_template_{category}_fields")})
        except TemplateConfigError as exc:
            raise bad(f"wechat_template_{category}_fields", str(exc)) from None
    if (cfg.wechat_appid == "" or cfg.wechat_secret == ""):
        raise bad("wechat_appid" if not cfg.wechat_appid else "wechat_secret", "must not be empty")


def check_wechat_ready(cfg: Config) -> None:
    """Refuse to talk to WeChat itself with the sandbox's credentials or placeholder template ids."""
    if not cfg.talks_to_wechat:
        return
    if cfg.wechat_appid == "wx_sandbox_appid" or cfg.wechat_secret == "sandbox-secret":
        raise ConfigError(f"{ENV_PREFIX}WECHAT_APPID/{ENV_PREFIX}WECHAT_SECRET: set the mini-program's own "
                          "AppID and AppSecret to use the WeChat API (or point UNIONAID_WECHAT_API_BASE at the sandbox)")
    for category, template in cfg.notice_templates().templates.items():
        if template.placeholder:
            raise ConfigError(f"{setting_name('wechat_template_' + category)}: set the subscribe-message template id "
                              f"chosen in the mini-program's admin panel; {template.id!r} is the sandbox's placeholder")


def load_config(
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Config:
    """Read the TOML file (if any), then ``UNIONAID_*`` variables, then overrides; validate."""
    env = os.environ if env is None else env
    known = {f.name: f for f in fields(Config) if f.name != "extra"}
    values: dict[str, Any] = {}
    if path is None and env.get(ENV_PREFIX + "CONFIG"):
        path = env[ENV_PREFIX + "CONFIG"]
    if path is not None:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"--config: no such file: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"--config: {path} is not valid TOML ({exc})") from None
        for key, raw in data.items():
            if key not in known:
                raise ConfigError(f"{ENV_PREFIX}{key.upper()}: unknown setting in {path}")
            values[key] = _coerce(key, known[key].type, raw)
    for name, f in known.items():
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is not None:
            values[name] = _coerce(name, f.type, raw)
    for name, raw in overrides.items():
        if name not in known:
            raise TypeError(f"unknown setting {name}")
        if raw is not None:
            values[name] = _coerce(name, known[name].type, raw) if isinstance(raw, str) else raw
    if "wechat_api_base" in values:
        values["wechat_api_base"] = str(values["wechat_api_base"]).rstrip("/")
    cfg = Config(**values)
    _validate(cfg)
    return cfg


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and any missing parents) with mode 0700; an existing directory is left as it is."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def secure_data_dir(data_dir: Path) -> list[str]:
    """Create the data dir 0700, or tighten one we own: the dir to 0700, the files in it to owner-only.

    It holds personal data and every key, so nobody else reads it. Only group and
    other bits are taken away, only from the dir and the files directly in it that
    this user owns. Returns what was tightened ("<path> 0755 -> 0700"), for the log.
    """
    make_private_dir(data_dir)
    tightened: list[str] = []
    uid = os.geteuid()
    for path in (data_dir, *sorted(data_dir.iterdir())):
        try:
            info = path.lstat()
        except FileNotFoundError:  # gone meanwhile (an SQLite -wal or -shm file)
            continue
        if info.st_uid != uid or not (stat.S_ISDIR(info.st_mode) if path == data_dir else stat.S_ISREG(info.st_mode)):
            continue
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            os.chmod(path, mode & ~0o077)
            tightened.append(f"{path} {mode:04o} -> {mode & ~0o077:04o}")
    return tightened


def replace(cfg: Config, **changes: Any) -> Config:
    """A copy of the config with some settings changed, validated again."""
    new = dataclasses.replace(cfg, **changes)
    _validate(new)
    return new
