"""Secrets never reach a log line: every record's message and traceback is redacted.

The bot's tokens travel in URLs (Telegram's and Zalo's API paths) and in error texts, which
libraries log freely (httpx logs each request's URL at INFO). A record factory covers every
logger at once; the values are registered as soon as they are known (config, refreshed tokens).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

REDACTED = "<redacted>"
MIN_LENGTH = 6  # shorter values would redact ordinary words

_secrets: set[str] = set()


def protect(values: Iterable[str | None]) -> None:
    """Redact these values from every log record from now on."""
    _secrets.update(v for v in values if v and len(v) >= MIN_LENGTH)
    if logging.getLogRecordFactory() is not _RedactingRecord:
        logging.setLogRecordFactory(_RedactingRecord)


def protect_config(config: Any) -> None:
    """The secrets of a bot.config.Config (tokens, webhook secrets, the database password)."""
    tg, zb, oa = config.telegram, config.zalo_bot, config.zalo_oa
    password = urlsplit(config.database_url).password
    protect(
        [
            tg.token,
            tg.webhook_secret,
            zb.token,
            zb.webhook_secret,
            oa.app_secret,
            oa.oa_secret_key,
            oa.refresh_token,
            password,
        ]
    )


def redact(text: str) -> str:
    # Longest first, so a secret containing another is replaced whole.
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class _RedactingRecord(logging.LogRecord):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.exc_info and self.exc_info[0] is not None:
            # Formatters reuse exc_text when it is set: give them the redacted traceback.
            self.exc_text = redact("".join(traceback.format_exception(*self.exc_info)).rstrip())

    def getMessage(self) -> str:
        return redact(super().getMessage())
