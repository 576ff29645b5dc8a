"""`python -m bot chat`: a terminal conversation through the real inbox, core and outbox."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from sqlalchemy import select

from bot.channels.console import NAME, ConsoleChannel
from bot.config import Config
from bot.inbox import InboxWorker, store
from bot.outbox import DeliveryWorker
from handlers import texts
from handlers.messages import Incoming
from handlers.text import fold
from models.db import create_engine, session_factory, utcnow
from models.orgs import find_unit
from models.people import link_identity
from models.tables import Member


class ConsoleChat:
    def __init__(self, config: Config, write: Callable[[str], None] = print) -> None:
        self.write = write
        self.engine = create_engine(config.database_url)
        self.sessions = session_factory(self.engine)
        self.who: dict[str, str] = {}  # chat id -> who it is, for messages to someone else
        self.current = ""
        self.channel = ConsoleChannel(write, self._heading)
        # A terminal has no flood limit: no per-chat pacing.
        self.delivery = DeliveryWorker(
            self.sessions, {NAME: self.channel}, utcnow, per_chat_interval=0
        )
        self.inbox = InboxWorker(self.sessions, config.settings, utcnow, on_planned=lambda: None)

    def _heading(self, chat_id: str) -> str | None:
        if chat_id == self.current:
            return None
        return texts.CONSOLE_TO_OTHER.format(who=self.who.get(chat_id, chat_id))

    async def as_member(self, name: str, unit_path: str | None = None) -> bool:
        """Talk as a roster member (the operator vouches for who they are)."""
        async with self.sessions() as session, session.begin():
            stmt = select(Member).where(Member.name_key == fold(name), Member.active.is_(True))
            if unit_path:
                unit = await find_unit(session, unit_path)
                stmt = stmt.where(Member.unit_id == (unit.id if unit else -1))
            found = list(await session.scalars(stmt))
            if len(found) != 1:
                template = texts.CONSOLE_AMBIGUOUS if found else texts.CONSOLE_UNKNOWN_MEMBER
                self.write(template.format(name=name))
                return False
            member = found[0]
            chat = f"member-{member.id}"
            await link_identity(
                session,
                member,
                channel=NAME,
                user_id=chat,
                chat_id=chat,
                display_name=member.full_name,
                now=utcnow(),
            )
        self._switch(chat, f"{member.full_name} ({member.unit.name})")
        await self.say("/start")
        return True

    async def with_code(self, code: str) -> None:
        chat = f"code-{uuid.uuid4().hex[:8]}"
        self._switch(chat, code)
        await self.say(f"/start {code}")

    def _switch(self, chat: str, who: str) -> None:
        self.current, self.who[chat] = chat, who
        self.write(texts.CONSOLE_INTRO.format(who=who))

    async def say(self, text: str) -> None:
        inc = Incoming(channel=NAME, chat_id=self.current, user_id=self.current, text=text)
        await store(self.sessions, inc, update_key=uuid.uuid4().hex, now=utcnow())
        await self.inbox.drain()
        await self.delivery.drain()

    async def loop(self, read: Callable[[], str]) -> None:
        while True:
            try:
                line = await asyncio.to_thread(read)
            except (EOFError, KeyboardInterrupt):
                break
            line = line.strip()
            if line in (":thoat", ":q", ":quit"):
                break
            if line.startswith(":doi "):
                await self.as_member(line[5:].strip())
            elif line:
                await self.say(line)
        self.write(texts.CONSOLE_BYE)

    async def close(self) -> None:
        await self.engine.dispose()
