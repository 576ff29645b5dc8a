"""The knobs the conversations read (filled from config.toml by bot.config)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from handlers.schedule import ReminderRule
from models.routing import RoutePolicy


@dataclass(frozen=True)
class Settings:
    timezone: str = "Asia/Ho_Chi_Minh"
    invite_days: int = 30
    lockout_attempts: int = 5  # wrong codes ...
    lockout_window_minutes: int = 10  # ... within this many minutes ...
    lockout_minutes: int = 30  # ... lock the chat out for this long
    max_item_chars: int = 500  # one pledge item or shortcoming
    max_field_chars: int = 1000  # anything typed
    # Flood throttling (bot.throttle): updates a chat may send at once, then refilled per
    # second; beyond that they are stored as "throttled" and not answered. 0: no throttling.
    flood_burst: int = 10
    flood_per_second: float = 1.0
    # From this month on, /dangky registers the next year's pledge (December plans January).
    next_year_from_month: int = 12
    # Reminder offsets and quiet hours for units that set none of their own.
    reminders: ReminderRule = field(default_factory=ReminderRule)
    # Which channel reaches whom (Zalo OA's window, its ZNS templates).
    routes: RoutePolicy = field(default_factory=RoutePolicy)
    # Minutes a /lienket code (to link another channel) stays valid.
    link_minutes: int = 15
    # The DOCX pledge form a province uses instead of documents/templates/pledge_form.docx.
    export_template: Path | None = None
    # The place in "…, ngày … tháng … năm …" on printed forms; empty: left for handwriting.
    export_place: str = ""
    # A broadcast's progress message is edited at most this often (Telegram: ~1 edit/s/chat).
    broadcast_progress_seconds: float = 3.0
