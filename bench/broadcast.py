"""Benchmark 2: a broadcast through the outbox at Telegram's pace.

Seeds `--recipients` linked Telegram members (10,000; --quick: 1,000) in chi bộ of 50 under one
đảng bộ (tests/support/seeding), starts the real bot (`python -m bot run`, its own process, the
way tests/support/bot_process.py runs it) against the fake Bot API limited to `--fake-rate`
messages in any 1 s window (30: beyond it the fake answers 429 retry_after=1), then plans a
broadcast to the whole đảng bộ the way /thongbao does (models.broadcasts.start, with the admin's
progress message, which the bot edits every [broadcast] progress_seconds) and waits until every
recipient's row has settled. The bot runs with the product's Telegram pacing: the defaults of
bot/config.py, as config.toml ships them (29.5 messages/s overall, a margin under Telegram's
30; 1 s between messages to one chat), not the tests' unpaced settings.

Figures, per database:
- planning: broadcasts.start and its commit, in this process (`cpu`: its CPU time). Goal ≤ 1 s
  for 10,000 rows, scaled as recipients/10,000 s; set only from 10,000 recipients up (below, the
  fixed cost of one transaction dominates and the issue names no goal);
- wall time: from the planning's commit to the last recipient's message at the fake. Goal: the
  recipients at 95 % of the 30/s floor (≤ 351 s for 10,000, ≤ 35.1 s for 1,000); `cpu` here is
  the bot process's CPU time per message (/proc/<pid>/stat), a guide under machine load;
- achieved rate: recipients / wall time, goal ≥ 28.5 messages/s;
- 429s: the fake's count of 429 answers during the broadcast (each pauses every send ~1.1 s);
- duplicates: messages to a recipient beyond the first (goal 0);
- losses: recipients the fake has no message for (goal 0);
- not sent (db): the broadcast's rows not "sent" in the outbox at the end (goal 0; the statuses
  are printed), checked against the fake's record;
- progress edits: edits of the admin's progress message that went out meanwhile (they share
  the 30/s with the broadcast).

`python -m bench.broadcast [--recipients N --cells M --fake-rate R --db sqlite|postgresql|both]`
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sqlalchemy import func, select

from bench.common import Databases, Figure, Sample, chosen, profiled, sample
from models.db import create_engine, session_factory, utcnow

NAME = "broadcast"
FLOOR = 30.0  # Telegram's messages per second: the floor
SHARE = 0.95  # of the floor, the goal
PLANNING_GOAL_S = 1.0  # per 10,000 rows
FIRST_CHAT = 500_000  # recipient i's Telegram chat is FIRST_CHAT + i
ADMIN_CHAT = 499_999  # the progress message's chat
TEXT = "Họp chi bộ mở rộng lúc 19:30 tối nay tại nhà văn hóa."
STALL_S = 90.0  # no message to a recipient for this long: the run gives up, the rest are losses
TROUBLE = ("Traceback", "QueuePool limit", "background task crashed")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recipients", type=int, help="default 10,000 (--quick: 1,000)")
    parser.add_argument("--cells", type=int, help="chi bộ; default recipients / 50")
    add_run_arguments(parser)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The options benchmark 5 shares."""
    parser.add_argument(
        "--fake-rate",
        type=float,
        default=FLOOR,
        help="messages the fake Bot API takes in any 1 s window (default 30, as Telegram)",
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no admin progress message (as `python -m bot broadcast`; default: as /thongbao)",
    )


# -- the shared parts (benchmark 5 runs the same broadcast) -----------------------------------


class Watcher(Protocol):
    """Looks at the bot process while the broadcast runs (benchmark 5: its memory)."""

    async def started(self, pid: int) -> None:
        """The bot leads and is idle; the broadcast is not planned yet."""

    async def finished(self, pid: int) -> None:
        """Every row has settled; the bot still runs."""


@dataclass
class Outcome:
    recipients: int
    planning: Sample
    wall: float  # s, the planning's commit to the last recipient's message at the fake
    bot_cpu: float  # s of the bot process's CPU time over the same span
    count_429: int
    duplicates: int
    losses: int
    not_sent: int
    statuses: dict[str, int]
    edits: int
    mismatched: int  # chats where the database and the fake disagree about "sent"
    trouble: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.recipients / self.wall if self.wall > 0 else 0.0


def bot_config(folder: Path, base_url: str, db_url: str) -> Path:
    """tests/support/bot_process.telegram_config's file without its test pacing (no overall
    limit, 0.05 s per chat), so the bot paces Telegram as it ships: bot/config.py's defaults,
    which config.toml repeats. Checked by loading it."""
    from bot.config import TelegramConfig, load
    from tests.support.bot_process import telegram_config

    path, _ = telegram_config(folder, base_url)
    test_pacing = ("rate_per_second", "per_chat_interval")
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text(
        "\n".join(line for line in lines if not line.startswith(test_pacing)) + "\n",
        encoding="utf-8",
    )
    loaded = load(path, env={"LAMTHEO_DATABASE_URL": db_url}).telegram
    shipped = TelegramConfig(token=None)
    assert (loaded.rate_per_second, loaded.per_chat_interval) == (
        shipped.rate_per_second,
        shipped.per_chat_interval,
    ), loaded
    return path


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def plan(
    url: str, unit_path: str, *, progress: bool, profile: bool, label: str
) -> tuple[int, Sample]:
    """The broadcast to the unit's subtree, as /thongbao confirms it (models.broadcasts.start
    in one transaction, committed): its id and the time it took."""
    from handlers.broadcast import message, render_progress
    from models import broadcasts, routing
    from models.orgs import find_unit
    from models.tables import OrgUnit

    engine = create_engine(url)
    sessions = session_factory(engine)
    ids: list[int] = []
    try:
        async with sessions() as s:
            found = await find_unit(s, unit_path)
            assert found is not None, unit_path
            unit_id = found.id

        async def once() -> None:
            async with sessions() as s, s.begin():
                unit = await s.get(OrgUnit, unit_id)
                assert unit is not None
                sent = await broadcasts.start(
                    s,
                    unit,
                    payload=message({"text": TEXT, "link": None}).to_payload(),
                    now=utcnow(),
                    policy=routing.RoutePolicy(),
                    created_by=None,
                    progress_chat=("telegram", str(ADMIN_CHAT)) if progress else None,
                    render=render_progress if progress else None,
                )
                ids.append(sent.id)

        with profiled(profile, f"planning, {label}"):
            timing = await sample([once])
    finally:
        await engine.dispose()
    return ids[0], timing


async def statuses(url: str, broadcast_id: int) -> dict[str, set[int]]:
    """Status -> the chats of the broadcast's recipient rows."""
    from models.tables import Delivery

    engine = create_engine(url)
    found: dict[str, set[int]] = {}
    try:
        async with session_factory(engine)() as s:
            stmt = select(Delivery.status, Delivery.chat_id).where(
                Delivery.broadcast_id == broadcast_id, Delivery.kind == "broadcast"
            )
            for status, chat in await s.execute(stmt):
                found.setdefault(status, set()).add(int(chat))
    finally:
        await engine.dispose()
    return found


async def unsettled(url: str, broadcast_id: int) -> int:
    from models.tables import Delivery

    engine = create_engine(url)
    try:
        async with session_factory(engine)() as s:
            stmt = select(func.count()).where(
                Delivery.broadcast_id == broadcast_id,
                Delivery.kind == "broadcast",
                Delivery.status.in_(("pending", "sending")),
            )
            return int(await s.scalar(stmt) or 0)
    finally:
        await engine.dispose()


async def broadcast_once(
    url: str,
    unit_path: str,
    recipients: Sequence[int],
    *,
    fake_rate: float,
    progress: bool = True,
    profile: bool = False,
    label: str = "",
    watcher: Watcher | None = None,
) -> Outcome:
    """Start the bot on the fake, plan the broadcast to the unit's subtree (whose members'
    chats are `recipients`), wait until its rows settle, stop the bot; what happened."""
    from tests.fakes.telegram_api import FakeTelegramAPI
    from tests.support.bot_process import LEADS, BotProcess

    wanted = set(recipients)
    with tempfile.TemporaryDirectory(prefix="lamtheo-bench-bot-") as tmp:
        async with FakeTelegramAPI() as fake:
            fake.set_rate_limit(fake_rate)
            bot = await BotProcess(bot_config(Path(tmp), fake.base_url, url), url).start()
            try:
                await bot.wait_for(LEADS, timeout=120)
                if watcher is not None:
                    await watcher.started(bot.pid)
                rejected_before = fake.count_429
                broadcast_id, planning = await plan(
                    url, unit_path, progress=progress, profile=profile, label=label
                )
                began, cpu_began = time.time(), cpu_seconds(bot.pid)
                got: Counter[int] = Counter()
                seen, last_at, edits = 0, began, 0
                while True:
                    for record in fake.sent[seen:]:
                        if record["method"] == "sendMessage" and record["chat_id"] in wanted:
                            got[record["chat_id"]] += 1
                            last_at = record["time"]
                        elif record["method"] == "editMessageText":
                            edits += 1
                    seen = len(fake.sent)
                    if len(got) >= len(wanted) and await unsettled(url, broadcast_id) == 0:
                        break
                    if time.time() - max(last_at, began) > STALL_S:
                        if await unsettled(url, broadcast_id) == 0:
                            break  # settled, but not every chat got its message: losses
                        print(f"[{label}] stalled: {len(got):,} sent\n{bot.log()}", file=sys.stderr)
                        break
                    if bot.proc is not None and bot.proc.returncode is not None:
                        raise RuntimeError(f"the bot exited:\n{bot.log()}")
                    await asyncio.sleep(0.25)
                bot_cpu = cpu_seconds(bot.pid) - cpu_began
                count_429 = fake.count_429 - rejected_before
                if watcher is not None:
                    await watcher.finished(bot.pid)
            finally:
                await bot.stop()
    found = await statuses(url, broadcast_id)
    sent_db = found.get("sent", set())
    return Outcome(
        recipients=len(wanted),
        planning=planning,
        wall=last_at - began,
        bot_cpu=bot_cpu,
        count_429=count_429,
        duplicates=sum(n - 1 for n in got.values()),
        losses=len(wanted - set(got)),
        not_sent=len(wanted - sent_db),
        statuses={status: len(chats) for status, chats in sorted(found.items())},
        edits=edits,
        mismatched=len(sent_db ^ set(got)),
        trouble=[line for line in bot.lines if any(t in line for t in TROUBLE)],
    )


def wall_goal(recipients: int) -> float:
    return recipients / (SHARE * FLOOR)


def planning_goal(recipients: int) -> float | None:
    return PLANNING_GOAL_S * recipients / 10_000 if recipients >= 10_000 else None


def report(label: str, outcome: Outcome) -> None:
    """The run in a few lines on stderr, and anything that went wrong in the bot."""
    print(
        f"[{label}] {outcome.recipients:,} recipients: planned in "
        f"{outcome.planning.wall[0]:.2f} s, sent in {outcome.wall:.1f} s "
        f"({outcome.rate:.1f}/s, bot CPU {outcome.bot_cpu:.1f} s), "
        f"{outcome.count_429} × 429, {outcome.edits} progress edits; rows {outcome.statuses}",
        file=sys.stderr,
    )
    if outcome.mismatched:
        print(
            f"[{label}] the database and the fake disagree about {outcome.mismatched} chats",
            file=sys.stderr,
        )
    for line in outcome.trouble[:20]:
        print(f"[{label}] bot: {line}", file=sys.stderr)


async def run(args: argparse.Namespace, dbs: Databases) -> list[Figure]:
    from tests.support.seeding import PARENT, linked_members

    count = args.recipients or (1_000 if args.quick else 10_000)
    cells = args.cells or max(1, count // 50)
    figures: list[Figure] = []
    for db in chosen(args.db):
        url = await dbs.fresh(db)
        try:
            started = time.perf_counter()
            chats = await linked_members(url, count, cells=cells, first_chat=FIRST_CHAT)
            print(
                f"[{db}] seeded {count:,} members in {cells:,} chi bộ "
                f"in {time.perf_counter() - started:.1f} s",
                file=sys.stderr,
            )
            outcome = await broadcast_once(
                url,
                PARENT,
                chats,
                fake_rate=args.fake_rate,
                progress=not args.no_progress,
                profile=args.profile,
                label=db,
            )
        finally:
            await dbs.drop(url)
        report(db, outcome)
        figures += [
            Figure(
                NAME,
                "planning",
                db,
                outcome.planning.wall[0],
                "s",
                planning_goal(count),
                cpu=outcome.planning.cpu_ms,
            ),
            Figure(
                NAME,
                "wall time",
                db,
                outcome.wall,
                "s",
                wall_goal(count),
                cpu=outcome.bot_cpu / count * 1000,
            ),
            Figure(NAME, "achieved rate", db, outcome.rate, "msgs/s", SHARE * FLOOR, True),
            Figure(NAME, "429s", db, outcome.count_429, "answers"),
            Figure(NAME, "duplicates", db, outcome.duplicates, "msgs", 0),
            Figure(NAME, "losses", db, outcome.losses, "members", 0),
            Figure(NAME, "not sent (db)", db, outcome.not_sent, "rows", 0),
            Figure(NAME, "progress edits", db, outcome.edits, "msgs"),
        ]
    return figures


if __name__ == "__main__":
    import bench.broadcast
    import bench.common

    bench.common.main(bench.broadcast)
