"""A Zalo Official Account (API v3): webhook events in, window-aware messages out.

- **In.** Zalo posts events to /zalo-oa, signed (X-ZEvent-Signature). A bad signature gets 403
  and is not stored. Zalo counts a delivery not answered within 2 seconds as failed (and
  disables the webhook after repeated failures), so the answer goes out after the event is
  stored or after `ack_seconds`, whichever comes first; a slow store goes on in the background.
  Button taps arrive as text "#c:<choice>" (oa.query.hide buttons).
- **Out.** Replies and notices go as customer-service ("tư vấn") messages, with up to
  `max_buttons` choices as buttons (titles numbered, so typing the number works too). Outside
  the 7-day window (-230) a reminder, digest or notice goes as its ZNS template when one is
  configured, else it is "not reached" and goes to the member's other channel.
- **Tokens.** The access token lasts 25 hours; the refresh token is single-use. Both live in the
  oa_tokens table; a refresh holds the row's lock and commits the new pair before using it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import logs
from bot.channels import plain
from bot.channels.base import DeliveryError
from bot.channels.split import split_text
from bot.channels.zalo_oa_api import (
    MAX_TEXT,
    SIGNATURE_HEADER,
    OATokens,
    OATransientError,
    WindowClosed,
    ZaloOAClient,
    ZaloOAError,
    verify_signature,
)
from bot.config import ZaloOAConfig
from bot.usage import UsageMeter
from handlers.messages import Incoming, Reply
from models.routing import DIRECT_KINDS
from models.tables import OAToken

log = logging.getLogger(__name__)

NAME = "zalo_oa"
CHOICE_PREFIX = "#c:"  # a button's payload: it comes back as the text the person "sent"
STORE_RETRY_SECONDS = 600.0  # an acknowledged event is retried this long before giving up

StoreFn = Callable[[Incoming, str], Awaitable[bool]]


def to_incoming(body: dict[str, Any]) -> tuple[Incoming, str] | None:
    """An event as the core's Incoming, with its dedupe key; None for events we do not need
    (delivery receipts, echoes of our own messages, shared info)."""
    event = str(body.get("event_name", ""))
    stamp = str(body.get("timestamp", ""))
    if event in ("follow", "unfollow"):
        user = str((body.get("follower") or {}).get("id", ""))
        if not user:
            return None
        return Incoming(channel=NAME, chat_id=user, user_id=user, event=event), (
            f"{event}:{user}:{stamp}"
        )
    if not event.startswith("user_send_") or event == "user_send_location":
        return None
    user = str((body.get("sender") or {}).get("id", ""))
    message = body.get("message") or {}
    if not user or not isinstance(message, dict):
        return None
    text = str(message.get("text") or "") if event == "user_send_text" else ""
    key = str(message.get("msg_id") or f"{event}:{user}:{stamp}")
    if text.startswith(CHOICE_PREFIX):
        return Incoming(channel=NAME, chat_id=user, user_id=user, choice=text[3:]), key
    return Incoming(channel=NAME, chat_id=user, user_id=user, text=text), key


class DbTokenStore:
    """The OA's tokens in the database (models.tables.OAToken), rotated under the row's lock."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        app_id: str,
        clock: Callable[[], datetime],
        margin: timedelta,
    ) -> None:
        self.sessions, self.app_id, self.clock, self.margin = sessions, app_id, clock, margin

    async def bootstrap(self, refresh_token: str | None) -> None:
        """The first start: the refresh token from the environment, if none is stored yet."""
        async with self.sessions() as session, session.begin():
            if await session.get(OAToken, self.app_id) is not None or not refresh_token:
                return
            session.add(
                OAToken(
                    app_id=self.app_id,
                    access_token="",
                    refresh_token=refresh_token,
                    expires_at=datetime(1970, 1, 1, tzinfo=UTC),
                    updated_at=self.clock(),
                )
            )

    async def load(self) -> OATokens | None:
        """The stored pair; right after bootstrap() the access token is empty and expired, so
        the client refreshes before its first call."""
        async with self.sessions() as session:
            row = await session.get(OAToken, self.app_id)
            return _tokens(row) if row is not None else None

    async def rotate(
        self, stale_access: str | None, exchange: Callable[[str], Awaitable[OATokens]]
    ) -> OATokens:
        async with self.sessions() as session, session.begin():
            # FOR UPDATE on PostgreSQL: another process refreshing waits here, then sees ours.
            row = await session.get(OAToken, self.app_id, with_for_update=True)
            if row is None:
                raise ZaloOAError(0, "no Zalo OA tokens: set ZALO_OA_REFRESH_TOKEN once")
            fresh = row.expires_at - self.clock() > self.margin
            if row.access_token and row.access_token != stale_access and fresh:
                return _tokens(row)
            new = await exchange(row.refresh_token)
            row.access_token, row.refresh_token = new.access_token, new.refresh_token
            row.expires_at, row.updated_at = new.expires_at, self.clock()
        return new  # committed above, before anyone uses it


def _tokens(row: OAToken) -> OATokens:
    return OATokens(row.access_token, row.refresh_token, row.expires_at)


class ZaloOAChannel:
    name = NAME

    def __init__(
        self,
        config: ZaloOAConfig,
        sessions: async_sessionmaker[AsyncSession],
        usage: UsageMeter,
        clock: Callable[[], datetime],
    ) -> None:
        assert config.enabled and config.app_secret and config.oa_secret_key
        self.config, self.usage, self.clock = config, usage, clock
        logs.protect([config.app_secret, config.oa_secret_key, config.refresh_token])
        self.tokens = DbTokenStore(
            sessions, config.app_id, clock, timedelta(hours=config.refresh_margin_hours)
        )
        self._client: ZaloOAClient | None = None
        self._background: set[asyncio.Task[None]] = set()

    @property
    def client(self) -> ZaloOAClient:
        assert self._client is not None, "start() the channel first"
        return self._client

    async def start(self, http: aiohttp.ClientSession) -> None:
        c = self.config
        assert c.app_secret
        await self.tokens.bootstrap(c.refresh_token)
        self._client = ZaloOAClient(
            http,
            app_id=c.app_id,
            app_secret=c.app_secret,
            store=self.tokens,
            oauth_url=c.oauth_url,
            api_url=c.api_url,
            business_url=c.business_url,
            clock=self.clock,
            refresh_margin=timedelta(hours=c.refresh_margin_hours),
        )

    async def stop(self) -> None:
        """Let events acknowledged but not yet stored finish (briefly)."""
        if self._background:
            await asyncio.wait(self._background, timeout=5)

    async def keep_fresh(self) -> None:
        """Renew the access token ahead of expiry even when nothing is sent for a while (a
        refresh token unused for months expires, and then the OA admin must grant again)."""
        await self.client.access_token()

    # -- in ----------------------------------------------------------------------------------
    def webhook_handler(
        self, store: StoreFn, on_stored: Callable[[], None]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        c = self.config
        secret = c.oa_secret_key
        assert secret

        async def handle(request: web.Request) -> web.Response:
            raw = await request.read()
            header = request.headers.get(SIGNATURE_HEADER)
            if not verify_signature(raw, header, app_id=c.app_id, oa_secret_key=secret):
                return web.Response(status=403)
            try:
                body = json.loads(raw)
                found = to_incoming(body) if isinstance(body, dict) else None
            except ValueError:
                return web.Response(status=400)
            if found is not None:
                task = asyncio.create_task(self._store(store, on_stored, *found))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
                # Answer within Zalo's 2 seconds even when the database is slow.
                done, _ = await asyncio.wait({task}, timeout=c.ack_seconds)
                if not done:
                    log.warning("Zalo OA event %s acknowledged before it was stored", found[1])
            return web.json_response({"message": "Success"})

        return handle

    async def _store(
        self, store: StoreFn, on_stored: Callable[[], None], inc: Incoming, key: str
    ) -> None:
        """Store, retrying: once acknowledged, Zalo will not deliver the event again."""
        delay, waited = 0.5, 0.0
        while True:
            try:
                await store(inc, key)
                on_stored()
                return
            except Exception:
                if waited >= STORE_RETRY_SECONDS:
                    log.exception("Zalo OA event %s lost: could not store it", key)
                    return
                log.warning("storing Zalo OA event %s failed; retrying", key, exc_info=True)
                await asyncio.sleep(delay)
                waited += delay
                delay = min(delay * 2, 30.0)

    # -- out ---------------------------------------------------------------------------------
    async def deliver(self, chat_id: str, kind: str, payload: dict[str, Any]) -> None:
        if kind == "ack":  # a tap is a message; nothing to acknowledge
            return
        reply = Reply.from_payload(payload)
        as_buttons = 0 < len(reply.choices) <= self.config.max_buttons
        text = plain.render(reply, with_choices=not as_buttons)
        pieces = split_text(text, MAX_TEXT, html=False)
        buttons = self._buttons(reply) if as_buttons else None
        try:
            for n, piece in enumerate(pieces):
                last = n == len(pieces) - 1
                data = await self.client.send_cs(chat_id, piece, buttons if last else None)
                await self.usage.add(NAME, quota=_quota(data))
        except WindowClosed as exc:
            if kind in DIRECT_KINDS:
                raise DeliveryError(f"not reached: window closed ({exc})", permanent=True) from exc
            await self._outside_window(chat_id, kind, payload, exc)
        except OATransientError as exc:
            raise DeliveryError(str(exc)) from exc
        except ZaloOAError as exc:
            # A spent quota (or any refusal of this person) may not hold on another channel.
            raise DeliveryError(str(exc), permanent=True, reroute=True) from exc

    def _buttons(self, reply: Reply) -> list[tuple[str, str]]:
        width = self.config.button_title_chars
        return [
            (f"{n}. {c.label}"[:width], f"{CHOICE_PREFIX}{c.data}")
            for n, c in enumerate(reply.choices, start=1)
        ]

    async def _outside_window(
        self, chat_id: str, kind: str, payload: dict[str, Any], closed: WindowClosed
    ) -> None:
        """The person has not written for 7 days: the kind's ZNS template, if there is one (a
        message may name another kind's: a pledge-deadline reminder is no meeting reminder)."""
        template = self.config.templates.get(payload.get("template", kind))
        if template is None:
            raise DeliveryError(
                f"not reached: window closed ({closed})", permanent=True, reroute=True
            )
        fields = payload.get("fields") or {}
        data = {param: str(fields.get(field, "")) for param, field in template.data.items()}
        tracking = hashlib.sha256(
            json.dumps([chat_id, kind, payload], sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()[:32]
        try:
            result = await self.client.send_zns(
                template.id, data, tracking_id=tracking, user_id=chat_id
            )
        except OATransientError as exc:
            raise DeliveryError(str(exc)) from exc
        except ZaloOAError as exc:
            raise DeliveryError(f"ZNS: {exc}", permanent=True, reroute=True) from exc
        await self.usage.add(f"{NAME}_zns", quota=_quota(result))


def _quota(data: dict[str, Any]) -> dict[str, Any] | None:
    quota = data.get("quota") if isinstance(data, dict) else None
    return quota if isinstance(quota, dict) else None
