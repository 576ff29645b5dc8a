"""Many linked members at once (bulk inserts), for the broadcast, soak and benchmark runs."""

from __future__ import annotations

from sqlalchemy import insert, select

from handlers.text import fold
from models.db import create_engine, session_factory, utcnow
from models.orgs import ensure_unit
from models.tables import Identity, Member

PARENT = "Đảng bộ xã Hưng Bình"


async def linked_members(db_url: str, count: int, *, cells: int, first_chat: int) -> list[int]:
    """`count` members named "Đảng viên NNNN" in `cells` new chi bộ ("Chi bộ khu k") of the
    example đảng bộ, each with a Telegram account whose chat id is first_chat + n.
    Returns the chat ids."""
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as s, s.begin():
            now = utcnow()
            units = [
                await ensure_unit(s, f"{PARENT}/Chi bộ khu {c + 1}", now) for c in range(cells)
            ]
            await s.execute(
                insert(Member),
                [
                    {
                        "unit_id": units[i % cells].id,
                        "full_name": f"Đảng viên {i:05d}",
                        "name_key": fold(f"Đảng viên {i:05d}"),
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(count)
                ],
            )
            ids = await s.scalars(
                select(Member.id).where(Member.name_key.like("dang vien %")).order_by(Member.id)
            )
            await s.execute(
                insert(Identity),
                [
                    {
                        "member_id": member_id,
                        "channel": "telegram",
                        "user_id": str(first_chat + n),
                        "chat_id": str(first_chat + n),
                        "created_at": now,
                        "last_inbound_at": now,
                    }
                    for n, member_id in enumerate(ids)
                ],
            )
    finally:
        await engine.dispose()
    return [first_chat + n for n in range(count)]
