"""What every benchmark shares: the database (a SQLite file, a throwaway PostgreSQL cluster),
timing (p50/p95), the figures table, the machine facts, and the history in bench/RESULTS.md.

PostgreSQL comes from tests/support/postgres.py (initdb/pg_ctl in a temp dir, cleaned up however
the process ends): the same cluster the test suite uses, so the two never drift apart."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from models.db import upgrade

RESULTS = Path(__file__).parent / "RESULTS.md"
DBS = ("sqlite", "postgresql")


@dataclass
class Figure:
    """One measured figure, and its goal when the issue sets one."""

    bench: str  # "reports", "imports"
    name: str  # "digest p95"
    db: str  # "sqlite", "postgresql" or "" when no database is involved
    value: float
    unit: str  # "ms", "s", "rows/s", "rows"
    goal: float | None = None  # in the same unit
    at_least: bool = False  # the goal is a floor (rates), else a ceiling (times)
    # CPU time of this process per operation (ms), beside the wall time: on a loaded machine
    # the wall time grows with the load, this much less (the PostgreSQL server's is not in it)
    cpu: float | None = None

    @property
    def met(self) -> bool | None:
        if self.goal is None:
            return None
        return self.value >= self.goal if self.at_least else self.value <= self.goal

    def cells(self) -> list[str]:
        goal = "" if self.goal is None else f"{'≥' if self.at_least else '≤'} {_num(self.goal)}"
        met = {None: "", True: "met", False: "MISSED"}[self.met]
        cpu = "" if self.cpu is None else f"{_num(self.cpu)} ms"
        value = f"{_num(self.value)} {self.unit}"
        return [self.bench, self.name, self.db or "-", value, cpu, goal, met]


HEADER = ["bench", "figure", "db", "value", "cpu", "goal", ""]


def _num(x: float) -> str:
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


# -- the databases --------------------------------------------------------------------------


class Databases:
    """Fresh migrated databases on demand: `url = dbs.fresh("sqlite")`. PostgreSQL starts one
    throwaway cluster on first use; close() stops it and removes every file."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="lamtheo-bench-")
        self._cluster: Any = None

    async def fresh(self, kind: str) -> str:
        """A new migrated database (the migrations run their own event loop: in a thread)."""
        return await asyncio.to_thread(self._fresh, kind)

    def _fresh(self, kind: str) -> str:
        if kind == "sqlite":
            url = f"sqlite+aiosqlite:///{self._dir.name}/{uuid.uuid4().hex[:8]}.db"
        elif kind == "postgresql":
            if self._cluster is None:
                from tests.support.postgres import PostgresCluster

                self._cluster = PostgresCluster().start()
            name = f"bench_{uuid.uuid4().hex[:8]}"
            url = self._cluster.create_database(name)
        else:
            raise ValueError(f"unknown database {kind!r}")
        upgrade(url)
        return str(url)

    async def drop(self, url: str) -> None:
        await asyncio.to_thread(self._drop, url)

    def _drop(self, url: str) -> None:
        """Free the space of a database no longer needed (the SQLite file, the PG database)."""
        if url.startswith("sqlite"):
            path = url.split("///", 1)[1]
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path + suffix)
        elif self._cluster is not None:
            self._cluster.drop_database(url.rsplit("/", 1)[1])

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.stop()
            self._cluster = None
        self._dir.cleanup()


def chosen(db: str) -> list[str]:
    return list(DBS) if db == "both" else [db]


# -- timing ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


async def timed(call: Callable[[], Awaitable[Any]]) -> float:
    """Seconds one call takes."""
    start = time.perf_counter()
    await call()
    return time.perf_counter() - start


@dataclass
class Sample:
    """Wall times of repeated calls, and the process CPU time they took together."""

    wall: list[float]
    cpu: float

    def ms(self, q: float) -> float:
        return percentile(self.wall, q) * 1000

    @property
    def cpu_ms(self) -> float:
        return self.cpu / len(self.wall) * 1000


async def sample(calls: Sequence[Callable[[], Awaitable[Any]]]) -> Sample:
    cpu = time.process_time()
    wall = [await timed(call) for call in calls]
    return Sample(wall, time.process_time() - cpu)


@contextlib.contextmanager
def profiled(enabled: bool, title: str) -> Iterator[None]:
    """With --profile: a pyinstrument profile of the block on stderr (the dev extra)."""
    if not enabled:
        yield
        return
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("pyinstrument is not installed (pip install -e '.[dev]')", file=sys.stderr)
        yield
        return
    profiler = Profiler(async_mode="enabled", interval=0.0005)
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()
        print(f"\n=== profile: {title} ===", file=sys.stderr)
        print(profiler.output_text(unicode=True, color=False, show_all=False), file=sys.stderr)


# -- the machine and the table -----------------------------------------------------------------


@dataclass
class Machine:
    date: str = field(default_factory=lambda: f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    nproc: int = field(default_factory=lambda: len(os.sched_getaffinity(0)))
    cpu: str = field(default_factory=lambda: _cpu_model())
    python: str = field(default_factory=platform.python_version)
    load: str = field(default_factory=lambda: load_average())

    def line(self) -> str:
        return (
            f"{self.date} · nproc {self.nproc} · {self.cpu} · Python {self.python}"
            f" · load average {self.load}"
        )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def table(figures: Sequence[Figure]) -> str:
    rows = [HEADER, *(f.cells() for f in figures)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(figures: Sequence[Figure], machine: Machine, title: str) -> str:
    lines = [
        f"### {title}",
        "",
        f"{machine.line()}",
        "",
        "| bench | figure | db | value | cpu/op | goal | |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(f.cells()) + " |" for f in figures]
    return "\n".join(lines) + "\n"


def record(figures: Sequence[Figure], machine: Machine, title: str, path: Path = RESULTS) -> None:
    """Append this run to the history (bench/RESULTS.md); earlier runs stay."""
    with path.open("a", encoding="utf-8") as f:
        f.write("\n" + markdown(figures, machine, title))


# -- running one benchmark --------------------------------------------------------------------


class Benchmark(Protocol):
    NAME: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    async def run(self, args: argparse.Namespace, dbs: Databases) -> list[Figure]: ...


def common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", choices=(*DBS, "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="small sizes: done in a minute")
    parser.add_argument(
        "--record", action="store_true", help="append the figures to bench/RESULTS.md"
    )
    parser.add_argument("--profile", action="store_true", help="pyinstrument profiles, stderr")


def main(module: Benchmark, argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(prog=f"python -m bench.{module.NAME}")
    common_arguments(parser)
    module.add_arguments(parser)
    args = parser.parse_args(argv)
    machine = Machine()
    dbs = Databases()
    try:
        figures = asyncio.run(module.run(args, dbs))
    finally:
        dbs.close()
    machine.load += f" → {load_average()}"  # before → after: how busy the machine was meanwhile
    print(f"\n{machine.line()}")
    print(table(figures))
    if args.record:
        record(figures, machine, f"bench.{module.NAME}{' --quick' if args.quick else ''}")
    return figures
