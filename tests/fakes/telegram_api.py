"""In-process fake of the Telegram Bot API, for driving the real PTB client in tests.

Serves ``/bot{token}/{method}`` on 127.0.0.1 with the same envelope, status codes and error
descriptions as Telegram, records every accepted call, and can deliver inbound updates either
by long polling (``getUpdates``) or by pushing them to a webhook.

PTB 22 sends every parameter as a *string* (form-urlencoded, or multipart/form-data when a file
is uploaded): ints are JSON-dumped (``"42"``), booleans are ``"true"``, and objects such as
``reply_markup`` are JSON text.  Parameters are therefore decoded per name (see ``_INT_PARAMS``
etc.) rather than guessed, so a message text like ``"123"`` stays a string.  JSON bodies are
accepted too, for other clients.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

JSON = dict[str, Any]
T = TypeVar("T")

DEFAULT_TOKEN = "123456:TEST-token-for-fake-api-only"
BOT_ID = 123456
MAX_TEXT = 4096
MAX_CAPTION = 1024

_INT_PARAMS = frozenset(
    {
        "message_id",
        "offset",
        "limit",
        "timeout",
        "user_id",
        "reply_to_message_id",
        "message_thread_id",
        "cache_time",
        "max_connections",
        "from_chat_id",
    }
)
_BOOL_PARAMS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "show_alert",
        "drop_pending_updates",
        "disable_web_page_preview",
        "allow_sending_without_reply",
        "has_spoiler",
        "disable_content_type_detection",
        "allow_paid_broadcast",
        "show_caption_above_media",
    }
)
_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "allowed_updates",
        "commands",
        "scope",
        "link_preview_options",
        "reply_parameters",
        "media",
    }
)
_FILE_PARAMS = {"senddocument": "document", "sendphoto": "photo"}
_SEND_METHODS = frozenset({"sendmessage", "senddocument", "sendphoto"})
# Methods subject to flood control and to "bot was blocked" (anything that touches a chat).
_RATE_LIMITED = _SEND_METHODS | {"editmessagetext", "editmessagereplymarkup"}
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request: injected failure",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    409: "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
HANG_UP = 0  # an ApiError status of the fake's own: close the connection, answer nothing
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply "
    "markup are exactly the same as a current content and reply markup of the message"
)


class ApiError(Exception):
    """Raised inside a method handler; becomes a Telegram-shaped error response."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after


def _bad(description: str) -> ApiError:
    return ApiError(400, "Bad Request: " + description)


# --- Telegram-style HTML ---------------------------------------------------------------------

_HTML_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "a",
        "code",
        "pre",
        "tg-spoiler",
        "span",
        "blockquote",
    }
)
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,8}|[a-zA-Z]{1,10});")
_TAG_RE = re.compile(r"([a-zA-Z0-9-]*)(.*)", re.S)
_ATTR_RE = re.compile(r"""\s*([a-zA-Z_-]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+))?""")


def parse_html(text: str) -> str:
    """Validate Telegram HTML and return the visible text (tags removed, entities decoded).

    Stricter than Telegram about a bare ``&`` (the docs require it to be escaped), so escaping
    bugs in the bot surface here instead of in production.
    """
    out: list[str] = []
    stack: list[str] = []
    i = 0

    def fail(what: str, pos: int) -> ApiError:
        offset = len(text[:pos].encode())
        return _bad(f"can't parse entities: {what} at byte offset {offset}")

    while i < len(text):
        ch = text[i]
        if ch == "&":
            m = _ENTITY_RE.match(text, i)
            if m is None:
                raise fail("Character entity expected", i)
            name = m.group(1)
            if name[:2] in ("#x", "#X"):
                code = int(name[2:], 16)
            elif name[0] == "#":
                code = int(name[1:])
            elif name in _NAMED_ENTITIES:
                code = ord(_NAMED_ENTITIES[name])
            else:
                raise fail(f'Unsupported HTML entity "&{name};"', i)
            if not 0 < code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise fail("Invalid character entity", i)
            out.append(chr(code))
            i = m.end()
            continue
        if ch != "<":
            out.append(ch)
            i += 1
            continue
        end = text.find(">", i)
        if end < 0:
            raise fail("Unclosed start tag", i)
        inner = text[i + 1 : end]
        if inner.startswith("/"):
            name = inner[1:].strip().lower()
            if not stack:
                raise fail(f'Unexpected end tag "{name}"', i)
            if name != stack[-1]:
                raise fail(f'Unmatched end tag, expected "</{stack[-1]}>", found "</{name}>"', i)
            stack.pop()
        else:
            tag_m = _TAG_RE.fullmatch(inner)
            assert tag_m is not None  # the pattern matches any string
            name, rest = tag_m.group(1).lower(), tag_m.group(2)
            if not name:
                raise fail("Empty tag name", i)
            if name not in _HTML_TAGS:
                raise fail(f'Unsupported start tag "{name}"', i)
            attrs = {a.lower(): (v or "").strip("\"'") for a, v in _ATTR_RE.findall(rest)}
            if name == "span" and attrs.get("class") != "tg-spoiler":
                raise fail('Tag "span" must have class "tg-spoiler"', i)
            stack.append(name)
        i = end + 1
    if stack:
        raise _bad(
            f"can't parse entities: Can't find end tag corresponding to start tag \"{stack[-1]}\""
        )
    return "".join(out)


def _visible_text(text: str, parse_mode: str | None) -> str:
    if parse_mode is None or parse_mode == "":
        return text
    if parse_mode.lower() == "html":
        return parse_html(text)
    if parse_mode.lower() in ("markdown", "markdownv2"):
        return text  # not validated: the bot uses HTML
    raise _bad("unsupported parse_mode")


def _check_markup(markup: Any) -> JSON | None:
    """Validate reply_markup like Telegram; an empty inline keyboard means "no keyboard"."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return markup  # reply keyboards / remove_keyboard / force_reply: accepted as is
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise _bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays')
    buttons = [b for row in rows for b in row]
    if len(buttons) > 100:
        raise _bad("reply markup is too long")
    for b in buttons:
        if not isinstance(b, dict):
            raise _bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
        if not isinstance(b.get("text"), str) or not b["text"]:
            raise _bad("can't parse inline keyboard button: Text must be non-empty")
        if not any(k in b for k in _BUTTON_ACTIONS):
            raise _bad("text buttons are unallowed in the inline keyboard")
        if "callback_data" in b:
            data = b["callback_data"]
            if not isinstance(data, str) or not 1 <= len(data.encode()) <= 64:
                raise _bad("BUTTON_DATA_INVALID")
        if "url" in b and not b["url"]:
            raise _bad("BUTTON_URL_INVALID")
    return markup if buttons else None


def _utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


@dataclass
class WebhookDelivery:
    """One POST attempt of an update to the bot's webhook."""

    update_id: int
    attempt: int
    status: int | None  # None: connection error or timeout
    latency: float
    error: str | None = None
    time: float = field(default_factory=time.time)


@dataclass
class _Fault:
    status: int
    description: str
    retry_after: int | None


class FakeTelegramAPI:
    """Fake Bot API server. Use ``async with FakeTelegramAPI() as fake:``."""

    max_poll_wait = 0.5  # cap on getUpdates long polling, to keep tests fast
    webhook_retries = 3  # extra attempts after a non-2xx answer, as Telegram retries
    webhook_retry_delay = 0.2
    webhook_timeout = 10.0
    webhook_max_connections = 40

    def __init__(self, token: str = DEFAULT_TOKEN, username: str = "lamtheo_test_bot") -> None:
        self.token = token
        self.username = username
        self.bot_user: JSON = {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Lamtheo",
            "username": username,
        }
        self.strict_chats = False  # True: sending to a chat never seen inbound → "chat not found"
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._port = 0
        self._push_tasks: set[asyncio.Task[None]] = set()
        self.reset()

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> FakeTelegramAPI:
        app = web.Application(client_max_size=60 * 1024 * 1024)  # Bot API upload cap is 50 MB
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_post("/_fake/reset", self._ctl_reset)
        app.router.add_get("/_fake/outbox", self._ctl_outbox)
        app.router.add_post("/_fake/inject", self._ctl_inject)
        app.router.add_post("/_fake/fail", self._ctl_fail)
        app.router.add_post("/_fake/block", self._ctl_block)
        app.router.add_post("/_fake/rate_limit", self._ctl_rate_limit)
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

    async def __aenter__(self) -> FakeTelegramAPI:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    def reset(self) -> None:
        """Forget everything: records, messages, queued updates, webhook, faults, limits."""
        self._cancel_pushes()
        self.sent: list[JSON] = []
        self.rejected: list[JSON] = []  # error answers, same shape plus status/description
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.count_429 = 0
        self.poll_count = 0
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.commands_by_scope: dict[tuple[str, str], list[JSON]] = {}
        self._messages: dict[tuple[int, int], JSON] = {}
        self._raw_text: dict[tuple[int, int], str] = {}
        self._next_mid: dict[int, int] = {}
        self._chats: dict[int, JSON] = {}
        self._callbacks: dict[str, JSON] = {}
        self._files: dict[str, tuple[bytes, str]] = {}
        self._queue: list[JSON] = []
        self._replays: list[JSON] = []
        self._next_update_id = 1
        self._allowed_updates: list[str] = []
        self._faults: dict[str, deque[_Fault]] = {}
        self._blocked: set[int] = set()
        self._rate_limit: float | None = None
        self._send_times: deque[float] = deque()
        self._poll_gen = 0
        self._poll_event = asyncio.Event()
        self._changed = asyncio.Event()
        self._chat_locks: dict[int | None, asyncio.Lock] = {}
        self._push_sem = asyncio.Semaphore(self.webhook_max_connections)

    # --- test-side helpers -----------------------------------------------------------------

    def calls(self, method: str) -> list[JSON]:
        m = method.lower()
        return [r for r in self.sent if r["method"].lower() == m]

    def messages_to(self, chat_id: int) -> list[JSON]:
        return [
            r
            for r in self.sent
            if r["method"].lower() in _SEND_METHODS and r["chat_id"] == int(chat_id)
        ]

    def message(self, chat_id: int, message_id: int) -> JSON:
        """The bot's message as it is now (after edits), as Telegram would return it."""
        try:
            return copy.deepcopy(self._messages[(int(chat_id), int(message_id))])
        except KeyError:
            raise KeyError(f"no bot message {message_id} in chat {chat_id}") from None

    def current_text(self, chat_id: int, message_id: int, *, raw: bool = False) -> str:
        """Visible text (or caption) after edits; ``raw=True`` gives the HTML as sent."""
        msg = self.message(chat_id, message_id)
        if raw:
            return self._raw_text.get((int(chat_id), int(message_id)), "")
        return str(msg.get("text", msg.get("caption", "")))

    def current_markup(self, chat_id: int, message_id: int) -> JSON | None:
        markup = self.message(chat_id, message_id).get("reply_markup")
        return markup if isinstance(markup, dict) else None

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates queued for getUpdates and not yet confirmed by an offset."""
        return copy.deepcopy(self._replays + self._queue)

    @property
    def commands(self) -> list[JSON]:
        """Commands set for the default scope and language."""
        return self.commands_by_scope.get(('{"type": "default"}', ""), [])

    def file_bytes(self, file_id: str) -> bytes:
        return self._files[file_id][0]

    def fail_next(
        self,
        method: str,
        count: int = 1,
        *,
        status: int = 429,
        description: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Make the next ``count`` calls of ``method`` answer with a Telegram-shaped error."""
        if status == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            description = (
                f"Too Many Requests: retry after {retry_after}"
                if status == 429
                else _DEFAULT_DESCRIPTIONS.get(status, HTTPStatus(status).phrase)
            )
        q = self._faults.setdefault(method.lower(), deque())
        q.extend(_Fault(status, description, retry_after) for _ in range(count))

    def reset_next(self, method: str, count: int = 1) -> None:
        """The next ``count`` calls of ``method`` get no answer: the fake reads the request,
        does not carry it out and closes the connection (a connection reset)."""
        self.fail_next(method, count, status=HANG_UP, description="connection reset by the fake")

    def set_rate_limit(self, per_second: float | None) -> None:
        """Answer 429 (retry_after=1) to sends beyond ``per_second`` in any 1 s window."""
        self._rate_limit = per_second
        self._send_times.clear()

    def block(self, chat_id: int, blocked: bool = True) -> None:
        if blocked:
            self._blocked.add(int(chat_id))
        else:
            self._blocked.discard(int(chat_id))

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

    async def wait_messages(self, chat_id: int, count: int, timeout: float = 10.0) -> list[JSON]:  # noqa: ASYNC109
        def enough() -> list[JSON]:
            msgs = self.messages_to(chat_id)
            return msgs if len(msgs) >= count else []

        return await self.wait_for(enough, timeout)

    async def drain(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until every webhook push in flight (with its retries) is finished."""
        if self._push_tasks:
            await asyncio.wait_for(
                asyncio.gather(*self._push_tasks, return_exceptions=True), timeout
            )

    def dump(self, last: int = 8) -> str:
        lines = ["last accepted calls:"]
        lines += [
            f"  {r['method']} chat={r['chat_id']} mid={r['message_id']} "
            f"{json.dumps(r['params'], ensure_ascii=False)[:300]}"
            for r in self.sent[-last:]
        ]
        lines.append("last rejected calls:")
        lines += [
            f"  {r['method']} {r['status']} {r['description']}" for r in self.rejected[-last:]
        ]
        if self.webhook_deliveries:
            lines.append("last webhook deliveries:")
            lines += [f"  {d}" for d in self.webhook_deliveries[-last:]]
        return "\n".join(lines)

    # --- inbound updates -------------------------------------------------------------------

    def inject_message(
        self,
        chat_id: int,
        text: str,
        *,
        first_name: str = "Test",
        username: str | None = None,
        user_id: int | None = None,
    ) -> JSON:
        user: JSON = {
            "id": user_id if user_id is not None else abs(chat_id),
            "is_bot": False,
            "first_name": first_name,
        }
        if username:
            user["username"] = username
        if chat_id > 0:
            chat: JSON = {"id": chat_id, "type": "private", "first_name": first_name}
            if username:
                chat["username"] = username
        else:
            chat = {"id": chat_id, "type": "group", "title": "Test group"}
        self._chats[chat_id] = chat
        message: JSON = {
            "message_id": self._new_mid(chat_id),
            "from": user,
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        if text.startswith("/"):
            # PTB's CommandHandler only fires on a bot_command entity, as Telegram sends.
            command = text.split()[0]
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_len(command)}
            ]
        return self.inject_raw({"message": message})

    def inject_callback(
        self, chat_id: int, data: str, message_id: int, *, user_id: int | None = None
    ) -> JSON:
        message = self.message(chat_id, message_id)
        chat: JSON = self._chats.get(chat_id) or message["chat"]
        user: JSON = {
            "id": user_id if user_id is not None else abs(chat_id),
            "is_bot": False,
            "first_name": chat.get("first_name", "Test"),
        }
        query_id = str(4_000_000_000_000_000 + len(self._callbacks) + 1)
        self._callbacks[query_id] = {"chat_id": chat_id, "message_id": message_id}
        return self.inject_raw(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user,
                    "message": message,
                    "chat_instance": str(-abs(chat_id) * 7 - 1),
                    "data": data,
                }
            }
        )

    def inject_raw(self, update: JSON) -> JSON:
        update = copy.deepcopy(update)
        if "update_id" not in update:
            update = {"update_id": self._next_update_id, **update}
        self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
        self._deliver(update, replay=False)
        return update

    def replay(self, update: JSON) -> None:
        """Deliver the very same update again (Telegram's at-least-once delivery)."""
        self._deliver(copy.deepcopy(update), replay=True)

    def _deliver(self, update: JSON, *, replay: bool) -> None:
        if self.webhook_url:
            task = asyncio.get_running_loop().create_task(self._push(update))
            self._push_tasks.add(task)
            task.add_done_callback(self._push_tasks.discard)
        elif replay:
            # Queued apart so an already-confirmed offset does not swallow the duplicate.
            self._replays.append(update)
        else:
            self._queue.append(update)
        self._wake_pollers()

    async def _push(self, update: JSON) -> None:
        assert self._session is not None, "start() the fake before using webhooks"
        url, secret = self.webhook_url, self.webhook_secret
        assert url is not None
        headers = {"Content-Type": "application/json"}
        if secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        body = json.dumps(update, ensure_ascii=False).encode()
        chat_lock = self._chat_locks.setdefault(_update_chat_id(update), asyncio.Lock())
        # Per-chat lock (outer) keeps one chat's updates in order; the semaphore mirrors
        # max_connections across chats.
        async with chat_lock, self._push_sem:
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
                        int(update["update_id"]), attempt, status, time.monotonic() - started, error
                    )
                )
                self._bump()
                if status is not None and 200 <= status < 300:
                    return
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

    # --- HTTP plumbing ---------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return self._reject(method, {}, ApiError(401, "Unauthorized"))
        handler = getattr(self, f"_m_{method.lower()}", None)
        if handler is None:
            return self._reject(method, {}, ApiError(404, "Not Found"))
        canonical = handler.__doc__ or method  # each handler's docstring is its Telegram name
        params: JSON = {}
        try:
            params = await _read_params(request, _FILE_PARAMS.get(method.lower()))
            result = await self._call(method.lower(), params, handler)
        except ApiError as err:
            if request.transport is None or request.transport.is_closing():
                # The client gave up (e.g. PTB's updater cancelling its long poll on stop):
                # nobody will see this answer, so keep it out of `rejected`.
                return web.Response(status=499)
            if err.status == HANG_UP:
                return self._hang_up(request, canonical, params, err)
            return self._reject(canonical, params, err)
        finally:
            for value in params.values():  # keep records JSON-safe; bytes live in _files
                if isinstance(value, dict):
                    value.pop("_bytes", None)
        if method.lower() != "getupdates":  # polls would drown the record
            self._record(canonical, params, result)
        return web.json_response({"ok": True, "result": result})

    async def _call(self, m: str, params: JSON, handler: Callable[[JSON], Awaitable[Any]]) -> Any:
        faults = self._faults.get(m)
        if faults:
            f = faults.popleft()
            raise ApiError(f.status, f.description, f.retry_after)
        chat_id = params.get("chat_id")
        if m in _RATE_LIMITED | {"sendchataction"} and chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if m in _RATE_LIMITED and self._rate_limit is not None:
            now = time.monotonic()
            while self._send_times and now - self._send_times[0] >= 1.0:
                self._send_times.popleft()
            if len(self._send_times) + 1 > self._rate_limit:
                raise ApiError(429, "Too Many Requests: retry after 1", 1)
        result = await handler(params)
        if m in _RATE_LIMITED:
            self._send_times.append(time.monotonic())  # only accepted sends fill the window
        return result

    def _record(self, method: str, params: JSON, result: Any) -> None:
        chat_id = params.get("chat_id")
        message_id = params.get("message_id")
        if isinstance(result, dict) and "message_id" in result:
            message_id = result["message_id"]
        if method == "answerCallbackQuery":
            cb = self._callbacks.get(str(params.get("callback_query_id")), {})
            chat_id, message_id = cb.get("chat_id"), cb.get("message_id")
        self.sent.append(
            {
                "method": method,
                "params": params,
                "time": time.time(),
                "chat_id": chat_id if isinstance(chat_id, int) else None,
                "message_id": message_id if isinstance(message_id, int) else None,
            }
        )
        self._bump()

    def _hang_up(
        self, request: web.Request, method: str, params: JSON, err: ApiError
    ) -> web.Response:
        """Recorded in `rejected` (status HANG_UP), then the connection is dropped unanswered."""
        self.rejected.append(
            {
                "method": method,
                "params": params,
                "time": time.time(),
                "status": HANG_UP,
                "description": err.description,
            }
        )
        self._bump()
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=499)  # never written: the connection is gone

    def _reject(self, method: str, params: JSON, err: ApiError) -> web.Response:
        if err.status == 429:
            self.count_429 += 1
        self.rejected.append(
            {
                "method": method,
                "params": params,
                "time": time.time(),
                "status": err.status,
                "description": err.description,
            }
        )
        self._bump()
        body: JSON = {"ok": False, "error_code": err.status, "description": err.description}
        if err.retry_after is not None:
            body["parameters"] = {"retry_after": err.retry_after}
        return web.json_response(body, status=err.status)

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        for data, path in self._files.values():
            if path == request.match_info["path"]:
                return web.Response(body=data)
        return web.Response(status=404)

    # --- Bot API methods (docstring = canonical method name) -------------------------------

    async def _m_getme(self, p: JSON) -> JSON:
        """getMe"""
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _m_getupdates(self, p: JSON) -> list[JSON]:
        """getUpdates"""
        if self.webhook_url:
            raise ApiError(409, WEBHOOK_CONFLICT)
        self.poll_count += 1
        if p.get("allowed_updates") is not None:
            self._allowed_updates = list(p["allowed_updates"])
        offset, limit = int(p.get("offset") or 0), int(p.get("limit") or 100)
        if offset > 0:  # an offset confirms every earlier update
            self._queue = [u for u in self._queue if u["update_id"] >= offset]
        elif offset < 0:
            self._queue = self._queue[offset:]
        self._poll_gen += 1
        gen = self._poll_gen
        self._wake_pollers()  # an older poll still waiting must now get a 409
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(max(float(p.get("timeout") or 0), 0.0), self.max_poll_wait)
        while True:
            event = self._poll_event
            if self._allowed_updates:
                self._queue = [u for u in self._queue if any(k in u for k in self._allowed_updates)]
            batch = (self._replays + self._queue)[: max(1, min(limit, 100))]
            if batch:
                self._replays = self._replays[len(batch) :]
                return copy.deepcopy(batch)
            if gen != self._poll_gen or self.webhook_url:
                raise ApiError(409, _DEFAULT_DESCRIPTIONS[409])
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            with suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def _m_sendmessage(self, p: JSON) -> JSON:
        """sendMessage"""
        chat_id = self._target_chat(p)
        text = p.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _bad("message text is empty")
        visible = _visible_text(text, p.get("parse_mode"))
        if not visible.strip():
            raise _bad("message text is empty")
        if len(visible) > MAX_TEXT:
            raise _bad("message is too long")
        markup = _check_markup(p.get("reply_markup"))
        return self._new_message(chat_id, {"text": visible}, raw=text, markup=markup)

    async def _m_senddocument(self, p: JSON) -> JSON:
        """sendDocument"""
        return self._send_file(p, "document")

    async def _m_sendphoto(self, p: JSON) -> JSON:
        """sendPhoto"""
        return self._send_file(p, "photo")

    async def _m_editmessagetext(self, p: JSON) -> JSON:
        """editMessageText"""
        key, msg = self._edit_target(p)
        if "text" not in msg:
            raise _bad("there is no text in the message to edit")
        text = p.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _bad("message text is empty")
        visible = _visible_text(text, p.get("parse_mode"))
        if len(visible) > MAX_TEXT:
            raise _bad("MESSAGE_TOO_LONG")
        # Like Telegram: an edit without reply_markup removes the inline keyboard.
        markup = _check_markup(p.get("reply_markup"))
        if (visible, text, markup) == (
            msg["text"],
            self._raw_text.get(key),
            msg.get("reply_markup"),
        ):
            raise ApiError(400, NOT_MODIFIED)
        msg["text"] = visible
        self._raw_text[key] = text
        return self._apply_edit(msg, markup)

    async def _m_editmessagereplymarkup(self, p: JSON) -> JSON:
        """editMessageReplyMarkup"""
        _, msg = self._edit_target(p)
        markup = _check_markup(p.get("reply_markup"))
        if markup == msg.get("reply_markup"):
            raise ApiError(400, NOT_MODIFIED)
        return self._apply_edit(msg, markup)

    async def _m_deletemessage(self, p: JSON) -> bool:
        """deleteMessage"""
        key = (self._target_chat(p), int(p.get("message_id") or 0))
        if self._messages.pop(key, None) is None:
            raise _bad("message to delete not found")
        return True

    async def _m_answercallbackquery(self, p: JSON) -> bool:
        """answerCallbackQuery"""
        if str(p.get("callback_query_id")) not in self._callbacks:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        return True

    async def _m_sendchataction(self, p: JSON) -> bool:
        """sendChatAction"""
        self._target_chat(p)
        if p.get("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    async def _m_setwebhook(self, p: JSON) -> bool:
        """setWebhook"""
        url = str(p.get("url") or "")
        secret = p.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise _bad("secret token contains unallowed characters")
        if url and not re.match(r"https?://", url):
            raise _bad("bad webhook: Wrong HTTP URL specified")
        if p.get("drop_pending_updates"):
            self._queue.clear()
        self.webhook_url, self.webhook_secret = (url or None), (str(secret) if secret else None)
        if self.webhook_url:  # Telegram pushes what was waiting for getUpdates
            pending, self._queue, self._replays = self._replays + self._queue, [], []
            for update in pending:
                self._deliver(update, replay=False)
        self._wake_pollers()
        return True

    async def _m_deletewebhook(self, p: JSON) -> bool:
        """deleteWebhook"""
        if p.get("drop_pending_updates"):
            self._queue.clear()
        self.webhook_url = self.webhook_secret = None
        return True

    async def _m_getwebhookinfo(self, p: JSON) -> JSON:
        """getWebhookInfo"""
        info: JSON = {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue) + len(self._push_tasks),
            "max_connections": self.webhook_max_connections,
        }
        failed = [d for d in self.webhook_deliveries if not (d.status and d.status < 300)]
        if failed:
            info["last_error_date"] = int(failed[-1].time)
            info["last_error_message"] = (
                failed[-1].error or f"Wrong response from the webhook: {failed[-1].status}"
            )
        return info

    async def _m_setmycommands(self, p: JSON) -> bool:
        """setMyCommands"""
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        for c in commands:
            if not isinstance(c, dict) or not re.fullmatch(
                r"[a-z0-9_]{1,32}", str(c.get("command", ""))
            ):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(c.get("description", ""))) <= 256:
                raise _bad("command description must be non-empty")
        self.commands_by_scope[self._scope_key(p)] = commands
        return True

    async def _m_getmycommands(self, p: JSON) -> list[JSON]:
        """getMyCommands"""
        return self.commands_by_scope.get(self._scope_key(p), [])

    async def _m_deletemycommands(self, p: JSON) -> bool:
        """deleteMyCommands"""
        self.commands_by_scope.pop(self._scope_key(p), None)
        return True

    async def _m_getfile(self, p: JSON) -> JSON:
        """getFile"""
        file_id = str(p.get("file_id"))
        if file_id not in self._files:
            raise _bad("invalid file_id")
        data, path = self._files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": "u" + file_id,
            "file_size": len(data),
            "file_path": path,
        }

    # --- method helpers ---------------------------------------------------------------------

    def _target_chat(self, p: JSON) -> int:
        chat_id = p.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad("chat_id is empty")
        if not isinstance(chat_id, int) or (self.strict_chats and chat_id not in self._chats):
            raise _bad("chat not found")
        return chat_id

    def _new_mid(self, chat_id: int) -> int:
        self._next_mid[chat_id] = self._next_mid.get(chat_id, 0) + 1
        return self._next_mid[chat_id]

    def _chat_object(self, chat_id: int) -> JSON:
        if chat_id in self._chats:
            return dict(self._chats[chat_id])
        if chat_id < 0:
            return {"id": chat_id, "type": "group", "title": "Test group"}
        return {"id": chat_id, "type": "private", "first_name": "Test"}

    def _new_message(
        self, chat_id: int, content: JSON, *, raw: str | None, markup: JSON | None
    ) -> JSON:
        mid = self._new_mid(chat_id)
        msg: JSON = {
            "message_id": mid,
            "from": dict(self.bot_user),
            "chat": self._chat_object(chat_id),
            "date": int(time.time()),
            **content,
        }
        if markup is not None and "inline_keyboard" in markup:
            msg["reply_markup"] = markup  # Telegram echoes only inline keyboards
        self._messages[(chat_id, mid)] = msg
        if raw is not None:
            self._raw_text[(chat_id, mid)] = raw
        return copy.deepcopy(msg)

    def _edit_target(self, p: JSON) -> tuple[tuple[int, int], JSON]:
        if p.get("inline_message_id"):
            raise _bad("inline messages are not supported by the fake")
        chat_id = self._target_chat(p)
        if not isinstance(p.get("message_id"), int):
            raise _bad("message identifier is not specified")
        key = (chat_id, p["message_id"])
        if key not in self._messages:
            raise _bad("message to edit not found")
        return key, self._messages[key]

    def _apply_edit(self, msg: JSON, markup: JSON | None) -> JSON:
        if markup is not None and "inline_keyboard" in markup:
            msg["reply_markup"] = markup
        else:
            msg.pop("reply_markup", None)
        msg["edit_date"] = int(time.time())
        return copy.deepcopy(msg)

    def _send_file(self, p: JSON, kind: str) -> JSON:
        chat_id = self._target_chat(p)
        upload = p.get(kind)
        if isinstance(upload, dict):  # uploaded now; _read_params stashed the bytes
            data: bytes = upload["_bytes"]
            file_id = f"FAKE{kind.upper()}{len(self._files) + 1}"
            ext = upload["filename"].rpartition(".")[2] if "." in upload["filename"] else "bin"
            self._files[file_id] = (data, f"{kind}s/file_{len(self._files)}.{ext}")
            upload["file_id"] = file_id
            info: JSON = {
                "file_id": file_id,
                "file_name": upload["filename"],
                "file_size": len(data),
                "mime_type": upload["content_type"],
            }
        elif isinstance(upload, str) and (upload in self._files or re.match(r"https?://", upload)):
            size = len(self._files[upload][0]) if upload in self._files else 0
            info = {"file_id": upload, "file_name": upload.rsplit("/", 1)[-1], "file_size": size}
        else:
            raise _bad("wrong file identifier/HTTP URL specified")
        info["file_unique_id"] = "u" + info["file_id"]
        caption = p.get("caption")
        content: JSON = {}
        if caption:
            visible = _visible_text(str(caption), p.get("parse_mode"))
            if len(visible) > MAX_CAPTION:
                raise _bad("message caption is too long")
            content["caption"] = visible
        if kind == "photo":
            content["photo"] = [
                {k: v for k, v in info.items() if k not in ("file_name", "mime_type")}
                | {"width": 1, "height": 1}
            ]
        else:
            content["document"] = info
        markup = _check_markup(p.get("reply_markup"))
        return self._new_message(chat_id, content, raw=caption, markup=markup)

    @staticmethod
    def _scope_key(p: JSON) -> tuple[str, str]:
        scope = p.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(p.get("language_code") or "")

    # --- /_fake control API (for other processes) -------------------------------------------

    async def _ctl_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"ok": True})

    async def _ctl_outbox(self, request: web.Request) -> web.Response:
        sent = self.sent
        if "chat_id" in request.query:
            sent = [r for r in sent if r["chat_id"] == int(request.query["chat_id"])]
        if "method" in request.query:
            sent = [r for r in sent if r["method"].lower() == request.query["method"].lower()]
        return web.json_response(
            {
                "ok": True,
                "sent": sent,
                "rejected": self.rejected,
                "count_429": self.count_429,
                "webhook_deliveries": [asdict(d) for d in self.webhook_deliveries],
            }
        )

    async def _ctl_inject(self, request: web.Request) -> web.Response:
        """Body: {chat_id, text, ...} | {chat_id, callback_data, message_id} | {update} |
        {replay: update}."""
        b = await request.json()
        if "replay" in b:
            self.replay(b["replay"])
            update = b["replay"]
        elif "update" in b:
            update = self.inject_raw(b["update"])
        elif "callback_data" in b:
            update = self.inject_callback(
                int(b["chat_id"]),
                b["callback_data"],
                int(b["message_id"]),
                user_id=b.get("user_id"),
            )
        else:
            update = self.inject_message(
                int(b["chat_id"]),
                b["text"],
                first_name=b.get("first_name", "Test"),
                username=b.get("username"),
                user_id=b.get("user_id"),
            )
        return web.json_response({"ok": True, "result": update})

    async def _ctl_fail(self, request: web.Request) -> web.Response:
        b = await request.json()
        self.fail_next(
            b["method"],
            int(b.get("count", 1)),
            status=int(b.get("status", 429)),
            description=b.get("description"),
            retry_after=b.get("retry_after"),
        )
        return web.json_response({"ok": True})

    async def _ctl_block(self, request: web.Request) -> web.Response:
        b = await request.json()
        self.block(int(b["chat_id"]), bool(b.get("blocked", True)))
        return web.json_response({"ok": True})

    async def _ctl_rate_limit(self, request: web.Request) -> web.Response:
        b = await request.json()
        self.set_rate_limit(b.get("per_second"))
        return web.json_response({"ok": True})


def _update_chat_id(update: JSON) -> int | None:
    for kind in ("message", "edited_message", "callback_query"):
        if kind in update:
            obj = update[kind]
            msg = obj.get("message", obj) if kind == "callback_query" else obj
            chat_id = msg.get("chat", {}).get("id")
            return chat_id if isinstance(chat_id, int) else None
    return None


def _decode(name: str, value: Any) -> Any:
    """Turn PTB's stringly-typed form values back into JSON types."""
    if not isinstance(value, str):
        return value
    try:
        if name == "chat_id" or name in _INT_PARAMS:
            return int(value)
        if name in _BOOL_PARAMS:
            return value.lower() == "true"
        if name in _JSON_PARAMS:
            return json.loads(value)
    except ValueError:
        if name in _JSON_PARAMS:
            raise _bad(f"can't parse {name} JSON object") from None
        if name != "chat_id":  # "@channel" stays a string and fails as "chat not found"
            raise _bad(f"wrong parameter {name} in request") from None
    return value


async def _read_params(request: web.Request, file_field: str | None) -> JSON:
    raw: dict[str, Any] = dict(request.query)
    ctype = request.content_type
    if ctype == "application/json":
        body = await request.json()
        if not isinstance(body, dict):
            raise _bad("request body must be a JSON object")
        raw.update(body)
    elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for name, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                data = value.file.read()
                meta: JSON = {
                    "filename": value.filename,
                    "size": len(data),
                    "content_type": value.content_type,
                }
                if name == file_field:  # e.g. a thumbnail keeps metadata only
                    meta["_bytes"] = data
                raw[name] = meta
            else:
                raw[name] = value
    return {k: _decode(k, v) for k, v in raw.items()}
