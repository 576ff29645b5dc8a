"""/thongbao end to end: an admin broadcasts to 2,000 members through the fake Telegram Bot API,
watches the progress message being edited, and reads a report that matches what the fake saw."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import App
from models.db import create_engine, session_factory
from models.tables import AuditLog, Delivery
from tests.support.operator import cli
from tests.support.platforms import TelegramPlatform, free_port, open_platform
from tests.support.seeding import linked_members
from tests.test_journeys import MEMBER, SEC

N = 2000
CELLS = 4
FIRST_CHAT = 500_000
BLOCKED = (FIRST_CHAT + 7, FIRST_CHAT + 1500)
PROGRESS_SECONDS = 2.0  # longer than the App's 1 s look at running broadcasts
SEND_RATE = 200.0
ROSTER = len(Path("examples/roster.csv").read_text(encoding="utf-8").splitlines()) - 1


@pytest.fixture
async def platform() -> AsyncIterator[TelegramPlatform]:
    async with open_platform("telegram") as opened:
        yield opened


async def seed(db_url: str) -> None:
    """N linked members in CELLS new chi bộ of the example đảng bộ."""
    await linked_members(db_url, N, cells=CELLS, first_chat=FIRST_CHAT)


def number(text: str, label: str) -> int:
    found = re.search(rf"{label} ([\d.]+)", text)
    assert found, text
    return int(found.group(1).replace(".", ""))


async def test_broadcast_to_2000_members_with_live_progress(
    db_url: str, platform: TelegramPlatform, roster_codes: dict[str, str]
) -> None:
    await seed(db_url)
    granted = cli(
        db_url,
        "role", "grant", "--member", "Đảng bộ xã Hưng Bình/Chi bộ thôn 2/Trần Văn Thắng",
        "--unit", "Đảng bộ xã Hưng Bình", "--role", "admin",
    )  # fmt: skip
    assert granted.returncode == 0, granted.stderr
    fake = platform.fake
    for chat in BLOCKED:
        fake.block(chat)
    config = platform.config(db_url, "polling", free_port())
    config = replace(
        config,
        # 2,000 sends at 200/s take at least 10 s: time for several paced progress edits.
        telegram=replace(config.telegram, rate_per_second=SEND_RATE),
        settings=replace(config.settings, broadcast_progress_seconds=PROGRESS_SECONDS),
    )
    app = App(config)
    await app.start()
    try:
        admin = platform.person(SEC, "Thắng")
        member = platform.person(MEMBER, "Sơn")
        await admin.say(roster_codes["Trần Văn Thắng"], "Chào đồng chí")
        await member.say(roster_codes["Hoàng Văn Sơn"], "Chào đồng chí")
        await admin.say("/thongbao", "Soạn thông báo")
        await admin.say("Họp triển khai chuyên đề <b>năm 2027</b> & kế hoạch", "đường dẫn")
        await admin.press("Không kèm", "Gửi cho đơn vị nào")
        preview = await admin.press("Toàn Đảng bộ xã Hưng Bình", "Xem trước")
        assert f"<b>{N + ROSTER:,}</b> đồng chí".replace(",", ".") in preview
        unlinked = ROSTER - 2  # the admin and the member have linked their accounts
        assert f"Chưa liên lạc được (chưa liên kết hoặc đã chặn): {unlinked} đồng chí" in preview
        await admin.press("Gửi", "Đang gửi thông báo")

        def finished() -> str | None:
            edits = [
                r["params"]["text"]
                for r in fake.calls("editMessageText")
                if r["params"]["chat_id"] == int(admin.chat)
            ]
            return next((t for t in edits if "Đã gửi xong" in t), None)

        report = await fake.wait_for(finished, timeout=120)
    finally:
        await app.stop()

    # What the admin typed arrives literally (escaped), not as formatting.
    text = (
        "📣 <b>Thông báo</b>\nHọp triển khai chuyên đề &lt;b&gt;năm 2027&lt;/b&gt; &amp; kế hoạch"
    )
    got = Counter(
        r["params"]["chat_id"]
        for r in fake.calls("sendMessage")
        if r["params"].get("text") == text  # the admin's preview quotes it too: not counted
    )
    seeded = set(range(FIRST_CHAT, FIRST_CHAT + N)) - set(BLOCKED)
    assert set(got) == seeded | {int(admin.chat), int(member.chat)}
    assert max(got.values()) == 1  # nobody twice
    # The report matches the fake's record: the blocked accounts and the unlinked members are
    # "không liên lạc được", nothing failed.
    assert number(report, "Đã gửi") == len(got)
    assert number(report, "lỗi") == 0
    assert number(report, "không liên lạc được") == len(BLOCKED) + ROSTER - 2
    # The progress message was edited while sending, planned never faster than the configured
    # pace (only the final report goes at once), and ended with the report. (A send that is
    # slow may land just before the next one: the pace is checked where it is kept, at the
    # planning, and on the wire as a rate.)
    edits = [
        (r["time"], r["params"]["text"])
        for r in fake.calls("editMessageText")
        if r["params"]["chat_id"] == int(admin.chat) and "thông báo" in r["params"]["text"]
    ]
    running = [at for at, text in edits if "Đang gửi" in text]
    assert running and edits[-1][1] == report
    assert len(running) <= (running[-1] - running[0]) / PROGRESS_SECONDS + 2, running
    # And it was audited.
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as s:
            planned = list(
                await s.scalars(
                    select(Delivery.created_at)
                    .where(Delivery.kind == "edit", Delivery.dedupe_key.like("bc:%:p:%"))
                    .order_by(Delivery.id)
                )
            )
            gaps = [(b - a).total_seconds() for a, b in pairwise(planned[:-1])]
            assert gaps and all(gap >= PROGRESS_SECONDS for gap in gaps), gaps
            actions = list(await s.scalars(select(AuditLog.action)))
    finally:
        await engine.dispose()
    assert "role_grant" in actions and "broadcast" in actions


async def test_only_an_admin_may_broadcast_and_a_refusal_is_audited(
    db_url: str, platform: TelegramPlatform, roster_codes: dict[str, str]
) -> None:
    app = App(platform.config(db_url, "polling", free_port()))
    await app.start()
    try:
        member = platform.person(MEMBER, "Sơn")
        await member.say(roster_codes["Hoàng Văn Sơn"], "Chào đồng chí")
        await member.say("/thongbao", "chưa được giao quyền")
        async with app.sessions() as s:
            refused = list(await s.scalars(select(AuditLog).where(AuditLog.refused.is_(True))))
        assert [r.action for r in refused] == ["broadcast"]
    finally:
        await app.stop()
