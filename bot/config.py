"""config.toml plus the environment. A wrong value is reported as one line naming its key."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from handlers.schedule import ReminderRule
from handlers.settings import Settings
from models.routing import RoutePolicy

# What a Zalo ZNS template can be filled with (handlers.reminders.template_fields).
TEMPLATE_FIELDS = frozenset(
    {"member_name", "unit_name", "month", "meeting_date", "meeting_time", "meeting_place"}
)
# The kinds of message the bot sends on its own, which a ZNS template may stand in for.
TEMPLATE_KINDS = frozenset({"reminder", "digest", "notice"})

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config.toml"


class ConfigError(Exception):
    """A configuration problem, worded for the person running the bot."""


@dataclass(frozen=True)
class TelegramConfig:
    token: str | None
    mode: str = "polling"
    base_url: str = "https://api.telegram.org/bot"
    username: str = ""
    webhook_url: str = ""
    webhook_secret: str | None = None
    poll_timeout: int = 30
    rate_per_second: float = 29.5
    per_chat_interval: float = 1.0


@dataclass(frozen=True)
class ZaloBotConfig:
    token: str | None
    mode: str = "polling"
    base_url: str = "https://bot-api.zaloplatforms.com"
    webhook_url: str = ""
    webhook_secret: str | None = None
    poll_timeout: int = 30
    per_chat_interval: float = 1.0
    # The plan's limits (free plan: 50 users per bot, 3,000 messages a month).
    max_users: int = 50
    monthly_messages: int = 3000
    warn_at: float = 0.8  # warn the admins when this share of a limit is used


@dataclass(frozen=True)
class ZaloTemplate:
    """A ZNS template standing in for one kind of message outside the OA's window."""

    id: str
    data: dict[str, str]  # template parameter -> our field (TEMPLATE_FIELDS)


@dataclass(frozen=True)
class ZaloOAConfig:
    app_id: str = ""
    app_secret: str | None = None  # ZALO_OA_APP_SECRET: refreshing the tokens
    oa_secret_key: str | None = None  # ZALO_OA_SECRET_KEY: checking webhook signatures
    refresh_token: str | None = None  # ZALO_OA_REFRESH_TOKEN: only the first start
    oauth_url: str = "https://oauth.zaloapp.com"
    api_url: str = "https://openapi.zalo.me"
    business_url: str = "https://business.openapi.zalo.me"
    window_days: int = 7
    ack_seconds: float = 1.5
    max_buttons: int = 5
    button_title_chars: int = 100
    per_chat_interval: float = 1.0
    refresh_margin_hours: float = 2.0
    templates: dict[str, ZaloTemplate] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return bool(self.app_id)


@dataclass(frozen=True)
class Config:
    path: Path
    database_url: str
    telegram: TelegramConfig
    zalo_bot: ZaloBotConfig = field(default_factory=lambda: ZaloBotConfig(token=None))
    zalo_oa: ZaloOAConfig = field(default_factory=ZaloOAConfig)
    host: str = "127.0.0.1"
    port: int = 8080
    log_level: str = "INFO"
    settings: Settings = field(default_factory=Settings)
    lease_seconds: float = 15.0  # see bot/leader.py


class _Reader:
    """Typed access to the TOML tables, naming the key in every error."""

    def __init__(self, data: dict[str, Any], path: Path) -> None:
        self.data, self.path = data, path

    def get(self, table: str, key: str, kind: type, default: Any) -> Any:
        section = self.data.get(table, {})
        if not isinstance(section, dict):
            raise ConfigError(f"{self.path.name}: [{table}] phải là một bảng (table)")
        value = section.get(key, default)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(
                f"{self.path.name}: [{table}] {key} phải là {_KIND[kind]} (đang là {value!r})"
            )
        return value

    def positive(self, table: str, key: str, default: int) -> int:
        value: int = self.get(table, key, int, default)
        if value <= 0:
            raise ConfigError(f"{self.path.name}: [{table}] {key} phải lớn hơn 0 (đang là {value})")
        return value


_KIND = {str: "chuỗi", int: "số nguyên", float: "số", bool: "true/false"}


def load(path: str | Path | None = None, env: dict[str, str] | None = None) -> Config:
    env = dict(os.environ if env is None else env)
    chosen = Path(path or env.get("LAMTHEO_CONFIG") or DEFAULT_CONFIG)
    try:
        data = tomllib.loads(chosen.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"không tìm thấy tệp cấu hình {chosen}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{chosen.name}: lỗi cú pháp TOML: {e}") from None
    r = _Reader(data, chosen)

    url = env.get("LAMTHEO_DATABASE_URL", "").strip()
    if not url:
        sqlite_path = Path(r.get("database", "sqlite_path", str, "data/lamtheo.db"))
        if not sqlite_path.is_absolute():
            sqlite_path = chosen.resolve().parent / sqlite_path
        url = f"sqlite+aiosqlite:///{sqlite_path}"
    elif not url.startswith(("sqlite+aiosqlite:", "postgresql+asyncpg:")):
        raise ConfigError(
            "LAMTHEO_DATABASE_URL phải bắt đầu bằng postgresql+asyncpg:// hoặc sqlite+aiosqlite://"
        )

    mode = _mode(r, "telegram")
    webhook_url = r.get("telegram", "webhook_url", str, "")
    token = env.get("TELEGRAM_BOT_TOKEN", "").strip() or None
    secret = env.get("TELEGRAM_WEBHOOK_SECRET", "").strip() or None
    if token and mode == "webhook":
        if not webhook_url:
            raise ConfigError(f'{chosen.name}: [telegram] webhook_url cần có khi mode = "webhook"')
        if not secret or len(secret) < 8:
            raise ConfigError(
                'TELEGRAM_WEBHOOK_SECRET cần có (ít nhất 8 ký tự) khi mode = "webhook"'
            )
    telegram = TelegramConfig(
        token=token,
        mode=mode,
        base_url=r.get("telegram", "base_url", str, "https://api.telegram.org/bot"),
        username=r.get("telegram", "username", str, "").lstrip("@"),
        webhook_url=webhook_url,
        webhook_secret=secret,
        poll_timeout=r.positive("telegram", "poll_timeout", 30),
        rate_per_second=r.get("telegram", "rate_per_second", float, 29.5),
        per_chat_interval=r.get("telegram", "per_chat_interval", float, 1.0),
    )

    timezone = r.get("org", "timezone", str, "Asia/Ho_Chi_Minh")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{chosen.name}: [org] timezone không có: {timezone!r}") from None
    month = r.get("pledge", "next_year_from_month", int, 12)
    if not 1 <= month <= 13:
        raise ConfigError(
            f"{chosen.name}: [pledge] next_year_from_month phải từ 1 đến 13 (13: không bao giờ)"
        )
    reminders = _reminders(data, chosen)
    zalo_bot = _zalo_bot(r, env)
    zalo_oa = _zalo_oa(r, data, env)
    routes = RoutePolicy()
    if zalo_oa.enabled:
        routes = RoutePolicy(
            windows={"zalo_oa": timedelta(days=zalo_oa.window_days)},
            outside_window={"zalo_oa": frozenset(zalo_oa.templates)},
        )
    settings = Settings(
        timezone=timezone,
        invite_days=r.positive("invites", "valid_days", 30),
        lockout_attempts=r.positive("security", "lockout_attempts", 5),
        lockout_window_minutes=r.positive("security", "lockout_window_minutes", 10),
        lockout_minutes=r.positive("security", "lockout_minutes", 30),
        max_item_chars=r.positive("limits", "max_item_chars", 500),
        max_field_chars=r.positive("limits", "max_field_chars", 1000),
        flood_burst=_at_least_zero(r, "limits", "flood_burst", 10),
        flood_per_second=_above_zero(r, "limits", "flood_per_second", 1.0),
        next_year_from_month=month,
        reminders=reminders,
        routes=routes,
        link_minutes=r.positive("invites", "link_minutes", 15),
        export_template=_export_template(r, chosen),
        export_place=r.get("export", "place", str, ""),
        broadcast_progress_seconds=r.get("broadcast", "progress_seconds", float, 3.0),
    )
    level = r.get("logging", "level", str, "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"{chosen.name}: [logging] level phải là DEBUG, INFO, WARNING hoặc ERROR")
    return Config(
        path=chosen,
        database_url=url,
        telegram=telegram,
        zalo_bot=zalo_bot,
        zalo_oa=zalo_oa,
        host=r.get("server", "host", str, "127.0.0.1"),
        port=r.get("server", "port", int, 8080),
        log_level=level,
        settings=settings,
        lease_seconds=_lease_seconds(r),
    )


def _lease_seconds(r: _Reader) -> float:
    seconds: float = r.get("process", "lease_seconds", float, 15.0)
    if not 1 <= seconds <= 600:
        raise ConfigError(f"{r.path.name}: [process] lease_seconds phải từ 1 đến 600")
    return seconds


def _at_least_zero(r: _Reader, table: str, key: str, default: int) -> int:
    value: int = r.get(table, key, int, default)
    if value < 0:
        raise ConfigError(f"{r.path.name}: [{table}] {key} không được âm (đang là {value})")
    return value


def _above_zero(r: _Reader, table: str, key: str, default: float) -> float:
    value: float = r.get(table, key, float, default)
    if value <= 0:
        raise ConfigError(f"{r.path.name}: [{table}] {key} phải lớn hơn 0 (đang là {value})")
    return value


def _export_template(r: _Reader, chosen: Path) -> Path | None:
    """The province's own DOCX pledge form, relative to config.toml; empty: the built-in one."""
    name: str = r.get("export", "template", str, "")
    if not name:
        return None
    path = (chosen.parent / name).resolve()
    if not path.is_file():
        raise ConfigError(f"{chosen.name}: [export] template không có tệp {path}")
    return path


def _mode(r: _Reader, table: str) -> str:
    mode: str = r.get(table, "mode", str, "polling")
    if mode not in ("polling", "webhook"):
        raise ConfigError(
            f'{r.path.name}: [{table}] mode phải là "polling" hoặc "webhook" (đang là {mode!r})'
        )
    return mode


def _zalo_bot(r: _Reader, env: dict[str, str]) -> ZaloBotConfig:
    t = "zalo_bot"
    token = env.get("ZALO_BOT_TOKEN", "").strip() or None
    secret = env.get("ZALO_BOT_WEBHOOK_SECRET", "").strip() or None
    mode, webhook_url = _mode(r, t), r.get(t, "webhook_url", str, "")
    if token and mode == "webhook":
        if not webhook_url:
            raise ConfigError(f'{r.path.name}: [{t}] webhook_url cần có khi mode = "webhook"')
        if not secret or not 8 <= len(secret) <= 256:
            raise ConfigError(
                'ZALO_BOT_WEBHOOK_SECRET cần có (8 đến 256 ký tự) khi [zalo_bot] mode = "webhook"'
            )
    warn_at = r.get(t, "warn_at", float, 0.8)
    if not 0 < warn_at <= 1:
        raise ConfigError(f"{r.path.name}: [{t}] warn_at phải trong khoảng (0, 1]")
    return ZaloBotConfig(
        token=token,
        mode=mode,
        base_url=r.get(t, "base_url", str, "https://bot-api.zaloplatforms.com"),
        webhook_url=webhook_url,
        webhook_secret=secret,
        poll_timeout=r.positive(t, "poll_timeout", 30),
        per_chat_interval=r.get(t, "per_chat_interval", float, 1.0),
        max_users=r.positive(t, "max_users", 50),
        monthly_messages=r.positive(t, "monthly_messages", 3000),
        warn_at=warn_at,
    )


def _zalo_oa(r: _Reader, data: dict[str, Any], env: dict[str, str]) -> ZaloOAConfig:
    t = "zalo_oa"
    app_id = r.get(t, "app_id", str, "").strip()
    secrets = {
        name: env.get(name, "").strip() or None
        for name in ("ZALO_OA_APP_SECRET", "ZALO_OA_SECRET_KEY", "ZALO_OA_REFRESH_TOKEN")
    }
    if app_id:
        for name in ("ZALO_OA_APP_SECRET", "ZALO_OA_SECRET_KEY"):
            if not secrets[name]:
                raise ConfigError(f"{name} cần có khi [zalo_oa] app_id được đặt")
    templates: dict[str, ZaloTemplate] = {}
    raw = data.get(t, {}).get("templates", {})
    if not isinstance(raw, dict):
        raise ConfigError(f"{r.path.name}: [{t}.templates] phải là một bảng (table)")
    for kind, spec in raw.items():
        where = f"{r.path.name}: [{t}.templates.{kind}]"
        if kind not in TEMPLATE_KINDS:
            raise ConfigError(f"{where}: loại tin phải là {', '.join(sorted(TEMPLATE_KINDS))}")
        if not isinstance(spec, dict) or not isinstance(spec.get("id"), str | int):
            raise ConfigError(f"{where}: cần id (mã mẫu ZNS)")
        mapping = spec.get("data", {})
        if not isinstance(mapping, dict) or not all(
            isinstance(v, str) and v in TEMPLATE_FIELDS for v in mapping.values()
        ):
            raise ConfigError(
                f"{where}: data ánh xạ tham số mẫu sang một trong "
                f"{', '.join(sorted(TEMPLATE_FIELDS))}"
            )
        templates[kind] = ZaloTemplate(str(spec["id"]), {str(k): v for k, v in mapping.items()})
    return ZaloOAConfig(
        app_id=app_id,
        app_secret=secrets["ZALO_OA_APP_SECRET"],
        oa_secret_key=secrets["ZALO_OA_SECRET_KEY"],
        refresh_token=secrets["ZALO_OA_REFRESH_TOKEN"],
        oauth_url=r.get(t, "oauth_url", str, "https://oauth.zaloapp.com"),
        api_url=r.get(t, "api_url", str, "https://openapi.zalo.me"),
        business_url=r.get(t, "business_url", str, "https://business.openapi.zalo.me"),
        window_days=r.positive(t, "window_days", 7),
        ack_seconds=r.get(t, "ack_seconds", float, 1.5),
        max_buttons=r.positive(t, "max_buttons", 5),
        button_title_chars=r.positive(t, "button_title_chars", 100),
        per_chat_interval=r.get(t, "per_chat_interval", float, 1.0),
        refresh_margin_hours=r.get(t, "refresh_margin_hours", float, 2.0),
        templates=templates,
    )


def _reminders(data: dict[str, Any], path: Path) -> ReminderRule:
    section = data.get("reminders", {})
    try:
        if not isinstance(section, dict):
            raise ValueError("phải là một bảng (table)")
        return ReminderRule.from_json(section)
    except ValueError as e:
        raise ConfigError(f"{path.name}: [reminders] {e}") from None
