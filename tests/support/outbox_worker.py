"""A delivery worker in a process of its own, for the crash and several-workers tests.

    python -m tests.support.outbox_worker DB_URL BASE_URL [--token T] [--rate R]
        [--max-in-flight N] [--per-chat-interval S] [--lease S]

Runs the real DeliveryWorker (its run() loop) with the real TelegramChannel against BASE_URL
(the fake Bot API) and drains continuously until it is killed. Prints "ready <worker id>" once
the channel is up.
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from bot.channels.telegram import TelegramChannel
from bot.config import TelegramConfig
from bot.outbox import DeliveryWorker
from models.db import create_engine, session_factory, utcnow
from tests.fakes.telegram_api import DEFAULT_TOKEN


async def main(args: argparse.Namespace) -> None:
    engine = create_engine(args.db_url)
    channel = TelegramChannel(
        TelegramConfig(token=args.token, base_url=args.base_url, rate_per_second=args.rate)
    )
    await channel.bot.initialize()
    worker = DeliveryWorker(
        session_factory(engine),
        {channel.name: channel},
        utcnow,
        poll_interval=0.05,
        max_in_flight=args.max_in_flight,
        per_chat_interval=args.per_chat_interval,
        lease_seconds=args.lease,
    )
    print("ready", worker.worker_id, flush=True)
    try:
        await worker.run()
    finally:
        await channel.bot.shutdown()
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("db_url")
    parser.add_argument("base_url")
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--rate", type=float, default=0.0, help="overall sends/s; 0: no limit")
    parser.add_argument("--max-in-flight", type=int, default=30)
    parser.add_argument("--per-chat-interval", type=float, default=0.0)
    parser.add_argument("--lease", type=float, default=60.0)
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(main(parser.parse_args()))
