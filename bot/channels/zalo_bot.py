"""The Zalo Bot Platform: updates in (polling or webhook), deliveries out.

The platform has no buttons: choices go out as a numbered list, and the conversation core takes
the typed number or label (handlers.engine.match_menu). No formatting either: plain text, cut
at 2,000 characters. Only private chats are served (groups are a beta that reaches a bot only
when it is mentioned). The plan's monthly message quota is counted here: at the limit a message
of the bot's own goes to the member's other channel instead (DeliveryError reroute).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from bot import logs
from bot.channels import plain
from bot.channels.base import DeliveryError, NotStored
from bot.channels.split import split_text
from bot.channels.zalo_bot_api import (
    MAX_TEXT,
    ZaloAuthError,
    ZaloBotClient,
    ZaloBotError,
    ZaloQuotaError,
    ZaloTransientError,
    unwrap_update,
)
from bot.config import ZaloBotConfig
from bot.usage import UsageMeter
from handlers.messages import Incoming, Reply

log = logging.getLogger(__name__)

NAME = "zalo_bot"
SECRET_HEADER = "X-Bot-Api-Secret-Token"
QUOTA_RETRY_SECONDS = 60.0  # a 429 carries no Retry-After

StoreFn = Callable[[Incoming, str], Awaitable[bool]]


def to_incoming(update: dict[str, Any]) -> tuple[Incoming, str] | None:
    """A private message as the core's Incoming, with its dedupe key (the message id)."""
    event = str(update.get("event_name", ""))
    message = update.get("message")
    if not isinstance(message, dict):
        return None
    chat, sender = message.get("chat") or {}, message.get("from") or {}
    if chat.get("chat_type", "PRIVATE") != "PRIVATE" or sender.get("is_bot") or "id" not in chat:
        return None
    text = ""
    if event == "message.text.received":
        text = str(message.get("text") or "")
    elif event == "message.image.received":
        text = str(message.get("caption") or "")  # a photo alone reads as an empty message
    inc = Incoming(
        channel=NAME,
        chat_id=str(chat["id"]),
        user_id=str(sender.get("id", chat["id"])),
        text=text,
        display_name=str(sender.get("display_name") or ""),
        event="unsupported" if event == "message.unsupported.received" else None,
    )
    key = str(message.get("message_id") or f"{event}:{chat['id']}:{message.get('date')}")
    return inc, key


class ZaloBotChannel:
    name = NAME

    def __init__(self, config: ZaloBotConfig, usage: UsageMeter) -> None:
        assert config.token
        self.config, self.usage = config, usage
        logs.protect([config.token, config.webhook_secret])
        self._client: ZaloBotClient | None = None

    @property
    def client(self) -> ZaloBotClient:
        assert self._client is not None, "start() the channel first"
        return self._client

    async def start(self, http: aiohttp.ClientSession) -> None:
        assert self.config.token
        self._client = ZaloBotClient(http, self.config.token, self.config.base_url)
        await self.client.get_me()  # fails fast on a wrong token
        if self.config.mode == "webhook":
            assert self.config.webhook_secret
            await self.client.set_webhook(self.config.webhook_url, self.config.webhook_secret)
        else:
            await self.client.delete_webhook()  # getUpdates does not work while one is set

    # -- in: polling -------------------------------------------------------------------------
    async def poll(self, store: StoreFn, on_stored: Callable[[], None]) -> None:
        """getUpdates has no offset: an update handed out is gone, so it is stored at once."""
        failures = 0
        while True:
            try:
                updates = await self.client.get_updates(self.config.poll_timeout)
                for update in updates:
                    found = to_incoming(update)
                    if found is not None:
                        await store(*found)
                if updates:
                    on_stored()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                log.warning("Zalo getUpdates failed (%s): %s", failures, exc)
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
                body = await request.json()
                found = to_incoming(unwrap_update(body)) if isinstance(body, dict) else None
            except Exception:
                return web.Response(status=400)
            if found is not None:
                try:
                    await store(*found)
                except NotStored:
                    return web.Response(status=503)  # logged once per outage (bot.app)
                except Exception:
                    log.exception("could not store Zalo update %s", found[1])
                    return web.Response(status=503)
                on_stored()
            return web.json_response({"message": "Success"})

        return handle

    # -- out ---------------------------------------------------------------------------------
    async def deliver(self, chat_id: str, kind: str, payload: dict[str, Any]) -> None:
        if kind == "ack":  # no buttons, nothing to acknowledge
            return
        pieces = split_text(plain.render(Reply.from_payload(payload)), MAX_TEXT, html=False)
        limit = self.config.monthly_messages
        used = await self.usage.messages(NAME)
        if used + len(pieces) > limit:
            raise DeliveryError(
                f"Zalo Bot: monthly quota used ({used}/{limit})", permanent=True, reroute=True
            )
        try:
            for piece in pieces:
                await self.client.send_message(chat_id, piece)
                used = await self.usage.add(NAME)
        except ZaloQuotaError as exc:
            raise DeliveryError(str(exc), reroute=True, retry_after=QUOTA_RETRY_SECONDS) from exc
        except ZaloTransientError as exc:
            raise DeliveryError(str(exc)) from exc
        except ZaloAuthError as exc:
            log.error("Zalo Bot token refused: %s", exc)
            raise DeliveryError(str(exc)) from exc  # retried: a reset token can be put back
        except (ZaloBotError, ValueError) as exc:
            raise DeliveryError(str(exc), permanent=True) from exc
        finally:
            await self.usage.warn_if_near(NAME, "messages", used, limit, self.config.warn_at)

    async def check_limits(self) -> None:
        """The plan's user limit (counted as linked accounts); warned about before it bites."""
        users = await self.usage.users(NAME)
        await self.usage.warn_if_near(
            NAME, "users", users, self.config.max_users, self.config.warn_at
        )
