"""The benchmarks (bench/, issue 7) still run: each at a tiny size on SQLite, printing every
figure. Their values are not checked here: performance is measured by `make bench`, never by
timed tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bench(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", *args, "--db", "sqlite"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def figures(out: str) -> dict[str, str]:
    """figure name -> the rest of its row, from the printed table."""
    rows = {}
    for line in out.splitlines():
        cells = line.split("  ")
        if cells[0] in ("reports", "imports", "broadcast", "memory", "inbound"):
            rest = [c.strip() for c in cells[1:] if c.strip()]
            rows[rest[0]] = " ".join(rest[1:])
    return rows


def test_reports_benchmark_prints_its_figures() -> None:
    out = bench(
        "bench.reports",
        *("--members", "80", "--cells", "4", "--months", "3", "--samples", "3", "--repeat", "1"),
    )
    found = figures(out)
    for name in (
        "seeding",
        "seeded rows",
        "digest p50",
        "history p50",
        "province report",
        "province report, cold",
        "non-submitters",
        "full-year roll-up",
        "full-year roll-up, cold",
    ):
        assert name in found, out
        assert "sqlite" in found[name]
    assert "nproc" in out and "Python" in out and "load average" in out


def test_imports_benchmark_prints_its_figures() -> None:
    out = bench("bench.imports", "--rows", "60", "--cells", "3")
    found = figures(out)
    for fmt in ("csv", "xlsx"):
        for name in (f"{fmt} import", f"{fmt} re-import", f"{fmt} import rate"):
            assert name in found, out


def test_the_whole_run_lists_the_benchmarks() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0 and "--quick" in out.stdout and "--only" in out.stdout


def test_broadcast_benchmark_prints_its_figures() -> None:
    out = bench("bench.broadcast", "--recipients", "60", "--cells", "3", "--fake-rate", "100")
    found = figures(out)
    for name in (
        "planning",
        "wall time",
        "achieved rate",
        "429s",
        "duplicates",
        "losses",
        "not sent (db)",
        "progress edits",
    ):
        assert name in found, out
        assert "sqlite" in found[name]
    # every recipient got the broadcast once (the run's outcome, not its speed)
    for name in ("duplicates", "losses", "not sent (db)"):
        assert found[name].split()[1] == "0.00", out


def test_memory_benchmark_prints_its_figures() -> None:
    out = bench(
        "bench.memory",
        *("--members", "300", "--recipients", "60", "--fake-rate", "100", "--settle", "0.5"),
    )
    found = figures(out)
    for name in ("members", "recipients", "idle RSS", "RSS during broadcast, max", "peak RSS"):
        assert name in found, out
    assert found["recipients"].split()[1] == "60.0", out


def test_inbound_benchmark_prints_its_figures() -> None:
    out = bench(
        "bench.inbound",
        *("--updates", "40", "--chats", "8", "--latency", "3", "--mode", "both"),
    )
    found = figures(out)
    for mode in ("webhook", "polling"):
        for name in (
            f"floor {mode}",
            f"floor {mode} (aiohttp)",
            f"ours {mode}",
            f"ours {mode} (httpx)",
            f"ratio ours/floor {mode}",
            f"ratio ours/floor {mode}, both on aiohttp",
            f"ratio ours/floor {mode}, both on httpx",
            f"ours {mode} latency p50",
            f"ours {mode} latency p95",
        ):
            assert name in found, out
        assert "updates/s" in found[f"ours {mode}"] and "sqlite" in found[f"ours {mode}"]
        assert "≥ 1.00" in found[f"ratio ours/floor {mode}"], out
