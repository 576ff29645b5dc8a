"""config.toml plus the environment. A wrong value is reported as one line naming its key."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from handlers.schedule import ReminderRule
from handlers.settings import Settings

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
    rate_per_second: float = 30.0
    per_chat_interval: float = 1.0


@dataclass(frozen=True)
class Config:
    path: Path
    database_url: str
    telegram: TelegramConfig
    host: str = "127.0.0.1"
    port: int = 8080
    log_level: str = "INFO"
    settings: Settings = field(default_factory=Settings)


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

    mode = r.get("telegram", "mode", str, "polling")
    if mode not in ("polling", "webhook"):
        raise ConfigError(
            f'{chosen.name}: [telegram] mode phải là "polling" hoặc "webhook" (đang là {mode!r})'
        )
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
        rate_per_second=r.get("telegram", "rate_per_second", float, 30.0),
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
    settings = Settings(
        timezone=timezone,
        invite_days=r.positive("invites", "valid_days", 30),
        lockout_attempts=r.positive("security", "lockout_attempts", 5),
        lockout_window_minutes=r.positive("security", "lockout_window_minutes", 10),
        lockout_minutes=r.positive("security", "lockout_minutes", 30),
        max_item_chars=r.positive("limits", "max_item_chars", 500),
        max_field_chars=r.positive("limits", "max_field_chars", 1000),
        next_year_from_month=month,
        reminders=reminders,
    )
    level = r.get("logging", "level", str, "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"{chosen.name}: [logging] level phải là DEBUG, INFO, WARNING hoặc ERROR")
    return Config(
        path=chosen,
        database_url=url,
        telegram=telegram,
        host=r.get("server", "host", str, "127.0.0.1"),
        port=r.get("server", "port", int, 8080),
        log_level=level,
        settings=settings,
    )


def _reminders(data: dict[str, Any], path: Path) -> ReminderRule:
    section = data.get("reminders", {})
    try:
        if not isinstance(section, dict):
            raise ValueError("phải là một bảng (table)")
        return ReminderRule.from_json(section)
    except ValueError as e:
        raise ConfigError(f"{path.name}: [reminders] {e}") from None
