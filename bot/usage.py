"""Counting what the Zalo plans limit, and warning the admins before a limit is reached.

The Zalo Bot free plan allows 50 users per bot and 3,000 messages a month; the OA reports its
quotas in every send's answer. Messages are counted per channel and local month in the
channel_usage table; a warning goes to the admins (role "admin") once per level and month.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers import texts
from handlers.messages import Reply
from handlers.settings import Settings
from handlers.text import number_vi
from models import db, routing
from models.tables import ChannelUsage, Identity, Member, Role

log = logging.getLogger(__name__)


class UsageMeter:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime],
        settings: Settings,
    ) -> None:
        self.sessions, self.clock, self.settings = sessions, clock, settings

    def month(self) -> str:
        return f"{self.clock().astimezone(ZoneInfo(self.settings.timezone)):%Y-%m}"

    async def messages(self, channel: str) -> int:
        async with self.sessions() as session:
            found = await session.get(ChannelUsage, (channel, self.month()))
            return found.messages if found else 0

    async def users(self, channel: str) -> int:
        async with self.sessions() as session:
            stmt = select(func.count()).select_from(Identity).where(Identity.channel == channel)
            return int(await session.scalar(stmt) or 0)

    async def add(self, channel: str, n: int = 1, quota: dict[str, Any] | None = None) -> int:
        """Count n messages sent (and keep the platform's quota figures); the month's total."""
        now, month = self.clock(), self.month()
        async with self.sessions() as session, session.begin():
            insert = db.insert_for(session)
            values: dict[str, Any] = {"messages": ChannelUsage.messages + n, "updated_at": now}
            if quota is not None:
                values["quota"] = quota
            stmt = (
                insert(ChannelUsage)
                .values(
                    channel=channel,
                    month=month,
                    messages=n,
                    quota=quota or {},
                    warned={},
                    updated_at=now,
                )
                .on_conflict_do_update(index_elements=["channel", "month"], set_=values)
                .returning(ChannelUsage.messages)
            )
            return int((await session.execute(stmt)).scalar_one())

    async def warn_if_near(
        self, channel: str, what: str, used: int, limit: int, warn_at: float
    ) -> None:
        """Tell the admins once when `used` passes warn_at of `limit`, and once at the limit."""
        if limit <= 0:
            return
        level = 100 if used >= limit else int(warn_at * 100) if used >= warn_at * limit else 0
        if not level:
            return
        now, month = self.clock(), self.month()
        async with self.sessions() as session, session.begin():
            row = await session.get(ChannelUsage, (channel, month), with_for_update=True)
            if row is None:
                row = ChannelUsage(
                    channel=channel, month=month, messages=0, quota={}, warned={}, updated_at=now
                )
                session.add(row)
            if level <= int(row.warned.get(what, 0)):
                return
            row.warned = {**row.warned, what: level}
            users = what == "users"
            template = texts.USAGE_WARNING_USERS if users else texts.USAGE_WARNING_MESSAGES
            text = template.format(
                channel=texts.CHANNEL_NAMES.get(channel, channel),
                used=number_vi(used),
                limit=number_vi(limit),
                percent=min(100, round(100 * used / limit)),
                month=f"{int(month[5:])}/{month[:4]}",
            )
            log.warning("%s: %s", channel, text)
            await self._tell_admins(session, Reply(text), f"usage:{channel}:{what}:{month}:{level}")

    async def _tell_admins(self, session: AsyncSession, reply: Reply, key: str) -> None:
        admins = await session.scalars(
            select(Member)
            .join(Role, Role.member_id == Member.id)
            .where(Role.role == "admin", Member.active.is_(True))
            .order_by(Member.id)
        )
        for admin in admins.unique():
            await routing.plan(
                session,
                admin,
                kind="notice",
                dedupe_key=f"{key}:m{admin.id}",
                payload=reply.to_payload(),
                now=self.clock(),
                policy=self.settings.routes,
            )


async def usage_rows(sessions: async_sessionmaker[AsyncSession], month: str) -> list[ChannelUsage]:
    async with sessions() as session:
        stmt = select(ChannelUsage).where(ChannelUsage.month == month)
        return list(await session.scalars(stmt.order_by(ChannelUsage.channel)))


def render_usage(rows: list[ChannelUsage], month: str, limits: dict[str, int]) -> str:
    """`outbox status`'s lines on plan quotas: what was sent this month, against the limit we
    know (Zalo Bot), and the quota figures the platform last reported (Zalo OA, ZNS)."""
    label = f"{int(month[5:])}/{month[:4]}"
    lines = [texts.USAGE_HEADER.format(month=label)] if rows else []
    for row in rows:
        name = texts.CHANNEL_NAMES.get(row.channel, row.channel)
        limit = limits.get(row.channel)
        if limit:
            lines.append(
                texts.USAGE_MESSAGES_LINE.format(
                    channel=name,
                    used=number_vi(row.messages),
                    limit=number_vi(limit),
                    percent=round(100 * row.messages / limit),
                )
            )
        else:
            lines.append(texts.USAGE_SENT_LINE.format(channel=name, used=number_vi(row.messages)))
        if row.quota:
            quota = ", ".join(f"{k}={v}" for k, v in sorted(row.quota.items()))
            lines.append(texts.USAGE_QUOTA_LINE.format(channel=name, quota=quota))
    return "\n".join(lines)
