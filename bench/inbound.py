"""Benchmark 1: inbound, full stack, against the floor of a stock python-telegram-bot echo bot.

**Ours.** The real bot (bot.app.App: webhook server or polling loop, bot.inbox, the conversation
core, bot.outbox, bot.channels.telegram on PTB's ExtBot) against the in-process fake Bot API
(tests/fakes/telegram_api.py), on a fresh migrated SQLite file or PostgreSQL database seeded
with `--chats` linked members (tests/support/seeding.py). N text updates ("xin chào", spread
round-robin over the chats) are injected at once; each one is POSTed to our webhook by the fake
(or fetched by our getUpdates loop), stored (inbox_updates), processed by handlers.core
(member by identity, routing.seen, the conversation row, dispatch: a text outside any
conversation from a linked member gets texts.NOT_UNDERSTOOD) with its reply planned in the same
transaction, then claimed, sent through the fake (sendMessage) and recorded by the delivery
worker. The figure is N / (last reply seen by the fake − first inject), in updates/s.
Every reply is checked: exactly N sendMessage calls, the expected count per chat, the expected
text, no rejected call; otherwise the run fails.

**Pacing off.** Telegram's limits (30 messages/s overall, ~1/s per chat) would cap the figure
at 30/s: the benchmark sets `rate_per_second = 0` (bot.channels.pacer: no overall pacing) and
`per_chat_interval` to 0.01 s (`--per-chat-interval`), and flood throttling off (`flood_burst =
0`, as the end-to-end tests). The figure is then the stack's own throughput, not Telegram's.

**The floor.** A stock PTB `Application` (ApplicationBuilder, one `MessageHandler(filters.TEXT,
echo)` replying with `update.message.reply_text`; default `concurrent_updates=False`) fed the
same N updates through the same fake in the same mode: polling with `Updater.start_polling`;
webhook with PTB's custom-webhook pattern (an aiohttp handler that puts `Update.de_json(...)` on
`application.update_queue`, since PTB's own webhook server needs tornado, not installed).
Measured twice: with PTB's default transport (HTTPXRequest) and with the bot's own
(bot.channels.ptb_aiohttp.AiohttpRequest, a minimal `telegram.request.BaseRequest` on aiohttp).

**Ours** runs with its production transport (AiohttpRequest on the application's session,
App.http) and, for comparison, with its ExtBot's transport swapped for HTTPXRequest ("ours
(httpx)"). The goal: "ratio ours/floor", ours as shipped against the stock floor (httpx), ≥ 1.0.
"both on aiohttp" / "both on httpx" compare each of ours with the floor on the same transport.

**Latency.** After the throughput run, `--latency` updates one at a time (each waits for its
reply): inject → reply seen by the fake, p50/p95, with nothing else queued.

The fake runs in the benchmark's process and event loop: its work (parsing, recording each
call) is inside every figure, ours and the floor's alike, and in `cpu/op` (CPU of the whole
process per update).

`python -m bench.inbound [--updates N --chats C --mode webhook|polling|both
 --transport httpx|aiohttp|both --latency K --db sqlite|postgresql|both]`: by default 5,000
updates over 200 chats, both modes, both transports, both databases. `--quick` (about a minute):
400 updates, 30 latency samples, ours with its production transport only (the floor still with
both).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, ExtBot, MessageHandler
from telegram.ext import filters as ptb_filters
from telegram.request import HTTPXRequest

from bench.common import Databases, Figure, chosen, percentile, profiled
from bot.channels.ptb_aiohttp import AiohttpRequest

NAME = "inbound"
TEXT = "xin chào"  # not a command, no conversation open: the member gets NOT_UNDERSTOOD
FIRST_CHAT = 700_000_001
MODES = ("webhook", "polling")
TRANSPORTS = ("aiohttp", "httpx")
PRODUCTION = "aiohttp"  # bot.channels.ptb_aiohttp: what the bot ships with
STALL_SECONDS = 60.0  # no new reply for this long: the run fails
GRACE_SECONDS = 0.3  # after the N-th reply, how long to look for extra (doubled) replies
SECRET = "bench-inbound-secret"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--updates", type=int, help="updates per run; default 5,000 (--quick: 400)")
    parser.add_argument("--chats", type=int, default=200, help="chats (linked members)")
    parser.add_argument("--mode", choices=(*MODES, "both"), default="both")
    parser.add_argument(
        "--transport",
        choices=(*TRANSPORTS, "both"),
        help="our ExtBot's transport; default both (--quick: aiohttp, as shipped); the floor: both",
    )
    parser.add_argument(
        "--latency", type=int, help="updates sent one at a time; default 200 (--quick: 30)"
    )
    parser.add_argument("--per-chat-interval", type=float, default=0.01, help="seconds")


# -- watching the fake -----------------------------------------------------------------------------


@dataclass
class Run:
    """One throughput run: `updates` replies seen within `seconds`, `cpu` s of process CPU."""

    updates: int
    seconds: float
    cpu: float

    @property
    def rate(self) -> float:
        return self.updates / self.seconds

    @property
    def cpu_ms(self) -> float:
        return self.cpu / self.updates * 1000


class Replies:
    """The sendMessage calls the fake records from now on, scanned incrementally."""

    def __init__(self, fake: Any) -> None:
        self.fake = fake
        self._seen = len(fake.sent)
        self._rejected = len(fake.rejected)
        self.per_chat: Counter[int] = Counter()
        self.texts: Counter[str] = Counter()
        self.other: Counter[str] = Counter()
        self.count = 0
        self.last = 0.0  # time.time() of the latest reply

    def scan(self) -> int:
        sent = self.fake.sent
        for record in sent[self._seen :]:
            if record["method"] == "sendMessage":
                self.count += 1
                self.per_chat[record["chat_id"]] += 1
                self.texts[str(record["params"].get("text", ""))] += 1
                self.last = max(self.last, record["time"])
            else:
                self.other[record["method"]] += 1
        self._seen = len(sent)
        return self.count

    def rejected(self) -> list[Any]:
        return list(self.fake.rejected[self._rejected :])


async def measure(
    fake: Any, chats: list[int], n: int, expected_text: Callable[[str], bool], label: str
) -> Run:
    """Inject n updates round-robin over `chats`, wait for n replies; check them."""
    replies = Replies(fake)
    cpu = time.process_time()
    start = time.time()
    for i in range(n):
        fake.inject_message(chats[i % len(chats)], TEXT)
    progress, progressed = 0, time.monotonic()
    while replies.scan() < n:
        if replies.count != progress:
            progress, progressed = replies.count, time.monotonic()
        elif time.monotonic() - progressed > STALL_SECONDS or replies.rejected():
            raise RuntimeError(
                f"{label}: {replies.count} of {n} replies, none for {STALL_SECONDS:.0f} s or an "
                f"error answer\n{fake.dump()}"
            )
        await asyncio.sleep(0.005)
    cpu = time.process_time() - cpu
    await asyncio.sleep(GRACE_SECONDS)  # anything sent twice shows up now
    replies.scan()
    expected = Counter(
        {chat: n // len(chats) + (k < n % len(chats)) for k, chat in enumerate(chats)}
    )
    problems = []
    if replies.count != n:
        problems.append(f"{replies.count} replies for {n} updates")
    if replies.per_chat != +expected:
        wrong = {c: replies.per_chat[c] for c in expected if replies.per_chat[c] != expected[c]}
        problems.append(f"replies per chat differ, e.g. {dict(list(wrong.items())[:5])}")
    if bad := [t for t in replies.texts if not expected_text(t)]:
        problems.append(f"unexpected reply texts: {bad[:3]}")
    if replies.other:
        problems.append(f"unexpected calls: {dict(replies.other)}")
    if rejected := replies.rejected():
        problems.append(f"{len(rejected)} calls rejected: {rejected[:3]}")
    if problems:
        raise RuntimeError(f"{label}: " + "; ".join(problems))
    return Run(n, replies.last - start, cpu)


async def latencies(fake: Any, chats: list[int], samples: int) -> list[float]:
    """Seconds from inject to the reply seen by the fake, one update at a time."""
    out: list[float] = []
    for i in range(samples):
        before = len(fake.sent)
        started = time.time()
        fake.inject_message(chats[i % len(chats)], TEXT)

        def reply(before: int = before) -> Any:
            return next((r for r in fake.sent[before:] if r["method"] == "sendMessage"), None)

        record = await fake.wait_for(reply, timeout=STALL_SECONDS)
        out.append(record["time"] - started)
    return out


# -- ours ---------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def our_bot(db_url: str, mode: str, transport: str, args: argparse.Namespace) -> Any:
    """The real App against a fresh fake; yields the fake once this process leads."""
    from bot.app import App
    from bot.channels.pacer import SteadyRateLimiter
    from tests.fakes.telegram_api import FakeTelegramAPI
    from tests.support.platforms import TelegramPlatform, free_port

    async with FakeTelegramAPI(username="lamtheo_test_bot") as fake:
        config = TelegramPlatform(fake).config(db_url, mode, free_port())
        telegram = dataclasses.replace(
            config.telegram, rate_per_second=0, per_chat_interval=args.per_chat_interval
        )
        app = App(dataclasses.replace(config, telegram=telegram))
        assert app.telegram is not None
        if transport == "httpx":  # the benchmark's variant: same ExtBot, PTB's default transport
            old = app.telegram.bot
            app.telegram.bot = ExtBot(
                fake.token,
                base_url=fake.base_url,
                base_file_url=fake.base_file_url,
                request=HTTPXRequest(connection_pool_size=32),
                get_updates_request=HTTPXRequest(read_timeout=telegram.poll_timeout + 10),
                rate_limiter=SteadyRateLimiter(0, max_retries=2),
            )
            await old.shutdown()
        await app.start()
        try:
            async with asyncio.timeout(30):
                # bot.leader exposes a flag, no event: look every 10 ms until this one leads
                while not app.leadership.leading:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            yield fake
        finally:
            await app.stop()


async def seed(dbs: Databases, db: str, chats: int) -> str:
    from tests.support.seeding import linked_members

    url = await dbs.fresh(db)
    await linked_members(url, chats, cells=max(1, chats // 20), first_chat=FIRST_CHAT)
    return url


# -- the floor: a stock PTB echo bot -------------------------------------------------------------


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None and update.message.text is not None
    await update.message.reply_text(update.message.text)


@contextlib.asynccontextmanager
async def echo_bot(mode: str, transport: str) -> AsyncIterator[Any]:
    from tests.fakes.telegram_api import FakeTelegramAPI
    from tests.support.platforms import free_port

    async with FakeTelegramAPI() as fake:
        builder = ApplicationBuilder().token(fake.token).base_url(fake.base_url)
        builder = builder.base_file_url(fake.base_file_url)
        if transport == "aiohttp":
            builder = builder.request(AiohttpRequest()).get_updates_request(
                AiohttpRequest(read_timeout=15.0)
            )
        application: Application[Any, Any, Any, Any, Any, Any] = builder.build()
        application.add_handler(MessageHandler(ptb_filters.TEXT & ~ptb_filters.COMMAND, _echo))
        runner: web.AppRunner | None = None
        await application.initialize()
        await application.start()
        try:
            if mode == "polling":
                assert application.updater is not None
                await application.updater.start_polling(
                    poll_interval=0.0, timeout=1, allowed_updates=["message"]
                )
            else:
                # PTB's custom-webhook pattern (its own server needs tornado): the handler only
                # puts the update on the application's queue, as PTB's webhook server does.
                async def handle(request: web.Request) -> web.Response:
                    if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != SECRET:
                        return web.Response(status=403)
                    data = await request.json()
                    await application.update_queue.put(Update.de_json(data, application.bot))
                    return web.Response()

                web_app = web.Application()
                web_app.router.add_post("/telegram", handle)
                runner = web.AppRunner(web_app, access_log=None)
                await runner.setup()
                port = free_port()
                await web.TCPSite(runner, "127.0.0.1", port).start()
                await application.bot.set_webhook(
                    f"http://127.0.0.1:{port}/telegram",
                    secret_token=SECRET,
                    allowed_updates=["message"],
                )
            yield fake
        finally:
            if application.updater is not None and application.updater.running:
                await application.updater.stop()
            await application.stop()
            await application.shutdown()
            if runner is not None:
                await runner.cleanup()


# -- the run ---------------------------------------------------------------------------------------


def _modes(args: argparse.Namespace) -> list[str]:
    return list(MODES) if args.mode == "both" else [args.mode]


def _transports(args: argparse.Namespace) -> list[str]:
    picked = args.transport or (PRODUCTION if args.quick else "both")
    return list(TRANSPORTS) if picked == "both" else [picked]


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def run(args: argparse.Namespace, dbs: Databases) -> list[Figure]:
    from handlers import texts

    n = args.updates or (400 if args.quick else 5_000)
    samples = args.latency if args.latency is not None else (30 if args.quick else 200)
    chats = [FIRST_CHAT + k for k in range(args.chats)]
    not_understood = str(texts.NOT_UNDERSTOOD)
    figures: list[Figure] = []
    for mode in _modes(args):
        floors: dict[str, Run] = {}
        for transport in TRANSPORTS:
            async with echo_bot(mode, transport) as fake:
                with profiled(args.profile, f"floor {mode} ({transport})"):
                    floors[transport] = run_ = await measure(
                        fake, chats, n, lambda t: t == TEXT, f"floor {mode} {transport}"
                    )
            _say(f"floor {mode} ({transport}): {run_.rate:,.0f} updates/s")
            suffix = "" if transport == "httpx" else " (aiohttp)"
            figures.append(
                Figure(NAME, f"floor {mode}{suffix}", "", run_.rate, "updates/s", cpu=run_.cpu_ms)
            )
        for db in chosen(args.db):
            for transport in _transports(args):
                url = await seed(dbs, db, len(chats))
                try:
                    async with our_bot(url, mode, transport, args) as fake:
                        with profiled(args.profile, f"ours {mode} ({transport}), {db}"):
                            ours = await measure(
                                fake,
                                chats,
                                n,
                                lambda t: t == not_understood,
                                f"ours {mode} {transport} {db}",
                            )
                        waits = await latencies(fake, chats, samples) if samples else []
                finally:
                    await dbs.drop(url)
                # Production (aiohttp) is judged against the stock floor (PTB's default httpx);
                # each transport is also compared with the floor on the same transport.
                suffix = "" if transport == PRODUCTION else f" ({transport})"
                floor = floors["httpx"]
                _say(
                    f"[{db}] ours {mode} ({transport}): {ours.rate:,.0f} updates/s, "
                    f"stock floor {floor.rate:,.0f}: ratio {ours.rate / floor.rate:.2f}"
                )
                figures.append(
                    Figure(
                        NAME, f"ours {mode}{suffix}", db, ours.rate, "updates/s", cpu=ours.cpu_ms
                    )
                )
                if transport == PRODUCTION:
                    figures.append(
                        Figure(
                            NAME,
                            f"ratio ours/floor {mode}",
                            db,
                            ours.rate / floor.rate,
                            "×",
                            goal=1.0,
                            at_least=True,
                        )
                    )
                same = floors[transport]
                figures.append(
                    Figure(
                        NAME,
                        f"ratio ours/floor {mode}, both on {transport}",
                        db,
                        ours.rate / same.rate,
                        "×",
                    )
                )
                if waits:
                    for q in (50, 95):
                        figures.append(
                            Figure(
                                NAME,
                                f"ours {mode}{suffix} latency p{q}",
                                db,
                                percentile(waits, q) * 1000,
                                "ms",
                            )
                        )
    return figures


if __name__ == "__main__":
    import bench.common
    import bench.inbound

    bench.common.main(bench.inbound)
