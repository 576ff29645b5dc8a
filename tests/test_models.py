"""Model operations that the flows rely on, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import invites
from models.orgs import ensure_unit, find_unit, full_name, subtree
from models.themes import set_theme, theme_for

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


async def test_themes_are_inherited_from_the_nearest_ancestor(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as s, s.begin():
        province = await ensure_unit(s, "Tỉnh ủy A", NOW)
        commune = await ensure_unit(s, "Tỉnh ủy A/Đảng bộ xã B", NOW)
        cell = await ensure_unit(s, "Tỉnh ủy A/Đảng bộ xã B/Chi bộ 1", NOW)
        other = await ensure_unit(s, "Tỉnh ủy A/Đảng bộ xã C/Chi bộ 9", NOW)
        assert cell.kind == "chi_bo" and commune.kind == "dang_bo"
        assert await full_name(s, cell) == "Tỉnh ủy A/Đảng bộ xã B/Chi bộ 1"
        assert await theme_for(s, cell, 2026) is None
        await set_theme(s, province, year=2026, until_year=2027, title="Toàn tỉnh", now=NOW)
        await set_theme(s, commune, year=2026, title="Riêng xã B", now=NOW)
        theme = await theme_for(s, cell, 2026)
        assert theme is not None and theme.title == "Riêng xã B"
        theme = await theme_for(s, other, 2026)
        assert theme is not None and theme.title == "Toàn tỉnh"
        theme = await theme_for(s, cell, 2027)  # the province's theme spans two years
        assert theme is not None and theme.title == "Toàn tỉnh"
        assert await theme_for(s, cell, 2028) is None
        # setting it again updates rather than duplicates
        await set_theme(s, commune, year=2026, title="Riêng xã B (sửa)", now=NOW)
        theme = await theme_for(s, cell, 2026)
        assert theme is not None and theme.title == "Riêng xã B (sửa)"
        names = [u.name for u in await subtree(s, commune)]
        assert names == ["Đảng bộ xã B", "Chi bộ 1"]
        assert await find_unit(s, "Tỉnh ủy A / Đảng bộ xã B ") is not None
        assert await find_unit(s, "Đảng bộ xã B") is None  # paths start at the root


async def test_a_term_wide_theme_sits_beside_the_yearly_ones_and_adopts_them(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as s, s.begin():
        province = await ensure_unit(s, "Tỉnh ủy A", NOW)
        commune = await ensure_unit(s, "Tỉnh ủy A/Đảng bộ xã B", NOW)
        cell = await ensure_unit(s, "Tỉnh ủy A/Đảng bộ xã B/Chi bộ 1", NOW)
        early = await set_theme(s, commune, year=2026, title="Năm 2026 của xã", now=NOW)
        outside = await set_theme(s, commune, year=2031, title="Năm 2031", now=NOW)
        term = await set_theme(
            s, province, year=2026, until_year=2030, title="Toàn khóa", now=NOW, term=True
        )
        # The same unit and year may hold both kinds; a yearly theme published later hangs
        # under the term theme too.
        yearly = await set_theme(s, province, year=2026, title="Năm 2026 của tỉnh", now=NOW)
        assert early.parent_id == term.id and yearly.parent_id == term.id
        assert outside.parent_id is None
        found = await theme_for(s, cell, 2026)
        assert found is not None and found.id == early.id  # never the term theme
        found = await theme_for(s, cell, 2029, term=True)
        assert found is not None and found.id == term.id
        assert await theme_for(s, cell, 2029) is None


async def test_invites_are_reused_until_expiry_and_lockout_window(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as s, s.begin():
        unit = await ensure_unit(s, "X/Chi bộ Y", NOW)
        first = await invites.issue(s, unit, None, NOW, days=30)
        assert (
            await invites.issue(s, unit, None, NOW + timedelta(days=29), days=30)
        ).id == first.id
        later = await invites.issue(s, unit, None, NOW + timedelta(days=31), days=30)
        assert later.id != first.id
        reissued = await invites.issue(
            s, unit, None, NOW + timedelta(days=31), days=30, reissue=True
        )
        await s.refresh(later)
        assert reissued.id != later.id and later.revoked_at is not None
        window, lockout = timedelta(minutes=10), timedelta(minutes=30)
        for minute in range(4):
            await invites.record_failure(s, "t", "c", NOW + timedelta(minutes=minute))
        kw = {"attempts": 5, "window": window, "lockout": lockout}
        assert await invites.locked_until(s, "t", "c", NOW + timedelta(minutes=4), **kw) is None
        await invites.record_failure(s, "t", "c", NOW + timedelta(minutes=4))
        until = await invites.locked_until(s, "t", "c", NOW + timedelta(minutes=5), **kw)
        assert until == NOW + timedelta(minutes=34)
        assert await invites.locked_until(s, "t", "c", NOW + timedelta(minutes=35), **kw) is None


async def test_aware_times_in_any_zone_read_back_as_the_same_instant(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from zoneinfo import ZoneInfo

    from models.tables import MeetingOverride

    local = datetime(2026, 12, 5, 19, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    async with sessions() as s, s.begin():
        unit = await ensure_unit(s, "X/Chi bộ Z", NOW)
        s.add(MeetingOverride(unit_id=unit.id, period="2026-12", starts_at=local, created_at=NOW))
    async with sessions() as s:
        row = (await s.scalars(select(MeetingOverride))).one()
    assert row.starts_at == local and row.starts_at.utcoffset() == timedelta(0)


async def test_the_migrations_build_exactly_the_models(engine: object) -> None:
    """Alembic's autogenerate finds nothing to add: no model change lacks its migration."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy.ext.asyncio import AsyncEngine

    from models.tables import Base

    assert isinstance(engine, AsyncEngine)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    assert diff == []
