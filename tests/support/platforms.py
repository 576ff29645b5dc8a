"""The three chat platforms behind one interface, so each end-to-end journey is written once.

A Platform owns its fake API server and knows how a person there types, presses a choice and
reads the bot's messages: a Telegram button is a callback; on the Zalo Bot a choice is the
number typed from the numbered list; on a Zalo OA it is the hidden button's payload sent back
as text. Telegram shows our HTML; Zalo shows plain text, so expectations are compared as seen.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
import socket
from pathlib import Path
from typing import Any

import aiohttp

from bot.config import Config, TelegramConfig, ZaloBotConfig, ZaloOAConfig
from handlers.settings import Settings
from handlers.text import strip_html
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.zalo_bot_api import FakeZaloBotAPI
from tests.fakes.zalo_oa_api import FakeZaloOA, sign

ROOT = Path(__file__).resolve().parent.parent.parent
TELEGRAM_SECRET = "webhook-secret-for-tests"
ZALO_BOT_SECRET = "zalo-bot-secret-for-tests"
_NUMBERED = re.compile(r"^\s*(\d+)\. (.*)$")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Person:
    """Someone chatting with the bot on one platform."""

    def __init__(self, platform: Platform, chat: str, name: str) -> None:
        self.platform, self.chat, self.name = platform, chat, name

    def texts(self) -> list[str]:
        return self.platform.texts_to(self.chat)

    async def wait(self, since: int, contains: str, timeout: float = 15) -> str:  # noqa: ASYNC109
        wanted = self.platform.visible(contains)

        def found() -> str | None:
            return next((t for t in self.texts()[since:] if wanted in t), None)

        return str(await self.platform.fake.wait_for(found, timeout=timeout))

    async def say(self, text: str, expect: str) -> str:
        since = len(self.texts())
        self.platform.inject(self, text)
        return await self.wait(since, expect)

    async def press(self, label: str, expect: str) -> str:
        since = len(self.texts())
        await self.platform.press(self, label)
        return await self.wait(since, expect)


class Platform:
    name = ""
    text_limit = 0
    fake: Any

    def visible(self, text: str) -> str:
        """What a person sees of our HTML on this platform."""
        return html.unescape(strip_html(text))

    def person(self, n: int, name: str) -> Person:
        return Person(self, self.chat(n), name)

    # -- per platform ----------------------------------------------------------------------
    def chat(self, n: int) -> str:
        raise NotImplementedError

    def config(self, db_url: str, mode: str, port: int) -> Config:
        raise NotImplementedError

    def texts_to(self, chat: str) -> list[str]:
        raise NotImplementedError

    def inject(self, person: Person, text: str) -> Any:
        raise NotImplementedError

    def replay(self, handle: Any) -> None:
        self.fake.replay(handle)

    async def press(self, person: Person, label: str) -> None:
        """Answer the newest message offering `label`, by typing its number."""
        await self._settle(person, label)
        for text in reversed(person.texts()):
            number = self._number(text, label)
            if number is not None:
                self.inject(person, number)
                return
        raise AssertionError(f"{person.name}: no choice {label!r}\n{self.fake.dump()}")

    async def _settle(self, person: Person, label: str) -> None:
        """A reply split in pieces carries its choices on the last one: wait for it briefly
        (when the choice is on an older message, this just times out)."""
        with contextlib.suppress(AssertionError):
            await self.fake.wait_for(lambda: self._last_offers(person, label), timeout=3)

    def _last_offers(self, person: Person, label: str) -> bool:
        texts = person.texts()
        return bool(texts) and self._number(texts[-1], label) is not None

    @staticmethod
    def _number(text: str, label: str) -> str | None:
        for line in text.splitlines():
            m = _NUMBERED.match(line)
            if m and label in m.group(2):
                return m.group(1)
        return None

    def prepare_downtime(self) -> None:
        """While the bot is down, the platform should keep (or retry) what people send."""

    def update_key(self, update: Any) -> str:
        """The inbox's dedupe key for an update the fake built (the platform's id)."""
        raise NotImplementedError

    async def post_webhook(self, update: Any, headers: dict[str, str] | None = None) -> int:
        """POST `update` once to the bot's webhook as the platform would (its secret or
        signature; `headers` replace them), outside the fake's per-chat ordering, so copies
        can arrive at the same time; returns the bot's HTTP status."""
        raise NotImplementedError

    def base_config(self, db_url: str, port: int, **channels: Any) -> Config:
        return Config(
            path=ROOT / "config.toml",
            database_url=db_url,
            telegram=channels.pop("telegram", TelegramConfig(token=None)),
            host="127.0.0.1",
            port=port,
            # The journeys answer faster than people do: no flood throttling (test_flood.py).
            # They run on the wall clock, so /dangky always registers this year's pledge: the
            # December switch to next year's is tested on a fixed clock (test_flows.py).
            settings=channels.pop("settings", Settings(flood_burst=0, next_year_from_month=13)),
            **channels,
        )


class TelegramPlatform(Platform):
    name, text_limit = "telegram", 4096

    def __init__(self, fake: FakeTelegramAPI) -> None:
        self.fake = fake

    def visible(self, text: str) -> str:
        return text

    def chat(self, n: int) -> str:
        return str(1000 + n)

    def config(self, db_url: str, mode: str, port: int) -> Config:
        return self.base_config(
            db_url,
            port,
            telegram=TelegramConfig(
                token=self.fake.token,
                mode=mode,
                base_url=self.fake.base_url,
                username="lamtheo_test_bot",
                webhook_url=f"http://127.0.0.1:{port}/telegram",
                webhook_secret=TELEGRAM_SECRET,
                poll_timeout=1,
                per_chat_interval=0.05,  # the pacing itself is tested in test_outbox.py
            ),
        )

    def texts_to(self, chat: str) -> list[str]:
        return [str(r["params"].get("text", "")) for r in self.fake.messages_to(int(chat))]

    def inject(self, person: Person, text: str) -> Any:
        return self.fake.inject_message(int(person.chat), text, first_name=person.name)

    @staticmethod
    def _button(record: dict[str, Any], label: str) -> dict[str, Any] | None:
        markup = record["params"].get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if label in button["text"]:
                    return dict(button)
        return None

    def _last_offers(self, person: Person, label: str) -> bool:
        records = self.fake.messages_to(int(person.chat))
        return bool(records) and self._button(records[-1], label) is not None

    async def press(self, person: Person, label: str) -> None:
        await self._settle(person, label)
        for record in reversed(self.fake.messages_to(int(person.chat))):
            button = self._button(record, label)
            if button is not None:
                self.fake.inject_callback(
                    int(person.chat), button["callback_data"], record["message_id"]
                )
                return
        raise AssertionError(f"{person.name}: no button {label!r}\n{self.fake.dump()}")

    def prepare_downtime(self) -> None:
        # Telegram keeps undelivered updates and pushes them once the webhook is set again.
        self.fake.webhook_retries = 0

    def update_key(self, update: Any) -> str:
        return str(update["update_id"])

    async def post_webhook(self, update: Any, headers: dict[str, str] | None = None) -> int:
        assert self.fake.webhook_url, "no webhook is set"
        given = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET} if headers is None else headers
        return await _post(self.fake.webhook_url, json.dumps(update).encode(), given)


class ZaloBotPlatform(Platform):
    name, text_limit = "zalo_bot", 2000

    def __init__(self, fake: FakeZaloBotAPI) -> None:
        self.fake = fake

    def chat(self, n: int) -> str:
        return f"{0x6EDE9AFA66B88FE6D6A9 + n:020x}"  # opaque hex ids, as Zalo's

    def config(self, db_url: str, mode: str, port: int) -> Config:
        return self.base_config(
            db_url,
            port,
            zalo_bot=ZaloBotConfig(
                token=self.fake.token,
                mode=mode,
                base_url=self.fake.base_url,
                webhook_url=f"http://127.0.0.1:{port}/zalo-bot",
                webhook_secret=ZALO_BOT_SECRET,
                poll_timeout=1,
                per_chat_interval=0.05,
            ),
        )

    def texts_to(self, chat: str) -> list[str]:
        return [str(r["params"].get("text", "")) for r in self.fake.messages_to(chat)]

    def inject(self, person: Person, text: str) -> Any:
        return self.fake.inject_message(person.chat, text, display_name=person.name)

    def update_key(self, update: Any) -> str:
        return str(update["message"]["message_id"])

    async def post_webhook(self, update: Any, headers: dict[str, str] | None = None) -> int:
        given = {"X-Bot-Api-Secret-Token": ZALO_BOT_SECRET} if headers is None else headers
        return int(await self.fake.post_raw(update, given))


class ZaloOAPlatform(Platform):
    name, text_limit = "zalo_oa", 2000

    def __init__(self, fake: FakeZaloOA) -> None:
        self.fake = fake

    def chat(self, n: int) -> str:
        return str(5_000_000_000_000_000_000 + n)  # numeric strings, as the OA's user ids

    def config(self, db_url: str, mode: str, port: int, **oa: Any) -> Config:
        self.fake.webhook_url = f"http://127.0.0.1:{port}/zalo-oa"
        return self.base_config(
            db_url,
            port,
            zalo_oa=ZaloOAConfig(
                app_id=self.fake.app_id,
                app_secret=self.fake.app_secret,
                oa_secret_key=self.fake.oa_secret_key,
                refresh_token=self.fake.initial_refresh_token,
                oauth_url=self.fake.base_url,
                api_url=self.fake.base_url,
                business_url=self.fake.base_url,
                per_chat_interval=0.05,
                **oa,
            ),
        )

    def texts_to(self, chat: str) -> list[str]:
        return [self._shown(r) for r in self.fake.messages_to(chat)]

    @staticmethod
    def _shown(record: dict[str, Any]) -> str:
        """The text, and the buttons' titles under it, as the Zalo app shows them."""
        titles = [b["title"] for b in record.get("buttons") or []]
        return "\n".join([str(record.get("text") or ""), *titles])

    def inject(self, person: Person, text: str) -> Any:
        return self.fake.inject_text(person.chat, text, display_name=person.name)

    async def press(self, person: Person, label: str) -> None:
        """Tap the button on the newest message offering `label`; a message with more choices
        than buttons lists them numbered instead, and then the number is typed."""
        await self._settle(person, label)
        for record in reversed(self.fake.messages_to(person.chat)):
            for button in record.get("buttons") or []:
                if label in button["title"]:
                    self.fake.inject_text(person.chat, button["payload"])
                    return
            number = self._number(str(record.get("text") or ""), label)
            if number is not None:
                self.inject(person, number)
                return
        raise AssertionError(f"{person.name}: no choice {label!r}\n{self.fake.dump()}")

    def update_key(self, update: Any) -> str:
        return str(update["message"]["msg_id"])

    async def post_webhook(self, update: Any, headers: dict[str, str] | None = None) -> int:
        assert self.fake.webhook_url, "no webhook is set"
        raw = json.dumps(update, ensure_ascii=False, separators=(",", ":")).encode()
        mac = sign(
            raw,
            app_id=self.fake.app_id,
            timestamp=str(update["timestamp"]),
            oa_secret_key=self.fake.oa_secret_key,
        )
        given = {"X-ZEvent-Signature": f"mac={mac}"} if headers is None else headers
        return await _post(self.fake.webhook_url, raw, given)

    def prepare_downtime(self) -> None:
        # Zalo re-sends an event whose delivery failed (num_retry), for a while.
        self.fake.retry_delay, self.fake.max_retries, self.fake.max_failures = 0.5, 40, 1000


async def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=body, headers={"Content-Type": "application/json", **headers}) as resp,
    ):
        await resp.read()
        return resp.status


PLATFORMS = ("telegram", "zalo_bot", "zalo_oa")
MODES = {
    "telegram": ("polling", "webhook"),
    "zalo_bot": ("polling", "webhook"),
    "zalo_oa": ("webhook",),  # the OA only pushes events
}
DEFAULT_MODE = {"telegram": "polling", "zalo_bot": "polling", "zalo_oa": "webhook"}


@contextlib.asynccontextmanager
async def open_platform(name: str) -> Any:
    if name == "telegram":
        async with FakeTelegramAPI(username="lamtheo_test_bot") as tg:
            yield TelegramPlatform(tg)
    elif name == "zalo_bot":
        async with FakeZaloBotAPI() as zb:
            yield ZaloBotPlatform(zb)
    else:
        async with FakeZaloOA(templates={"ZNS-NHAC-HOP": ["ho_ten", "ngay_hop"]}) as oa:
            yield ZaloOAPlatform(oa)
