"""A small async client of the Zalo Bot API (``https://bot-api.zaloplatforms.com``).

Our own, on aiohttp, because every published Zalo Bot SDK is young, sync or tied to httpx, the
API is tiny, and the tests point the base URL at a loopback fake.  Every method is
``POST {base_url}/bot{token}/{method}`` with a JSON body; answers are ``{ok, result}`` or
``{ok: false, error_code, description}``.

The token sits in the URL path, so it is redacted from every error message this module builds,
and aiohttp's own exceptions (which carry the URL) are never chained.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any
from urllib.parse import quote

import aiohttp

from bot import logs

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://bot-api.zaloplatforms.com"
MAX_TEXT = 2000  # sendMessage text and sendPhoto caption: 1–2000 characters
SECRET_MIN, SECRET_MAX = 8, 256  # setWebhook secret_token length
POLL_TIMEOUT_CODE = 408  # getUpdates with nothing to deliver answers HTTP 408 "Request timeout"
REDACTED = "<redacted>"


class ZaloBotError(Exception):
    """A failed Zalo Bot API call; subclasses say whether retrying can help."""

    def __init__(
        self,
        description: str,
        *,
        status: int | None = None,
        error_code: int | None = None,
        method: str | None = None,
    ) -> None:
        self.status = status
        self.error_code = error_code
        self.description = description
        self.method = method
        where = f"{method}: " if method else ""
        codes = []
        if status is not None:
            codes.append(f"HTTP {status}")
        if error_code is not None and error_code != status:
            codes.append(f"error_code {error_code}")
        suffix = f" ({', '.join(codes)})" if codes else ""
        super().__init__(f"{where}{description}{suffix}")


class ZaloAuthError(ZaloBotError):
    """401: the token is wrong or was reset in Zalo Bot Creator. Retrying cannot help."""


class ZaloQuotaError(ZaloBotError):
    """429 "Quota exceeded": the plan's message quota is spent. No Retry-After is sent."""


class ZaloClientError(ZaloBotError):
    """Any other 4xx, or ``ok: false``: the request itself is wrong. Do not retry it as is."""


class ZaloTransientError(ZaloBotError):
    """5xx, a request timeout, a network failure or an unreadable answer: worth a retry."""


def redact(text: str, token: str) -> str:
    """``text`` with the token (plain or URL-quoted, and its secret half) replaced."""
    if not token:
        return text
    variants = {token, quote(token, safe=""), quote(token, safe=":")}
    secret = token.partition(":")[2]
    if len(secret) >= 8:  # the secret half alone is as sensitive as the whole token
        variants |= {secret, quote(secret, safe="")}
    for variant in sorted(variants, key=len, reverse=True):
        text = text.replace(f"bot{variant}", f"bot{REDACTED}").replace(variant, REDACTED)
    return text


def unwrap_update(body: dict[str, Any]) -> dict[str, Any]:
    """One update from a webhook body or a getUpdates answer, whichever shape Zalo sent.

    The docs show ``{"ok": true, "result": {event_name, message}}``; production webhooks were
    observed sending the bare ``{event_name, message}``.
    """
    result = body.get("result")
    if body.get("ok") is True and isinstance(result, dict):
        return result
    return body


def _error_class(code: int | None) -> type[ZaloBotError]:
    if code == 401:
        return ZaloAuthError
    if code == 429:
        return ZaloQuotaError
    if code == POLL_TIMEOUT_CODE or (code is not None and code >= 500):
        return ZaloTransientError  # a server-side timeout is as retryable as a 5xx
    return ZaloClientError


class ZaloBotClient:
    """The Zalo Bot API methods we use, on a shared aiohttp session.

    Validation that Zalo documents (text length, secret length) happens here, before any
    request, so a programming error costs no quota and reads as a ValueError.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        token: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        request_timeout: float = 15.0,
    ) -> None:
        self._session = session
        self._token = token
        logs.protect([token])  # it sits in every URL
        self._base_url = base_url.rstrip("/")
        self._request_timeout = request_timeout

    def __repr__(self) -> str:
        return f"ZaloBotClient(base_url={self._base_url!r})"

    @property
    def base_url(self) -> str:
        return self._base_url

    def redact(self, text: str) -> str:
        """``text`` safe to log: this client's token removed."""
        return redact(text, self._token)

    # --- methods -------------------------------------------------------------------------

    async def get_me(self) -> dict[str, Any]:
        """The bot's own account: ``{id, account_name, account_type, can_join_groups}``."""
        return self._as_dict("getMe", await self._call("getMe", {}))

    # `timeout` is Zalo's long-poll parameter, not ours to replace by asyncio.timeout.
    async def get_updates(self, timeout: int) -> list[dict[str, Any]]:  # noqa: ASYNC109
        """One long poll. Zalo hands out one update per call and answers 408 when idle.

        Returns the updates unwrapped, ``[]`` when the poll timed out. A list ``result`` is
        accepted too, in case Zalo starts batching.
        """
        try:
            result = await self._call(
                "getUpdates",
                {"timeout": str(timeout)},  # documented as a string
                http_timeout=timeout + self._request_timeout,  # outlive the server's wait
            )
        except ZaloBotError as err:
            if POLL_TIMEOUT_CODE in (err.status, err.error_code):
                return []
            raise
        items = result if isinstance(result, list) else [result]
        return [unwrap_update(u) for u in items if isinstance(u, dict) and u]

    async def send_message(self, chat_id: str, text: str) -> dict[str, Any]:
        """Send one text message (1–2000 chars: splitting longer text is the caller's job).

        Returns ``{message_id, date}`` (date in milliseconds).
        """
        _check_chat(chat_id)
        if not text.strip():
            raise ValueError("Zalo refuses an empty message")
        if len(text) > MAX_TEXT:
            raise ValueError(f"Zalo messages are at most {MAX_TEXT} characters, got {len(text)}")
        params = {"chat_id": chat_id, "text": text}
        return self._as_dict("sendMessage", await self._call("sendMessage", params))

    async def send_photo(
        self, chat_id: str, photo_url: str, caption: str | None = None
    ) -> dict[str, Any]:
        """Send an image by URL (Zalo fetches it), with an optional caption of ≤ 2000 chars."""
        _check_chat(chat_id)
        if not photo_url:
            raise ValueError("sendPhoto needs a photo URL")
        params: dict[str, Any] = {"chat_id": chat_id, "photo": photo_url}
        if caption:
            if len(caption) > MAX_TEXT:
                raise ValueError(f"Zalo captions are at most {MAX_TEXT} characters")
            params["caption"] = caption
        return self._as_dict("sendPhoto", await self._call("sendPhoto", params))

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> None:
        """Show "typing…" (the only documented action; upload_photo is "coming soon")."""
        _check_chat(chat_id)
        await self._call("sendChatAction", {"chat_id": chat_id, "action": action})

    async def set_webhook(self, url: str, secret_token: str) -> dict[str, Any]:
        """Have Zalo POST updates to ``url`` with header ``X-Bot-Api-Secret-Token``.

        Zalo requires HTTPS; that is left to Zalo, so a loopback fake can use plain HTTP.
        """
        if not url:
            raise ValueError("setWebhook needs a URL")
        if not SECRET_MIN <= len(secret_token) <= SECRET_MAX:
            raise ValueError(f"the webhook secret must be {SECRET_MIN}–{SECRET_MAX} characters")
        params = {"url": url, "secret_token": secret_token}
        return self._as_dict("setWebhook", await self._call("setWebhook", params))

    async def delete_webhook(self) -> dict[str, Any]:
        """Stop webhook delivery (getUpdates only works without a webhook)."""
        return self._as_dict("deleteWebhook", await self._call("deleteWebhook", {}))

    async def get_webhook_info(self) -> dict[str, Any] | None:
        """``{url, updated_at}``, or None when no webhook is set (Zalo answers 404 then)."""
        try:
            result = await self._call("getWebhookInfo", {})
        except ZaloClientError as err:
            if err.status == 404:
                return None
            raise
        return self._as_dict("getWebhookInfo", result)

    # --- plumbing ------------------------------------------------------------------------

    async def _call(
        self, method: str, params: dict[str, Any], *, http_timeout: float | None = None
    ) -> Any:
        """POST one method; the ``result`` on success (None when absent), else a ZaloBotError.

        aiohttp exceptions become a redacted ZaloTransientError raised outside the ``except``
        block, so they are not chained: their text and traceback can show the URL (the token).
        """
        url = f"{self._base_url}/bot{self._token}/{method}"
        total = self._request_timeout if http_timeout is None else http_timeout
        failure: str
        try:
            async with self._session.post(
                url, json=params, timeout=aiohttp.ClientTimeout(total=total)
            ) as resp:
                status = resp.status
                raw = await resp.read()
        except TimeoutError:
            failure = f"no answer within {total:g}s"
        except aiohttp.ClientError as exc:
            failure = f"{type(exc).__name__}: {exc}"
        else:
            return self._result(method, status, raw)
        log.debug("zalo %s failed: %s", method, self.redact(failure))
        raise ZaloTransientError(self.redact(failure), method=method) from None

    def _result(self, method: str, status: int, raw: bytes) -> Any:
        body: Any = None
        with contextlib.suppress(ValueError):  # includes JSON and UTF-8 decoding errors
            body = json.loads(raw)
        if not isinstance(body, dict):
            snippet = self.redact(raw[:200].decode("utf-8", "replace"))
            if status >= 400:  # e.g. a proxy's HTML error page: the status still says enough
                raise _error_class(status)(snippet or "no body", status=status, method=method)
            raise ZaloTransientError(
                f"unreadable answer: {snippet!r}", status=status, method=method
            )
        error_code = body.get("error_code")
        if not isinstance(error_code, int) or isinstance(error_code, bool):
            error_code = None
        if status >= 400 or body.get("ok") is not True:
            description = self.redact(str(body.get("description") or "no description"))
            code = status if status >= 400 else error_code
            log.debug("zalo %s → HTTP %s %s", method, status, description)
            raise _error_class(code)(
                description, status=status, error_code=error_code, method=method
            )
        return body.get("result")

    @staticmethod
    def _as_dict(method: str, result: Any) -> dict[str, Any]:
        if not isinstance(result, dict):
            raise ZaloTransientError(f"unexpected result {type(result).__name__}", method=method)
        return result


def _check_chat(chat_id: str) -> None:
    # Zalo ids are opaque strings; an int here means an id was parsed somewhere upstream.
    if not isinstance(chat_id, str) or not chat_id:
        raise ValueError(f"chat_id must be a non-empty string, got {chat_id!r}")
