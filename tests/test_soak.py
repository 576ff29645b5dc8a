"""Issue 6 #9: the soak. The real bot (its own process, webhook mode) takes a steady 50 updates/s
of member traffic through the fake Bot API while it sends a 10,000-member broadcast; its memory
must level off, no database pool may time out, and every queue must drain.

    make test-slow        # a 2-minute soak on each database
    make soak             # the hour: LAMTHEO_SOAK_SECONDS=3600 (figures go to the issue note)
"""

from __future__ import annotations

import asyncio
import itertools
import os
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models.db import create_engine, session_factory
from models.tables import Delivery, InboxUpdate
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.support.bot_process import LEADS, BotProcess, telegram_config
from tests.support.operator import cli
from tests.support.seeding import PARENT, linked_members

pytestmark = pytest.mark.slow

SECONDS = float(os.environ.get("LAMTHEO_SOAK_SECONDS", "120"))
RATE = float(os.environ.get("LAMTHEO_SOAK_RATE", "50"))  # updates per second
MEMBERS = int(os.environ.get("LAMTHEO_SOAK_BROADCAST", "10000"))
TALKERS = 250  # members sending the traffic: each writes every TALKERS/RATE seconds (5 s)
FIRST_CHAT = 700_000
WARM_UP = 0.25  # of the run: memory is compared with its level after this share
MAX_GROWTH = 0.10
# What members do all day: look at the next meeting, their pledge, the help, start and leave a
# registration, the self-assessment, their channels. Each gets an answer.
SCRIPT = ("/lich", "/camket", "/trogiup", "/dangky", "/huy", "/tudanhgia", "/huy", "/kenh", "/huy")
BROADCAST_TEXT = "Thông báo chạy thử dài hạn"
TROUBLE = ("QueuePool limit", "TimeoutError", "Traceback", "background task crashed")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as api:
        api.webhook_retries = 50  # Telegram keeps retrying; the soak must not lose an update
        yield api


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def counts(db_url: str) -> tuple[Counter[str], Counter[str]]:
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as s:
            inbox = Counter(
                dict(
                    (
                        await s.execute(
                            select(InboxUpdate.status, func.count()).group_by(InboxUpdate.status)
                        )
                    ).all()
                )
            )
            out = Counter(
                dict(
                    (
                        await s.execute(
                            select(Delivery.status, func.count()).group_by(Delivery.status)
                        )
                    ).all()
                )
            )
            return inbox, out
    finally:
        await engine.dispose()


async def test_an_hour_of_traffic_and_a_broadcast_memory_levels_off_and_queues_drain(
    db_url: str, tmp_path: Path, fake: FakeTelegramAPI
) -> None:
    chats = await linked_members(db_url, MEMBERS, cells=20, first_chat=FIRST_CHAT)
    talkers = chats[:TALKERS]
    config, _ = telegram_config(tmp_path, fake.base_url, webhook=True)
    bot = await BotProcess(config, db_url).start()
    samples: list[tuple[float, int]] = []
    sent_at: dict[int, list[float]] = defaultdict(list)
    injected = 0
    try:
        await bot.wait_for(LEADS)
        started = time.monotonic()
        script = itertools.cycle(SCRIPT)
        next_sample = started
        broadcast_planned = False
        for n in itertools.count():
            now = time.monotonic()
            if now - started >= SECONDS:
                break
            if now >= next_sample:
                samples.append((now - started, rss_kib(bot.pid)))
                next_sample += 2.0
            if not broadcast_planned and now - started >= min(10.0, SECONDS / 10):
                broadcast_planned = True
                done = await asyncio.to_thread(
                    cli,
                    db_url,
                    "broadcast",
                    "--unit",
                    PARENT,
                    "--text",
                    BROADCAST_TEXT,
                    "--wait",
                    "0",
                )
                assert done.returncode == 0, done.stderr
            chat = talkers[n % TALKERS]
            fake.inject_message(chat, next(script) if n % TALKERS == 0 else _same(n))
            sent_at[chat].append(time.monotonic())
            injected += 1
            # Keep the pace against the clock, not per message: sleeps drift.
            await asyncio.sleep(max(0.0, started + (n + 1) / RATE - time.monotonic()))
        traffic_seconds = time.monotonic() - started

        drain_began = time.monotonic()
        while True:
            inbox, out = await counts(db_url)
            waiting = inbox["pending"] + out["pending"] + out["sending"]
            if waiting == 0 and inbox["done"] + inbox["failed"] + inbox["throttled"] >= injected:
                break
            assert time.monotonic() - drain_began < 600, (inbox, out, bot.log())
            samples.append((time.monotonic() - started, rss_kib(bot.pid)))
            await asyncio.sleep(1.0)
        drained = time.monotonic() - drain_began
        assert await bot.stop() == 0
    finally:
        await bot.kill()

    # Every update was processed, nothing failed or was throttled, nothing is left to send.
    assert inbox == Counter({"done": injected}), inbox
    assert set(out) <= {"sent"}, out
    broadcast = Counter(
        r["chat_id"]
        for r in fake.calls("sendMessage")
        if BROADCAST_TEXT in r["params"].get("text", "")
    )
    assert set(broadcast) == set(chats) and set(broadcast.values()) == {1}
    answered = {r["chat_id"] for r in fake.calls("sendMessage")} & set(talkers)
    assert answered == set(talkers)
    trouble = [line for line in bot.lines if any(t in line for t in TROUBLE)]
    assert not trouble, "\n".join(trouble[:20])

    # Memory: the level after the warm-up against the level at the end (medians of samples).
    rss = [kib for at, kib in samples if at <= traffic_seconds]
    warm = [kib for at, kib in samples if WARM_UP * traffic_seconds <= at <= 0.4 * traffic_seconds]
    end = rss[-max(3, len(rss) // 10) :]
    base, last = statistics.median(warm), statistics.median(end)
    growth = (last - base) / base
    latencies = _latencies(fake, sent_at)
    peak = max(kib for _, kib in samples)
    print(
        f"\nsoak {traffic_seconds:.0f} s: {injected} updates ({injected / traffic_seconds:.1f}/s) "
        f"and a broadcast to {len(broadcast)}; drained {drained:.1f} s after the traffic; "
        f"reply p50 {latencies[0] * 1000:.0f} ms, p95 {latencies[1] * 1000:.0f} ms; "
        f"RSS {rss[0] / 1024:.0f} MiB at start, {base / 1024:.0f} after warm-up, "
        f"{last / 1024:.0f} at the end ({growth:+.1%}), peak {peak / 1024:.0f}"
    )
    assert growth <= MAX_GROWTH, (base, last, samples)


def _same(n: int) -> str:
    """The script, in step per member: member k is at step (n // TALKERS) of it."""
    return SCRIPT[(n // TALKERS) % len(SCRIPT)]


def _latencies(fake: FakeTelegramAPI, sent_at: dict[int, list[float]]) -> tuple[float, float]:
    """p50 and p95 seconds from an update to the first reply after it, per talker."""
    # The fake stamps with time.time(); the test injected on time.monotonic(): align the two.
    offset = time.time() - time.monotonic()
    replies: dict[int, list[float]] = defaultdict(list)
    for r in fake.calls("sendMessage"):
        if r["chat_id"] in sent_at and BROADCAST_TEXT not in r["params"].get("text", ""):
            replies[r["chat_id"]].append(r["time"] - offset)
    waits = []
    for chat, asked in sent_at.items():
        answers = replies[chat]
        for at in asked:
            first = next((t for t in answers if t >= at), None)
            if first is not None:
                waits.append(first - at)
    waits.sort()
    return waits[len(waits) // 2], waits[int(len(waits) * 0.95)]
