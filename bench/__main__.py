"""`python -m bench [--quick] [--db …] [--record]`: every benchmark present, one table.

Each benchmark takes its own size options when run alone (`python -m bench.reports --help`);
here they run at their default sizes (or --quick ones)."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys

from bench.common import (
    Databases,
    Figure,
    Machine,
    common_arguments,
    load_average,
    record,
    table,
)

# In the order of issue 7; modules not written yet are skipped.
BENCHMARKS = ("inbound", "broadcast", "reports", "imports", "memory")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    common_arguments(parser)
    parser.add_argument("--only", help="comma-separated benchmark names")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else BENCHMARKS
    machine = Machine()
    figures: list[Figure] = []
    dbs = Databases()
    try:
        for name in names:
            try:
                module = importlib.import_module(f"bench.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"bench.{name}":
                    raise
                print(f"bench.{name}: not written yet, skipped", file=sys.stderr)
                continue
            sub = argparse.ArgumentParser()
            module.add_arguments(sub)
            own = sub.parse_args([])
            for key, value in vars(args).items():
                setattr(own, key, value)
            figures += asyncio.run(module.run(own, dbs))
    finally:
        dbs.close()
    machine.load += f" → {load_average()}"
    print(f"\n{machine.line()}")
    print(table(figures))
    if args.record:
        record(figures, machine, f"python -m bench{' --quick' if args.quick else ''}")


if __name__ == "__main__":
    main()
