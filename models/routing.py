"""Which account reaches a member: the channel they prefer if it can reach them now, else another.

A member may have an account on several channels (Telegram, Zalo Bot, Zalo OA). Replies go back
to the chat that wrote; everything the bot sends on its own (notices, reminders, digests) is
routed here. A channel that turns out not to reach the person at send time (blocked, outside the
Zalo OA window, plan quota used up) hands the message on to the next account (see
`plan_fallback`), so the message is recorded as not reached on one channel and sent on another.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import conversations, outbox
from models.tables import Identity, Member

# Answers to what a person just did: they go to the chat that wrote, never elsewhere.
DIRECT_KINDS = frozenset({"reply", "ack", "error"})


@dataclass(frozen=True)
class RoutePolicy:
    # Channels that may write to a person only this long after the person's last message
    # (Zalo OA: 7 days for customer-service messages).
    windows: Mapping[str, timedelta] = field(default_factory=dict)
    # Per windowed channel, the kinds of message it can still send outside the window
    # (those with a ZNS template configured).
    outside_window: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def can_reach(self, identity: Identity, kind: str, now: datetime) -> bool:
        return self.reaches(
            identity.channel, identity.unreachable_at, identity.last_inbound_at, kind, now
        )

    def reaches(
        self,
        channel: str,
        unreachable_at: datetime | None,
        last_inbound_at: datetime | None,
        kind: str,
        now: datetime,
    ) -> bool:
        """can_reach, from an account's columns (the digest reads them without the entity)."""
        if unreachable_at is not None:
            return False
        window = self.windows.get(channel)
        if window is None or kind in self.outside_window.get(channel, frozenset()):
            return True
        return last_inbound_at is not None and now - last_inbound_at < window


# Built once: for a chi bộ's digest, building the statement cost as much as running it.
_IDENTITIES = select(Identity).where(Identity.member_id.in_(bindparam("ids", expanding=True)))


async def identities(session: AsyncSession, member_ids: Iterable[int]) -> dict[int, list[Identity]]:
    ids = list(member_ids)
    found: dict[int, list[Identity]] = {member_id: [] for member_id in ids}
    if ids:
        for identity in await session.scalars(_IDENTITIES, {"ids": ids}):
            found[identity.member_id].append(identity)
    return found


def order(
    accounts: list[Identity], preferred: str | None, kind: str, now: datetime, policy: RoutePolicy
) -> list[Identity]:
    """Best first: reachable now, then the preferred channel, then the most recently used.
    Accounts known to be unreachable (blocked) are left out; ones merely outside a window stay
    at the end, so the attempt is recorded as not reached."""

    def rank(identity: Identity) -> tuple[bool, bool, float]:
        used = identity.last_inbound_at or identity.created_at
        return (
            not policy.can_reach(identity, kind, now),
            identity.channel != preferred,
            -used.timestamp(),
        )

    return sorted((i for i in accounts if i.unreachable_at is None), key=rank)


async def candidates(
    session: AsyncSession, member: Member, kind: str, now: datetime, policy: RoutePolicy
) -> list[Identity]:
    accounts = (await identities(session, [member.id]))[member.id]
    return order(accounts, member.preferred_channel, kind, now, policy)


async def plan(
    session: AsyncSession,
    member: Member,
    *,
    kind: str,
    dedupe_key: str,
    payload: dict[str, Any],
    now: datetime,
    policy: RoutePolicy,
    not_before: datetime | None = None,
    tried: tuple[str, ...] = (),
) -> bool:
    """Plan a message to a member on their best account not tried yet. False if there is none
    (or it was planned before). payload["fields"] gets the member's name and unit, for a Zalo
    ZNS template that may stand in for the message."""
    fields = {"member_name": member.full_name, "unit_name": member.unit.name}
    payload = payload | {"fields": fields | payload.get("fields", {})}
    if payload.get("choices"):
        await conversations.offer(session, member.id, payload["choices"], now)
    for identity in await candidates(session, member, kind, now, policy):
        if identity.channel in tried:
            continue
        return await outbox.plan(
            session,
            channel=identity.channel,
            chat_id=identity.chat_id,
            member_id=member.id,
            kind=kind,
            dedupe_key=dedupe_key,
            payload=payload | ({"tried": list(tried)} if tried else {}),
            now=now,
            not_before=not_before,
        )
    return False


async def plan_fallback(
    session: AsyncSession,
    *,
    member_id: int,
    channel: str,
    kind: str,
    dedupe_key: str,
    payload: dict[str, Any],
    now: datetime,
    policy: RoutePolicy,
) -> str | None:
    """The message could not go out on `channel`: plan it on the member's next account.
    Returns that channel, or None when no account is left to try."""
    if kind in DIRECT_KINDS:
        return None
    member = await session.get(Member, member_id)
    if member is None or not member.active:
        return None
    tried = (*payload.get("tried", []), channel)
    for identity in await candidates(session, member, kind, now, policy):
        if identity.channel in tried:
            continue
        await outbox.plan(
            session,
            channel=identity.channel,
            chat_id=identity.chat_id,
            member_id=member.id,
            kind=kind,
            dedupe_key=f"{dedupe_key}>{identity.channel}"[-120:],
            payload=payload | {"tried": list(tried)},
            now=now,
        )
        return identity.channel
    return None


async def mark_unreachable(
    session: AsyncSession, channel: str, chat_id: str, now: datetime
) -> None:
    """The account blocked the bot (or unfollowed the OA): stop routing to it until it writes."""
    for identity in await session.scalars(
        select(Identity).where(Identity.channel == channel, Identity.chat_id == chat_id)
    ):
        identity.unreachable_at = identity.unreachable_at or now


def seen(identity: Identity | None, chat_id: str, now: datetime) -> None:
    """The person wrote from this account: it reaches them again (and opens Zalo OA's window)."""
    if identity is not None:
        identity.last_inbound_at, identity.unreachable_at = now, None
        identity.chat_id = chat_id  # a chat id can change, e.g. a migrated account
