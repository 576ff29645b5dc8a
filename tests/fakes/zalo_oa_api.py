"""In-process fake of the Zalo Official Account Open API v3, for driving our own client in tests.

One aiohttp app on 127.0.0.1 folds Zalo's three hosts (oauth.zaloapp.com, openapi.zalo.me and
business.openapi.zalo.me), so a client gets ``oauth_url = api_url = business_url =
fake.base_url``. It follows platforms.md, "Minimal fake-server spec" §2:

- ``/v4/oa/access_token`` with single-use refresh tokens (a reuse is an error and is counted);
- the ``access_token`` header checked on every OpenAPI call (-216 when missing, old or expired);
- ``/v3.0/oa/message/cs`` with the 48 h / 8-message reply frame, the 7-day window (-230) and a
  monthly proactive pool, all on a fake clock (``now``, ``advance``);
- ``transaction`` / ``promotion`` (recorded as paid), ZNS ``/message/template``, the quota call;
- inbound events pushed to ``webhook_url``, signed like Zalo (``mac=sha256(app_id + body +
  timestamp + OA secret key)`` over the exact bytes sent), re-sent with ``num_retry: n`` when
  the bot does not answer 200 within ``ack_deadline``, and disabled after ``max_failures``.

Only -216, -230 and -213 matter to our client; the other codes are illustrative (marked so
below), except the ZNS ones, which come from zalo.cloud's ZNS error table.
"""

from __future__ import annotations

import asyncio
import base64
import calendar
import copy
import hashlib
import json
import re
import secrets
import time
import uuid
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from tests.support.secrets_scan import known

JSON = dict[str, Any]
T = TypeVar("T")
Handler = Callable[[JSON], JSON]

SIGNATURE_HEADER = "X-ZEvent-Signature"
MAX_TEXT = 2000
REPLY_FRAME = timedelta(hours=48)
REPLY_LIMIT = 8
CS_WINDOW = timedelta(days=7)
AUTH_CODE_LIFETIME = timedelta(minutes=10)
BUTTON_TYPES = frozenset(
    {"oa.query.show", "oa.query.hide", "oa.open.url", "oa.open.phone", "oa.open.sms"}
)

ERR_EXPIRED = -216  # "Access token is expired" [spec]
ERR_PARAM = -201  # unknown user [spec, illustrative]; also bad parameters
ERR_NOT_FOLLOWER = -213  # the user unfollowed the OA [illustrative meaning]
ERR_WINDOW = -230  # no interaction in the past 7 days [obs]
ERR_QUOTA = -224  # proactive pool empty [illustrative]
ERR_SECRET = -14002  # wrong secret_key [spec, illustrative]
ERR_APP_ID = -14001  # wrong app_id [illustrative]
ERR_REFRESH = -14014  # invalid, expired or reused refresh token [illustrative]
ERR_CODE = -14019  # invalid or used authorization code / PKCE mismatch [illustrative]
ERR_GRANT = -14003  # unsupported grant_type or not a form body [illustrative]
ZNS_PHONE = -108  # zalo.cloud ZNS table: "Phone number invalid"
ZNS_TEMPLATE = -109  # "Template ID invalid"
ZNS_DATA_EMPTY = -111  # "Template data empty"
ZNS_DATA_INVALID = -112  # "Template data invalid"
ZNS_QUOTA = -144  # "Out of quota" [code illustrative]

HANG_UP = 0  # fail_next_http(status=HANG_UP): close the connection, answer nothing

ENDPOINTS = {
    "access_token": "/v4/oa/access_token",
    "cs": "/v3.0/oa/message/cs",
    "transaction": "/v3.0/oa/message/transaction",
    "promotion": "/v3.0/oa/message/promotion",
    "template": "/message/template",
    "quota": "/v3.0/oa/quota/message",
}
_ALIASES = {"zns": "template", **{path: name for name, path in ENDPOINTS.items()}}


def endpoint_name(endpoint: str) -> str:
    """ "cs", "/v3.0/oa/message/cs" and full URLs all name the same endpoint."""
    key = urlsplit(endpoint).path if "://" in endpoint else endpoint
    key = _ALIASES.get(key, key)
    if key not in ENDPOINTS:
        raise ValueError(f"unknown Zalo OA endpoint {endpoint!r}; one of {sorted(ENDPOINTS)}")
    return key


class OAError(Exception):
    """Raised inside an endpoint handler; becomes a Zalo error envelope (HTTP 200)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def sign(raw: bytes, *, app_id: str, timestamp: str, oa_secret_key: str) -> str:
    """Zalo's webhook MAC: plain SHA-256 of app_id + exact body + timestamp + OA secret key."""
    return hashlib.sha256(
        app_id.encode() + raw + timestamp.encode() + oa_secret_key.encode()
    ).hexdigest()


@dataclass
class FakeUser:
    """What the fake knows of one OA user (all from injected events)."""

    user_id: str
    display_name: str
    last_interaction: datetime | None = None  # the 48 h and 7 d windows start here
    replies_used: int = 0  # free replies used since last_interaction
    followed: bool = False
    unfollowed: bool = False
    info: JSON | None = None


@dataclass
class WebhookDelivery:
    """One POST attempt of an event to the bot's webhook."""

    event_name: str
    event_key: str  # msg_id, or "event_name:user:timestamp" for events without one
    num_retry: int  # 0 on the first attempt; sent as the num_retry header from 1 on
    status: int | None  # None: connection error or no answer within the deadline
    latency: float
    ok: bool
    error: str | None = None
    forged: bool = False  # sent by inject_bad_signature
    time: float = field(default_factory=time.time)


@dataclass
class _Fault:
    code: int
    message: str


@dataclass
class _HttpFault:
    status: int
    body: str
    delay: float


class FakeZaloOA:
    """Fake Zalo OA server. Use ``async with FakeZaloOA() as fake:``.

    The class attributes below are the knobs for what platforms.md leaves uncertain; set them
    on an instance (``reset()`` keeps them).
    """

    expires_in = 90000  # access-token lifetime, s (25 h)
    expires_in_as_string = True  # "90000" as seen in the wild; False sends an int
    refresh_token_lifetime = timedelta(days=90)
    old_access_tokens_valid = False  # True: a refresh does not kill the previous access token
    monthly_proactive_quota = 1000  # verified OA's free proactive messages, reset on the 1st
    zns_daily_quota = 500
    max_buttons: int | None = None  # not confirmed by any source; set e.g. 5 to be strict
    unfollow_blocks_cs = True  # an unfollowed user gets -213 on /cs
    interaction_events = frozenset({"user_send_text", "follow"})  # start the 48 h / 7 d windows
    ack_deadline = 2.0  # the bot must answer 200 within this, s
    retry_delay = 0.05  # Zalo waits ~30 s and more; keep tests fast
    max_retries = 5  # re-sends per event after the first attempt
    max_failures = 6  # consecutive failed attempts before the webhook is disabled

    def __init__(
        self,
        *,
        app_id: str = "1234567890123456789",
        app_secret: str = "fake-app-secret",
        oa_secret_key: str = "fake-oa-secret-key",
        oa_id: str = "579745863508352884",
        templates: dict[str, list[str]] | None = None,
    ) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.oa_secret_key = oa_secret_key
        self.oa_id = oa_id
        self.templates: dict[str, list[str]] = dict(templates or {})
        self.now = datetime.now(UTC).replace(microsecond=0)  # the fake clock; settable
        self.initial_refresh_token = "rt0-" + secrets.token_urlsafe(24)
        known(self.app_secret, self.oa_secret_key, self.initial_refresh_token)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._port = 0
        self._push_tasks: set[asyncio.Task[None]] = set()
        self.reset()

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> FakeZaloOA:
        app = web.Application()
        app.router.add_post(ENDPOINTS["access_token"], self._h_access_token)
        for name, handler in (
            ("cs", self._cs),
            ("transaction", partial(self._paid, "transaction")),
            ("promotion", partial(self._paid, "promotion")),
            ("template", self._zns),
            ("quota", self._quota),
        ):
            app.router.add_post(ENDPOINTS[name], partial(self._h_openapi, name, handler))
        app.router.add_post("/_fake/reset", self._ctl_reset)
        app.router.add_get("/_fake/outbox", self._ctl_outbox)
        app.router.add_post("/_fake/inject", self._ctl_inject)
        app.router.add_post("/_fake/fail", self._ctl_fail)
        app.router.add_post("/_fake/clock", self._ctl_clock)
        app.router.add_post("/_fake/webhook", self._ctl_webhook)
        app.router.add_post("/_fake/expire", self._ctl_expire)
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
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeZaloOA:
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
    def base_url(self) -> str:
        """oauth_url, api_url and business_url of the client, all at once."""
        return f"http://127.0.0.1:{self._port}"

    url = base_url

    def reset(self) -> None:
        """Forget everything but the clock and the knobs: tokens back to the initial refresh
        token (no access token), no users, records, faults or webhook."""
        self._cancel_pushes()
        self.sent: list[JSON] = []  # accepted /cs, /transaction, /promotion messages
        self.zns_sent: list[JSON] = []
        self.rejected: list[JSON] = []  # error answers: endpoint, error, message, user_id, at
        self.token_requests: list[JSON] = []  # every /v4/oa/access_token call
        self.refresh_calls = 0  # grant_type=refresh_token calls, whatever their outcome
        self.reused_refresh_tokens = 0
        self.events: list[JSON] = []  # every event built by inject_*/replay, delivered or not
        self.undelivered: list[JSON] = []  # built while no webhook was set or it was disabled
        self.webhook_url: str | None = None  # set by tests: Zalo's is set in its console
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.users: dict[str, FakeUser] = {}
        self._webhook_disabled = False
        self._consecutive_failures = 0
        self._refresh_token: str | None = self.initial_refresh_token
        self._refresh_expires = self.now + self.refresh_token_lifetime
        self._dead_refresh: set[str] = set()
        self._access: dict[str, datetime] = {}  # valid access tokens → expiry (fake clock)
        self._codes: dict[str, tuple[str | None, datetime]] = {}  # code → (challenge, expiry)
        self._msg_owner: dict[str, str] = {}  # inbound msg_id → user_id
        self._pool_month = (self.now.year, self.now.month)
        self._pool_used = 0
        self._zns_day: date = self.now.date()
        self._zns_used = 0
        self._faults: dict[str, deque[_Fault]] = {}
        self._http_faults: dict[str, deque[_HttpFault]] = {}
        self._changed = asyncio.Event()
        self._user_locks: dict[str, asyncio.Lock] = {}
        self._one_off_deadline: float | None = None  # /_fake/inject's delay_ok_ms

    # --- the fake clock --------------------------------------------------------------------

    def advance(self, seconds: float) -> datetime:
        """Move the fake clock (token expiry, reply frame, 7-day window, quota periods)."""
        self.now += timedelta(seconds=seconds)
        self._bump()
        return self.now

    def _ms(self) -> str:
        return str(int(self.now.timestamp() * 1000))

    # --- test-side helpers -----------------------------------------------------------------

    def messages_to(self, user_id: str) -> list[JSON]:
        return [r for r in self.sent if r["user_id"] == user_id]

    @property
    def webhook_disabled(self) -> bool:
        return self._webhook_disabled

    @webhook_disabled.setter
    def webhook_disabled(self, value: bool) -> None:
        """Setting False is the OA admin re-enabling the webhook in the console."""
        self._webhook_disabled = value
        self._consecutive_failures = 0
        self._bump()

    @property
    def access_token(self) -> str | None:
        """The newest valid access token (None before the first grant)."""
        valid = [t for t, exp in self._access.items() if self.now < exp]
        return valid[-1] if valid else None

    @property
    def refresh_token(self) -> str | None:
        """The one refresh token Zalo would accept now."""
        return self._refresh_token

    def expire_access_token(self) -> None:
        """Every access token issued so far is now expired (the next call gets -216)."""
        for token in self._access:
            self._access[token] = self.now
        self._bump()

    def issue_auth_code(self, code_challenge: str | None = None) -> str:
        """What the OA admin's consent redirect would carry; valid 10 min, single-use.
        With `code_challenge` (S256), the exchange must bring the matching code_verifier."""
        code = "code-" + secrets.token_urlsafe(16)
        self._codes[code] = (code_challenge, self.now + AUTH_CODE_LIFETIME)
        return code

    def fail_next(
        self,
        endpoint: str,
        n: int = 1,
        *,
        error: int = -32,
        message: str = "Injected failure",
    ) -> None:
        """The next `n` calls of `endpoint` answer HTTP 200 with ``{"error": error, ...}``
        (after the access-token check; the token endpoint uses ``error_description``)."""
        q = self._faults.setdefault(endpoint_name(endpoint), deque())
        q.extend(_Fault(error, message) for _ in range(n))

    def fail_next_http(
        self,
        endpoint: str,
        n: int = 1,
        *,
        status: int = 502,
        body: str = "<html><body>502 Bad Gateway</body></html>",
        delay: float = 0.0,
    ) -> None:
        """The next `n` calls of `endpoint` get a bare HTTP `status` (a gateway in the way),
        after `delay` seconds (use it to exceed a client timeout)."""
        q = self._http_faults.setdefault(endpoint_name(endpoint), deque())
        q.extend(_HttpFault(status, body, delay) for _ in range(n))

    # The timeout parameters below are the API the tests want (ruff ASYNC109 prefers
    # asyncio.timeout at call sites).
    async def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:  # noqa: ASYNC109
        """Return predicate()'s value once truthy; AssertionError with recent activity if not."""
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
            with suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(remaining, 0.1))

    async def drain(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until every webhook push in flight (with its retries) is finished."""
        if self._push_tasks:
            await asyncio.wait_for(
                asyncio.gather(*self._push_tasks, return_exceptions=True), timeout
            )

    def dump(self, last: int = 8) -> str:
        lines = [f"fake clock: {self.now.isoformat()}", "last accepted messages:"]
        lines += [
            f"  {r['endpoint']} user={r['user_id']} quota={r['quota_type']} "
            f"{json.dumps(r['text'], ensure_ascii=False)[:200]} buttons={len(r['buttons'])}"
            for r in self.sent[-last:]
        ]
        lines += [
            f"  zns {r['template_id']} to={r['user_id'] or r['phone']}"
            for r in self.zns_sent[-last:]
        ]
        lines.append("last rejected calls:")
        lines += [f"  {r['endpoint']} {r['error']} {r['message']}" for r in self.rejected[-last:]]
        lines.append(
            f"token requests: {len(self.token_requests)} (refresh {self.refresh_calls}, "
            f"reused {self.reused_refresh_tokens})"
        )
        lines += [
            f"  {r['grant_type']} ok={r['ok']} {r.get('error', '')}"
            for r in self.token_requests[-last:]
        ]
        if self.webhook_deliveries or self._webhook_disabled:
            lines.append(f"webhook deliveries (disabled={self._webhook_disabled}):")
            lines += [f"  {d}" for d in self.webhook_deliveries[-last:]]
        return "\n".join(lines)

    # --- inbound events --------------------------------------------------------------------

    def inject_text(self, user_id: str, text: str, *, display_name: str = "Zalo User") -> JSON:
        """A user_send_text (also how tests press a button: the text is its payload)."""
        user = self._user(user_id, display_name)
        event = self._text_event(user_id, text)
        self._msg_owner[event["message"]["msg_id"]] = user_id
        self._interacted(user, "user_send_text")
        self._deliver(event)
        return event

    def inject_follow(self, user_id: str, *, display_name: str = "Zalo User") -> JSON:
        user = self._user(user_id, display_name)
        user.followed, user.unfollowed = True, False
        event = self._follow_event(user_id, "follow")
        self._interacted(user, "follow")
        self._deliver(event)
        return event

    def inject_unfollow(self, user_id: str) -> JSON:
        user = self._user(user_id, None)
        user.followed, user.unfollowed = False, True
        event = self._follow_event(user_id, "unfollow")
        self._interacted(user, "unfollow")
        self._deliver(event)
        return event

    def inject_submit_info(self, user_id: str, info: JSON) -> JSON:
        """The user's answer to a request_user_info message."""
        user = self._user(user_id, None)
        user.info = dict(info)
        event: JSON = {
            "app_id": self.app_id,
            "user_id_by_app": self._by_app(user_id),
            "event_name": "user_submit_info",
            "timestamp": self._ms(),
            "sender": {"id": user_id},
            "recipient": {"id": self.oa_id},
            "info": dict(info),
        }
        self._interacted(user, "user_submit_info")
        self._deliver(event)
        return event

    def inject_bad_signature(self, user_id: str, text: str) -> JSON:
        """A forged user_send_text: the bot must answer 4xx and ignore it. Sent once, never
        retried, not counted toward disabling, and no interaction is recorded."""
        event = self._text_event(user_id, text)
        self._deliver(event, forged=True)
        return event

    def replay(self, event: JSON) -> None:
        """Deliver the very same event again (Zalo retries; the bot must dedupe)."""
        self._deliver(copy.deepcopy(event))

    def _text_event(self, user_id: str, text: str) -> JSON:
        return {
            "app_id": self.app_id,
            "user_id_by_app": self._by_app(user_id),
            "event_name": "user_send_text",
            "timestamp": self._ms(),
            "sender": {"id": user_id},
            "recipient": {"id": self.oa_id},
            "message": {"msg_id": uuid.uuid4().hex, "text": text},
        }

    def _follow_event(self, user_id: str, name: str) -> JSON:
        return {
            "app_id": self.app_id,
            "oa_id": self.oa_id,
            "follower": {"id": user_id},
            "user_id_by_app": self._by_app(user_id),
            "event_name": name,
            "source": "oa_profile",
            "timestamp": self._ms(),
        }

    def _by_app(self, user_id: str) -> str:
        digest = hashlib.sha256(f"{self.app_id}:{user_id}".encode()).hexdigest()
        return str(int(digest[:15], 16))

    def _user(self, user_id: str, display_name: str | None) -> FakeUser:
        if not isinstance(user_id, str) or not user_id:
            raise TypeError("Zalo user ids are non-empty strings")
        user = self.users.get(user_id)
        if user is None:
            user = self.users[user_id] = FakeUser(user_id, display_name or "Zalo User")
        elif display_name is not None:
            user.display_name = display_name
        return user

    def _interacted(self, user: FakeUser, event_name: str) -> None:
        if event_name in self.interaction_events:
            user.last_interaction = self.now
            user.replies_used = 0

    def _deliver(self, event: JSON, *, forged: bool = False) -> None:
        ack_deadline, self._one_off_deadline = self._one_off_deadline, None
        self.events.append(event)
        if not self.webhook_url or self._webhook_disabled:
            self.undelivered.append(event)
            self._bump()
            return
        # Serialised once: the MAC covers these exact bytes.
        raw = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        secret = self.oa_secret_key if not forged else "not-" + self.oa_secret_key
        mac = sign(raw, app_id=self.app_id, timestamp=str(event["timestamp"]), oa_secret_key=secret)
        task = asyncio.get_running_loop().create_task(
            self._push(event, raw, mac, forged=forged, deadline=ack_deadline)
        )
        self._push_tasks.add(task)
        task.add_done_callback(self._push_tasks.discard)

    async def _push(
        self, event: JSON, raw: bytes, mac: str, *, forged: bool, deadline: float | None
    ) -> None:
        assert self._session is not None, "start() the fake before injecting with a webhook"
        user_id = str((event.get("sender") or event.get("follower") or {}).get("id", ""))
        key = str(
            (event.get("message") or {}).get("msg_id")
            or f"{event['event_name']}:{user_id}:{event['timestamp']}"
        )
        lock = self._user_locks.setdefault(user_id, asyncio.Lock())
        async with lock:  # one user's events arrive in order
            attempt = 0
            while True:
                url = self.webhook_url
                if url is None or self._webhook_disabled:
                    self.undelivered.append(event)
                    self._bump()
                    return
                limit = self.ack_deadline if deadline is None else deadline
                headers = {"Content-Type": "application/json", SIGNATURE_HEADER: f"mac={mac}"}
                if attempt:
                    headers["num_retry"] = str(attempt)
                started = time.monotonic()
                status: int | None = None
                error: str | None = None
                try:
                    async with self._session.post(
                        url, data=raw, headers=headers, timeout=aiohttp.ClientTimeout(total=limit)
                    ) as resp:
                        await resp.read()
                        status = resp.status
                except TimeoutError:
                    error = f"no answer within {limit}s"
                except aiohttp.ClientError as exc:
                    error = repr(exc)
                latency = time.monotonic() - started
                ok = status == 200 and latency <= limit
                self.webhook_deliveries.append(
                    WebhookDelivery(
                        event["event_name"], key, attempt, status, latency, ok, error, forged
                    )
                )
                if forged:  # an attacker does not retry, and Zalo never saw it
                    self._bump()
                    return
                if ok:
                    self._consecutive_failures = 0
                    self._bump()
                    return
                self._consecutive_failures += 1
                if self._consecutive_failures >= self.max_failures:
                    self._webhook_disabled = True
                self._bump()
                if self._webhook_disabled or attempt >= self.max_retries:
                    return
                attempt += 1
                await asyncio.sleep(self.retry_delay)

    def _cancel_pushes(self) -> None:
        for task in self._push_tasks:
            task.cancel()

    def _bump(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # --- OAuth -----------------------------------------------------------------------------

    async def _h_access_token(self, request: web.Request) -> web.Response:
        http = await self._http_fault("access_token", request)
        if http is not None:
            return http
        form: dict[str, str] = {}
        if request.content_type == "application/x-www-form-urlencoded":
            form = {k: str(v) for k, v in (await request.post()).items()}
        grant = form.get("grant_type", "")
        record: JSON = {"grant_type": grant or None, "at": self.now, "ok": False}
        self.token_requests.append(record)
        if grant == "refresh_token":
            self.refresh_calls += 1
        try:
            if request.content_type != "application/x-www-form-urlencoded":
                raise OAError(ERR_GRANT, "Request body must be form-urlencoded")
            faults = self._faults.get("access_token")
            if faults:
                f = faults.popleft()
                raise OAError(f.code, f.message)
            if request.headers.get("secret_key") != self.app_secret:
                raise OAError(ERR_SECRET, "invalid secret")
            if form.get("app_id") != self.app_id:
                raise OAError(ERR_APP_ID, "invalid app_id")
            if grant == "refresh_token":
                self._use_refresh_token(form.get("refresh_token", ""))
            elif grant == "authorization_code":
                self._use_auth_code(form.get("code", ""), form.get("code_verifier"))
            else:
                raise OAError(ERR_GRANT, "unsupported grant_type")
        except OAError as err:
            record.update(error=err.code, error_description=err.message)
            self._bump()
            return web.json_response({"error": err.code, "error_description": err.message})
        access = "at-" + secrets.token_urlsafe(32)
        refresh = "rt-" + secrets.token_urlsafe(32)
        known(access, refresh)
        if not self.old_access_tokens_valid:
            self._access.clear()
        self._access[access] = self.now + timedelta(seconds=self.expires_in)
        if self._refresh_token is not None:
            self._dead_refresh.add(self._refresh_token)
        self._refresh_token = refresh
        self._refresh_expires = self.now + self.refresh_token_lifetime
        record["ok"] = True
        self._bump()
        expires: str | int = str(self.expires_in) if self.expires_in_as_string else self.expires_in
        return web.json_response(
            {"access_token": access, "refresh_token": refresh, "expires_in": expires}
        )

    def _use_refresh_token(self, token: str) -> None:
        if token in self._dead_refresh:
            self.reused_refresh_tokens += 1
            raise OAError(ERR_REFRESH, "Refresh token was already used")
        if not token or token != self._refresh_token:
            raise OAError(ERR_REFRESH, "Invalid refresh token")
        if self.now >= self._refresh_expires:
            raise OAError(ERR_REFRESH, "Refresh token is expired")
        self._dead_refresh.add(token)
        self._refresh_token = None

    def _use_auth_code(self, code: str, verifier: str | None) -> None:
        entry = self._codes.pop(code, None)
        if entry is None:
            raise OAError(ERR_CODE, "Invalid authorization code")
        challenge, expires = entry
        if self.now >= expires:
            raise OAError(ERR_CODE, "Authorization code is expired")
        if challenge is not None:
            digest = hashlib.sha256((verifier or "").encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != challenge:
                raise OAError(ERR_CODE, "Invalid code_verifier")

    # --- OpenAPI ---------------------------------------------------------------------------

    async def _h_openapi(self, name: str, handler: Handler, request: web.Request) -> web.Response:
        http = await self._http_fault(name, request)
        if http is not None:
            return http
        body: JSON | None = None
        try:
            if not self._token_valid(request.headers.get("access_token")):
                raise OAError(ERR_EXPIRED, "Access token is expired")
            try:
                parsed = await request.json()
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                raise OAError(ERR_PARAM, "Request body must be a JSON object")
            body = parsed
            faults = self._faults.get(name)
            if faults:
                f = faults.popleft()
                raise OAError(f.code, f.message)
            data = handler(body)
        except OAError as err:
            recipient = (body or {}).get("recipient")
            self.rejected.append(
                {
                    "endpoint": name,
                    "error": err.code,
                    "message": err.message,
                    "user_id": recipient.get("user_id") if isinstance(recipient, dict) else None,
                    "at": self.now,
                }
            )
            self._bump()
            return web.json_response({"error": err.code, "message": err.message})
        self._bump()
        return web.json_response({"error": 0, "message": "Success", "data": data})

    def _token_valid(self, token: str | None) -> bool:
        expires = self._access.get(token or "")
        return expires is not None and self.now < expires

    async def _http_fault(
        self, name: str, request: web.Request | None = None
    ) -> web.Response | None:
        faults = self._http_faults.get(name)
        if not faults:
            return None
        f = faults.popleft()
        self.rejected.append(
            {
                "endpoint": name,
                "error": None,
                "message": f"HTTP {f.status}",
                "user_id": None,
                "at": self.now,
            }
        )
        self._bump()
        if f.delay:
            await asyncio.sleep(f.delay)
        if f.status == HANG_UP and request is not None and request.transport is not None:
            request.transport.abort()  # a connection reset: the call is not carried out
            return web.Response(status=499)  # never written: the connection is gone
        return web.Response(status=f.status, text=f.body, content_type="text/html")

    def _recipient(self, body: JSON) -> FakeUser:
        recipient = body.get("recipient")
        if not isinstance(recipient, dict):
            raise OAError(ERR_PARAM, "recipient is required")
        user_id = recipient.get("user_id")
        if user_id is None and "message_id" in recipient:
            user_id = self._msg_owner.get(str(recipient["message_id"]))
            if user_id is None:
                raise OAError(ERR_PARAM, "message_id not found")
        if not isinstance(user_id, str) or not user_id:
            raise OAError(ERR_PARAM, "recipient.user_id must be a non-empty string")
        user = self.users.get(user_id)
        if user is None:
            raise OAError(ERR_PARAM, "User is not found")
        return user

    def _message(self, body: JSON) -> tuple[str | None, JSON | None, list[JSON]]:
        message = body.get("message")
        if not isinstance(message, dict):
            raise OAError(ERR_PARAM, "message is required")
        text, attachment = message.get("text"), message.get("attachment")
        if text is None and attachment is None:
            raise OAError(ERR_PARAM, "message has neither text nor attachment")
        if text is not None:
            if not isinstance(text, str) or not text.strip():
                raise OAError(ERR_PARAM, "text must be a non-empty string")
            if len(text) > MAX_TEXT:
                raise OAError(ERR_PARAM, f"text is longer than {MAX_TEXT} characters")
        buttons: list[JSON] = []
        if attachment is not None:
            if not isinstance(attachment, dict) or attachment.get("type") not in (
                "template",
                "file",
            ):
                raise OAError(ERR_PARAM, "attachment.type must be template or file")
            payload = attachment.get("payload")
            if not isinstance(payload, dict):
                raise OAError(ERR_PARAM, "attachment.payload must be an object")
            if "buttons" in payload:
                buttons = self._check_buttons(payload["buttons"])
            elif attachment["type"] == "template" and "template_type" not in payload:
                raise OAError(ERR_PARAM, "template needs buttons or a template_type")
        return text, attachment, buttons

    def _check_buttons(self, buttons: Any) -> list[JSON]:
        if not isinstance(buttons, list) or not buttons:
            raise OAError(ERR_PARAM, "buttons must be a non-empty array")
        if self.max_buttons is not None and len(buttons) > self.max_buttons:
            raise OAError(ERR_PARAM, f"at most {self.max_buttons} buttons")
        for b in buttons:
            if not isinstance(b, dict):
                raise OAError(ERR_PARAM, "button must be an object")
            kind, title, payload = b.get("type"), b.get("title"), b.get("payload")
            if kind not in BUTTON_TYPES:
                raise OAError(ERR_PARAM, f"button type {kind!r} is invalid")
            if not isinstance(title, str) or not title.strip():
                raise OAError(ERR_PARAM, "button title must be non-empty")
            if kind in ("oa.query.show", "oa.query.hide"):
                ok = isinstance(payload, str) and bool(payload)
            elif kind == "oa.open.url":
                ok = isinstance(payload, dict) and bool(payload.get("url"))
            elif kind == "oa.open.phone":
                ok = isinstance(payload, dict) and bool(payload.get("phone_code"))
            else:
                ok = (
                    isinstance(payload, dict)
                    and bool(payload.get("phone_code"))
                    and bool(payload.get("content"))
                )
            if not ok:
                raise OAError(ERR_PARAM, f"button payload is invalid for {kind}")
        return copy.deepcopy(buttons)

    def _roll_periods(self) -> None:
        if (self.now.year, self.now.month) != self._pool_month:
            self._pool_month, self._pool_used = (self.now.year, self.now.month), 0
        if self.now.date() != self._zns_day:
            self._zns_day, self._zns_used = self.now.date(), 0

    def _pool_quota(self) -> JSON:
        last_day = calendar.monthrange(self.now.year, self.now.month)[1]
        return {
            "quota_type": "sub_quota",
            "remain": str(max(self.monthly_proactive_quota - self._pool_used, 0)),
            "total": str(self.monthly_proactive_quota),
            "expired_date": self.now.date().replace(day=last_day).isoformat(),
            "owner_type": "OA",
            "owner_id": self.oa_id,
        }

    def _record(
        self,
        endpoint: str,
        user: FakeUser,
        message: tuple[str | None, JSON | None, list[JSON]],
        quota_type: str,
        *,
        paid: bool,
    ) -> str:
        text, attachment, buttons = message
        message_id = uuid.uuid4().hex
        self.sent.append(
            {
                "endpoint": endpoint,
                "user_id": user.user_id,
                "text": text,
                "buttons": buttons,
                "attachment": copy.deepcopy(attachment),
                "quota_type": quota_type,
                "paid": paid,
                "message_id": message_id,
                "at": self.now,
            }
        )
        return message_id

    def _cs(self, body: JSON) -> JSON:
        user = self._recipient(body)
        message = self._message(body)
        if user.unfollowed and self.unfollow_blocks_cs:
            raise OAError(ERR_NOT_FOLLOWER, "User has not followed the OA")
        last = user.last_interaction
        if last is None or self.now - last > CS_WINDOW:
            raise OAError(ERR_WINDOW, "User has not interacted with the OA in the past 7 days")
        self._roll_periods()
        if self.now - last <= REPLY_FRAME and user.replies_used < REPLY_LIMIT:
            user.replies_used += 1
            quota: JSON = {
                "quota_type": "reply",
                "remain": str(REPLY_LIMIT - user.replies_used),
                "total": str(REPLY_LIMIT),
            }
        else:
            if self._pool_used >= self.monthly_proactive_quota:
                raise OAError(ERR_QUOTA, "The OA has run out of proactive message quota")
            self._pool_used += 1
            quota = self._pool_quota()
        message_id = self._record("cs", user, message, quota["quota_type"], paid=False)
        return {"message_id": message_id, "user_id": user.user_id, "quota": quota}

    def _paid(self, kind: str, body: JSON) -> JSON:
        user = self._recipient(body)
        message = self._message(body)
        if kind == "promotion" and user.unfollowed:
            raise OAError(ERR_NOT_FOLLOWER, "User has not followed the OA")
        message_id = self._record(kind, user, message, "purchase_quota", paid=True)
        return {
            "message_id": message_id,
            "user_id": user.user_id,
            "quota": {"quota_type": "purchase_quota", "owner_type": "OA", "owner_id": self.oa_id},
        }

    def _zns(self, body: JSON) -> JSON:
        template_id = body.get("template_id")
        if not isinstance(template_id, str) or template_id not in self.templates:
            raise OAError(ZNS_TEMPLATE, "Template ID invalid")
        data = body.get("template_data")
        if not isinstance(data, dict) or not data:
            raise OAError(ZNS_DATA_EMPTY, "Template data empty")
        missing = [p for p in self.templates[template_id] if p not in data]
        if missing:
            raise OAError(ZNS_DATA_INVALID, f"Template data invalid: missing {missing}")
        if any(isinstance(v, bool) or not isinstance(v, str | int | float) for v in data.values()):
            raise OAError(ZNS_DATA_INVALID, "Template data invalid: values must be scalars")
        phone, user_id = body.get("phone"), body.get("user_id")
        if (phone is None) == (user_id is None):
            raise OAError(ZNS_PHONE, "Give exactly one of phone or user_id")
        if phone is not None and not (
            isinstance(phone, str) and re.fullmatch(r"84\d{9,10}", phone)
        ):
            raise OAError(ZNS_PHONE, "Phone number invalid")
        if user_id is not None and not (isinstance(user_id, str) and user_id):
            raise OAError(ERR_PARAM, "user_id must be a non-empty string")
        tracking_id = body.get("tracking_id")
        if not isinstance(tracking_id, str) or not tracking_id:
            raise OAError(ERR_PARAM, "tracking_id is required")
        self._roll_periods()
        if self._zns_used >= self.zns_daily_quota:
            raise OAError(ZNS_QUOTA, "Out of quota")
        self._zns_used += 1
        msg_id = uuid.uuid4().hex
        self.zns_sent.append(
            {
                "template_id": template_id,
                "template_data": dict(data),
                "tracking_id": tracking_id,
                "phone": phone,
                "user_id": user_id,
                "msg_id": msg_id,
                "at": self.now,
            }
        )
        return {
            "msg_id": msg_id,
            "sent_time": self._ms(),
            "quota": {
                "dailyQuota": str(self.zns_daily_quota),
                "remainingQuota": str(self.zns_daily_quota - self._zns_used),
            },
        }

    def _quota(self, body: JSON) -> JSON:
        self._roll_periods()
        return self._pool_quota()

    # --- /_fake control API (for other processes) -------------------------------------------

    @staticmethod
    def _json(data: Any) -> web.Response:
        return web.json_response(data, dumps=partial(json.dumps, default=_jsonable))

    async def _ctl_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return self._json({"ok": True})

    async def _ctl_outbox(self, request: web.Request) -> web.Response:
        sent = self.sent
        if "user_id" in request.query:
            sent = self.messages_to(request.query["user_id"])
        return self._json(
            {
                "ok": True,
                "now": self.now,
                "sent": sent,
                "zns_sent": self.zns_sent,
                "rejected": self.rejected,
                "refresh_calls": self.refresh_calls,
                "reused_refresh_tokens": self.reused_refresh_tokens,
                "webhook_disabled": self._webhook_disabled,
                "webhook_deliveries": [asdict(d) for d in self.webhook_deliveries],
            }
        )

    async def _ctl_inject(self, request: web.Request) -> web.Response:
        """Body: {event: user_send_text|follow|unfollow|user_submit_info, user_id, text?,
        info?, display_name?, delay_ok_ms?, bad_signature?} | {replay: event}."""
        b = await request.json()
        if "replay" in b:
            self.replay(b["replay"])
            return self._json({"ok": True, "event": b["replay"]})
        kind, user_id = b.get("event", "user_send_text"), str(b["user_id"])
        if b.get("delay_ok_ms") is not None:  # a one-off ack deadline for this event
            self._one_off_deadline = float(b["delay_ok_ms"]) / 1000
        if b.get("bad_signature"):
            event = self.inject_bad_signature(user_id, b.get("text", ""))
        elif kind == "user_send_text":
            name = b.get("display_name", "Zalo User")
            event = self.inject_text(user_id, b["text"], display_name=name)
        elif kind == "follow":
            event = self.inject_follow(user_id, display_name=b.get("display_name", "Zalo User"))
        elif kind == "unfollow":
            event = self.inject_unfollow(user_id)
        elif kind == "user_submit_info":
            event = self.inject_submit_info(user_id, b.get("info") or {})
        else:
            self._one_off_deadline = None
            return self._json({"ok": False, "description": f"unknown event {kind}"})
        return self._json({"ok": True, "event": event})

    async def _ctl_fail(self, request: web.Request) -> web.Response:
        """Body: {endpoint, count?, error?, message?} or {endpoint, count?, status, body?,
        delay?} for a bare HTTP answer."""
        b = await request.json()
        count = int(b.get("count", 1))
        if "status" in b:
            self.fail_next_http(
                b["endpoint"],
                count,
                status=int(b["status"]),
                body=b.get("body", "<html><body>Error</body></html>"),
                delay=float(b.get("delay", 0.0)),
            )
        else:
            self.fail_next(
                b["endpoint"],
                count,
                error=int(b.get("error", -32)),
                message=b.get("message", "Injected failure"),
            )
        return self._json({"ok": True})

    async def _ctl_clock(self, request: web.Request) -> web.Response:
        """Body: {advance: seconds} or {now: ISO 8601 with offset}."""
        b = await request.json()
        if "now" in b:
            self.now = datetime.fromisoformat(b["now"]).astimezone(UTC)
        if "advance" in b:
            self.advance(float(b["advance"]))
        return self._json({"ok": True, "now": self.now})

    async def _ctl_webhook(self, request: web.Request) -> web.Response:
        """Body: {url: str | null, enable?: bool} (the OA console's webhook settings)."""
        b = await request.json()
        if "url" in b:
            self.webhook_url = b["url"] or None
        if b.get("enable"):
            self.webhook_disabled = False
        return self._json({"ok": True, "url": self.webhook_url, "disabled": self.webhook_disabled})

    async def _ctl_expire(self, request: web.Request) -> web.Response:
        self.expire_access_token()
        return self._json({"ok": True})


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
