"""A small client of our own for the Zalo Official Account Open API v3 (no third-party SDK).

Zalo's OA refresh tokens are single-use: a refresh returns a new one and the old one dies. A
refresh token sent twice (two tasks, two processes, a retry after a timeout) can lose the OA's
authorisation until an admin grants it again. So every refresh goes through one asyncio.Lock
in-process and through ``TokenStore.rotate`` across processes, the store persists the new pair
before anyone uses it, and this client refuses to send a refresh token it has already sent.

OpenAPI calls answer HTTP 200 with ``{"error": 0, "message", "data"}``; the ``error`` field, not
the HTTP status, tells success from failure. Tokens and secrets never go into exception
messages or logs.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import aiohttp

from bot import logs

log = logging.getLogger(__name__)

JSON = dict[str, Any]

SIGNATURE_HEADER = "X-ZEvent-Signature"
MAX_TEXT = 2000  # /message/cs text cap (eSMS docs; elizaos truncates there too)
TOKEN_EXPIRED = -216
WINDOW_CODES = frozenset({-230, -213})  # no interaction for 7 days / not (or no longer) reachable
BUTTON_TYPE = "oa.query.hide"  # a tap comes back as a user_send_text whose text is the payload
# Used when a token answer carries new tokens but an unreadable expires_in: keeping the new
# refresh token matters more than a precise expiry (the old one is already spent).
FALLBACK_EXPIRES_IN = 3600


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class OATokens:
    """One access/refresh pair; repr hides the tokens so a logged object leaks nothing."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime  # aware, UTC


class TokenStore(Protocol):
    """Durable home of the OA tokens, shared by every process of the bot."""

    async def load(self) -> OATokens | None: ...

    async def rotate(
        self, stale_access: str | None, exchange: Callable[[str], Awaitable[OATokens]]
    ) -> OATokens:
        """Under the store's own lock: if the stored access token is not `stale_access`
        and is still valid beyond the margin the store was configured with, return it
        (another task/process refreshed already). Otherwise call exchange(stored refresh
        token), persist the result durably (committed) BEFORE returning it, and return it."""
        ...


class ZaloOAError(Exception):
    """Zalo answered with a nonzero ``error``; ``code`` is Zalo's (0 when Zalo gave none)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"Zalo OA error {code}: {message}")
        self.code = code
        self.message = message


class WindowClosed(ZaloOAError):
    """The user cannot get a CS message now (-230: silent for 7 days; -213): use ZNS or wait."""


class OATransientError(ZaloOAError):
    """Network error, timeout, 5xx or an unreadable answer: worth retrying later.

    ``request_sent`` is False only when the connection was never made, so a retry cannot
    duplicate anything; otherwise the call may or may not have taken effect.
    """

    def __init__(self, code: int, message: str, *, request_sent: bool = True) -> None:
        super().__init__(code, message)
        self.request_sent = request_sent


def _error_for(code: int, message: str) -> ZaloOAError:
    if code in WINDOW_CODES:
        return WindowClosed(code, message)
    return ZaloOAError(code, message)


def _as_int(value: Any) -> int | None:
    """Zalo sends numbers as ints or as strings ("90000"); bools are neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


class ZaloOAClient:
    """Token handling plus the few OA calls the bot needs, over a shared aiohttp session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        app_id: str,
        app_secret: str,
        store: TokenStore,
        oauth_url: str = "https://oauth.zaloapp.com",
        api_url: str = "https://openapi.zalo.me",
        business_url: str = "https://business.openapi.zalo.me",
        clock: Callable[[], datetime] = utcnow,
        refresh_margin: timedelta = timedelta(hours=1),
        request_timeout: float = 30.0,
    ) -> None:
        self._session = session
        self._app_id = app_id
        self._app_secret = app_secret
        logs.protect([app_secret])
        self._store = store
        self._oauth_url = oauth_url.rstrip("/")
        self._api_url = api_url.rstrip("/")
        self._business_url = business_url.rstrip("/")
        self._clock = clock
        self._margin = refresh_margin
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._lock = asyncio.Lock()
        self._tokens: OATokens | None = None
        # Digests (not the tokens) of every refresh token this client has sent.
        self._spent: set[str] = set()
        # Recent tokens, only to scrub them out of anything Zalo echoes back at us.
        self._recent: deque[str] = deque(maxlen=8)

    # --- tokens ------------------------------------------------------------------------------

    async def access_token(self) -> str:
        """The current access token, refreshed once it is within `refresh_margin` of expiry."""
        tokens = self._tokens
        if tokens is None:
            tokens = await self._store.load()
            if tokens is None:
                raise ZaloOAError(0, "no OA tokens stored: the OA admin must grant access first")
            if self._tokens is None:  # a concurrent refresh may have won meanwhile
                self._tokens = tokens
            self._remember(tokens)
        if tokens.expires_at - self._clock() < self._margin:
            tokens = await self.refresh(stale=tokens.access_token)
        return tokens.access_token

    async def refresh(self, stale: str | None = None) -> OATokens:
        """Make sure a token other than `stale` and valid beyond the margin is in use.

        Waiters on the lock usually find that the first task already refreshed, and the
        store does the same check across processes, so one expiry costs one exchange.
        """
        async with self._lock:
            cached = self._tokens
            if cached is not None and cached.access_token != stale and self._fresh(cached):
                return cached
            tokens = await self._store.rotate(stale, self._exchange)
            self._tokens = tokens
            self._remember(tokens)
            return tokens

    def _fresh(self, tokens: OATokens) -> bool:
        return tokens.expires_at - self._clock() >= self._margin

    def _remember(self, tokens: OATokens) -> None:
        self._recent.append(tokens.access_token)
        self._recent.append(tokens.refresh_token)
        logs.protect([tokens.access_token, tokens.refresh_token])

    async def _exchange(self, refresh_token: str) -> OATokens:
        """One refresh_token grant. Never sends the same refresh token twice."""
        digest = hashlib.sha256(refresh_token.encode()).hexdigest()
        if digest in self._spent:
            raise ZaloOAError(
                0, "refusing to send a refresh token that was already sent once (single-use)"
            )
        self._spent.add(digest)
        self._recent.append(refresh_token)
        url = f"{self._oauth_url}/v4/oa/access_token"
        form = {
            "app_id": self._app_id,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        }
        try:
            body = await self._post(url, headers={"secret_key": self._app_secret}, form=form)
        except OATransientError as exc:
            if not exc.request_sent:  # never left this host: the token is still unused
                self._spent.discard(digest)
            raise
        code = _as_int(body.get("error"))
        if code:
            text = body.get("error_description") or body.get("message") or body.get("error_name")
            raise ZaloOAError(code, self._scrub(str(text or "token refresh failed")))
        access, refresh = body.get("access_token"), body.get("refresh_token")
        if not isinstance(access, str) or not access or not isinstance(refresh, str) or not refresh:
            raise OATransientError(0, "token answer lacks access_token/refresh_token")
        expires_in = _as_int(body.get("expires_in"))
        if expires_in is None or expires_in <= 0:
            log.warning(
                "Zalo token answer has no usable expires_in; assuming %ss", FALLBACK_EXPIRES_IN
            )
            expires_in = FALLBACK_EXPIRES_IN
        tokens = OATokens(access, refresh, self._clock() + timedelta(seconds=expires_in))
        self._remember(tokens)
        log.info("Zalo OA tokens refreshed; access token expires at %s", tokens.expires_at)
        return tokens

    # --- OpenAPI calls -----------------------------------------------------------------------

    async def send_cs(
        self, user_id: str, text: str, buttons: list[tuple[str, str]] | None = None
    ) -> JSON:
        """A consultation ("tư vấn") message; buttons are (title, payload) pairs whose tap
        comes back as a hidden user_send_text carrying the payload. Returns Zalo's ``data``
        (message_id, user_id, quota)."""
        if not text.strip():
            raise ValueError("Zalo CS message text is empty")
        if len(text) > MAX_TEXT:
            raise ValueError(f"Zalo CS message text is {len(text)} chars; the cap is {MAX_TEXT}")
        message: JSON = {"text": text}
        if buttons:
            for title, payload in buttons:
                if not title.strip() or not payload:
                    raise ValueError("Zalo button title and payload must be non-empty")
            message["attachment"] = {
                "type": "template",
                "payload": {
                    "buttons": [
                        {"title": title, "type": BUTTON_TYPE, "payload": payload}
                        for title, payload in buttons
                    ]
                },
            }
        body = {"recipient": {"user_id": user_id}, "message": message}
        return await self._call(f"{self._api_url}/v3.0/oa/message/cs", body)

    async def send_zns(
        self,
        template_id: str,
        template_data: dict[str, str],
        *,
        tracking_id: str,
        user_id: str | None = None,
        phone: str | None = None,
    ) -> JSON:
        """A ZNS / ZBS template message, the only paid way to reach a user silent for 7 days.
        Exactly one of `user_id` or `phone` (``84…``). Returns ``data`` (msg_id, quota…)."""
        if (user_id is None) == (phone is None):
            raise ValueError("send_zns needs exactly one of user_id or phone")
        body: JSON = {
            "template_id": template_id,
            "template_data": template_data,
            "tracking_id": tracking_id,
        }
        if user_id is not None:
            body["user_id"] = user_id
        else:
            body["phone"] = phone
        return await self._call(f"{self._business_url}/message/template", body)

    async def quota(self, query: JSON | None = None) -> JSON:
        """The OA's message quota, to look at before a broadcast."""
        return await self._call(f"{self._api_url}/v3.0/oa/quota/message", query or {})

    async def _call(self, url: str, body: JSON) -> JSON:
        """POST one OpenAPI call; on -216 refresh once (rejected token as `stale`), retry once."""
        token = await self.access_token()
        answer = await self._post(url, headers={"access_token": token}, json_body=body)
        if _as_int(answer.get("error")) == TOKEN_EXPIRED:
            log.info("Zalo access token rejected as expired; refreshing and retrying once")
            token = (await self.refresh(stale=token)).access_token
            answer = await self._post(url, headers={"access_token": token}, json_body=body)
        code = _as_int(answer.get("error"))
        if code is None:
            raise OATransientError(0, f"answer from {_path(url)} has no error code")
        if code != 0:
            raise _error_for(code, self._scrub(str(answer.get("message") or "")))
        data = answer.get("data")
        return data if isinstance(data, dict) else {}

    # --- HTTP --------------------------------------------------------------------------------

    async def _post(
        self,
        url: str,
        *,
        headers: dict[str, str],
        json_body: JSON | None = None,
        form: dict[str, str] | None = None,
    ) -> JSON:
        """POST and parse a JSON object; anything else is an OATransientError naming only the
        path (never headers, bodies or the underlying exception's text)."""
        where = _path(url)
        try:
            async with self._session.post(
                url, headers=headers, json=json_body, data=form, timeout=self._timeout
            ) as resp:
                status = resp.status
                raw = await resp.read()
        except aiohttp.ClientConnectorError:
            raise OATransientError(0, f"cannot connect for {where}", request_sent=False) from None
        except TimeoutError:
            raise OATransientError(0, f"timeout on {where}") from None
        except aiohttp.ClientError as exc:
            raise OATransientError(0, f"network error on {where}: {type(exc).__name__}") from None
        if status >= 500:
            raise OATransientError(0, f"HTTP {status} from {where}")
        try:
            parsed = json.loads(raw)
        except ValueError:
            raise OATransientError(0, f"unparsable answer (HTTP {status}) from {where}") from None
        if not isinstance(parsed, dict):
            raise OATransientError(0, f"unexpected answer (HTTP {status}) from {where}")
        return parsed

    def _scrub(self, text: str) -> str:
        """Zalo's messages are shown to us verbatim; make sure none of our secrets ride along."""
        for secret in (self._app_secret, *self._recent):
            if secret:
                text = text.replace(secret, "***")
        return text[:500]


def _path(url: str) -> str:
    """Host and path only: enough to debug, and our URLs never carry secrets anyway."""
    return url.split("://", 1)[-1].split("?", 1)[0]


def verify_signature(raw: bytes, header: str | None, *, app_id: str, oa_secret_key: str) -> bool:
    """Check ``X-ZEvent-Signature`` on a webhook body, before anything re-serialises it.

    Zalo signs ``sha256(app_id + raw body + timestamp + OA secret key)`` (plain SHA-256 of the
    concatenation, not HMAC), with `app_id` and `timestamp` read from the body; the header is
    ``mac=<hex>`` or bare ``<hex>``. Malformed input of any kind is simply False.
    """
    try:
        if not header or not app_id or not oa_secret_key or not isinstance(raw, bytes):
            return False
        body = json.loads(raw.decode("utf-8"))
        if not isinstance(body, dict):
            return False
        body_app, timestamp = body.get("app_id"), body.get("timestamp")
        if isinstance(body_app, bool) or not isinstance(body_app, str | int):
            return False
        if isinstance(timestamp, bool) or not isinstance(timestamp, str | int):
            return False
        if str(body_app) != app_id:
            return False
        mac = header.strip()
        if mac[:4].lower() == "mac=":
            mac = mac[4:].strip()
        expected = hashlib.sha256(
            app_id.encode() + raw + str(timestamp).encode() + oa_secret_key.encode()
        ).hexdigest()
        return hmac.compare_digest(expected.encode(), mac.lower().encode())
    except (ValueError, UnicodeError, TypeError, AttributeError):
        return False
