"""Wires one running bot: database, channels, the inbox and delivery workers, the web server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from bot import inbox
from bot.channels.base import Channel
from bot.channels.telegram import TelegramChannel
from bot.config import Config
from bot.outbox import DeliveryWorker
from bot.scheduler import Scheduler
from handlers.messages import Incoming
from models.db import create_engine, session_factory, utcnow

log = logging.getLogger(__name__)


class App:
    def __init__(self, config: Config, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.config, self.clock = config, clock
        self.engine = create_engine(config.database_url)
        self.sessions = session_factory(self.engine)
        self.channels: dict[str, Channel] = {}
        self.telegram: TelegramChannel | None = None
        if config.telegram.token:
            self.telegram = TelegramChannel(config.telegram)
            self.channels[self.telegram.name] = self.telegram
        self.delivery = DeliveryWorker(
            self.sessions,
            self.channels,
            clock,
            per_chat_interval={"telegram": config.telegram.per_chat_interval},
        )
        self.inbox = inbox.InboxWorker(
            self.sessions, config.settings, clock, on_planned=self.delivery.kick
        )
        self.scheduler = Scheduler(
            self.sessions, config.settings, clock, on_planned=self.delivery.kick
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None

    def add_channel(self, channel: Channel) -> None:
        self.channels[channel.name] = channel

    async def store(self, inc: Incoming, update_key: str) -> bool:
        return await inbox.store(self.sessions, inc, update_key=update_key, now=self.clock())

    async def start(self) -> None:
        """Start receiving and sending. Pending work left by a previous run is picked up."""
        if self.telegram is not None:
            await self.telegram.start()
            if self.config.telegram.mode == "webhook":
                await self._start_web()
            else:
                self._spawn(self.telegram.poll(self.store, self.inbox.kick))
        self._spawn(self.inbox.run())
        self._spawn(self.delivery.run())
        self.scheduler.start()

    def _spawn(self, coro: object) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)  # type: ignore[arg-type]
        task.add_done_callback(_log_crash)
        self._tasks.append(task)

    async def _start_web(self) -> None:
        app = web.Application(client_max_size=1024 * 1024)
        if self.telegram is not None:
            app.router.add_post(
                "/telegram", self.telegram.webhook_handler(self.store, self.inbox.kick)
            )
        app.router.add_get("/health", _health)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        log.info("webhook server on %s:%s", self.config.host, self.config.port)

    async def stop(self) -> None:
        self.scheduler.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.telegram is not None:
            await self.telegram.stop()
        await self.engine.dispose()


async def _health(_: web.Request) -> web.Response:
    return web.Response(text="ok")


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task crashed", exc_info=task.exception())
