"""SIGKILL during a real broadcast (issue 6): the delivery worker process dies at 10 %, 50 % and
99 % of the sends; after a restart nobody has the broadcast twice, every row that was pending
is sent, the rows the dead worker was sending are "unknown" (at most its in-flight limit) and
never resent, and both `python -m bot outbox status` and the broadcast's report say so.

The broadcast is planned by models.broadcasts.start (as /thongbao and `python -m bot broadcast`
do) for members seeded in bulk (tests/support/seeding); the workers are
tests/support/outbox_worker.py processes (the real DeliveryWorker and TelegramChannel) against
the fake Bot API, with no overall rate limit.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers import texts
from handlers.broadcast import message, render_progress
from handlers.text import number_vi
from models import broadcasts, routing
from models.db import utcnow
from models.orgs import ensure_unit
from models.tables import Broadcast, Delivery
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.support import seeding
from tests.support.operator import cli
from tests.test_outbox import unsettled, wait_until, worker_process

Sessions = async_sessionmaker[AsyncSession]
TG = "telegram"
IN_FLIGHT = 30  # the workers' max_in_flight
FIRST_CHAT = 300_000  # recipient i's Telegram chat is FIRST_CHAT + i
ADMIN_CHAT = 299_999  # where the progress message and the report go
KILL_POINTS = (0.10, 0.50, 0.99)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as api:
        yield api


async def plan_broadcast(sessions: Sessions) -> int:
    """The real planning for the whole đảng bộ, with the admin's progress message (as
    /thongbao confirms it)."""
    async with sessions() as s, s.begin():
        unit = await ensure_unit(s, seeding.PARENT, utcnow())
        sent = await broadcasts.start(
            s,
            unit,
            payload=message(
                {"text": "Họp chi bộ mở rộng lúc 19:30 tối nay.", "link": None}
            ).to_payload(),
            now=utcnow(),
            policy=routing.RoutePolicy(),
            created_by=None,
            progress_chat=(TG, str(ADMIN_CHAT)),
            render=render_progress,
        )
        return sent.id


class Killer:
    """SIGKILLs the worker process from inside the fake, at the moment the fake has recorded
    the `at`-th broadcast send: the worker has sends in flight that the fake has or has not
    taken, and never hears back about the last one."""

    def __init__(self, fake: FakeTelegramAPI, recipients: range, at: int) -> None:
        self.pid: int | None = None
        self.sends = 0
        self.at_kill: int | None = None
        original = fake._record

        def record(method: str, params: dict[str, Any], result: Any) -> None:
            original(method, params, result)
            if method != "sendMessage" or params.get("chat_id") not in recipients:
                return
            self.sends += 1
            if self.at_kill is None and self.pid is not None and self.sends >= at:
                os.kill(self.pid, signal.SIGKILL)
                self.at_kill = self.sends

        fake._record = record  # type: ignore[method-assign]


async def by_status(sessions: Sessions, broadcast_id: int | None = None) -> dict[str, set[int]]:
    """Status -> the chats of the broadcast's rows (every row with broadcast_id None)."""
    stmt = select(Delivery.status, Delivery.chat_id)
    if broadcast_id is not None:
        stmt = stmt.where(Delivery.broadcast_id == broadcast_id, Delivery.kind == "broadcast")
    found: dict[str, set[int]] = {}
    async with sessions() as s:
        for status, chat in await s.execute(stmt):
            found.setdefault(status, set()).add(int(chat))
    return found


def outbox_lines(stdout: str) -> dict[str, tuple[int, str]]:
    """`outbox status`: status name -> (count, kinds), and the total under its label."""
    lines = stdout.splitlines()
    start = lines.index(texts.OUTBOX_STATUS_HEADER)
    found: dict[str, tuple[int, str]] = {}
    for line in lines[start + 1 : start + 2 + len(texts.OUTBOX_STATUS_NAMES)]:
        m = re.fullmatch(r"  (.+?)\s{2,}([\d.]+)(?:  \((.*)\))?", line)
        assert m, line
        found[m[1]] = (int(m[2].replace(".", "")), m[3] or "")
    return found


@dataclass
class Figures:
    count: int
    kill_at: float
    sends_at_kill: int
    unknown: int
    unknown_reached: int
    by_restarted: int
    drain_seconds: float


async def kill_and_restart(
    db_url: str, sessions: Sessions, fake: FakeTelegramAPI, count: int, kill_at: float
) -> Figures:
    started = time.monotonic()
    chats = await seeding.linked_members(db_url, count, cells=10, first_chat=FIRST_CHAT)
    broadcast_id = await plan_broadcast(sessions)
    seeded = time.monotonic() - started
    recipients = range(FIRST_CHAT, FIRST_CHAT + count)
    assert chats == list(recipients)
    killer = Killer(fake, recipients, round(count * kill_at))

    def broadcast_sends(first: int = 0) -> list[int]:
        return [
            r["chat_id"]
            for r in fake.sent[first:]
            if r["method"] == "sendMessage" and r["chat_id"] in recipients
        ]

    async with worker_process(db_url, fake, "--max-in-flight", str(IN_FLIGHT)) as proc:
        killer.pid = proc.pid
        first_started = time.monotonic()
        await asyncio.wait_for(proc.wait(), count / 10 + 60)
        first_seconds = time.monotonic() - first_started
        assert proc.returncode == -signal.SIGKILL, "the worker stopped on its own"
    assert killer.at_kill is not None
    await asyncio.sleep(0.3)  # anything the dead process had on the wire has landed by now
    restart_at = len(fake.sent)
    before = await by_status(sessions, broadcast_id)
    left_sending = before.get("sending", set())
    # The send the worker was killed at never got its answer: at least that one is "sending".
    assert 1 <= len(left_sending) <= IN_FLIGHT, len(left_sending)

    async with worker_process(
        db_url, fake, "--max-in-flight", str(IN_FLIGHT), "--lease", "0.5"
    ) as proc:
        restarted = time.monotonic()

        async def drained() -> bool:
            assert proc.returncode is None, "the restarted worker died"
            return await _settled(sessions)

        await wait_until(drained, timeout=count / 10 + 60)
        drain_seconds = time.monotonic() - restarted
        # What the bot's broadcast loop does next: finish it and edit in the report.
        async with sessions() as s, s.begin():
            planned = await broadcasts.refresh(
                s,
                utcnow(),
                interval=timedelta(0),
                editable=frozenset({TG}),
                render=render_progress,
            )
        assert planned == 1
        await wait_until(drained, timeout=30)

    # Nobody got the broadcast twice (the fake's record), whichever worker sent it.
    got = Counter(broadcast_sends())
    twice = sorted(chat for chat, n in got.items() if n > 1)
    assert not twice, f"{len(twice)} chats got the broadcast twice, e.g. {twice[:5]}"

    after = await by_status(sessions, broadcast_id)
    unknown = after.get("unknown", set())
    assert set(after) <= {"sent", "unknown"}, {s: len(c) for s, c in after.items()}
    assert unknown == left_sending  # exactly the dead worker's claims, and at most IN_FLIGHT
    assert after["sent"] == set(got) - unknown  # each sent row reached its chat, once
    assert after["sent"] | unknown == set(recipients)  # every pending row was sent
    by_restarted = broadcast_sends(restart_at)
    assert not set(by_restarted) & unknown  # an unknown row is never sent again
    reached = unknown & set(got)

    # The operator's view: the real command, figures equal to the database.
    async with sessions() as s:
        rows = {
            (status, kind): n
            for status, kind, n in await s.execute(
                select(Delivery.status, Delivery.kind, func.count()).group_by(
                    Delivery.status, Delivery.kind
                )
            )
        }
    # Besides the broadcast: the progress message and the report (an edit of it), both sent.
    assert rows == {
        ("sent", "broadcast"): count - len(unknown),
        ("unknown", "broadcast"): len(unknown),
        ("sent", "progress"): 1,
        ("sent", "edit"): 1,
    }
    done = cli(db_url, "outbox", "status")
    assert done.returncode == 0, done.stderr
    shown = outbox_lines(done.stdout)
    names = texts.OUTBOX_STATUS_NAMES
    assert shown[names["unknown"]] == (len(unknown), f"broadcast {number_vi(len(unknown))}")
    sent_kinds = f"broadcast {number_vi(count - len(unknown))}, edit 1, progress 1"
    assert shown[names["sent"]] == (count - len(unknown) + 2, sent_kinds)
    for status in ("pending", "sending", "failed", "unreachable", "not_reached", "expired"):
        assert shown[names[status]] == (0, ""), status
    assert shown[texts.OUTBOX_STATUS_TOTAL_LABEL] == (count + 2, "")
    assert texts.OUTBOX_STATUS_UNKNOWN_NOTE in done.stdout.splitlines()

    # The admin's report: the progress message, edited in place, counts what the database has.
    async with sessions() as s:
        broadcast = await s.get(Broadcast, broadcast_id)
        assert broadcast is not None and broadcast.status == "done"
        state = await broadcasts.progress(s, broadcast)
    assert (state.total, state.sent, state.unknown) == (count, count - len(unknown), len(unknown))
    assert (state.failed, state.pending, state.unreachable) == (0, 0, 0)
    assert broadcast.progress_message_id is not None
    report = fake.current_text(ADMIN_CHAT, int(broadcast.progress_message_id), raw=True)
    assert report == render_progress(broadcast, state)["text"]
    assert (
        texts.BROADCAST_DONE.format(
            sent=number_vi(count - len(unknown)),
            total=number_vi(count),
            failed="0",
            unreachable="0",
        )
        in report.splitlines()
    )
    assert texts.BROADCAST_UNKNOWN.format(n=number_vi(len(unknown))) in report.splitlines()

    figures = Figures(
        count,
        kill_at,
        killer.at_kill,
        len(unknown),
        len(reached),
        len(by_restarted),
        drain_seconds,
    )
    print(
        f"\n{db_url.split(':', 1)[0]}: broadcast of {count} (seeded and planned in "
        f"{seeded:.1f} s), SIGKILL at {kill_at:.0%}: {figures.sends_at_kill} sends at the kill "
        f"(after {first_seconds:.1f} s), "
        f"{figures.unknown} unknown ({figures.unknown_reached} of them had reached the fake), "
        f"{figures.by_restarted} sent after the restart in {drain_seconds:.1f} s"
    )
    return figures


async def _settled(sessions: Sessions) -> bool:
    return await unsettled(sessions) == 0


@pytest.mark.parametrize("kill_at", KILL_POINTS, ids=lambda p: f"{p:.0%}")
async def test_sigkill_during_a_broadcast_of_2000(
    db_url: str, sessions: Sessions, fake: FakeTelegramAPI, kill_at: float
) -> None:
    """The default suite's size: the worker sends some 100-150 a second here (a claim and a
    record per send), so 10,000 three times over (about four minutes) is the slow variant."""
    await kill_and_restart(db_url, sessions, fake, 2000, kill_at)


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", KILL_POINTS, ids=lambda p: f"{p:.0%}")
async def test_sigkill_during_a_broadcast_of_10000(
    db_url: str, sessions: Sessions, fake: FakeTelegramAPI, kill_at: float
) -> None:
    await kill_and_restart(db_url, sessions, fake, 10_000, kill_at)
