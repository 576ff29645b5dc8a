"""Telegram through python-telegram-bot: updates in (polling or webhook), deliveries out.

PTB is used as a typed API client (ExtBot, with our SteadyRateLimiter); its Application is
not: its update queue acknowledges updates before anything is stored, and ours stores first.

HTML that Telegram cannot parse ("can't parse entities") is sent once more as plain text, so the
person still gets the message; a warning names the delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import MessageLimit, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import ExtBot

from bot import logs
from bot.channels.base import DeliveryError, NotStored, delivery_id
from bot.channels.pacer import SteadyRateLimiter
from bot.channels.ptb_aiohttp import AiohttpRequest
from bot.channels.split import split_text
from bot.config import TelegramConfig
from handlers import texts
from handlers.messages import Incoming, Reply
from handlers.text import strip_html

log = logging.getLogger(__name__)

NAME = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query"]

# (channel-neutral incoming, the platform's update id as our dedupe key) -> stored?
StoreFn = Callable[[Incoming, str], Awaitable[bool]]
T = TypeVar("T")


def to_incoming(update: Update) -> Incoming | None:
    """Private-chat text and button presses; anything else is not for this bot."""
    if update.callback_query is not None:
        query = update.callback_query
        message = query.message
        if message is None or query.data is None:
            return None
        return Incoming(
            channel=NAME,
            chat_id=str(message.chat.id),
            user_id=str(query.from_user.id),
            choice=query.data,
            display_name=query.from_user.full_name,
            ack_ref=f"{query.id}|{message.chat.id}|{message.message_id}",
        )
    message = update.message
    if message is None or message.from_user is None or message.chat.type != "private":
        return None
    return Incoming(
        channel=NAME,
        chat_id=str(message.chat.id),
        user_id=str(message.from_user.id),
        text=message.text or message.caption or "",
        display_name=message.from_user.full_name,
    )


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.choices:
        return None
    buttons = [InlineKeyboardButton(c.label[:64], callback_data=c.data) for c in reply.choices]
    width = max(1, reply.row_width)
    return InlineKeyboardMarkup([buttons[i : i + width] for i in range(0, len(buttons), width)])


class TelegramChannel:
    name = NAME
    can_edit = True  # a broadcast's progress message is edited in place

    def __init__(
        self,
        config: TelegramConfig,
        *,
        base_file_url: str | None = None,
        http: Callable[[], aiohttp.ClientSession | None] | None = None,
    ) -> None:
        """`http`: the application's aiohttp session, given when the bot starts (bot.app);
        without it the channel's transport opens a session of its own."""
        assert config.token
        self.config = config
        logs.protect([config.token, config.webhook_secret])  # the token sits in every URL
        base = config.base_url.rstrip("/")
        self.bot = ExtBot(
            config.token,
            base_url=config.base_url,
            base_file_url=base_file_url or base.replace("/bot", "/file/bot"),
            request=AiohttpRequest(http),
            get_updates_request=AiohttpRequest(http, read_timeout=config.poll_timeout + 10),
            rate_limiter=SteadyRateLimiter(config.rate_per_second, max_retries=2),
        )
        self.username = ""

    async def start(self) -> None:
        await self.bot.initialize()  # getMe: fails fast on a wrong token
        self.username = self.bot.username
        await self.bot.set_my_commands(
            [BotCommand(name, description) for name, description in texts.COMMAND_MENU]
        )
        if self.config.mode == "webhook":
            await self.bot.set_webhook(
                self.config.webhook_url,
                secret_token=self.config.webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
            )
        else:
            await self.bot.delete_webhook(drop_pending_updates=False)

    async def stop(self) -> None:
        await self.bot.shutdown()

    # -- in: polling -------------------------------------------------------------------------
    async def poll(self, store: StoreFn, on_stored: Callable[[], None]) -> None:
        """Our own getUpdates loop: the offset that confirms a batch is sent only after the
        batch is stored, so a crash in between means Telegram sends it again."""
        offset: int | None = None
        failures = 0
        while True:
            try:
                updates = await self.bot.get_updates(
                    offset=offset,
                    timeout=self.config.poll_timeout,
                    allowed_updates=ALLOWED_UPDATES,
                )
                offset = await _store_batch(updates, store, offset)
                if updates:
                    on_stored()
                failures = 0
            except asyncio.CancelledError:
                raise
            except RetryAfter as exc:
                await asyncio.sleep(_seconds(exc.retry_after))
            except Exception as exc:  # network trouble or a database hiccup: try again
                failures += 1
                log.warning("getUpdates round failed (%s): %s", failures, exc)
                await asyncio.sleep(min(30.0, 0.5 * 2**failures))

    # -- in: webhook -------------------------------------------------------------------------
    def webhook_handler(
        self, store: StoreFn, on_stored: Callable[[], None]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        secret = (self.config.webhook_secret or "").encode()

        async def handle(request: web.Request) -> web.Response:
            given = request.headers.get(SECRET_HEADER, "").encode()
            if not secret or not hmac.compare_digest(given, secret):
                return web.Response(status=403)
            try:
                data = await request.json()
                update = Update.de_json(data, self.bot)
            except Exception:
                return web.Response(status=400)
            inc = to_incoming(update) if update is not None else None
            if inc is None:
                return web.Response(status=200)
            try:
                await store(inc, str(update.update_id))
            except NotStored:
                return web.Response(status=503)  # logged once per outage (bot.app)
            except Exception:
                log.exception("could not store update %s", update.update_id)
                return web.Response(status=503)  # Telegram delivers it again
            on_stored()
            return web.Response(status=200)

        return handle

    # -- out ---------------------------------------------------------------------------------
    async def deliver(self, chat_id: str, kind: str, payload: dict[str, Any]) -> str | None:
        try:
            if kind == "ack":
                await self._ack(payload["ack_ref"])
                return None
            reply = Reply.from_payload(payload)
            if kind == "edit":
                await self._edit(chat_id, str(payload["message_id"]), reply)
                return None
            if reply.chart:
                from documents.charts import chart_png

                await self.bot.send_photo(chat_id=int(chat_id), photo=chart_png(reply.chart))
            if reply.document:
                await self.bot.send_document(
                    chat_id=int(chat_id),
                    document=reply.document_bytes(),
                    filename=reply.document["name"],
                )
            pieces = split_text(reply.text, MessageLimit.MAX_TEXT_LENGTH)
            sent = None
            for n, piece in enumerate(pieces):
                last = n == len(pieces) - 1
                sent = await self._html_or_plain(
                    self.bot.send_message,
                    piece,
                    chat_id=int(chat_id),
                    reply_markup=keyboard(reply) if last else None,
                    disable_web_page_preview=True,
                )
            return str(sent.message_id) if sent is not None else None
        except RetryAfter as exc:
            raise DeliveryError(str(exc), retry_after=_seconds(exc.retry_after)) from exc
        except Forbidden as exc:
            raise DeliveryError(str(exc), unreachable=True) from exc
        except BadRequest as exc:
            unreachable = "chat not found" in str(exc).lower()
            raise DeliveryError(str(exc), permanent=True, unreachable=unreachable) from exc
        except (NetworkError, TelegramError) as exc:
            raise DeliveryError(str(exc)) from exc

    async def _edit(self, chat_id: str, message_id: str, reply: Reply) -> None:
        """Change a message the bot sent (a broadcast's progress). Unchanged text is fine."""
        try:
            await self._html_or_plain(
                self.bot.edit_message_text,
                split_text(reply.text, MessageLimit.MAX_TEXT_LENGTH)[0],
                chat_id=int(chat_id),
                message_id=int(message_id),
                reply_markup=keyboard(reply),
                disable_web_page_preview=True,
            )
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise

    async def _html_or_plain(self, call: Callable[..., Awaitable[T]], text: str, **kw: Any) -> T:
        """`call` with `text` as HTML; if Telegram cannot parse it, once more as plain text
        (tags stripped, entities decoded). An error of the second try is the delivery's."""
        try:
            return await call(text=text, parse_mode=ParseMode.HTML, **kw)
        except BadRequest as exc:
            if "can't parse entities" not in str(exc).lower():
                raise
            log.warning(
                "delivery %s: Telegram could not parse its HTML (%s); sending it as plain text",
                delivery_id.get(),
                exc,
            )
        return await call(text=strip_html(text), **kw)

    async def _ack(self, ack_ref: str) -> None:
        """Stop the button's spinner and take the keyboard off the pressed message."""
        query_id, chat_id, message_id = ack_ref.split("|")
        # "query is too old": the press was long ago (e.g. answered after a restart)
        with contextlib.suppress(BadRequest):
            await self.bot.answer_callback_query(query_id)
        # already without buttons, or the message is gone
        with contextlib.suppress(BadRequest):
            await self.bot.edit_message_reply_markup(
                chat_id=int(chat_id), message_id=int(message_id), reply_markup=None
            )


def _seconds(value: Any) -> float:
    return float(value.total_seconds() if hasattr(value, "total_seconds") else value)


async def _store_batch(updates: Sequence[Update], store: StoreFn, offset: int | None) -> int | None:
    """Store a getUpdates batch together (one transaction: bot.inbox.InboxStore), in order,
    and return the offset that confirms it. If one cannot be stored this raises, the offset
    unchanged: Telegram sends the batch again, and what was stored is kept once."""
    keyed = [(inc, str(u.update_id)) for u in updates if (inc := to_incoming(u)) is not None]
    for result in await asyncio.gather(*(store(*k) for k in keyed), return_exceptions=True):
        if isinstance(result, BaseException):
            raise result
    return updates[-1].update_id + 1 if updates else offset
