"""Broadcasts: one message to every member of a subtree, planned in one go, with live progress.

Each recipient gets one outbox row (dedupe key "bc:<id>:<member>", so planning twice sends
once), routed like any message of the bot's own. The admin's progress message is edited as
rows settle (on channels that can edit), throttled to `interval`, and ends with the report.
Counts are per member: a member whose first channel could not reach them and whose second did
counts once, as sent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import distinct, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import outbox, routing
from models.tables import Broadcast, Delivery, Identity, Member, OrgUnit

KIND = "broadcast"
CHUNK = 1000  # members per IN (...) / per insert batch


@dataclass(frozen=True)
class Route:
    member_id: int
    name: str
    unit_name: str
    account: Identity | None  # None: no account that can take a message


async def routes(
    session: AsyncSession, unit: OrgUnit, now: datetime, policy: routing.RoutePolicy
) -> list[Route]:
    """Every active member of the subtree and the account a broadcast would go to first."""
    stmt = (
        select(Member.id, Member.full_name, OrgUnit.name, Member.preferred_channel)
        .join(OrgUnit, OrgUnit.id == Member.unit_id)
        .where(OrgUnit.path.startswith(unit.path), Member.active.is_(True))
        .order_by(Member.id)
    )
    members = list(await session.execute(stmt))
    found: list[Route] = []
    for start in range(0, len(members), CHUNK):
        chunk = members[start : start + CHUNK]
        accounts = await routing.identities(session, [m.id for m in chunk])
        for member_id, name, unit_name, preferred in chunk:
            ordered = routing.order(accounts[member_id], preferred, KIND, now, policy)
            found.append(Route(member_id, name, unit_name, ordered[0] if ordered else None))
    return found


@dataclass(frozen=True)
class Preview:
    total: int
    by_channel: dict[str, int]
    unreachable: int


def preview(found: list[Route]) -> Preview:
    by_channel = Counter(r.account.channel for r in found if r.account is not None)
    return Preview(len(found), dict(sorted(by_channel.items())), len(found) - by_channel.total())


async def start(
    session: AsyncSession,
    unit: OrgUnit,
    *,
    payload: dict[str, Any],
    now: datetime,
    policy: routing.RoutePolicy,
    created_by: int | None,
    progress_chat: tuple[str, str] | None = None,
    render: Render | None = None,
) -> Broadcast:
    """Create the broadcast and plan every recipient's message, in the caller's transaction;
    with progress_chat, also the progress message (render gives its first text)."""
    found = await routes(session, unit, now, policy)
    broadcast = Broadcast(
        unit_id=unit.id,
        created_by=created_by,
        payload=payload,
        status="sending",
        total=len(found),
        created_at=now,
        started_at=now,
    )
    if progress_chat is not None:
        broadcast.progress_channel, broadcast.progress_chat_id = progress_chat
    session.add(broadcast)
    await session.flush()
    reachable = sum(1 for r in found if r.account is not None)
    if progress_chat is not None and render is not None:
        # Planned first, so the admin sees it before the recipients' rows are worked through.
        first = render(broadcast, Progress(len(found), 0, 0, 0, reachable))
        await outbox.plan(
            session,
            channel=progress_chat[0],
            chat_id=progress_chat[1],
            kind="progress",
            dedupe_key=f"bc:{broadcast.id}:progress",
            payload=first | {"progress_of": broadcast.id},
            now=now,
        )
        broadcast.progress_text, broadcast.progress_at = first["text"], now
    rows = [
        {
            "channel": r.account.channel,
            "chat_id": r.account.chat_id,
            "member_id": r.member_id,
            "kind": KIND,
            "broadcast_id": broadcast.id,
            "dedupe_key": f"bc:{broadcast.id}:{r.member_id}",
            "payload": payload
            | {
                "broadcast": broadcast.id,
                "fields": {"member_name": r.name, "unit_name": r.unit_name},
            },
            "status": "pending",
            "bulk": True,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for r in found
        if r.account is not None
    ]
    for begin in range(0, len(rows), CHUNK):
        await session.execute(insert(Delivery), rows[begin : begin + CHUNK])
    return broadcast


@dataclass(frozen=True)
class Progress:
    total: int
    sent: int
    failed: int  # may be resent
    unknown: int  # the worker died mid-send: perhaps delivered, never resent
    pending: int

    @property
    def unreachable(self) -> int:
        return self.total - self.sent - self.failed - self.unknown - self.pending

    @property
    def done(self) -> bool:
        return self.pending == 0


# The progress message's payload (a Reply's) for a broadcast in a state; texts live in handlers.
Render = Callable[[Broadcast, Progress], dict[str, Any]]


async def progress(session: AsyncSession, broadcast: Broadcast) -> Progress:
    stmt = (
        select(Delivery.status, func.count(distinct(Delivery.member_id)))
        .where(Delivery.broadcast_id == broadcast.id, Delivery.kind == KIND)
        .group_by(Delivery.status)
    )
    counts: dict[str, int] = {status: n for status, n in await session.execute(stmt)}
    return Progress(
        total=broadcast.total,
        sent=counts.get("sent", 0),
        failed=counts.get("failed", 0) + counts.get("expired", 0),
        unknown=counts.get("unknown", 0),
        pending=counts.get("pending", 0) + counts.get("sending", 0),
    )


async def resend_failed(session: AsyncSession, broadcast: Broadcast, now: datetime) -> int:
    """Queue the failed sends again (never the unknown ones: they may have arrived)."""
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.broadcast_id == broadcast.id,
            Delivery.kind == KIND,
            Delivery.status == "failed",
        )
        .values(status="pending", attempts=0, next_attempt_at=now, claimed_by=None, claimed_at=None)
    )
    n = int(getattr(result, "rowcount", 0) or 0)
    if n:
        broadcast.status, broadcast.finished_at = "sending", None
    return n


async def refresh(
    session: AsyncSession,
    now: datetime,
    *,
    interval: timedelta,
    editable: frozenset[str],
    render: Render,
) -> int:
    """Bring each running broadcast's progress message up to date and finish the completed
    ones. Returns the messages planned."""
    planned = 0
    running = await session.scalars(select(Broadcast).where(Broadcast.status == "sending"))
    for broadcast in list(running):
        state = await progress(session, broadcast)
        if state.done:
            broadcast.status, broadcast.finished_at = "done", now
        elif broadcast.progress_at is not None and now - broadcast.progress_at < interval:
            continue
        payload = render(broadcast, state)
        if payload["text"] == broadcast.progress_text or broadcast.progress_chat_id is None:
            continue
        channel, chat_id = broadcast.progress_channel or "", broadcast.progress_chat_id
        stamp = f"bc:{broadcast.id}:p:{now.timestamp():.3f}"
        if channel in editable and broadcast.progress_message_id:
            # An edit not sent yet is out of date now: only the newest one goes.
            await session.execute(
                update(Delivery)
                .where(
                    Delivery.chat_id == chat_id,
                    Delivery.kind == "edit",
                    Delivery.status == "pending",
                    Delivery.attempts == 0,
                    Delivery.dedupe_key.startswith(f"bc:{broadcast.id}:p:"),
                )
                .values(status="expired")
            )
            edit = payload | {"message_id": broadcast.progress_message_id}
            await outbox.plan(
                session,
                channel=channel,
                chat_id=chat_id,
                kind="edit",
                dedupe_key=stamp,
                payload=edit,
                now=now,
            )
        elif state.done:  # no message to edit: the report goes as a new one
            await outbox.plan(
                session,
                channel=channel,
                chat_id=chat_id,
                kind="notice",
                dedupe_key=stamp,
                payload=payload,
                now=now,
            )
        else:
            continue
        broadcast.progress_text, broadcast.progress_at = payload["text"], now
        planned += 1
    return planned


async def set_progress_message(session: AsyncSession, broadcast_id: int, message_id: str) -> None:
    """The progress message went out: remember it, so later progress edits it."""
    await session.execute(
        update(Broadcast).where(Broadcast.id == broadcast_id).values(progress_message_id=message_id)
    )
