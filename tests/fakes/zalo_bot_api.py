"""In-process fake of the Zalo Bot API, for driving our own Zalo client in tests.

Serves ``/bot{token}/{method}`` on 127.0.0.1 with Zalo's envelope (``ok``, ``result``,
``error_code``, ``description``) and status codes, records every accepted call, and delivers
inbound updates either by long polling (``getUpdates``: one update per call, HTTP 408 when idle)
or by pushing them to a webhook with the ``X-Bot-Api-Secret-Token`` header.

Where Zalo is undocumented (error descriptions, webhook retries, the getUpdates/webhook conflict
code) the fake picks something plausible and says so; where Zalo documents a rule (text of
1–2000 chars, secret of 8–256, method names case-sensitive, ids as strings, dates in ms) the
fake enforces it, a little more strictly than needed, so bot bugs surface here.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

JSON = dict[str, Any]
T = TypeVar("T")
Shape = Literal["flat", "wrapped"]

DEFAULT_TOKEN = "1459232241454765289:fake-zalo-bot-token"
BOT_ID = "1459232241454765289"
MAX_TEXT = 2000
SECRET_MIN, SECRET_MAX = 8, 256
FREE_PLAN_QUOTA = 3000  # messages per month on the Basic plan (secondary sources)
SECRET_HEADER = "X-Bot-Api-Secret-Token"

EVENT_TEXT = "message.text.received"
EVENT_IMAGE = "message.image.received"
EVENT_STICKER = "message.sticker.received"
EVENT_UNSUPPORTED = "message.unsupported.received"

# Methods that create a message: they get a message_id and count against the monthly quota.
_SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendSticker"})
_MESSAGE_METHODS = frozenset({"sendMessage", "sendPhoto"})  # what messages_to() returns
_CHAT_ACTIONS = frozenset({"typing", "upload_photo"})  # upload_photo is "coming soon"
_PARSE_MODES = frozenset({"markdown", "html"})
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request timeout",
    429: "Quota exceeded",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
HANG_UP = 0  # an ApiError status of the fake's own: close the connection, answer nothing
# Real code and text unverified: the docs only say getUpdates does not work with a webhook set.
WEBHOOK_CONFLICT = "Webhook is active; call deleteWebhook before getUpdates"


class ApiError(Exception):
    """Raised inside a method handler; becomes a Zalo-shaped error response."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


def _bad(description: str) -> ApiError:
    return ApiError(400, description)


class _NoResult:
    """sendChatAction answers ``{"ok": true}`` with no ``result`` at all."""


NO_RESULT = _NoResult()


@dataclass
class WebhookDelivery:
    """One POST attempt of an update to the bot's webhook."""

    message_id: str
    event_name: str
    copy: int  # 1 for the original, 2.. for the duplicates asked for
    attempt: int  # 1, then 2.. for retries after a failure
    status: int | None  # None: connection error or timeout
    latency: float
    error: str | None = None
    shape: str = "flat"
    time: float = field(default_factory=time.time)


@dataclass
class _Fault:
    status: int
    description: str


@dataclass
class _Pending:
    update: JSON
    shape: Shape


def _now_ms() -> int:
    return int(time.time() * 1000)


def _month_key() -> str:
    """The quota month, in Vietnam time (UTC+7)."""
    return time.strftime("%Y-%m", time.gmtime(time.time() + 7 * 3600))


def _wrap(update: JSON, shape: Shape) -> JSON:
    return {"ok": True, "result": update} if shape == "wrapped" else update


class FakeZaloBotAPI:
    """Fake Zalo Bot API server. Use ``async with FakeZaloBotAPI() as fake:``."""

    max_wait = 0.2  # cap on getUpdates long polling, to keep tests fast
    webhook_retries = 3  # extra attempts after a failure (Zalo's real policy is undocumented)
    webhook_retry_delay = 0.2
    webhook_timeout = 10.0
    default_quota: int | None = FREE_PLAN_QUOTA

    def __init__(self, token: str = DEFAULT_TOKEN) -> None:
        self._token = token
        self.bot_info: JSON = {
            "id": BOT_ID,
            "account_name": "bot.Fake",
            "account_type": "BASIC",
            "can_join_groups": False,
        }
        self._handlers: dict[str, Callable[[JSON], Awaitable[Any]]] = {
            "getMe": self._m_get_me,
            "getUpdates": self._m_get_updates,
            "sendMessage": self._m_send_message,
            "sendPhoto": self._m_send_photo,
            "sendSticker": self._m_send_sticker,
            "sendChatAction": self._m_send_chat_action,
            "setWebhook": self._m_set_webhook,
            "deleteWebhook": self._m_delete_webhook,
            "getWebhookInfo": self._m_get_webhook_info,
        }
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._port = 0
        self._push_tasks: set[asyncio.Task[None]] = set()
        self.reset()

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> FakeZaloBotAPI:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_post("/_fake/reset", self._ctl_reset)
        app.router.add_get("/_fake/outbox", self._ctl_outbox)
        app.router.add_post("/_fake/inject", self._ctl_inject)
        app.router.add_post("/_fake/fail", self._ctl_fail)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        self._session = aiohttp.ClientSession()
        return self

    async def stop(self) -> None:
        pushes = list(self._push_tasks)
        self._cancel_pushes()
        await asyncio.gather(*pushes, return_exceptions=True)
        self._wake_pollers()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeZaloBotAPI:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def token(self) -> str:
        return self._token

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        """The server root: clients call ``{base_url}/bot{token}/{method}``."""
        return f"http://127.0.0.1:{self._port}"

    def reset(self) -> None:
        """Forget everything: records, known chats, queued updates, webhook, faults, quota."""
        self._cancel_pushes()
        self.sent: list[JSON] = []  # accepted sendMessage/sendPhoto/sendSticker
        self.rejected: list[JSON] = []  # error answers (poll timeouts excepted)
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.poll_count = 0
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.webhook_updated_at: int | None = None
        self._calls: list[JSON] = []  # every accepted call, getUpdates included
        self._known_chats: set[str] = set()
        self._queue: deque[_Pending] = deque()
        self._faults: dict[str, deque[_Fault]] = {}
        self._quota: int | None = self.default_quota
        self._quota_used: dict[str, int] = {}
        self._poll_event = asyncio.Event()
        self._changed = asyncio.Event()
        self._chat_locks: dict[str, asyncio.Lock] = {}

    # --- test-side helpers -----------------------------------------------------------------

    def calls(self, method: str) -> list[JSON]:
        """Accepted calls of ``method`` (any method, any case), oldest first."""
        m = method.lower()
        return [r for r in self._calls if r["method"].lower() == m]

    def messages_to(self, chat_id: str) -> list[JSON]:
        """Accepted sendMessage/sendPhoto records for that chat, in order."""
        return [r for r in self.sent if r["method"] in _MESSAGE_METHODS and r["chat_id"] == chat_id]

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates queued for getUpdates, in delivery order."""
        return [copy.deepcopy(p.update) for p in self._queue]

    @property
    def quota_used(self) -> int:
        """Messages accepted this month (Vietnam time)."""
        return self._quota_used.get(_month_key(), 0)

    def know_chat(self, chat_id: str) -> None:
        """Mark a chat as seen inbound without injecting anything (e.g. after a reset)."""
        self._known_chats.add(chat_id)

    def fail_next(
        self,
        method: str,
        n: int = 1,
        *,
        status: int = 500,
        description: str | None = None,
    ) -> None:
        """Make the next ``n`` calls of ``method`` answer with a Zalo-shaped error."""
        canonical = self._canonical(method)
        if description is None:
            description = _DEFAULT_DESCRIPTIONS.get(status, HTTPStatus(status).phrase)
        q = self._faults.setdefault(canonical, deque())
        q.extend(_Fault(status, description) for _ in range(n))

    def reset_next(self, method: str, n: int = 1) -> None:
        """The next ``n`` calls of ``method`` get no answer: the fake reads the request, does
        not carry it out and closes the connection (a connection reset)."""
        self.fail_next(method, n, status=HANG_UP, description="connection reset by the fake")

    def set_quota(self, monthly_messages: int | None) -> None:
        """Messages allowed per month (None: unlimited). Messages already sent still count."""
        self._quota = monthly_messages

    # The timeout parameters below are the API the tests want (ruff ASYNC109 prefers
    # asyncio.timeout at call sites).
    async def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:  # noqa: ASYNC109
        """Return predicate()'s value once truthy; AssertionError with recent calls if not."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._changed
            value = predicate()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"condition not met within {timeout}s\n{self.dump()}")
            # Re-check periodically too: the predicate may depend on state outside the fake.
            with suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(remaining, 0.1))

    async def wait_messages(self, chat_id: str, count: int, timeout: float = 10.0) -> list[JSON]:  # noqa: ASYNC109
        def enough() -> list[JSON]:
            msgs = self.messages_to(chat_id)
            return msgs if len(msgs) >= count else []

        return await self.wait_for(enough, timeout)

    async def drain(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until every webhook push in flight (with its duplicates and retries) is done."""
        if self._push_tasks:
            await asyncio.wait_for(
                asyncio.gather(*self._push_tasks, return_exceptions=True), timeout
            )

    def dump(self, last: int = 8) -> str:
        lines = ["last accepted sends:"]
        lines += [
            f"  {r['method']} chat={r['chat_id']} mid={r['message_id']} "
            f"{json.dumps(r['params'], ensure_ascii=False)[:300]}"
            for r in self.sent[-last:]
        ]
        lines.append("last rejected calls:")
        lines += [
            f"  {r['method']} {r['status']} {r['description']}" for r in self.rejected[-last:]
        ]
        lines.append(f"queued for getUpdates: {len(self._queue)}; webhook: {self.webhook_url}")
        if self.webhook_deliveries:
            lines.append("last webhook deliveries:")
            lines += [f"  {d}" for d in self.webhook_deliveries[-last:]]
        return "\n".join(lines)

    # --- inbound updates -------------------------------------------------------------------

    def inject_message(
        self,
        chat_id: str,
        text: str,
        *,
        display_name: str = "Người dùng",
        from_id: str | None = None,
        chat_type: str = "PRIVATE",
        shape: Shape = "flat",
        duplicate: int = 0,
    ) -> JSON:
        """A user's text message; returns the (flat) update as delivered."""
        return self._inject(
            chat_id, EVENT_TEXT, {"text": text}, display_name, from_id, chat_type, shape, duplicate
        )

    def inject_image(
        self,
        chat_id: str,
        photo_url: str,
        caption: str | None = None,
        *,
        display_name: str = "Người dùng",
        from_id: str | None = None,
        chat_type: str = "PRIVATE",
        shape: Shape = "flat",
        duplicate: int = 0,
    ) -> JSON:
        content: JSON = {"photo": photo_url}
        if caption is not None:
            content["caption"] = caption
        return self._inject(
            chat_id, EVENT_IMAGE, content, display_name, from_id, chat_type, shape, duplicate
        )

    def inject_sticker(
        self,
        chat_id: str,
        sticker: str,
        *,
        display_name: str = "Người dùng",
        from_id: str | None = None,
        chat_type: str = "PRIVATE",
        shape: Shape = "flat",
        duplicate: int = 0,
    ) -> JSON:
        content = {"sticker": sticker, "url": f"https://stickers.invalid/{sticker}.webp"}
        return self._inject(
            chat_id, EVENT_STICKER, content, display_name, from_id, chat_type, shape, duplicate
        )

    def inject_unsupported(
        self,
        chat_id: str,
        *,
        display_name: str = "Người dùng",
        from_id: str | None = None,
        chat_type: str = "PRIVATE",
        shape: Shape = "flat",
        duplicate: int = 0,
    ) -> JSON:
        """What a user in a protected group produces instead of their content: no text."""
        return self._inject(
            chat_id, EVENT_UNSUPPORTED, {}, display_name, from_id, chat_type, shape, duplicate
        )

    def replay(self, update: JSON, *, shape: Shape = "flat") -> None:
        """Deliver the very same update (same message_id) once more."""
        self._deliver(copy.deepcopy(update), shape, 1)

    async def post_raw(self, body: bytes | JSON, headers: dict[str, str] | None = None) -> int:
        """POST anything to the webhook URL, exactly as given; return the bot's status code.

        For tests of wrong or missing secrets: no header is added except a JSON Content-Type
        when ``body`` is a dict and none was given.
        """
        assert self._session is not None, "start() the fake first"
        assert self.webhook_url is not None, "no webhook is set"
        hdrs = dict(headers or {})
        if isinstance(body, dict):
            data = json.dumps(body, ensure_ascii=False).encode()
            if not any(k.lower() == "content-type" for k in hdrs):
                hdrs["Content-Type"] = "application/json"
        else:
            data = body
        async with self._session.post(
            self.webhook_url,
            data=data,
            headers=hdrs,
            timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
        ) as resp:
            await resp.read()
            return resp.status

    def _inject(
        self,
        chat_id: str,
        event_name: str,
        content: JSON,
        display_name: str,
        from_id: str | None,
        chat_type: str,
        shape: Shape,
        duplicate: int,
    ) -> JSON:
        if not isinstance(chat_id, str) or not chat_id:
            raise TypeError(f"Zalo chat ids are non-empty strings, got {chat_id!r}")
        if shape not in ("flat", "wrapped"):
            raise ValueError(f"shape must be 'flat' or 'wrapped', got {shape!r}")
        if duplicate < 0:
            raise ValueError("duplicate must be >= 0")
        if from_id is None:
            # Private chats: chat.id == from.id. Groups: a stable member id per group.
            from_id = (
                chat_id
                if chat_type == "PRIVATE"
                else hashlib.sha1(f"member:{chat_id}".encode()).hexdigest()[:20]
            )
        self._known_chats.add(chat_id)
        update: JSON = {
            "event_name": event_name,
            "message": {
                "from": {"id": from_id, "display_name": display_name, "is_bot": False},
                "chat": {"id": chat_id, "chat_type": chat_type},
                **content,
                "message_id": secrets.token_hex(10),
                "date": _now_ms(),
            },
        }
        self._deliver(copy.deepcopy(update), shape, 1 + duplicate)
        return update

    def _deliver(self, update: JSON, shape: Shape, copies: int) -> None:
        if self.webhook_url:
            task = asyncio.get_running_loop().create_task(self._push(update, shape, copies))
            self._push_tasks.add(task)
            task.add_done_callback(self._push_tasks.discard)
        else:
            self._queue.extend(_Pending(copy.deepcopy(update), shape) for _ in range(copies))
        self._wake_pollers()

    async def _push(self, update: JSON, shape: Shape, copies: int) -> None:
        assert self._session is not None, "start() the fake before using webhooks"
        url, secret = self.webhook_url, self.webhook_secret
        assert url is not None and secret is not None
        headers = {"Content-Type": "application/json", SECRET_HEADER: secret}
        body = json.dumps(_wrap(update, shape), ensure_ascii=False).encode()
        message = update.get("message") or {}
        message_id = str(message.get("message_id", ""))
        chat_id = str((message.get("chat") or {}).get("id", ""))
        # One chat's updates (and their duplicates) arrive in order, as from one sender.
        async with self._chat_locks.setdefault(chat_id, asyncio.Lock()):
            for copy_no in range(1, copies + 1):
                for attempt in range(1, self.webhook_retries + 2):
                    started = time.monotonic()
                    status: int | None = None
                    error: str | None = None
                    try:
                        async with self._session.post(
                            url,
                            data=body,
                            headers=headers,
                            timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
                        ) as resp:
                            await resp.read()
                            status = resp.status
                    except (aiohttp.ClientError, TimeoutError) as exc:
                        error = repr(exc)
                    self.webhook_deliveries.append(
                        WebhookDelivery(
                            message_id,
                            str(update.get("event_name", "")),
                            copy_no,
                            attempt,
                            status,
                            time.monotonic() - started,
                            error,
                            shape,
                        )
                    )
                    self._bump()
                    if status is not None and 200 <= status < 300:
                        break
                    if attempt <= self.webhook_retries:
                        await asyncio.sleep(self.webhook_retry_delay)

    def _cancel_pushes(self) -> None:
        for task in self._push_tasks:
            task.cancel()

    def _wake_pollers(self) -> None:
        self._poll_event.set()
        self._poll_event = asyncio.Event()
        self._bump()

    def _bump(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _canonical(self, method: str) -> str:
        for name in self._handlers:
            if name.lower() == method.lower():
                return name
        raise ValueError(f"the fake has no method {method!r}")

    # --- HTTP plumbing ---------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self._token:
            return self._reject(method, {}, ApiError(401, "Unauthorized"))
        handler = self._handlers.get(method)  # Zalo method names are case-sensitive
        if handler is None:
            return self._reject(method, {}, ApiError(404, "Not Found"))
        params: JSON = {}
        try:
            params = await _read_params(request)
            result = await self._call(method, params, handler)
        except ApiError as err:
            if request.transport is None or request.transport.is_closing():
                # The client gave up (e.g. a cancelled long poll): nobody sees this answer.
                return web.Response(status=499)
            if method == "getUpdates" and err.status == 408:
                # An idle poll is Zalo's normal "nothing new", not a rejection worth recording.
                return web.json_response(_error_body(err), status=err.status)
            if err.status == HANG_UP:
                self._reject(method, params, err)  # recorded with status HANG_UP
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=499)  # never written: the connection is gone
            return self._reject(method, params, err)
        self._record(method, params, result)
        if isinstance(result, _NoResult):
            return web.json_response({"ok": True})
        return web.json_response({"ok": True, "result": result})

    async def _call(
        self, method: str, params: JSON, handler: Callable[[JSON], Awaitable[Any]]
    ) -> Any:
        faults = self._faults.get(method)
        if faults:
            f = faults.popleft()
            raise ApiError(f.status, f.description)
        return await handler(params)

    def _record(self, method: str, params: JSON, result: Any) -> None:
        chat_id = params.get("chat_id")
        message_id = result.get("message_id") if isinstance(result, dict) else None
        record: JSON = {
            "method": method,
            "params": params,
            "message_id": message_id if method in _SEND_METHODS else None,
            "at": time.time(),
            "chat_id": chat_id if isinstance(chat_id, str) else None,
        }
        self._calls.append(record)
        if method in _SEND_METHODS:
            self.sent.append(record)
        self._bump()

    def _reject(self, method: str, params: JSON, err: ApiError) -> web.Response:
        self.rejected.append(
            {
                "method": method,
                "params": params,
                "at": time.time(),
                "status": err.status,
                "description": err.description,
            }
        )
        self._bump()
        return web.json_response(_error_body(err), status=err.status)

    # --- Bot API methods ---------------------------------------------------------------------

    async def _m_get_me(self, p: JSON) -> JSON:
        return dict(self.bot_info)

    async def _m_get_updates(self, p: JSON) -> JSON:
        if self.webhook_url:
            raise _bad(WEBHOOK_CONFLICT)
        self.poll_count += 1
        raw_timeout = p.get("timeout", 30)
        try:
            timeout = float(raw_timeout)
        except (TypeError, ValueError):
            raise _bad("timeout must be a number of seconds") from None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(max(timeout, 0.0), self.max_wait)
        while True:
            event = self._poll_event
            if self._queue:
                return copy.deepcopy(self._queue.popleft().update)
            if self.webhook_url:
                raise _bad(WEBHOOK_CONFLICT)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise ApiError(408, "Request timeout")
            with suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def _m_send_message(self, p: JSON) -> JSON:
        chat_id = self._target_chat(p)
        _check_text(p.get("text"), "text")
        parse_mode = p.get("parse_mode")
        if parse_mode not in (None, "") and str(parse_mode).lower() not in _PARSE_MODES:
            raise _bad("parse_mode must be markdown or html")
        return self._new_message(chat_id)

    async def _m_send_photo(self, p: JSON) -> JSON:
        chat_id = self._target_chat(p)
        photo = p.get("photo")
        if not isinstance(photo, str) or not photo.startswith(("http://", "https://")):
            raise _bad("photo must be an image URL")
        if p.get("caption") is not None:
            _check_text(p["caption"], "caption")
        return self._new_message(chat_id)

    async def _m_send_sticker(self, p: JSON) -> JSON:
        chat_id = self._target_chat(p)
        sticker = p.get("sticker")
        if not isinstance(sticker, str) or not sticker:
            raise _bad("sticker is required")
        return self._new_message(chat_id)

    async def _m_send_chat_action(self, p: JSON) -> _NoResult:
        self._target_chat(p)
        if p.get("action") not in _CHAT_ACTIONS:
            raise _bad("action must be typing")
        return NO_RESULT

    async def _m_set_webhook(self, p: JSON) -> JSON:
        url = p.get("url")
        if not isinstance(url, str) or not url:
            raise _bad("url is required")
        parts = urlsplit(url)
        loopback = parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS
        if not (parts.scheme == "https" or loopback) or not parts.hostname:
            raise _bad("url must be HTTPS")  # the fake also allows http on loopback
        secret = p.get("secret_token")
        if not isinstance(secret, str) or not SECRET_MIN <= len(secret) <= SECRET_MAX:
            raise _bad(f"secret_token must be {SECRET_MIN}-{SECRET_MAX} characters")
        self.webhook_url, self.webhook_secret = url, secret
        self.webhook_updated_at = _now_ms()
        # Updates that were waiting for getUpdates are pushed now (as the Telegram fake does;
        # what Zalo does with them is undocumented).
        pending, self._queue = list(self._queue), deque()
        for item in pending:
            self._deliver(item.update, item.shape, 1)
        self._wake_pollers()
        return {"url": url, "updated_at": self.webhook_updated_at}

    async def _m_delete_webhook(self, p: JSON) -> JSON:
        self.webhook_url = self.webhook_secret = None
        self.webhook_updated_at = _now_ms()
        return {"url": "", "updated_at": self.webhook_updated_at}

    async def _m_get_webhook_info(self, p: JSON) -> JSON:
        if not self.webhook_url:
            raise ApiError(404, "Not Found")
        return {"url": self.webhook_url, "updated_at": self.webhook_updated_at}

    # --- method helpers ---------------------------------------------------------------------

    def _target_chat(self, p: JSON) -> str:
        chat_id = p.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad("chat_id is required")
        if not isinstance(chat_id, str):
            raise _bad("chat_id must be a string")  # ids are opaque strings, never numbers
        if chat_id not in self._known_chats:
            raise _bad("chat not found")  # our bot must only message chats seen inbound
        return chat_id

    def _new_message(self, chat_id: str) -> JSON:
        if self._quota is not None and self.quota_used >= self._quota:
            raise ApiError(429, "Quota exceeded")
        key = _month_key()
        self._quota_used[key] = self._quota_used.get(key, 0) + 1
        return {"message_id": secrets.token_hex(10), "date": _now_ms()}

    # --- /_fake control API (for other processes) -------------------------------------------

    async def _ctl_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"ok": True})

    async def _ctl_outbox(self, request: web.Request) -> web.Response:
        sent = self.sent
        if "chat_id" in request.query:
            sent = [r for r in sent if r["chat_id"] == request.query["chat_id"]]
        if "method" in request.query:
            sent = [r for r in sent if r["method"].lower() == request.query["method"].lower()]
        return web.json_response(
            {
                "ok": True,
                "sent": sent,
                "rejected": self.rejected,
                "webhook_deliveries": [asdict(d) for d in self.webhook_deliveries],
            }
        )

    async def _ctl_inject(self, request: web.Request) -> web.Response:
        """Body: {chat_id, text | photo[, caption] | sticker | unsupported: true, from_id?,
        display_name?, chat_type?, shape?, duplicate?} | {replay: update[, shape]}."""
        b = await request.json()
        shape = b.get("shape", "flat")
        if "replay" in b:
            self.replay(b["replay"], shape=shape)
            return web.json_response({"ok": True, "result": b["replay"]})
        common: JSON = {
            "display_name": b.get("display_name", "Người dùng"),
            "from_id": b.get("from_id"),
            "chat_type": b.get("chat_type", "PRIVATE"),
            "shape": shape,
            "duplicate": int(b.get("duplicate", 0)),
        }
        chat_id = str(b["chat_id"])
        if b.get("unsupported"):
            update = self.inject_unsupported(chat_id, **common)
        elif "photo" in b:
            update = self.inject_image(chat_id, b["photo"], b.get("caption"), **common)
        elif "sticker" in b:
            update = self.inject_sticker(chat_id, b["sticker"], **common)
        else:
            update = self.inject_message(chat_id, b["text"], **common)
        return web.json_response({"ok": True, "result": update})

    async def _ctl_fail(self, request: web.Request) -> web.Response:
        b = await request.json()
        self.fail_next(
            b["method"],
            int(b.get("count", 1)),
            status=int(b.get("status", 500)),
            description=b.get("description"),
        )
        return web.json_response({"ok": True})


def _error_body(err: ApiError) -> JSON:
    return {"ok": False, "error_code": err.status, "description": err.description}


def _check_text(text: Any, name: str) -> None:
    # Stricter than "1–2000 chars": whitespace-only text is refused as empty too.
    if not isinstance(text, str) or not text.strip():
        raise _bad(f"{name} is empty")
    if len(text) > MAX_TEXT:
        raise _bad(f"{name} is too long (max {MAX_TEXT} characters)")


async def _read_params(request: web.Request) -> JSON:
    """Query string, then a JSON object body or a form (Zalo accepts all of them)."""
    params: JSON = dict(request.query)
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise _bad("body is not valid JSON") from None
        if not isinstance(body, dict):
            raise _bad("body must be a JSON object")
        params.update(body)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for name, value in (await request.post()).items():
            if isinstance(value, str):
                params[name] = value
    return params
