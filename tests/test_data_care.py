"""Data care on SQLite and PostgreSQL: a member's data exported and erased (python -m bot member),
the database backed up and restored (python -m bot db backup|restore), and what the roster import
never stores. The state is built through the real conversations (tests/support/world.py)."""

from __future__ import annotations

import asyncio
import base64
import html
import io
import json
import os
import subprocess
import sys
import uuid
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.scheduler import tick
from handlers import texts
from models import nominations, privacy
from models import year_reviews as year_review_store
from models.db import create_engine, session_factory, upgrade
from models.orgs import find_unit
from models.reports import Report, build_report
from models.tables import (
    Assessment,
    AssessmentEntry,
    AuditLog,
    Base,
    Delivery,
    Identity,
    JoinRequest,
    Member,
    MemberPeriod,
    Pledge,
    Role,
    YearReview,
)
from tests.support.harness import Clock, text_of
from tests.support.world import CONCRETE, THON2, World, make_world, register

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "tests" / "data" / "e2e.toml"
START = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # Friday 20 November 2026, 09:00 in Hà Nội

SON = "Hoàng Văn Sơn"
SON_PHONE = "0389556120"
SON_CHAT = "tg-son-80417"  # the platform user (and chat) id
SON_DISPLAY = "Sơn Hoàng Xóm Đông"
SON_ACTION = "Kèm cặp hai cháu học sinh xóm Đông ôn thi vào lớp 10"
SON_RESULT = "Cả hai cháu đỗ trường công lập"
SON_NOTE = "Đã kèm được ba buổi mỗi tuần"
SON_DIFFICULTY = "Thiếu tài liệu ôn thi môn Toán"
SON_COMMENT = "Cần kèm thêm môn Ngữ văn cho các cháu"
SON_REASON = "Đưa mẹ đi viện tỉnh khám định kỳ"
SON_YEAR_TEXT = "Năm 2026 tôi đã kèm cặp học sinh và giữ gìn đoàn kết trong xóm"
SON_NOMINATION = "Gương người đảng viên kèm cặp học sinh nghèo vượt khó"
DUC = "Lê Văn Đức"
DUC_CHAT = "tg-duc-52190"
DUC_ACTION = "Sửa lại đoạn mương thủy lợi đầu xóm Tây cùng bà con"
DUC_REASON = "Đi công tác tỉnh ngoài cả tuần"
SEC = "Trần Văn Thắng"
SEC_CHAT = "tg-sec-31337"

# What a forgotten Sơn must leave nowhere.
SON_TRACES = (
    SON,
    SON_PHONE,
    SON_CHAT,
    SON_DISPLAY,
    SON_ACTION,
    SON_RESULT,
    SON_NOTE,
    SON_DIFFICULTY,
    SON_COMMENT,
    SON_REASON,
    SON_YEAR_TEXT,
    SON_NOMINATION,
)


def at(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    """A local (UTC+7) wall time in late 2026 as a UTC instant."""
    local = datetime(2026, month, day, hour, minute, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    return local.astimezone(UTC)


def cli(db_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LAMTHEO_DATABASE_URL": db_url}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(CONFIG), *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


async def dump(sessions: async_sessionmaker[AsyncSession]) -> str:
    """Every row of every table, as text (JSON not escaped: the letters as stored)."""
    parts = []
    async with sessions() as s:
        for table in Base.metadata.sorted_tables:
            rows = (await s.execute(select(table).order_by(*table.primary_key))).mappings()
            parts.append(
                table.name
                + ": "
                + json.dumps([dict(r) for r in rows], ensure_ascii=False, default=str)
            )
    return "\n".join(parts)


async def member_id(sessions: async_sessionmaker[AsyncSession], name: str) -> int:
    async with sessions() as s:
        return (await s.scalars(select(Member.id).where(Member.full_name == name))).one()


async def thon2_report(sessions: async_sessionmaker[AsyncSession]) -> Report:
    async with sessions() as s:
        unit = await find_unit(s, THON2)
        assert unit is not None
        return await build_report(s, unit, year=2026, period="2026-12")


async def counts(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as s:
        return {
            model.__tablename__: int(await s.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Pledge, Assessment, AssessmentEntry, Delivery, Member, MemberPeriod)
        }


def files_naming(payloads: list[dict[str, object]], name: str) -> int:
    """How many of the payloads carry a file (xlsx/docx) whose text has the name."""
    n = 0
    for payload in payloads:
        doc = payload.get("document")
        if not isinstance(doc, dict) or not doc.get("data"):
            continue
        content = base64.b64decode(str(doc["data"]))
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            xml = [archive.read(f).decode("utf-8", "ignore") for f in archive.namelist()]
            if any(name in html.unescape(part) for part in xml):  # "Ho&#224;ng"
                n += 1
    return n


# -- the world: a chi bộ through a month, with everything a person leaves behind ------------------


@dataclass
class Cell:
    w: World
    son: int
    duc: int


async def link_as(w: World, chat: str, name: str, display: str = "Người dùng") -> None:
    replies = await w.h.say(chat, f"/start {w.codes[name]}", name=display)
    assert f"Chào đồng chí <b>{name}</b>" in text_of(replies)


@pytest.fixture
async def cell(sessions: async_sessionmaker[AsyncSession]) -> Cell:
    w = await make_world(sessions, Clock(START))
    h = w.h
    son = await member_id(sessions, SON)
    duc = await member_id(sessions, DUC)
    # Before he had his personal code, Sơn asked to join with the chi bộ's code.
    await h.say(SON_CHAT, f"/start {w.join_code}", name=SON_DISPLAY)
    await h.say(SON_CHAT, SON, name=SON_DISPLAY)
    async with sessions() as s:
        assert (await s.scalars(select(JoinRequest))).one().full_name == SON
    await link_as(w, SEC_CHAT, SEC)
    await link_as(w, SON_CHAT, SON, SON_DISPLAY)
    await link_as(w, DUC_CHAT, DUC)
    await register(w, SON_CHAT, items=[(SON_ACTION, SON_RESULT, "tháng 6"), CONCRETE])
    await h.press(SEC_CHAT, "Duyệt")
    # The same second item as Sơn's: Đức's as much as his.
    await register(
        w, DUC_CHAT, items=[(DUC_ACTION, "Mương thông trước mùa mưa", "tháng 5"), CONCRETE]
    )
    await h.press(SEC_CHAT, "Duyệt")

    # The monthly meeting on the 3rd; Đức is excused, Sơn assesses himself.
    await h.say(SEC_CHAT, "/lichhop")
    await h.press(SEC_CHAT, "Đặt lịch hằng tháng")
    await h.say(SEC_CHAT, "ngày 3")
    await h.say(SEC_CHAT, "19:30")
    await h.say(SEC_CHAT, "Nhà văn hóa thôn")
    await h.press(SEC_CHAT, "Lưu")
    await h.say(DUC_CHAT, "/xinvang")
    await h.say(DUC_CHAT, DUC_REASON)
    await h.press(SEC_CHAT, "Đồng ý")
    h.clock.now = at(30, 8, 0, month=11)
    await tick(h.sessions, h.settings, h.clock())
    await h.delivery.drain()
    await h.press(SON_CHAT, "Tự đánh giá ngay")
    await h.press(SON_CHAT, "Đang thực hiện")
    await h.say(SON_CHAT, SON_NOTE)
    await h.press(SON_CHAT, "Đang thực hiện")
    await h.press(SON_CHAT, "Bỏ qua")
    await h.say(SON_CHAT, SON_DIFFICULTY)
    await h.press(SON_CHAT, "Gửi")
    assert "Đã nhận tự đánh giá tháng 12/2026" in h.last(SON_CHAT).text

    # The digest's details name him to the secretary, who then exports the chi bộ's pledges.
    h.clock.now = at(2, 18, 0)
    await tick(h.sessions, h.settings, h.clock())
    await h.delivery.drain()
    await h.press(SEC_CHAT, "Xem chi tiết")
    assert f"{SON}: <b>đã nộp</b>" in h.last(SEC_CHAT).text
    await h.say(SEC_CHAT, "/xuat")
    await h.press(SEC_CHAT, "Bảng tính XLSX")

    # After the meeting: the secretary's comment on Sơn.
    h.clock.now = at(4, 9, 0)
    await h.say(SEC_CHAT, "/chibo")
    await h.press(SEC_CHAT, "Xem xét sau sinh hoạt tháng 12/2026")
    await h.press(SEC_CHAT, SON)
    await h.press(SEC_CHAT, "Nhận xét")
    await h.say(SEC_CHAT, SON_COMMENT)
    assert SON_COMMENT in h.last(SON_CHAT).text

    # What other flows leave: an excuse of another month, the year's summary, a nomination.
    async with sessions() as s, s.begin():
        s.add(
            MemberPeriod(
                member_id=son,
                period="2026-11",
                excuse="approved",
                excuse_reason=SON_REASON,
                updated_at=h.clock(),
            )
        )
        await year_review_store.save(s, son, 2026, SON_YEAR_TEXT, h.clock())
        unit = await find_unit(s, THON2)
        assert unit is not None
        await nominations.add(
            s,
            unit,
            year=2026,
            kind=nominations.DIEN_HINH,
            subject=nominations.CA_NHAN,
            name=SON,
            description=SON_NOMINATION,
            member_id=son,
            now=h.clock(),
        )
    text_now = await dump(sessions)
    for trace in SON_TRACES:
        assert trace in text_now, trace  # the world holds what the tests then look for
    return Cell(w, son, duc)


@pytest.mark.parametrize(
    "args",
    [["member", "export"], ["member", "forget"], ["db", "backup"], ["db", "restore"]],
)
def test_help(args: list[str], tmp_path: Path) -> None:
    done = cli(f"sqlite+aiosqlite:///{tmp_path / 'none.db'}", *args, "--help")
    assert done.returncode == 0 and "usage: python -m bot" in done.stdout
    assert not (tmp_path / "none.db").exists()


# -- the decisions --------------------------------------------------------------------------------


def test_forget_has_decided_on_every_table() -> None:
    assert set(privacy.DECISIONS) == set(Base.metadata.tables)
    for name in privacy.DECISIONS:
        assert name in (privacy.__doc__ or ""), name


# -- export ---------------------------------------------------------------------------------------


async def test_export_holds_everything_about_the_member_and_nothing_of_another(
    db_url: str, sessions: async_sessionmaker[AsyncSession], cell: Cell, tmp_path: Path
) -> None:
    out = tmp_path / "son.json"
    done = cli(db_url, "member", "export", "--member", f"{THON2}/{SON}", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert str(out) in done.stdout
    assert out.stat().st_mode & 0o077 == 0  # personal data: the owner's only
    raw = out.read_text(encoding="utf-8")
    data = json.loads(raw)

    assert data["member"]["full_name"] == SON and data["member"]["phone"] == SON_PHONE
    assert data["unit"]["path"] == THON2
    assert [(i["channel"], i["user_id"], i["display_name"]) for i in data["identities"]] == [
        ("test", SON_CHAT, SON_DISPLAY)
    ]
    pledge = data["pledges"][-1]
    assert pledge["status"] == "approved"
    assert [i["action"] for i in pledge["items"]] == [SON_ACTION, CONCRETE[0]]
    assert data["assessments"][0]["entries"][0]["note"] == SON_NOTE
    assert data["assessments"][0]["difficulties"] == SON_DIFFICULTY
    assert {p["period"]: p["review_comment"] for p in data["periods"]}["2026-12"] == SON_COMMENT
    assert data["year_reviews"][0]["text"] == SON_YEAR_TEXT
    assert data["nominations"][0]["description"] == SON_NOMINATION
    assert data["join_requests"][0]["full_name"] == SON  # asked to join under his name
    assert any(SON_COMMENT in d["payload"].get("text", "") for d in data["deliveries"])
    assert any(a["action"] == "pledge_submit" and a["by_them"] for a in data["audit"])
    datetime.fromisoformat(data["member"]["created_at"])
    datetime.fromisoformat(data["pledges"][0]["submitted_at"])

    for other in (DUC, DUC_CHAT, DUC_ACTION, DUC_REASON, SEC, SEC_CHAT, "0912345601"):
        assert other not in raw, other

    # The secretary's messages name the members: in his export, only by id.
    done = cli(db_url, "member", "export", "--member", f"{THON2}/{SEC}")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["member"]["full_name"] == SEC
    assert f"[#{cell.son}]" in done.stdout and f"[#{cell.duc}]" in done.stdout
    assert SON not in done.stdout and DUC not in done.stdout and SON_PHONE not in done.stdout

    # The same to the terminal; all audited, without the person's name.
    done = cli(db_url, "member", "export", "--member", SON_PHONE)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["member"]["id"] == cell.son
    async with sessions() as s:
        rows = list(await s.scalars(select(AuditLog).where(AuditLog.action == "member_export")))
    assert [(r.actor, r.detail["member"]) for r in rows] == [
        ("cli", cell.son),
        ("cli", await member_id(sessions, SEC)),
        ("cli", cell.son),
    ]
    assert all(SON not in json.dumps(r.detail, ensure_ascii=False) for r in rows)


# -- forget ---------------------------------------------------------------------------------------


async def test_forget_erases_every_trace_and_keeps_the_figures(
    db_url: str, sessions: async_sessionmaker[AsyncSession], cell: Cell
) -> None:
    before = await thon2_report(sessions)
    before_counts = await counts(sessions)
    async with sessions() as s:
        statuses = sorted(
            (a.period, e.status)
            for a in await s.scalars(select(Assessment).where(Assessment.member_id == cell.son))
            for e in a.entries
        )
        pledge_states = sorted(
            (p.year, p.version, p.status, len(p.items))
            for p in await s.scalars(select(Pledge).where(Pledge.member_id == cell.son))
        )
        delivery_states = sorted(
            (d.kind, d.status) for d in await s.scalars(select(Delivery).order_by(Delivery.id))
        )
        payloads = [d.payload for d in await s.scalars(select(Delivery))]
        # Had Sơn simply left the chi bộ, the report would read:
        await s.execute(update(Member).where(Member.id == cell.son).values(active=False))
        unit = await find_unit(s, THON2)
        assert unit is not None
        left = await build_report(s, unit, year=2026, period="2026-12")
        await s.rollback()
    assert left != before  # he counts: the comparisons below can fail
    assert files_naming(payloads, SON) == 1  # the secretary's export lists him

    # Still a member, but nameless (--keep-active): not a figure moves.
    done = cli(db_url, "member", "forget", "--member", f"#{cell.son}", "--yes", "--keep-active")
    assert done.returncode == 0, done.stderr
    assert privacy.placeholder(cell.son) in done.stdout
    assert await thon2_report(sessions) == before
    assert await counts(sessions) == before_counts

    everything = await dump(sessions)
    for trace in SON_TRACES:
        assert trace not in everything, trace
    for kept in (DUC, DUC_CHAT, DUC_ACTION, DUC_REASON, SEC, CONCRETE[0]):
        assert kept in everything, kept  # nobody else's data is touched

    async with sessions() as s:
        son = await s.get(Member, cell.son)
        assert son is not None
        assert (son.full_name, son.phone, son.position, son.active) == (
            texts.FORGOTTEN_NAME.format(id=cell.son),
            None,
            "",
            True,
        )
        assert not list(await s.scalars(select(Identity).where(Identity.member_id == cell.son)))
        assert not list(await s.scalars(select(Role).where(Role.member_id == cell.son)))
        assert not list(await s.scalars(select(JoinRequest).where(JoinRequest.status == "pending")))
        assert statuses == sorted(
            (a.period, e.status)
            for a in await s.scalars(select(Assessment).where(Assessment.member_id == cell.son))
            for e in a.entries
        )
        assert pledge_states == sorted(
            (p.year, p.version, p.status, len(p.items))
            for p in await s.scalars(select(Pledge).where(Pledge.member_id == cell.son))
        )
        assert delivery_states == sorted(
            (d.kind, d.status) for d in await s.scalars(select(Delivery).order_by(Delivery.id))
        )
        assert files_naming([d.payload for d in await s.scalars(select(Delivery))], SON) == 0
        erased = (await s.scalars(select(AuditLog).where(AuditLog.action == "member_forget"))).one()
        assert erased.actor == "cli" and erased.detail["member"] == cell.son

    # Twice: nothing more to do, nothing changes.
    done = cli(db_url, "member", "forget", "--member", f"#{cell.son}", "--yes", "--keep-active")
    assert done.returncode == 0, done.stderr
    assert texts.CLI_FORGET_NOTHING.format(id=cell.son) in done.stdout
    assert await dump(sessions) == everything

    # Without --keep-active the person has left: the report reads as for any departure.
    done = cli(db_url, "member", "forget", "--member", f"#{cell.son}", "--yes")
    assert done.returncode == 0, done.stderr
    assert await thon2_report(sessions) == left

    # The bot still works for the others; Sơn's old account is a stranger's now.
    h = cell.w.h
    assert "bản đăng ký năm 2027" in text_of(await h.say(DUC_CHAT, "/camket"))  # recognised
    assert "bản đăng ký năm" not in text_of(await h.say(SON_CHAT, "/camket"))


async def test_forget_asks_first(db_url: str, sessions: async_sessionmaker[AsyncSession]) -> None:
    assert cli(db_url, "org", "import", "examples/roster.csv").returncode == 0
    done = cli(db_url, "member", "forget", "--member", SON_PHONE, stdin="khong\n")
    assert done.returncode == 1
    assert SON in done.stdout and done.stderr.strip() == texts.CLI_FORGET_CANCELLED
    async with sessions() as s:
        assert (await s.scalars(select(Member).where(Member.phone == SON_PHONE))).one().active
    done = cli(db_url, "member", "forget", "--member", SON_PHONE, stdin="xoa\n")
    assert done.returncode == 0, done.stderr
    assert SON not in await dump(sessions)


async def test_ambiguous_or_unknown_member_is_a_user_error(
    db_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    assert cli(db_url, "org", "import", "examples/roster.csv").returncode == 0
    other = tmp_path / "other.csv"
    other.write_text(
        "Đơn vị,Họ và tên,Vai trò\nĐảng bộ xã Hưng Bình/Chi bộ thôn 5,Hoàng Văn Sơn,Đảng viên\n",
        encoding="utf-8",
    )
    assert cli(db_url, "org", "import", str(other)).returncode == 0
    before = await dump(sessions)
    for command in ("export", "forget"):
        yes = ["--yes"] if command == "forget" else []
        done = cli(db_url, "member", command, "--member", SON, *yes)
        assert done.returncode == 1
        assert "trùng với 2 người" in done.stderr
        assert done.stderr.count("#") == 2 and "Chi bộ thôn 5" in done.stderr
        done = cli(db_url, "member", command, "--member", "Người Không Có", *yes)
        assert done.returncode == 1
        assert done.stderr.strip() == texts.CLI_MEMBER_NOT_FOUND.format(ref="Người Không Có")
    after = await dump(sessions)
    assert after == before  # nothing written, not even an audit row


# -- what is never collected ----------------------------------------------------------------------


async def test_roster_id_numbers_are_never_stored(
    db_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    secrets = {
        "Số thẻ đảng viên": "TDV-77889911",
        "Số thẻ": "52.039.118",
        "CCCD": "038201009876",
        "CMND": "172839465",
        "Căn cước": "001099123456",
        "Ngày vào Đảng": "19/05/1998",
    }
    header = ["Đơn vị", "Họ và tên", "Vai trò", "Điện thoại", *secrets]
    row = [THON2, "Phan Văn Tú", "Đảng viên", "0911222333", *secrets.values()]
    path = tmp_path / "roster.csv"
    path.write_text(",".join(header) + "\n" + ",".join(row) + "\n", encoding="utf-8")
    done = cli(db_url, "org", "import", str(path))
    assert done.returncode == 0, done.stderr
    everything = await dump(sessions)
    assert "Phan Văn Tú" in everything and "0911222333" in everything
    for column, value in secrets.items():
        assert value not in everything, column
        assert column not in everything, column


# -- backup and restore ---------------------------------------------------------------------------


@pytest.fixture
async def other_url(
    request: pytest.FixtureRequest, db_url: str, tmp_path: Path
) -> AsyncIterator[str]:
    """A second, empty database of the same kind (no migrations run)."""
    if db_url.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"
        return
    cluster = request.getfixturevalue("pg_cluster")
    name = f"o_{uuid.uuid4().hex[:12]}"
    cluster.create_database(name)
    yield cluster.dsn(name)
    cluster.drop_database(name)


async def test_restore_drill(db_url: str, engine: AsyncEngine, cell: Cell, tmp_path: Path) -> None:
    sessions = session_factory(engine)
    h = cell.w.h
    saved = tmp_path / "backup.bin"
    done = cli(db_url, "db", "backup", "--out", str(saved))
    assert done.returncode == 0, done.stderr
    assert str(saved) in done.stdout and saved.stat().st_mode & 0o077 == 0
    at_backup = await counts(sessions)
    assert at_backup["pledges"] and at_backup["assessments"] and at_backup["deliveries"]

    # Life goes on after the backup.
    await link_as(cell.w, "tg-thu-1", "Nguyễn Văn Hùng")
    await register(cell.w, "tg-thu-1", items=[CONCRETE])
    h.clock.now = at(30, 8, 0)
    await h.say(DUC_CHAT, "/tudanhgia")
    more = await counts(sessions)
    assert more["pledges"] > at_backup["pledges"] and more["deliveries"] > at_backup["deliveries"]

    # Over a database with data, only with --yes.
    done = cli(db_url, "db", "restore", str(saved))
    assert done.returncode == 1
    assert "--yes" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert await counts(sessions) == more

    await engine.dispose()  # the bot is stopped for a restore
    done = cli(db_url, "db", "restore", str(saved), "--yes")
    assert done.returncode == 0, done.stderr
    fresh = create_engine(db_url)
    try:
        restored = session_factory(fresh)
        assert await counts(restored) == at_backup
        assert await thon2_report(restored) is not None
        async with restored() as s:
            assert await s.scalar(text("SELECT version_num FROM alembic_version")) == _head()
    finally:
        await fresh.dispose()


async def test_a_damaged_backup_changes_nothing(
    db_url: str, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    assert cli(db_url, "org", "import", "examples/roster.csv").returncode == 0
    saved = tmp_path / "backup.bin"
    assert cli(db_url, "db", "backup", "--out", str(saved)).returncode == 0
    content = saved.read_bytes()
    before = await dump(sessions)
    await engine.dispose()

    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes(content[: len(content) * 2 // 3])
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(content[:16] + os.urandom(len(content) - 16))
    other_kind = tmp_path / "other-kind.bin"
    sqlite = db_url.startswith("sqlite")
    other_kind.write_bytes(b"PGDMP" + bytes(100) if sqlite else b"SQLite format 3\x00" + bytes(100))
    damaged = [truncated, garbage]
    if sqlite:
        # Pages that read fine but do not hold together: only the integrity check sees it.
        import sqlite3
        from contextlib import closing

        with closing(sqlite3.connect(f"file:{saved}?immutable=1", uri=True)) as db:
            root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'org_units'")
            page = root.fetchone()[0]
        size = int.from_bytes(content[16:18], "big")
        end = page * size
        scribbled = tmp_path / "scribbled.bin"
        scribbled.write_bytes(content[: end - 300] + b"\xff" * 200 + content[end - 100 :])
        damaged.append(scribbled)
    not_a_backup = tmp_path / "roster.csv"
    not_a_backup.write_text("Đơn vị,Họ và tên\n", encoding="utf-8")
    reasons = texts.CLI_RESTORE_REASONS
    for file, reason in (
        *((file, reasons["corrupt"]) for file in damaged),
        (other_kind, reasons["not_sqlite" if sqlite else "not_pg"]),
        (not_a_backup, reasons["not_sqlite" if sqlite else "not_pg"]),
    ):
        done = cli(db_url, "db", "restore", str(file), "--yes")
        assert done.returncode == 1, (file, done.stdout)
        assert done.stderr.strip() == texts.CLI_RESTORE_BAD_FILE.format(path=file, reason=reason)
        assert await dump(sessions) == before
    assert [p.name for p in saved.parent.glob(".*")] == []  # no temp file left


@pytest.mark.parametrize("with_members", [False, True])
async def test_a_backup_of_an_older_schema_is_upgraded(
    db_url: str,
    engine: AsyncEngine,
    other_url: str,
    tmp_path: Path,
    with_members: bool,
) -> None:
    await asyncio.to_thread(upgrade, other_url, "0003")  # alembic runs its own event loop
    old = create_engine(other_url)
    try:
        async with old.begin() as conn:
            now = {"now": datetime(2026, 1, 5, tzinfo=UTC)}
            await conn.execute(
                text(
                    "INSERT INTO org_units (kind, name, path, timezone, created_at) "
                    "VALUES ('chi_bo', 'Chi bộ cũ', '/1/', 'Asia/Ho_Chi_Minh', :now)"
                ),
                now,
            )
            if with_members:
                await conn.execute(
                    text(
                        "INSERT INTO members (unit_id, full_name, name_key, position, "
                        "party_role, category, exempt, active, created_at, updated_at) VALUES "
                        "(1, 'Đinh Văn Cũ', 'dinh van cu', '', 'member', 'official', false, "
                        "true, :now, :now)"
                    ),
                    now,
                )
    finally:
        await old.dispose()
    saved = tmp_path / "old.bin"
    done = cli(other_url, "db", "backup", "--out", str(saved))
    assert done.returncode == 0, done.stderr

    await engine.dispose()
    done = cli(db_url, "db", "restore", str(saved))  # a migrated but empty database: no --yes
    assert done.returncode == 0, done.stderr
    fresh = create_engine(db_url)
    try:
        async with session_factory(fresh)() as s:
            assert await s.scalar(text("SELECT version_num FROM alembic_version")) == _head()
            assert await s.scalar(text("SELECT name FROM org_units")) == "Chi bộ cũ"
            assert await s.scalar(select(func.count()).select_from(Member)) == int(with_members)
            assert await s.scalar(select(func.count()).select_from(YearReview)) == 0  # new table
    finally:
        await fresh.dispose()
    # The upgraded database takes the roster like any other.
    done = cli(db_url, "org", "import", "examples/roster.csv")
    assert done.returncode == 0, done.stderr


def test_postgresql_tools_get_the_password_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Never on a command line (a process list shows it to every user of the machine)."""
    from bot import backup

    url = "postgresql+asyncpg://lamtheo:s3cr%40t@db.example:5433/lamtheo?ssl=require"
    calls: list[tuple[list[str], dict[str, str]]] = []

    def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        env = kwargs.get("env")
        calls.append((cmd, dict(env) if isinstance(env, dict) else {}))
        out = ""
        if "--list" in cmd:
            out = "218; 1259 16394 TABLE public members lamtheo\n"
            out += "219; 1259 16399 TABLE public alembic_version lamtheo\n"
        elif "--tuples-only" in cmd:
            out = "members\nalembic_version\n"
        return subprocess.CompletedProcess(cmd, 0, out, "")

    monkeypatch.setattr(backup.subprocess, "run", run)
    monkeypatch.setattr(backup, "find_pg_bin", lambda name: f"/usr/bin/{name}")
    backup.backup(url, tmp_path / "b.dump")
    dump = tmp_path / "x.dump"
    dump.write_bytes(b"PGDMP" + bytes(64))
    backup.restore(url, dump)
    programs = [Path(cmd[0]).name for cmd, _ in calls]
    assert programs == ["pg_dump", "pg_restore", "psql", "pg_restore", "psql"]
    for cmd, env in calls:
        assert not any("s3cr" in arg or "lamtheo:" in arg for arg in cmd), cmd
        if Path(cmd[0]).name != "pg_restore":  # pg_restore only reads the file here
            assert env["PGPASSWORD"] == "s3cr@t" and env["PGHOST"] == "db.example"
            assert (env["PGPORT"], env["PGUSER"], env["PGDATABASE"]) == (
                "5433",
                "lamtheo",
                "lamtheo",
            )
            assert env["PGSSLMODE"] == "require"
    assert "--format=custom" in calls[0][0]
    clean = calls[3][0]
    assert {"--clean", "--if-exists", "--no-owner"} <= set(clean)
    assert "--single-transaction" in calls[4][0]


def test_backup_needs_a_database(tmp_path: Path) -> None:
    missing = f"sqlite+aiosqlite:///{tmp_path / 'none.db'}"
    done = cli(missing, "db", "backup", "--out", str(tmp_path / "b.bin"))
    assert done.returncode == 1
    assert done.stderr.strip() == texts.CLI_BACKUP_NO_DB.format(path=tmp_path / "none.db")
    assert not (tmp_path / "b.bin").exists() and not (tmp_path / "none.db").exists()


def _head() -> str:
    from alembic.script import ScriptDirectory

    from models.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head
