"""python-telegram-bot's transport on aiohttp, sharing the application's session.

PTB's default transport (HTTPXRequest) cost about twice the CPU per call of this one in the
inbound benchmark (bench/inbound.py, RESULTS.md): 6.3 against 4.5 ms per update of the whole
bot, and for a stock echo bot 1.3 against 0.7 ms. The bot already has an aiohttp session
(bot.app.App.http, for the Zalo clients and the webhook server), so this is one HTTP stack, not
two. Errors map as PTB's own transport maps them: a timeout is TimedOut, any other client error
NetworkError (both retried by the outbox); HTTP statuses are PTB's to read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


class AiohttpRequest(BaseRequest):
    """PTB's BaseRequest on aiohttp: parameters form-encoded (as HTTPXRequest sends them),
    multipart when a file is uploaded. `session` is an aiohttp session to share (never closed
    here), or a callable giving it at initialize() (e.g. `lambda: app.http`, created when the
    application starts); without one, the request owns a session of its own."""

    def __init__(
        self,
        session: aiohttp.ClientSession | Callable[[], aiohttp.ClientSession | None] | None = None,
        *,
        read_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
    ) -> None:
        self._given = session
        self._session: aiohttp.ClientSession | None = None
        self._owned = False
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is not None and not self._session.closed:
            return
        given = self._given() if callable(self._given) else self._given
        if given is None:
            given, self._owned = aiohttp.ClientSession(), True
        self._session = given

    async def shutdown(self) -> None:
        if self._owned and self._session is not None:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        # Not given (PTB's DefaultValue): this request's own timeouts, as HTTPXRequest does.
        read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = (
            self._connect_timeout if isinstance(connect_timeout, DefaultValue) else connect_timeout
        )
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read)
        data: Any = None
        if request_data is not None:
            if request_data.contains_files:
                form = aiohttp.FormData()
                for name, value in request_data.json_parameters.items():
                    form.add_field(name, value)
                for name, part in request_data.multipart_data.items():
                    if isinstance(part, tuple):
                        filename, content, *rest = part
                        form.add_field(
                            name,
                            content,
                            filename=filename,
                            content_type=rest[0] if rest else None,
                        )
                    else:
                        form.add_field(name, part)
                data = form
            else:
                data = request_data.json_parameters
        try:
            async with self._session.request(
                method,
                url,
                data=data,
                headers={"User-Agent": self.USER_AGENT},
                timeout=timeout,
            ) as resp:
                return resp.status, await resp.read()
        except TimeoutError as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{type(err).__name__}: {err}") from err
