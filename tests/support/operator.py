"""The operator's side of the end-to-end tests: the real command line, as run by hand."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
THON2 = "Đảng bộ xã Hưng Bình/Chi bộ thôn 2"


def cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    config = ROOT / "tests" / "data" / "e2e.toml"
    env = {**os.environ, "LAMTHEO_DATABASE_URL": db_url}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def invite_codes(db_url: str) -> tuple[dict[str, str], str]:
    done = cli(db_url, "invite", "list", "--unit", THON2, "--format", "csv")
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(io.StringIO(done.stdout)))[1:]
    codes = {row[1]: row[2] for row in rows}
    links = {row[1]: row[3] for row in rows}
    assert links["Hoàng Văn Sơn"] == f"https://t.me/lamtheo_test_bot?start={codes['Hoàng Văn Sơn']}"
    done = cli(db_url, "invite", "list", "--unit", THON2)
    join = next(line for line in done.stdout.splitlines() if line.startswith("Mã chi bộ"))
    return codes, join.split(": ", 1)[1].split()[0]
