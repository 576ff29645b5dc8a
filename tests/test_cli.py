"""The command line as an operator uses it: real processes, exit codes, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
THON2 = "Đảng bộ xã Hưng Bình/Chi bộ thôn 2"


def run(
    tmp_path: Path, *args: str, config: str | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "config.toml"
    if not cfg.exists() or config is not None:
        cfg.write_text(
            config
            or f'[database]\nsqlite_path = "{tmp_path / "db.sqlite"}"\n'
            '[telegram]\nusername = "hungbinh_bot"\n',
            encoding="utf-8",
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAMTHEO_", "TELEGRAM_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(cfg), *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["run", "--help"],
        ["chat", "--help"],
        ["db", "upgrade", "--help"],
        ["org", "import", "--help"],
        ["invite", "list", "--help"],
        ["theme", "set", "--help"],
    ],
)
def test_help(tmp_path: Path, args: list[str]) -> None:
    done = run(tmp_path, *args)
    assert done.returncode == 0
    assert "usage: python -m bot" in done.stdout


def test_bad_usage_exits_2(tmp_path: Path) -> None:
    assert run(tmp_path).returncode == 2
    assert run(tmp_path, "frobnicate").returncode == 2
    assert run(tmp_path, "invite", "list").returncode == 2  # --unit is required


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ('[telegram]\nmode = "carrier-pigeon"\n', "[telegram] mode"),
        ("[invites]\nvalid_days = -3\n", "[invites] valid_days"),
        ('[limits]\nmax_item_chars = "nhiều"\n', "[limits] max_item_chars"),
        ('[org]\ntimezone = "Mars/Olympus"\n', "[org] timezone"),
        ("[telegram\n", "TOML"),
    ],
)
def test_a_wrong_config_value_is_one_line_naming_the_key(
    tmp_path: Path, config: str, key: str
) -> None:
    done = run(tmp_path, "db", "upgrade", config=config)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and key in lines[0] and "Traceback" not in done.stderr


def test_missing_config_file(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAMTHEO_", "TELEGRAM_"))}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(tmp_path / "none.toml"), "db", "upgrade"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "none.toml" in done.stderr


def test_import_invites_and_theme(tmp_path: Path) -> None:
    assert run(tmp_path, "db", "upgrade").returncode == 0
    done = run(tmp_path, "org", "import", "examples/roster.xlsx")
    assert done.returncode == 0, done.stderr
    assert "thêm 30" in done.stdout
    again = run(tmp_path, "org", "import", "examples/roster.csv")
    assert "thêm 0, cập nhật 0, giữ nguyên 30" in again.stdout

    bad = run(tmp_path, "org", "import", "examples/roster_bad.csv")
    assert bad.returncode == 1
    assert "Dòng 3, cột «Vai trò»" in bad.stderr and "Không nhập gì" in bad.stderr
    assert run(tmp_path, "org", "import", "nothing-here.csv").returncode == 1
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a workbook")
    done = run(tmp_path, "org", "import", str(broken))
    assert done.returncode == 1 and "Tệp: không đọc được tệp: tệp .xlsx bị hỏng" in done.stderr

    listing = run(tmp_path, "invite", "list", "--unit", THON2)
    assert listing.returncode == 0, listing.stderr
    assert "Mã chi bộ" in listing.stdout and "https://t.me/hungbinh_bot?start=" in listing.stdout
    code_line = next(line for line in listing.stdout.splitlines() if "Hoàng Văn Sơn" in line)
    code = code_line.split()[3]
    # listing again gives the same, still valid codes; --reissue replaces them
    assert code in run(tmp_path, "invite", "list", "--unit", THON2).stdout
    reissued = run(tmp_path, "invite", "list", "--unit", THON2, "--reissue")
    assert reissued.returncode == 0 and code not in reissued.stdout
    # a parent unit lists each chi bộ below it
    both = run(tmp_path, "invite", "list", "--unit", "Đảng bộ xã Hưng Bình", "--format", "csv")
    assert "Chi bộ Trường Tiểu học Hưng Bình" in both.stdout and THON2 in both.stdout
    assert run(tmp_path, "invite", "list", "--unit", "Không có/Đơn vị").returncode == 1

    theme = run(
        tmp_path,
        "theme",
        "set",
        "--unit",
        "Đảng bộ xã Hưng Bình",
        "--year",
        "2026",
        "--title",
        "Tự lực, tự cường",
        "--deadline",
        "2026-03-31",
    )
    assert theme.returncode == 0 and "Tự lực, tự cường" in theme.stdout
    # The term-wide theme takes the yearly themes of its years below it.
    province = ["theme", "set", "--unit", "Đảng bộ xã Hưng Bình", "--year", "2026"]
    no_end = run(tmp_path, *province, "--title", "Toàn khóa", "--term")
    assert no_end.returncode == 1 and "--until-year" in no_end.stderr
    term = run(tmp_path, *province, "--title", "Toàn khóa", "--term", "--until-year", "2030")
    assert term.returncode == 0, term.stderr
    assert "chuyên đề toàn khóa 2026–2030" in term.stdout
    again = run(tmp_path, *province, "--title", "Tự lực, tự cường (sửa)")
    assert "Thuộc chuyên đề toàn khóa: Toàn khóa" in again.stdout
    bad_date = run(
        tmp_path,
        "theme",
        "set",
        "--unit",
        THON2,
        "--year",
        "2026",
        "--title",
        "X",
        "--deadline",
        "31/3/2026",
    )
    assert bad_date.returncode == 1 and "YYYY-MM-DD" in bad_date.stderr
    assert (
        run(
            tmp_path,
            "theme",
            "set",
            "--unit",
            THON2,
            "--year",
            "2026",
            "--title",
            "X",
            "--until-year",
            "2025",
        ).returncode
        == 1
    )


def test_chat_as_a_member_and_with_a_code(tmp_path: Path) -> None:
    assert run(tmp_path, "org", "import", "examples/roster.csv").returncode == 0
    done = run(tmp_path, "chat", "--member", "tran van thang", stdin="/chibo\n:thoat\n")
    assert done.returncode == 0, done.stderr
    assert "Trần Văn Thắng" in done.stdout and "Đã đăng ký: 0/14" in done.stdout
    code_line = next(
        line
        for line in run(tmp_path, "invite", "list", "--unit", THON2).stdout.splitlines()
        if "Lê Văn Đức" in line
    )
    code = code_line.split()[3]
    done = run(tmp_path, "chat", "--code", code, stdin="/dangky\n2\n")
    assert "Chào đồng chí Lê Văn Đức" in done.stdout
    assert "Bước 1/5" in done.stdout and "  2. Quy định 144-QĐ/TW" in done.stdout
    assert "Đã chọn:\n• Quy định 144-QĐ/TW" in done.stdout  # "2" chose the second line
    unknown = run(tmp_path, "chat", "--member", "Không Ai Cả", stdin="")
    assert unknown.returncode == 1


def test_run_without_a_token_opens_the_console_on_the_example_chi_bo(tmp_path: Path) -> None:
    done = run(tmp_path, "run", stdin="/trogiup\n:thoat\n")
    assert done.returncode == 0, done.stderr
    assert "Chưa có TELEGRAM_BOT_TOKEN" in done.stdout
    assert "/dangky" in done.stdout and "Tạm biệt." in done.stdout
    again = run(tmp_path, "run", stdin=":thoat\n")  # the example is not imported twice
    assert again.returncode == 0 and "Chưa có TELEGRAM_BOT_TOKEN" in again.stdout


def test_run_without_a_token_never_mixes_the_example_into_a_real_roster(tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    real.write_text(
        "Đơn vị,Họ và tên,Chức vụ,Vai trò,Loại,Miễn sinh hoạt\n"
        "Đảng bộ phường X/Chi bộ khu phố 1,Lý Văn Thật,Tổ trưởng,Bí thư,Chính thức,Không\n",
        encoding="utf-8",
    )
    assert run(tmp_path, "org", "import", str(real)).returncode == 0
    done = run(tmp_path, "run", stdin=":thoat\n")
    assert done.returncode == 1 and "không nạp chi bộ mẫu" in done.stderr
    listing = run(tmp_path, "invite", "list", "--unit", "Đảng bộ xã Hưng Bình")
    assert listing.returncode == 1  # the example units were not created


def test_reminders_plan_is_idempotent(tmp_path: Path) -> None:
    import asyncio

    assert run(tmp_path, "org", "import", "examples/roster.csv").returncode == 0
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"

    async def schedule_and_link() -> None:
        from sqlalchemy import select

        from models.db import create_engine, session_factory, utcnow
        from models.orgs import find_unit
        from models.people import link_identity
        from models.tables import Member

        engine = create_engine(url)
        async with session_factory(engine)() as s, s.begin():
            unit = await find_unit(s, THON2)
            assert unit is not None
            unit.meeting_rule = {"kind": "day", "day": 3, "time": "19:30", "place": ""}
            member = (await s.scalars(select(Member).where(Member.full_name == "Lê Văn Đức"))).one()
            await link_identity(
                s,
                member,
                channel="telegram",
                user_id="9",
                chat_id="9",
                display_name="",
                now=utcnow(),
            )
        await engine.dispose()

    asyncio.run(schedule_and_link())
    early = run(tmp_path, "reminders", "plan", "--now", "2026-11-29T08:00+07:00")
    assert early.returncode == 0 and "Không có tin nào mới" in early.stdout
    first = run(tmp_path, "reminders", "plan", "--now", "2026-11-30T08:05+07:00")
    assert (
        first.returncode == 0
        and "Đã lên lịch gửi 1 tin" in first.stdout
        and "d3: 1" in first.stdout
    )
    again = run(tmp_path, "reminders", "plan", "--now", "2026-11-30T08:10+07:00")
    assert "Không có tin nào mới" in again.stdout
    bad = run(tmp_path, "reminders", "plan", "--now", "hôm qua")
    assert bad.returncode == 1 and "ISO-8601" in bad.stderr
    # the unit's own D-1: two days before at 07:00 instead of the next day at 08:00
    own = run(tmp_path, "reminders", "set", "--unit", THON2, "d1_days=2", "d1_at=07:00")
    assert own.returncode == 0 and "Đã lưu" in own.stdout, own.stderr
    follow_up = run(tmp_path, "reminders", "plan", "--now", "2026-12-01T07:05+07:00")
    assert "d1: 1" in follow_up.stdout, follow_up.stdout
    bad_rule = run(tmp_path, "reminders", "set", "--unit", THON2, "d3_at=25:00")
    assert bad_rule.returncode == 1 and "Giờ nhắc không hợp lệ" in bad_rule.stderr
    assert run(tmp_path, "reminders", "set", "--unit", THON2, "--reset").returncode == 0
    status = run(tmp_path, "outbox", "status")
    pending = next(line for line in status.stdout.splitlines() if "chờ gửi" in line)
    assert status.returncode == 0 and pending.split()[2:] == ["2", "(reminder", "2)"]
