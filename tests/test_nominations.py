"""/dienhinh: a chi bộ puts forward điển hình and mô hình; admins up the tree see them, mark a mô
hình nhân rộng, and the reports count them. Every button is checked again when pressed; the
command line adds and lists them too."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers import texts
from handlers.messages import Incoming, Reply
from models import access, nominations
from models.db import create_engine, session_factory
from models.orgs import find_unit
from models.reports import Rates, build_report
from models.tables import AuditLog, Member, Nomination
from tests.support.harness import CHANNEL, Clock, Harness, text_of
from tests.support.operator import cli
from tests.support.world import SCHOOL, THON2, World, link, make_world

# Monday 2 March 2026, 10:00 in Hà Nội.
START = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
DANG_BO = "Đảng bộ xã Hưng Bình"
KIND = texts.NOMINATION_KIND_BUTTONS  # dp dq dt mt mc -> the button's label


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession]) -> World:
    w = await make_world(sessions, Clock(START))
    await link(w, "sec", "Trần Văn Thắng")  # bí thư, Chi bộ thôn 2
    await link(w, "school", "Nguyễn Thị Thu Hà")  # bí thư, Chi bộ Trường Tiểu học
    await link(w, "m1", "Hoàng Văn Sơn")  # đảng viên, Chi bộ thôn 2
    await link(w, "obs", "Lê Văn Đức")  # đảng viên; theo dõi Chi bộ thôn 2 (below)
    await link(w, "admin", "Phạm Thị Hồng")  # ban tuyên giáo: quản trị the đảng bộ (below)
    async with sessions() as s, s.begin():
        dang_bo, thon2 = await find_unit(s, DANG_BO), await find_unit(s, THON2)
        assert dang_bo is not None and thon2 is not None
        await access.grant(s, await member(s, "Phạm Thị Hồng"), dang_bo, access.ADMIN, now=START)
        await access.grant(s, await member(s, "Lê Văn Đức"), thon2, access.OBSERVER, now=START)
    return w


async def member(s: AsyncSession, name: str) -> Member:
    return (await s.scalars(select(Member).where(Member.full_name == name))).one()


async def nominate(
    h: Harness,
    chat: str,
    kind: str,
    name: str,
    description: str,
    result: str | None = None,
    *,
    unit: str | None = None,
) -> str:
    """The whole "Đề xuất mới" flow; the text of the preview and of the saved message."""
    await h.say(chat, "/dienhinh")
    await h.press(chat, texts.BTN_NOMINATION_NEW)
    if unit is not None:
        await h.press(chat, unit)
    await h.press(chat, KIND[kind])
    await h.say(chat, name)
    await h.say(chat, description)
    preview = await (h.say(chat, result) if result else h.press(chat, texts.BTN_SKIP))
    saved = await h.press(chat, texts.BTN_NOMINATION_SAVE)
    return text_of(preview) + "\n" + text_of(saved)


async def forge(h: Harness, chat: str, data: str) -> str:
    """A button press with data the person was never shown (a forged callback)."""
    replies = await h.deliver(
        Incoming(channel=CHANNEL, chat_id=chat, user_id=chat, choice=data, ack_ref="forged")
    )
    return text_of(replies)


async def rows(sessions: async_sessionmaker[AsyncSession]) -> list[Nomination]:
    async with sessions() as s:
        return list(await s.scalars(select(Nomination).order_by(Nomination.id)))


async def audits(sessions: async_sessionmaker[AsyncSession]) -> list[AuditLog]:
    async with sessions() as s:
        return list(await s.scalars(select(AuditLog).order_by(AuditLog.id)))


async def report_of(sessions: async_sessionmaker[AsyncSession], path: str) -> dict[str, Rates]:
    """The đảng bộ's rates, and each chi bộ's, by name."""
    async with sessions() as s:
        unit = await find_unit(s, path)
        assert unit is not None
        report = await build_report(s, unit, year=2026, period="2026-03")
    return {report.unit.name: report.unit.rates, **{c.name: c.rates for c in report.children}}


def buttons(reply: Reply) -> list[str]:
    return [c.label for c in reply.choices]


async def test_a_secretary_nominates_each_kind(
    world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = world.h
    # A đảng viên typed without diacritics is found on the roster and linked.
    shown = await nominate(
        h, "sec", "dp", "hoang van son", "Gương mẫu vận động bà con hiến đất làm đường", "120 m²"
    )
    assert "<b>Hoàng Văn Sơn</b>" in shown and texts.NOMINATION_ON_ROSTER in shown
    assert "Đã lưu đề xuất «Hoàng Văn Sơn»" in shown
    shown = await nominate(h, "sec", "dq", "Bà Nguyễn Thị Lan", "Nhiệt tình với công tác xã hội")
    assert "Kết quả: —" in shown
    await nominate(h, "sec", "dt", "Chi hội Phụ nữ thôn 2", "Không có hộ nghèo", "100% hội viên")
    await nominate(h, "sec", "mt", "Tuyến đường hoa tự quản", "1,2 km đường hoa", "3 xóm làm theo")
    await nominate(h, "sec", "mc", "Vườn rau an toàn — Vũ Thị Mai", "Rau sạch cho bếp ăn trường")
    # Not on the roster: kept as typed, not linked, and the preview says so.
    shown = await nominate(h, "sec", "dp", "Nguyễn Văn Vắng Mặt", "Tích cực")
    assert texts.NOMINATION_NOT_ON_ROSTER in shown

    async with sessions() as s:
        thon2 = await find_unit(s, THON2)
        son, sec = await member(s, "Hoàng Văn Sơn"), await member(s, "Trần Văn Thắng")
        assert thon2 is not None
    got = [
        (n.kind, n.subject, n.party_member, n.member_id, n.name, n.result)
        for n in await rows(sessions)
    ]
    assert got == [
        ("dien_hinh", "ca_nhan", True, son.id, "Hoàng Văn Sơn", "120 m²"),
        ("dien_hinh", "ca_nhan", False, None, "Bà Nguyễn Thị Lan", None),
        ("dien_hinh", "tap_the", True, None, "Chi hội Phụ nữ thôn 2", "100% hội viên"),
        ("mo_hinh", "tap_the", True, None, "Tuyến đường hoa tự quản", "3 xóm làm theo"),
        ("mo_hinh", "ca_nhan", True, None, "Vườn rau an toàn — Vũ Thị Mai", None),
        ("dien_hinh", "ca_nhan", True, None, "Nguyễn Văn Vắng Mặt", None),
    ]
    for n in await rows(sessions):
        assert (n.unit_id, n.year, n.nominated_by, n.replicated) == (thon2.id, 2026, sec.id, False)
    added = [a for a in await audits(sessions) if a.action == "nomination_add"]
    assert len(added) == 6 and all(a.unit_id == thon2.id and not a.refused for a in added)

    # The list, grouped under the chi bộ, with the kind, đảng viên / quần chúng and a summary.
    listed = text_of(await h.say("sec", "/dienhinh"))
    assert "<b>Điển hình, mô hình năm 2026</b>" in listed and "<b>Chi bộ thôn 2</b>" in listed
    assert "• Điển hình cá nhân (đảng viên): <b>Hoàng Văn Sơn</b> — Gương mẫu" in listed
    assert "• Điển hình cá nhân (quần chúng): <b>Bà Nguyễn Thị Lan</b>" in listed
    assert "• Điển hình tập thể: <b>Chi hội Phụ nữ thôn 2</b>" in listed
    assert "• Mô hình tập thể: <b>Tuyến đường hoa tự quản</b> — 1,2 km đường hoa" in listed
    # The secretary may withdraw their own; only an admin marks nhân rộng.
    labels = buttons(h.last("sec"))
    assert labels[0] == texts.BTN_NOMINATION_NEW
    assert "↩ Rút: Hoàng Văn Sơn" in labels and not any("Nhân rộng" in b for b in labels)

    # The report counts them.
    r = (await report_of(sessions, DANG_BO))["Chi bộ thôn 2"]
    assert (r.exemplars_individual, r.exemplars_party, r.exemplars_masses) == (3, 2, 1)
    assert (r.exemplars_collective, r.models_collective, r.models_individual) == (1, 1, 1)
    assert r.models_replicated == 0


async def test_user_text_is_escaped(
    world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = world.h
    shown = await nominate(
        h, "sec", "mt", "Tổ <b>tự quản</b> & cộng đồng", "Mô tả <i>x</i> & y", "<script>"
    )
    assert "Tổ &lt;b&gt;tự quản&lt;/b&gt; &amp; cộng đồng" in shown
    assert "Mô tả &lt;i&gt;x&lt;/i&gt; &amp; y" in shown and "&lt;script&gt;" in shown
    assert "<b>tự quản</b>" not in shown and "<script>" not in shown
    listed = text_of(await h.say("sec", "/dienhinh"))
    assert "<b>Tổ &lt;b&gt;tự quản&lt;/b&gt; &amp; cộng đồng</b>" in listed
    assert "<i>x</i>" not in listed
    (n,) = await rows(sessions)
    assert (n.name, n.description, n.result) == (
        "Tổ <b>tự quản</b> & cộng đồng",
        "Mô tả <i>x</i> & y",
        "<script>",
    )


async def test_a_plain_member_is_refused_and_an_observer_only_reads(
    world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = world.h
    await nominate(h, "sec", "mt", "Tuyến đường hoa tự quản", "1,2 km")
    refused = text_of(await h.say("m1", "/dienhinh"))
    assert refused == texts.NOMINATION_NO_RIGHT
    assert "Tuyến đường hoa" not in refused and not h.last("m1").choices
    # A forged "Đề xuất mới" and a forged withdrawal are refused too.
    (n,) = await rows(sessions)
    assert await forge(h, "m1", "!dhm") == texts.NOMINATION_MANAGE_ONLY
    assert "không có quyền" in await forge(h, "m1", f"!dhx:{n.id}:ok")
    async with sessions() as s:
        son, thon2 = await member(s, "Hoàng Văn Sơn"), await find_unit(s, THON2)
        assert thon2 is not None
    got = [(a.action, a.actor_member_id, a.unit_id) for a in await audits(sessions) if a.refused]
    assert got == [
        ("nomination_view", son.id, None),
        ("nomination_add", son.id, None),
        ("nomination_withdraw", son.id, thon2.id),
    ]
    assert len(await rows(sessions)) == 1

    # An observer reads the list, without "Đề xuất mới" or "Rút".
    listed = text_of(await h.say("obs", "/dienhinh"))
    assert "Tuyến đường hoa tự quản" in listed and not h.last("obs").choices
    assert await forge(h, "obs", "!dhm") == texts.NOMINATION_MANAGE_ONLY


async def test_a_secretary_cannot_touch_another_chi_bos_nominations(
    world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = world.h
    await nominate(h, "school", "mt", "Thư viện xanh", "Góc đọc sách ngoài trời")
    await nominate(h, "sec", "dt", "Chi đoàn thôn 2", "Xung kích")
    school_n, _ = await rows(sessions)
    # Each secretary sees only their own chi bộ.
    listed = text_of(await h.say("sec", "/dienhinh"))
    assert "Chi đoàn thôn 2" in listed and "Thư viện xanh" not in listed

    for data in (f"!dhx:{school_n.id}", f"!dhx:{school_n.id}:ok", f"!dhn:{school_n.id}:1"):
        assert "không có quyền với «Chi bộ Trường Tiểu học Hưng Bình»" in await forge(
            h, "sec", data
        )
    (kept,) = [n for n in await rows(sessions) if n.id == school_n.id]
    assert not kept.replicated
    got = [(a.action, a.unit_id) for a in await audits(sessions) if a.refused]
    assert got == [
        ("nomination_withdraw", school_n.unit_id),
        ("nomination_withdraw", school_n.unit_id),
        ("nomination_replicate", school_n.unit_id),
    ]
    assert not [
        a for a in await audits(sessions) if a.action == "nomination_withdraw" and not a.refused
    ]
    # Garbage and unknown ids are answered, not crashed on.
    assert await forge(h, "sec", "!dhx:abc") == texts.NOMINATION_GONE
    assert await forge(h, "sec", "!dhn:999999:1") == texts.NOMINATION_GONE
    assert await forge(h, "sec", f"!dhn:{school_n.id}:x") == texts.STALE_BUTTON


async def test_an_admin_sees_the_whole_dang_bo_and_marks_nhan_rong(
    world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = world.h
    await nominate(h, "sec", "mt", "Tuyến đường hoa tự quản", "1,2 km")
    await nominate(h, "school", "mt", "Thư viện xanh", "Góc đọc sách")
    await nominate(h, "school", "dp", "Phạm Thị Hồng", "Giáo viên dạy giỏi cấp tỉnh")
    # The admin puts one forward for a chi bộ below: here the unit is asked.
    await h.say("admin", "/dienhinh")
    asked = await h.press("admin", texts.BTN_NOMINATION_NEW)
    assert text_of(asked) == texts.NOMINATION_ASK_UNIT
    assert buttons(asked[0]) == [DANG_BO, "↳ Chi bộ Trường Tiểu học Hưng Bình", "↳ Chi bộ thôn 2"]
    await nominate_rest(h, "admin", "↳ Chi bộ thôn 2", "dq", "Ông Lò Văn Tư", "Hiến đất")

    listed = text_of(await h.say("admin", "/dienhinh"))
    assert "<b>Chi bộ thôn 2</b>" in listed and "<b>Chi bộ Trường Tiểu học Hưng Bình</b>" in listed
    for name in ("Tuyến đường hoa tự quản", "Thư viện xanh", "Phạm Thị Hồng", "Ông Lò Văn Tư"):
        assert name in listed
    assert (
        listed.index("Tuyến đường hoa") < listed.index("Ông Lò Văn Tư") < listed.index("Thư viện")
    )
    labels = buttons(h.last("admin"))
    replicate = texts.BTN_NOMINATION_REPLICATE.format(name="Thư viện xanh")
    assert replicate in labels and "↩ Rút: Thư viện xanh" in labels
    # Nhân rộng is for a mô hình only.
    assert texts.BTN_NOMINATION_REPLICATE.format(name="Phạm Thị Hồng") not in labels

    before = await report_of(sessions, DANG_BO)
    assert before[DANG_BO].models_collective == 2 and before[DANG_BO].models_replicated == 0
    assert before[DANG_BO].exemplars_masses == 1 and before[DANG_BO].exemplars_party == 1

    done = text_of(await h.press("admin", replicate))
    assert "Đã đánh dấu mô hình «Thư viện xanh»" in done
    after = await report_of(sessions, DANG_BO)
    assert after[DANG_BO].models_replicated == 1
    assert after["Chi bộ Trường Tiểu học Hưng Bình"].models_replicated == 1
    assert after["Chi bộ thôn 2"].models_replicated == 0
    listed = text_of(await h.say("admin", "/dienhinh"))
    assert "<b>Thư viện xanh</b> — Góc đọc sách ⭐ nhân rộng" in listed

    # The list's old button, pressed again: nothing changes twice.
    old = h.to("admin")[-3]
    again = text_of(await h.press("admin", replicate, within=old))
    assert "đã được đánh dấu nhân rộng; không thay đổi" in again
    unmark = texts.BTN_NOMINATION_UNREPLICATE.format(name="Thư viện xanh")
    assert "Đã bỏ đánh dấu nhân rộng" in text_of(await h.press("admin", unmark))
    assert (await report_of(sessions, DANG_BO))[DANG_BO].models_replicated == 0
    marks = [a.detail for a in await audits(sessions) if a.action == "nomination_replicate"]
    assert [m["replicated"] for m in marks] == [True, False]


async def nominate_rest(
    h: Harness, chat: str, unit: str, kind: str, name: str, description: str
) -> None:
    await h.press(chat, unit)
    await h.press(chat, KIND[kind])
    await h.say(chat, name)
    await h.say(chat, description)
    await h.press(chat, texts.BTN_SKIP)
    assert "Đã lưu" in text_of(await h.press(chat, texts.BTN_NOMINATION_SAVE))


async def test_withdraw_and_stale_buttons(
    world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = world.h
    await nominate(h, "sec", "mt", "Tuyến đường hoa tự quản", "1,2 km")
    await nominate(h, "sec", "dt", "Chi đoàn thôn 2", "Xung kích")
    await h.say("sec", "/dienhinh")
    ask = text_of(await h.press("sec", "Rút: Tuyến đường hoa"))
    assert "Rút đề xuất «Tuyến đường hoa tự quản» (Mô hình tập thể) của Chi bộ thôn 2?" in ask
    assert len(await rows(sessions)) == 2  # asking withdraws nothing
    done = text_of(await h.press("sec", texts.BTN_NOMINATION_WITHDRAW_CONFIRM))
    assert "Đã rút đề xuất «Tuyến đường hoa tự quản»" in done
    assert [n.name for n in await rows(sessions)] == ["Chi đoàn thôn 2"]
    assert (await report_of(sessions, DANG_BO))["Chi bộ thôn 2"].models_collective == 0
    (w,) = [a for a in await audits(sessions) if a.action == "nomination_withdraw"]
    assert w.detail["name"] == "Tuyến đường hoa tự quản" and not w.refused

    # The same buttons again: the nomination is gone, and saying so is all that happens.
    assert texts.NOMINATION_GONE in text_of(
        await h.press("sec", texts.BTN_NOMINATION_WITHDRAW_CONFIRM)
    )
    assert texts.NOMINATION_GONE in text_of(await h.press("sec", "Rút: Tuyến đường hoa"))
    assert [n.name for n in await rows(sessions)] == ["Chi đoàn thôn 2"]
    listed = text_of(await h.say("sec", "/dienhinh"))
    assert "Tuyến đường hoa" not in listed and "Chi đoàn thôn 2" in listed

    # A button of a flow that has ended.
    assert texts.STALE_BUTTON in text_of(await h.press("sec", KIND["mt"]))


async def test_a_long_list_is_cut_with_a_hint_to_the_command_line(
    world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as s, s.begin():
        thon2 = await find_unit(s, THON2)
        assert thon2 is not None
        for i in range(1, 34):
            await nominations.add(
                s,
                thon2,
                year=2026,
                kind="mo_hinh",
                subject="tap_the",
                name=f"Mô hình số {i}",
                description="Mô tả",
                now=START,
            )
        # Another year's nomination is not listed.
        await nominations.add(
            s,
            thon2,
            year=2025,
            kind="mo_hinh",
            subject="tap_the",
            name="Mô hình năm trước",
            description="Mô tả",
            now=START,
        )
    listed = text_of(await world.h.say("sec", "/dienhinh"))
    shown = [line for line in listed.splitlines() if line.startswith("• ")]
    assert len(shown) == 30 and "Mô hình số 30</b>" in shown[-1]
    assert "… và 3 đề xuất khác." in listed and "năm trước" not in listed
    assert f'nomination list --unit "{THON2}" --year 2026' in listed
    labels = buttons(world.h.last("sec"))
    assert len(labels) == 31 and labels[-1] == "↩ Rút: Mô hình số 30"


async def test_text_where_a_button_is_expected(
    world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = world.h
    await h.say("sec", "/dienhinh")
    kind_q = text_of(await h.press("sec", texts.BTN_NOMINATION_NEW))
    assert "Đồng chí đề xuất loại nào?" in kind_q
    again = await h.say("sec", "một mô hình hay")
    assert text_of(again) == texts.CHOOSE_FROM_BUTTONS + "\n" + kind_q
    await h.say("sec", "Mô hình tập thể")  # a label typed (diacritics optional) is a choice
    await h.say("sec", "Tuyến đường hoa tự quản")
    too_long = text_of(await h.say("sec", "x" * 1001))
    assert "tối đa 1000" in too_long
    await h.say("sec", "1,2 km đường hoa")
    await h.say("sec", "3 xóm làm theo")
    preview = await h.say("sec", "ghi lại đi")
    assert text_of(preview).startswith(texts.CHOOSE_FROM_BUTTONS)
    assert "Tuyến đường hoa tự quản" in text_of(preview) and "3 xóm làm theo" in text_of(preview)
    assert not await rows(sessions)
    await h.press("sec", texts.BTN_NOMINATION_SAVE)
    (n,) = await rows(sessions)
    assert (n.kind, n.subject, n.name, n.description, n.result) == (
        "mo_hinh",
        "tap_the",
        "Tuyến đường hoa tự quản",
        "1,2 km đường hoa",
        "3 xóm làm theo",
    )
    # Hủy at the preview saves nothing.
    await h.say("sec", "/dienhinh")
    await h.press("sec", texts.BTN_NOMINATION_NEW)
    await h.press("sec", KIND["dt"])
    await h.say("sec", "Chi đoàn")
    await h.say("sec", "Xung kích")
    await h.press("sec", texts.BTN_SKIP)
    assert text_of(await h.press("sec", texts.BTN_CANCEL)) == texts.CANCELLED
    assert len(await rows(sessions)) == 1


async def test_nominations_from_the_command_line(
    db_url: str, roster_codes: dict[str, str], tmp_path: Path
) -> None:
    def add(*args: str) -> str:
        done = cli(db_url, "nomination", "add", "--year", "2026", *args)
        assert done.returncode == 0, done.stderr
        return done.stdout

    person = ("--kind", "dien_hinh", "--subject", "ca_nhan")
    out = add("--unit", THON2, *person, "--name", "hoàng văn sơn", "--description", "Gương mẫu")
    assert "Điển hình cá nhân «hoàng văn sơn» (đảng viên #" in out
    out = add("--unit", THON2, *person, "--member", f"{THON2}/Lê Văn Đức", "--description", "Giỏi")
    assert "«Lê Văn Đức» (đảng viên #" in out
    add("--unit", THON2, *person, "--masses", "--name", "Bà Lan", "--description", "Nhiệt tình")
    model = ("--kind", "mo_hinh", "--subject", "tap_the")
    school = ("--unit", SCHOOL, *model, "--name", "Thư viện xanh")
    add(*school, "--description", "Góc đọc sách", "--result", "=1+1")
    add("--unit", DANG_BO, *model, "--name", "Xã sạch, đẹp", "--description", "Cả xã")

    done = cli(db_url, "nomination", "list", "--unit", DANG_BO, "--year", "2026", "--format", "csv")
    assert done.returncode == 0, done.stderr
    header, *body = _csv(done.stdout)
    assert header == texts.CLI_NOMINATION_HEADER
    assert [(r[1], r[2], r[3], r[4]) for r in body] == [
        (DANG_BO, "Mô hình tập thể", "Xã sạch, đẹp", ""),
        (THON2, "Điển hình cá nhân", "hoàng văn sơn", "đảng viên"),
        (THON2, "Điển hình cá nhân", "Lê Văn Đức", "đảng viên"),
        (THON2, "Điển hình cá nhân", "Bà Lan", "quần chúng"),
        (SCHOOL, "Mô hình tập thể", "Thư viện xanh", ""),
    ]
    assert body[4][5:8] == ["Góc đọc sách", "'=1+1", ""]  # a formula is shown, never run

    out_file = tmp_path / "dien-hinh.csv"
    args = ("nomination", "list", "--unit", SCHOOL, "--format", "csv", "--out", str(out_file))
    done = cli(db_url, *args, "--year", "2026")
    assert done.returncode == 0 and "(1 đề xuất)" in done.stdout
    assert [r[3] for r in _csv(out_file.read_text("utf-8"))[1:]] == ["Thư viện xanh"]
    table = cli(db_url, "nomination", "list", "--unit", THON2, "--year", "2026").stdout
    assert "Đảng viên/quần chúng" in table and "Bà Lan" in table and "Thư viện" not in table
    empty = cli(db_url, "nomination", "list", "--unit", THON2, "--year", "2025")
    assert empty.returncode == 0 and "chưa có đề xuất" in empty.stdout

    for bad, message in (
        (("--unit", THON2, *model, "--member", "#1", "--description", "x"), "chỉ dùng cho cá nhân"),
        (
            ("--unit", THON2, *person, "--member", "#1", "--masses", "--description", "x"),
            "--masses",
        ),
        (
            (*person, "--unit", SCHOOL, "--member", f"{THON2}/Lê Văn Đức", "--description", "x"),
            "không phải đảng viên",
        ),
        (("--unit", "Không có", *person, "--name", "A", "--description", "x"), "Không có đơn vị"),
        (("--unit", THON2, *person, "--name", "A", "--description", " "), "--description"),
        (("--unit", THON2, *person, "--description", "x"), "--name"),
    ):
        done = cli(db_url, "nomination", "add", *bad)
        assert done.returncode == 1 and message in done.stderr, (bad, done.stderr)
    assert cli(db_url, "nomination", "add", "--unit", THON2, "--kind", "x").returncode == 2

    # A closed unit takes no new nomination, and its own are left out of the list (as in the
    # reports).
    assert cli(db_url, "org", "close", "--unit", SCHOOL, "--force").returncode == 0
    closed = cli(db_url, "nomination", "add", *school, "--description", "x", "--year", "2026")
    assert closed.returncode == 1 and "đã đóng" in closed.stderr
    done = cli(db_url, "nomination", "list", "--unit", DANG_BO, "--year", "2026", "--format", "csv")
    assert [r[3] for r in _csv(done.stdout)[1:]] == [
        "Xã sạch, đẹp",
        "hoàng văn sơn",
        "Lê Văn Đức",
        "Bà Lan",
    ]

    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as s:
            logged = list(await s.scalars(select(AuditLog).order_by(AuditLog.id)))
            saved = list(await s.scalars(select(Nomination)))
            duc = await member(s, "Lê Văn Đức")
            son = await member(s, "Hoàng Văn Sơn")
    finally:
        await engine.dispose()
    added = [a for a in logged if a.action == "nomination_add"]
    assert len(added) == 5 and {a.actor for a in added} == {"cli"}
    assert sum(a.action == "nomination_list" for a in logged) == 5
    assert len(saved) == 5  # the refused commands wrote nothing
    linked = {n.name: (n.member_id, n.party_member) for n in saved if n.subject == "ca_nhan"}
    assert linked == {
        "hoàng văn sơn": (son.id, True),
        "Lê Văn Đức": (duc.id, True),
        "Bà Lan": (None, False),
    }


def _csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
