"""What only Telegram has: the webhook's secret header, a person who blocked the bot, flood
control, the command menu. The journeys common to every platform are in test_journeys.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import App
from handlers import texts
from models.tables import Delivery, InboxUpdate, Pledge
from tests.support.platforms import TelegramPlatform, free_port, open_platform
from tests.test_journeys import MEMBER, SEC, register_pledge


@pytest.fixture
async def platform() -> AsyncIterator[TelegramPlatform]:
    async with open_platform("telegram") as opened:
        yield opened


@pytest.fixture
def start_app(db_url: str, platform: TelegramPlatform) -> Callable[..., Any]:
    port = free_port()

    async def start(mode: str) -> App:
        app = App(platform.config(db_url, mode, port))
        await app.start()
        return app

    return start


async def test_webhook_rejects_a_wrong_secret(
    db_url: str, platform: TelegramPlatform, start_app: Any
) -> None:
    import aiohttp

    app = await start_app("webhook")
    try:
        body = {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": 0,
                "text": "/start",
                "chat": {"id": 5, "type": "private"},
                "from": {"id": 5, "is_bot": False, "first_name": "X"},
            },
        }
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong-secret"}):
                async with http.post(
                    app.config.telegram.webhook_url, json=body, headers=headers
                ) as resp:
                    assert resp.status == 403
        async with app.sessions() as s:
            assert await s.scalar(select(func.count()).select_from(InboxUpdate)) == 0
    finally:
        await app.stop()


async def test_a_person_who_blocked_the_bot_is_unreachable(
    db_url: str, platform: TelegramPlatform, start_app: Any, roster_codes: dict[str, str]
) -> None:
    codes = roster_codes
    app = await start_app("polling")
    try:
        sec, member = platform.person(SEC, "Thắng"), platform.person(MEMBER, "Sơn")
        await sec.say(codes["Trần Văn Thắng"], "Chào đồng chí")
        await member.say(codes["Hoàng Văn Sơn"], "Chào đồng chí")
        platform.fake.block(int(sec.chat))
        await register_pledge(member)

        async def unreachable() -> bool:
            async with app.sessions() as s:
                rows = list(await s.scalars(select(Delivery).where(Delivery.chat_id == sec.chat)))
            return any(r.status == "unreachable" for r in rows)

        for _ in range(100):
            if await unreachable():
                break
            await asyncio.sleep(0.1)
        assert await unreachable()
        async with app.sessions() as s:
            assert (await s.scalars(select(Pledge))).one().status == "submitted"
    finally:
        await app.stop()


def test_command_menu_is_in_vietnamese() -> None:
    assert all(len(name) <= 32 and description for name, description in texts.COMMAND_MENU)


async def test_flood_limit_and_server_errors_are_retried_until_delivered(
    db_url: str, platform: TelegramPlatform, start_app: Any, roster_codes: dict[str, str]
) -> None:
    codes = roster_codes
    app = await start_app("polling")
    try:
        fake = platform.fake
        member = platform.person(MEMBER, "Sơn")
        fake.fail_next("sendMessage", 1, status=429, retry_after=1)
        fake.fail_next("sendMessage", 1, status=500)
        await member.say(codes["Hoàng Văn Sơn"], "Chào đồng chí")
        assert fake.count_429 >= 1
        greetings = [t for t in member.texts() if "Chào đồng chí" in t]
        assert len(greetings) == 1  # delivered once, despite the failures
    finally:
        await app.stop()
