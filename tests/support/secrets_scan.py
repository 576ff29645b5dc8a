"""Every log record of the whole suite is read for the secrets the tests hand to the bot (tokens,
webhook secrets, the Zalo OA tokens the fake issues). conftest installs the scanner on the root
logger at INFO and fails the session if one was seen, naming the logger and the line."""

from __future__ import annotations

import logging

_known: set[str] = set()


def known(*values: str | None) -> None:
    """Secrets a test or a fake gave out: none may ever appear in a log line."""
    _known.update(v for v in values if v)


class Scanner(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.leaks: list[str] = []
        self.records = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.records += 1
        text = self.format(record)
        for secret in _known:
            if secret in text:
                where = f"{record.name} ({record.pathname}:{record.lineno})"
                self.leaks.append(f"{where}: {text.replace(secret, '«SECRET»')[:300]}")
