"""Invitation codes (personal and chi bộ join codes) and the lock-out after wrong codes."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.tables import CodeAttempt, Invite, Member, OrgUnit

# No 0/O, 1/I/L: codes are read aloud and typed by elderly members.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
_CODE_LIKE = re.compile(r"^[A-Z0-9]{6,16}$")


def new_code() -> str:
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        # A digit and a letter in every code: typed words ("XINCHAO") are never mistaken for one.
        if any(c.isdigit() for c in code) and any(c.isalpha() for c in code):
            return code


def normalize_code(text: str) -> str | None:
    """The code a person meant ("k7m4 q2xp", "K7M4-Q2XP"), or None if it cannot be a code."""
    compact = re.sub(r"[\s\-_.]", "", text).upper()
    if _CODE_LIKE.match(compact) and any(c.isdigit() for c in compact):
        return compact
    return None


def is_valid(invite: Invite, now: datetime) -> bool:
    return invite.used_at is None and invite.revoked_at is None and invite.expires_at > now


async def _current(
    session: AsyncSession, unit_id: int, member_id: int | None, now: datetime
) -> Invite | None:
    stmt = select(Invite).where(
        Invite.unit_id == unit_id,
        Invite.purpose == "invite",
        Invite.member_id == member_id if member_id else Invite.member_id.is_(None),
        Invite.used_at.is_(None),
        Invite.revoked_at.is_(None),
        Invite.expires_at > now,
    )
    return (await session.scalars(stmt.order_by(Invite.id.desc()))).first()


async def issue(
    session: AsyncSession,
    unit: OrgUnit,
    member: Member | None,
    now: datetime,
    *,
    days: int,
    reissue: bool = False,
) -> Invite:
    """The valid code for a member (or the chi bộ's join code), created if there is none.

    reissue revokes the old code first, e.g. when a printed list went astray.
    """
    member_id = member.id if member else None
    if reissue:
        await session.execute(
            update(Invite)
            .where(
                Invite.unit_id == unit.id,
                Invite.purpose == "invite",
                Invite.member_id == member_id if member_id else Invite.member_id.is_(None),
                Invite.used_at.is_(None),
                Invite.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
    else:
        existing = await _current(session, unit.id, member_id, now)
        if existing is not None:
            return existing
    invite = Invite(
        code=new_code(),
        unit_id=unit.id,
        member_id=member_id,
        expires_at=now + timedelta(days=days),
        created_at=now,
    )
    session.add(invite)
    await session.flush()
    return invite


async def issue_link_code(
    session: AsyncSession, member: Member, now: datetime, *, minutes: int
) -> Invite:
    """A fresh one-time code for linking another channel (/lienket); earlier ones stop working."""
    await session.execute(
        update(Invite)
        .where(
            Invite.member_id == member.id,
            Invite.purpose == "link",
            Invite.used_at.is_(None),
            Invite.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    invite = Invite(
        code=new_code(),
        unit_id=member.unit_id,
        member_id=member.id,
        purpose="link",
        expires_at=now + timedelta(minutes=minutes),
        created_at=now,
    )
    session.add(invite)
    await session.flush()
    return invite


async def find(session: AsyncSession, code: str) -> Invite | None:
    return (await session.scalars(select(Invite).where(Invite.code == code))).first()


async def record_failure(session: AsyncSession, channel: str, chat_id: str, now: datetime) -> None:
    session.add(CodeAttempt(channel=channel, chat_id=chat_id, at=now))
    await session.flush()


async def locked_until(
    session: AsyncSession,
    channel: str,
    chat_id: str,
    now: datetime,
    *,
    attempts: int,
    window: timedelta,
    lockout: timedelta,
) -> datetime | None:
    """When the lock-out ends, if `attempts` wrong codes fell within `window` recently."""
    since = now - window - lockout
    stmt = (
        select(CodeAttempt.at)
        .where(CodeAttempt.channel == channel, CodeAttempt.chat_id == chat_id)
        .where(CodeAttempt.at >= since)
        .order_by(CodeAttempt.at)
    )
    times = list(await session.scalars(stmt))
    until: datetime | None = None
    for first, last in zip(times, times[attempts - 1 :], strict=False):
        if last - first <= window:
            until = last + lockout
    return until if until and until > now else None


async def count_failures(session: AsyncSession, channel: str, chat_id: str) -> int:
    stmt = select(func.count()).where(
        CodeAttempt.channel == channel, CodeAttempt.chat_id == chat_id
    )
    return int(await session.scalar(stmt) or 0)
