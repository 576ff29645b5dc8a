"""The real bot (`python -m bot run`) in a process of its own, for the kill and takeover tests.

It talks to a fake platform API on 127.0.0.1 and to the test's database; its log is collected
line by line so a test can wait for what the bot says ("this process leads").
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path

from tests.fakes.telegram_api import DEFAULT_TOKEN
from tests.support.platforms import ROOT, TELEGRAM_SECRET, free_port

LEADS = "this process leads"


def telegram_config(
    folder: Path,
    base_url: str,
    *,
    lease_seconds: float = 15,
    webhook: bool = False,
    port: int | None = None,
) -> tuple[Path, int]:
    """A config.toml for a bot on the fake Bot API; returns it and the webhook server's port."""
    port = port or free_port()
    mode = "webhook" if webhook else "polling"
    path = folder / f"bot-{port}.toml"
    path.write_text(
        f"""
[telegram]
mode = "{mode}"
base_url = "{base_url}"
username = "lamtheo_test_bot"
webhook_url = "http://127.0.0.1:{port}/telegram"
poll_timeout = 1
rate_per_second = 0
per_chat_interval = 0.05

[server]
port = {port}

[process]
lease_seconds = {lease_seconds}
""",
        encoding="utf-8",
    )
    return path, port


class BotProcess:
    def __init__(self, config: Path, db_url: str) -> None:
        self.config, self.db_url = config, db_url
        self.lines: list[str] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> BotProcess:
        env = {
            **os.environ,
            "LAMTHEO_DATABASE_URL": self.db_url,
            "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN,
            "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
            "PYTHONUNBUFFERED": "1",
        }
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(self.config),
            "run",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for line in self.proc.stdout:
            self.lines.append(line.decode(errors="replace").rstrip())

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def said(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    async def wait_for(self, text: str, timeout: float = 60) -> float:  # noqa: ASYNC109
        """Wait until the bot logs `text`; returns time.monotonic() when it was seen."""
        deadline = time.monotonic() + timeout
        while not self.said(text):
            if self.proc is not None and self.proc.returncode is not None:
                raise AssertionError(f"the bot exited ({self.proc.returncode}):\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the bot did not say {text!r}:\n{self.log()}")
            await asyncio.sleep(0.02)
        return time.monotonic()

    def log(self, last: int = 40) -> str:
        return "\n".join(self.lines[-last:])

    async def kill(self) -> None:
        """SIGKILL: no cleanup of any kind runs."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()
        await self._drain_reader()

    async def stop(self) -> int:
        """SIGTERM, the way a service manager stops the bot; returns the exit code."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.proc.wait(), 60)
        await self._drain_reader()
        return code

    async def _drain_reader(self) -> None:
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._reader, 5)
