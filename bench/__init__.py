"""Benchmarks (issue 7): `python -m bench` runs them all, `python -m bench.NAME` one of them.

Each benchmark module has `add_arguments(parser)` and `async run(args, db) -> list[Figure]`;
bench.common does the rest (the database, timing, the table, the machine, bench/RESULTS.md).
"""
