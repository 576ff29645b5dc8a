"""Benchmark 5: the bot process's memory during a broadcast, with a province's members loaded.

Seeds `--members` linked Telegram members (100,000; --quick: 10,000: tests/support/seeding, bulk
inserts) in chi bộ of `--recipients` members each (5,000; --quick: 1,000) under one đảng bộ,
then runs benchmark 2's broadcast (bench/broadcast.py: the real `python -m bot run` process with
the product's Telegram pacing, against the fake Bot API at 30 messages/s) to one of those chi
bộ: a subtree of `--recipients` of them, not all 100,000 (that would take an hour at 30/s; the
worker holds at most a few hundred rows at a time, so the size of the broadcast matters less
than the size of the database it runs on). The broadcast is planned in the benchmark's process,
as /thongbao's transaction would be; the bot sends it, edits the progress message and does
everything else it does while leading (polling, the scheduler, the inbox).

The bot's resident memory is read from /proc/<pid>/status every `--every` seconds:
- idle RSS: VmRSS once the bot leads and has settled (`--settle` s), before the broadcast;
- RSS during broadcast, max: the largest VmRSS sampled while it was sent;
- peak RSS: VmHWM at the end (the high-water mark of the process's whole life, start
  included), or the largest sample if above it. Goal ≤ 200 MB.

`python -m bench.memory [--members N --recipients M --db sqlite|postgresql|both]`
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import broadcast
from bench.common import Databases, Figure, chosen

NAME = "memory"
GOAL_MB = 200.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--members", type=int, help="default 100,000 (--quick: 10,000)")
    parser.add_argument(
        "--recipients", type=int, help="the broadcast's chi bộ; default 5,000 (--quick: 1,000)"
    )
    parser.add_argument("--every", type=float, default=0.2, help="seconds between samples")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds idle before it")
    broadcast.add_run_arguments(parser)


def status_mb(pid: int, key: str) -> float:
    """A /proc/<pid>/status size (VmRSS, VmHWM: in kB there) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {key} for process {pid}")


@dataclass
class RssWatcher:
    """benchmark 2's Watcher: the bot's RSS at idle, sampled during the broadcast, and peak."""

    every: float
    settle: float
    idle: float = 0.0
    samples: list[float] = field(default_factory=list)
    peak: float = 0.0
    _task: asyncio.Task[None] | None = None

    async def started(self, pid: int) -> None:
        await asyncio.sleep(self.settle)
        self.idle = status_mb(pid, "VmRSS")
        self._task = asyncio.create_task(self._sample(pid))

    async def _sample(self, pid: int) -> None:
        while True:
            self.samples.append(status_mb(pid, "VmRSS"))
            await asyncio.sleep(self.every)

    async def finished(self, pid: int) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.samples.append(status_mb(pid, "VmRSS"))
        # The kernel updates VmHWM from batched counters: a sample may pass it by a few pages.
        self.peak = max(status_mb(pid, "VmHWM"), *self.samples)


async def run(args: argparse.Namespace, dbs: Databases) -> list[Figure]:
    from tests.support.seeding import PARENT, linked_members

    members = args.members or (10_000 if args.quick else 100_000)
    wanted = min(members, args.recipients or (1_000 if args.quick else 5_000))
    cells = max(1, members // wanted)
    figures: list[Figure] = []
    for db in chosen(args.db):
        url = await dbs.fresh(db)
        watcher = RssWatcher(args.every, args.settle)
        try:
            started = time.perf_counter()
            chats = await linked_members(url, members, cells=cells, first_chat=broadcast.FIRST_CHAT)
            print(
                f"[{db}] seeded {members:,} members in {cells:,} chi bộ "
                f"in {time.perf_counter() - started:.1f} s",
                file=sys.stderr,
            )
            # Member i is in "Chi bộ khu (i mod cells) + 1": the first chi bộ has every cells-th.
            outcome = await broadcast.broadcast_once(
                url,
                f"{PARENT}/Chi bộ khu 1",
                chats[::cells],
                fake_rate=args.fake_rate,
                progress=not args.no_progress,
                profile=args.profile,
                label=db,
                watcher=watcher,
            )
        finally:
            await dbs.drop(url)
        broadcast.report(db, outcome)
        print(
            f"[{db}] RSS: idle {watcher.idle:.1f} MB, {len(watcher.samples)} samples during the "
            f"broadcast, max {max(watcher.samples):.1f} MB; VmHWM {watcher.peak:.1f} MB",
            file=sys.stderr,
        )
        if outcome.losses or outcome.duplicates or outcome.not_sent:
            print(f"[{db}] the broadcast was not sent whole: see bench.broadcast", file=sys.stderr)
        figures += [
            Figure(NAME, "members", db, members, "members"),
            Figure(NAME, "recipients", db, outcome.recipients, "members"),
            Figure(NAME, "idle RSS", db, watcher.idle, "MB"),
            Figure(NAME, "RSS during broadcast, max", db, max(watcher.samples), "MB"),
            Figure(NAME, "peak RSS", db, watcher.peak, "MB", GOAL_MB),
        ]
    return figures


if __name__ == "__main__":
    import bench.common
    import bench.memory

    bench.common.main(bench.memory)
