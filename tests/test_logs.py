"""Secrets never reach the logs: the redacting record factory, and the suite-wide scanner that
checks it (conftest fails the whole run when any log line carried a secret)."""

from __future__ import annotations

import io
import logging

from bot import logs
from tests.support.secrets_scan import Scanner, known


def capture(name: str) -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger, out


def test_a_protected_value_is_redacted_from_messages_arguments_and_tracebacks() -> None:
    token = "987654:protected-token-for-the-log-test"
    logs.protect([token, None, "abc"])  # empty and too-short values are ignored
    logger, out = capture("lamtheo.test.redact")
    logger.info("HTTP Request: POST https://api.telegram.org/bot%s/getMe", token)
    try:
        raise RuntimeError(f"connect failed for /bot{token}/sendMessage")
    except RuntimeError:
        logger.exception("send failed")
    text = out.getvalue()
    assert token not in text
    assert text.count(logs.REDACTED) == 2  # the argument, and the exception in the traceback
    assert "getMe" in text and "Traceback" in text and "send failed" in text
    assert logs.redact("xx abc xx") == "xx abc xx"  # too short to protect


def test_the_database_password_and_every_channel_secret_are_protected() -> None:
    from bot.config import TelegramConfig, ZaloBotConfig, ZaloOAConfig

    class Config:
        database_url = "postgresql+asyncpg://lamtheo:pg-pass-1234@db.internal/lamtheo"
        telegram = TelegramConfig(token="111:tg-token-value", webhook_secret="tg-webhook-secret")
        zalo_bot = ZaloBotConfig(token="222:zb-token-value", webhook_secret="zb-webhook-secret")
        zalo_oa = ZaloOAConfig(app_secret="oa-app-secret", oa_secret_key="oa-secret-key")

    logs.protect_config(Config())
    line = " ".join(
        [
            "pg-pass-1234",
            "111:tg-token-value",
            "tg-webhook-secret",
            "222:zb-token-value",
            "zb-webhook-secret",
            "oa-app-secret",
            "oa-secret-key",
        ]
    )
    assert logs.redact(line) == " ".join([logs.REDACTED] * 7)


def test_the_scanner_reports_a_secret_that_was_not_redacted() -> None:
    scanner = Scanner()
    logger = logging.getLogger("lamtheo.test.scanner")
    logger.addHandler(scanner)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    known("never-protected-secret-value")
    logger.info("calling https://example.invalid/never-protected-secret-value/x")
    logger.info("an ordinary line")
    assert scanner.records == 2 and len(scanner.leaks) == 1
    assert "«SECRET»" in scanner.leaks[0] and "lamtheo.test.scanner" in scanner.leaks[0]


def test_a_channel_built_on_its_own_protects_its_token() -> None:
    """Not only the App: a channel (or client) used alone, as a test or a tool does."""
    from bot.channels.telegram import TelegramChannel
    from bot.config import TelegramConfig

    TelegramChannel(TelegramConfig(token="777:standalone-channel-token"))
    assert (
        logs.redact("POST /bot777:standalone-channel-token/getMe")
        == f"POST /bot{logs.REDACTED}/getMe"
    )
