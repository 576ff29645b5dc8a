"""Wires one running bot: database, channels, the inbox and delivery workers, the web server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web

from bot import inbox, leader, logs
from bot.channels.base import Channel, NotStored
from bot.channels.telegram import TelegramChannel
from bot.channels.zalo_bot import ZaloBotChannel
from bot.channels.zalo_oa import ZaloOAChannel
from bot.config import Config
from bot.outbox import DeliveryWorker
from bot.scheduler import Scheduler
from bot.throttle import throttle_for
from bot.usage import UsageMeter
from handlers.messages import Incoming
from models import db
from models.db import create_engine, session_factory, utcnow

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 600.0  # the Zalo OA token's freshness, the Zalo plan's limits
BROADCAST_POLL_SECONDS = 1.0  # how often running broadcasts are looked at (edits are throttled)


class App:
    def __init__(self, config: Config, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.config, self.clock = config, clock
        logs.protect_config(config)
        self.engine = create_engine(config.database_url)
        self.sessions = session_factory(self.engine)
        self.channels: dict[str, Channel] = {}
        self.usage = UsageMeter(self.sessions, clock, config.settings)
        self.telegram: TelegramChannel | None = None
        self.zalo_bot: ZaloBotChannel | None = None
        self.zalo_oa: ZaloOAChannel | None = None
        if config.telegram.token:
            self.telegram = TelegramChannel(config.telegram, http=lambda: self.http)
            self.channels[self.telegram.name] = self.telegram
        if config.zalo_bot.token:
            self.zalo_bot = ZaloBotChannel(config.zalo_bot, self.usage)
            self.channels[self.zalo_bot.name] = self.zalo_bot
        if config.zalo_oa.enabled:
            self.zalo_oa = ZaloOAChannel(config.zalo_oa, self.sessions, self.usage, clock)
            self.channels[self.zalo_oa.name] = self.zalo_oa
        self.delivery = DeliveryWorker(
            self.sessions,
            self.channels,
            clock,
            per_chat_interval={
                "telegram": config.telegram.per_chat_interval,
                "zalo_bot": config.zalo_bot.per_chat_interval,
                "zalo_oa": config.zalo_oa.per_chat_interval,
            },
            routes=config.settings.routes,
        )
        self.inbox = inbox.InboxWorker(
            self.sessions, config.settings, clock, on_planned=self.delivery.kick
        )
        self.throttle = throttle_for(config.settings)  # flooding chats: stored, not processed
        self._store = inbox.InboxStore(self.sessions, self.throttle)
        self.scheduler = Scheduler(
            self.sessions, config.settings, clock, on_planned=self.delivery.kick
        )
        holder = leader.holder_name()
        self.leadership = leader.Leadership(
            leader.claim_for(
                config.database_url, self.sessions, clock, holder, config.lease_seconds
            ),
            holder=holder,
            lease_seconds=config.lease_seconds,
            on_elected=self._lead,
            on_deposed=self._follow,
        )
        self._store_failures = 0  # updates refused since the database last took one
        self._tasks: list[asyncio.Task[None]] = []
        self._led: list[asyncio.Task[None]] = []  # only while this process leads
        self._runner: web.AppRunner | None = None
        self.http: aiohttp.ClientSession | None = None  # shared by the platforms' clients

    def add_channel(self, channel: Channel) -> None:
        self.channels[channel.name] = channel

    async def store(self, inc: Incoming, update_key: str) -> bool:
        """inbox.store; a database that cannot take the update raises NotStored (a webhook
        answers non-2xx, the platform sends it again), logged once per outage, not per try."""
        try:
            new = await self._store(inc, update_key=update_key, now=self.clock())
        except Exception as exc:
            self._store_failures += 1
            if self._store_failures == 1:
                log.error(
                    "cannot store incoming updates (%s: %s); answering non-2xx so the "
                    "platforms send them again",
                    db.fault(exc, self.config.database_url) or "error",
                    exc,
                    exc_info=exc,
                )
            else:
                log.debug("update %s not stored either: %r", update_key, exc)
            raise NotStored(update_key) from exc
        if self._store_failures:
            log.warning(
                "incoming updates are stored again (%s refused meanwhile, sent again by the "
                "platforms)",
                self._store_failures,
            )
            self._store_failures = 0
        return new

    async def start(self) -> None:
        """Start receiving; lead (poll, process, plan, send) once this process holds the lease.
        Pending work left by a previous run is picked up by whichever process leads."""
        self.http = aiohttp.ClientSession()
        routes: dict[str, Any] = {}
        if self.telegram is not None:
            await self.telegram.start()
            if self.config.telegram.mode == "webhook":
                routes["/telegram"] = self.telegram.webhook_handler(self.store, self.inbox.kick)
        if self.zalo_bot is not None:
            await self.zalo_bot.start(self.http)
            if self.config.zalo_bot.mode == "webhook":
                routes["/zalo-bot"] = self.zalo_bot.webhook_handler(self.store, self.inbox.kick)
        if self.zalo_oa is not None:
            await self.zalo_oa.start(self.http)
            routes["/zalo-oa"] = self.zalo_oa.webhook_handler(self.store, self.inbox.kick)
        if routes:
            await self._start_web(routes)
        self.scheduler.start(paused=True)
        self._spawn(self.leadership.run())

    async def _lead(self) -> None:
        """Elected: the work only one process may do at a time."""
        if self.telegram is not None and self.config.telegram.mode == "polling":
            self._spawn_led(self.telegram.poll(self.store, self.inbox.kick))
        if self.zalo_bot is not None and self.config.zalo_bot.mode == "polling":
            self._spawn_led(self.zalo_bot.poll(self.store, self.inbox.kick))
        self._spawn_led(self.inbox.run())
        self._spawn_led(self.delivery.run())
        self._spawn_led(self._housekeeping())
        self._spawn_led(self._broadcast_progress())
        self.scheduler.resume()

    async def _follow(self) -> None:
        """Deposed: stop that work (sends already started are finished and recorded)."""
        self.scheduler.pause()
        await _cancel(self._led)

    async def _housekeeping(self) -> None:
        while True:
            try:
                if self.zalo_oa is not None:
                    await self.zalo_oa.keep_fresh()
                if self.zalo_bot is not None:
                    await self.zalo_bot.check_limits()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("housekeeping failed; trying again later")
            await asyncio.sleep(HOUSEKEEPING_SECONDS)

    async def _broadcast_progress(self) -> None:
        """Keep each running broadcast's progress message current, and finish it."""
        from handlers.broadcast import render_progress
        from models import broadcasts

        interval = timedelta(seconds=self.config.settings.broadcast_progress_seconds)
        editable = frozenset(n for n, c in self.channels.items() if getattr(c, "can_edit", False))
        while True:
            try:
                async with self.sessions() as session, session.begin():
                    planned = await broadcasts.refresh(
                        session,
                        self.clock(),
                        interval=interval,
                        editable=editable,
                        render=render_progress,
                    )
                if planned:
                    self.delivery.kick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("broadcast progress failed; trying again later")
            await asyncio.sleep(BROADCAST_POLL_SECONDS)

    def _spawn(self, coro: object, into: list[asyncio.Task[None]] | None = None) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)  # type: ignore[arg-type]
        task.add_done_callback(_log_crash)
        (self._tasks if into is None else into).append(task)

    def _spawn_led(self, coro: object) -> None:
        self._spawn(coro, self._led)

    async def _start_web(self, routes: dict[str, Any]) -> None:
        app = web.Application(client_max_size=1024 * 1024)
        for path, handler in routes.items():
            app.router.add_post(path, handler)
        app.router.add_get("/health", _health)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        log.info("webhook server on %s:%s", self.config.host, self.config.port)

    async def stop(self) -> None:
        self.scheduler.stop()
        await _cancel(self._led)
        await _cancel(self._tasks)  # the leadership last: it gives the lease up
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.zalo_oa is not None:
            await self.zalo_oa.stop()
        if self.telegram is not None:
            await self.telegram.stop()
        if self.http is not None:
            await self.http.close()
            self.http = None
        await self.engine.dispose()


async def _health(_: web.Request) -> web.Response:
    return web.Response(text="ok")


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    tasks.clear()


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task crashed", exc_info=task.exception())
