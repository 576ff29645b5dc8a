"""A chi bộ to test with: the example roster, invite codes, and steps every journey takes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import invites
from models.orgs import find_unit
from models.roster import import_roster
from models.tables import Member
from tests.support.harness import Clock, Harness, text_of

ROSTER = Path(__file__).resolve().parents[2] / "examples" / "roster.csv"
THON2 = "Đảng bộ xã Hưng Bình/Chi bộ thôn 2"
SCHOOL = "Đảng bộ xã Hưng Bình/Chi bộ Trường Tiểu học Hưng Bình"


@dataclass
class World:
    h: Harness
    codes: dict[str, str]  # member name -> personal code
    join_code: str  # Chi bộ thôn 2's join code


async def make_world(sessions: async_sessionmaker[AsyncSession], clock: Clock) -> World:
    names = [
        "Trần Văn Thắng",
        "Nguyễn Văn Hùng",
        "Hoàng Văn Sơn",
        "Lê Văn Đức",
        "Nguyễn Thị Thu Hà",
        "Phạm Thị Hồng",
    ]
    async with sessions() as s, s.begin():
        report = await import_roster(s, ROSTER, clock())
        assert not report.errors, report.errors
        codes = {}
        for name in names:
            member = (await s.scalars(select(Member).where(Member.full_name == name))).one()
            invite = await invites.issue(s, member.unit, member, clock(), days=30)
            codes[name] = invite.code
        unit = await find_unit(s, THON2)
        assert unit is not None
        join = await invites.issue(s, unit, None, clock(), days=30)
    return World(Harness(sessions, clock=clock), codes, join.code)


async def link(w: World, chat: str, name: str) -> None:
    replies = await w.h.say(chat, f"/start {w.codes[name]}")
    assert f"Chào đồng chí <b>{name}</b>" in text_of(replies)


async def register(w: World, chat: str, *, items: list[tuple[str, str, str]]) -> None:
    """Go through /dangky with concrete items (action, result, typed deadline) and submit."""
    h = w.h
    await to_shortcomings(w, chat)
    await h.say(chat, "Còn ngại phát biểu ý kiến trong sinh hoạt chi bộ")
    await h.press(chat, "Xong")
    for n, (action, result, deadline) in enumerate(items):
        if n:
            await h.press(chat, "Thêm việc làm")
        await h.say(chat, action)
        await h.say(chat, result)
        await h.say(chat, deadline)
    await h.press(chat, "sang bước tiếp")
    await h.press(chat, "Không chọn")
    replies = await h.press(chat, "Gửi bản đăng ký")
    assert "chờ duyệt" in text_of(replies)


async def to_shortcomings(w: World, chat: str) -> None:
    """/dangky, choose one study content, and continue: the member is at step 2."""
    await w.h.say(chat, "/dangky")
    await w.h.press(chat, "Quy định 144")
    await w.h.press(chat, "Tiếp tục")


CONCRETE = ("Vận động các hộ trong xóm phân loại rác tại nguồn", "5 hộ tham gia", "tháng 9")
