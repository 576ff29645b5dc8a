"""The report's cache (unit_year_counts): filled by a report, invalidated by
the database triggers of migration 0009 on every write path. Each test builds the reports
(which fills the cache), changes the data through the model function the bot uses (or a bulk
Core statement), builds again, and compares with a computation from an empty cache; the change
must show in the report, so a missing invalidation fails the test."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import orgtree, pledges, privacy
from models import periods as pm
from models.reports import Report, build_reports
from models.tables import (
    Assessment,
    AssessmentEntry,
    Member,
    MemberPeriod,
    OrgUnit,
    Pledge,
    PledgeItem,
    UnitVersion,
    unit_year_counts,
)
from tests.test_reports import MONTHS, NOW, PERIOD, YEAR, Gen, generate, store

Change = Callable[[AsyncSession], Awaitable[None]]
ROOT = "Đảng bộ tỉnh Thử Nghiệm"


@pytest.fixture(scope="module")
def generated() -> Gen:
    return generate()


async def reports(sessions: async_sessionmaker[AsyncSession], uid: int) -> list[Report]:
    """The year's reports, the cache used and filled (committed, as the bot's handlers do)."""
    async with sessions() as s, s.begin():
        unit = await s.get(OrgUnit, uid)
        assert unit is not None
        return await build_reports(s, unit, year=YEAR, periods=MONTHS)


async def fresh(sessions: async_sessionmaker[AsyncSession], uid: int) -> list[Report]:
    """The same from an empty cache, rolled back."""
    async with sessions() as s, s.begin():
        await s.execute(delete(unit_year_counts))
        unit = await s.get(OrgUnit, uid)
        assert unit is not None
        found = await build_reports(s, unit, year=YEAR, periods=MONTHS)
        await s.rollback()
        return found


async def prepared(sessions: async_sessionmaker[AsyncSession], g: Gen) -> None:
    await store(sessions, g)
    async with sessions() as s, s.begin():
        if s.get_bind().dialect.name == "postgresql":  # the rows came with their ids
            for table in (Member, Pledge, PledgeItem, Assessment, AssessmentEntry, MemberPeriod):
                name = table.__tablename__
                await s.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), max(id))"
                        f" FROM {name}"
                    )
                )


async def counted_member(s: AsyncSession, *, assessed: bool) -> Member:
    """An active, non-exempt member of an open chi bộ of the province, with an approved pledge,
    not excused in the month, with (or without) a self-assessment for it."""
    has = select(Assessment.id).where(
        Assessment.member_id == Member.id, Assessment.period == PERIOD
    )
    excused = select(MemberPeriod.id).where(
        MemberPeriod.member_id == Member.id, MemberPeriod.period == PERIOD
    )
    approved = select(Pledge.id).where(
        Pledge.member_id == Member.id, Pledge.year == YEAR, Pledge.status == "approved"
    )
    stmt = (
        select(Member)
        .join(OrgUnit, OrgUnit.id == Member.unit_id)
        .where(
            OrgUnit.kind == "chi_bo",
            OrgUnit.closed_at.is_(None),
            OrgUnit.name.startswith("Chi bộ thôn"),
            Member.active.is_(True),
            Member.exempt.is_(False),
            has.exists() if assessed else ~has.exists(),
            ~excused.exists(),
            approved.exists(),
        )
        .order_by(Member.id)
    )
    member = (await s.scalars(stmt)).first()
    assert member is not None
    return member


async def approved_pledge(s: AsyncSession, member: Member) -> Pledge:
    pledge = await pledges.approved(s, member.id, YEAR)
    assert pledge is not None
    return pledge


async def submit(
    s: AsyncSession, member: Member, pledge_id: int, drafts: list[pm.EntryDraft]
) -> None:
    """The month's self-assessment, as the bot saves it."""
    await pm.save_assessment(
        s,
        member,
        period=PERIOD,
        pledge_id=pledge_id,
        entries=drafts,
        difficulties=None,
        late=False,
        now=NOW,
    )


async def new_assessment(s: AsyncSession) -> None:
    member = await counted_member(s, assessed=False)
    pledge = await approved_pledge(s, member)
    items = await s.scalars(select(PledgeItem.id).where(PledgeItem.pledge_id == pledge.id))
    await submit(s, member, pledge.id, [pm.EntryDraft(item, "done") for item in items])


async def edited_entries(s: AsyncSession) -> None:
    member = await counted_member(s, assessed=True)
    found = await pm.assessment(s, member.id, PERIOD)
    assert found is not None
    entries = await s.scalars(
        select(AssessmentEntry).where(AssessmentEntry.assessment_id == found.id)
    )
    drafts = [
        pm.EntryDraft(e.pledge_item_id, "not_yet" if e.status != "not_yet" else "done")
        for e in entries
    ]
    await submit(s, member, found.pledge_id, drafts)


async def bulk_status(s: AsyncSession) -> None:
    """A Core update of many entries at once."""
    of_month = select(Assessment.id).where(Assessment.period == PERIOD)
    await s.execute(
        update(AssessmentEntry)
        .where(AssessmentEntry.assessment_id.in_(of_month), AssessmentEntry.status == "doing")
        .values(status="done")
    )


async def approved_excuse(s: AsyncSession) -> None:
    member = await counted_member(s, assessed=True)
    mark = await pm.ensure_mark(s, member.id, PERIOD, NOW)
    mark.excuse = "approved"


async def moved_member(s: AsyncSession) -> None:
    member = await counted_member(s, assessed=True)
    other = await s.scalar(select(OrgUnit).where(OrgUnit.name == "Chi bộ khu phố 1"))
    assert other is not None
    member.unit_id = other.id


async def merged_unit(s: AsyncSession) -> None:
    """org merge: the source's members go to the target (and the source is closed)."""
    source = await s.scalar(select(OrgUnit).where(OrgUnit.name == "Chi bộ thôn 1"))
    target = await s.scalar(select(OrgUnit).where(OrgUnit.name == "Chi bộ khu phố 2"))
    assert source is not None and target is not None
    await orgtree.merge(s, source, target, NOW)


async def made_exempt(s: AsyncSession) -> None:
    member = await counted_member(s, assessed=True)
    member.exempt = True


async def deactivated(s: AsyncSession) -> None:
    """A bulk Core update, as the roster import makes."""
    member = await counted_member(s, assessed=True)
    await s.execute(update(Member).where(Member.unit_id == member.unit_id).values(active=False))


async def forgotten(s: AsyncSession) -> None:
    member = await counted_member(s, assessed=True)
    await privacy.forget(s, member, NOW)


async def deleted(s: AsyncSession) -> None:
    """A member deleted with its rows (children first, as foreign keys require)."""
    member = await counted_member(s, assessed=True)
    mine = select(Assessment.id).where(Assessment.member_id == member.id)
    await s.execute(delete(AssessmentEntry).where(AssessmentEntry.assessment_id.in_(mine)))
    await s.execute(delete(Assessment).where(Assessment.member_id == member.id))
    await s.execute(delete(MemberPeriod).where(MemberPeriod.member_id == member.id))
    plans = select(Pledge.id).where(Pledge.member_id == member.id)
    await s.execute(delete(PledgeItem).where(PledgeItem.pledge_id.in_(plans)))
    await s.execute(delete(Pledge).where(Pledge.member_id == member.id))
    await s.execute(delete(Member).where(Member.id == member.id))


async def approved_pledge_decision(s: AsyncSession) -> None:
    stmt = (
        select(Pledge)
        .join(Member, Member.id == Pledge.member_id)
        .join(OrgUnit, OrgUnit.id == Member.unit_id)
        .where(
            Pledge.year == YEAR,
            Pledge.status == "submitted",
            Pledge.version == 1,
            Member.active.is_(True),
            Member.exempt.is_(False),
            OrgUnit.closed_at.is_(None),
            OrgUnit.name.startswith("Chi bộ thôn"),
        )
        .order_by(Pledge.id)
    )
    pledge = (await s.scalars(stmt)).first()
    assert pledge is not None
    approver = await s.get(Member, pledge.member_id)
    assert approver is not None
    await pledges.decide(s, pledge, approve=True, by=approver, now=NOW)


CHANGES: dict[str, Change] = {
    "new assessment": new_assessment,
    "edited entries": edited_entries,
    "bulk entry update": bulk_status,
    "approved excuse": approved_excuse,
    "member moved": moved_member,
    "units merged": merged_unit,
    "made exempt": made_exempt,
    "deactivated": deactivated,
    "forgotten": forgotten,
    "deleted": deleted,
    "pledge approved": approved_pledge_decision,
}


@pytest.mark.parametrize("name", list(CHANGES))
async def test_every_write_invalidates_the_cache(
    sessions: async_sessionmaker[AsyncSession], generated: Gen, name: str
) -> None:
    await prepared(sessions, generated)
    root = generated.named[ROOT]
    cell = generated.named["Chi bộ thôn 1"]
    before = await reports(sessions, root)
    assert before == await fresh(sessions, root)
    await reports(sessions, cell)
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(unit_year_counts)) > 0
    async with sessions() as s, s.begin():
        await CHANGES[name](s)
    after = await reports(sessions, root)
    assert after != before  # the change shows: without the invalidation, it would not
    assert after == await fresh(sessions, root)
    assert await reports(sessions, cell) == await fresh(sessions, cell)


async def test_the_cache_is_read_when_valid(
    sessions: async_sessionmaker[AsyncSession], generated: Gen
) -> None:
    """A planted figure is reported while the unit's version stays; a write discards it."""
    await prepared(sessions, generated)
    root = generated.named[ROOT]
    cell = generated.named["Chi bộ thôn 2"]
    before = await reports(sessions, root)
    async with sessions() as s, s.begin():
        await s.execute(
            update(unit_year_counts)
            .where(unit_year_counts.c.unit_id == cell)
            .values(members=unit_year_counts.c.members + 1000)
        )
    planted = await reports(sessions, root)
    assert planted[-1].unit.rates.members == before[-1].unit.rates.members + 1000
    async with sessions() as s, s.begin():
        version = await s.scalar(select(UnitVersion.version).where(UnitVersion.unit_id == cell))
        member = await s.scalar(select(Member).where(Member.unit_id == cell).limit(1))
        assert member is not None
        member.exempt = not member.exempt
    async with sessions() as s:
        now = await s.scalar(select(UnitVersion.version).where(UnitVersion.unit_id == cell))
        assert now is not None and now > (version or 0)
    assert await reports(sessions, root) == await fresh(sessions, root)


async def test_a_write_during_the_computation_leaves_the_rows_stale(
    sessions: async_sessionmaker[AsyncSession], generated: Gen, monkeypatch: Any
) -> None:
    """The rows are stored with the versions read before computing: a write committed while the
    report computes makes them stale at once, instead of caching figures without it."""
    from models import reports as module

    await prepared(sessions, generated)
    root = generated.named[ROOT]
    compute = module._compute

    async def racing(*args: Any, **kwargs: Any) -> Any:
        async with sessions() as other, other.begin():
            await new_assessment(other)
        return await compute(*args, **kwargs)

    monkeypatch.setattr(module, "_compute", racing)
    async with sessions() as s, s.begin():
        unit = await s.get(OrgUnit, root)
        assert unit is not None
        # SQLite: the report's snapshot begins with its first read, before the write
        await build_reports(s, unit, year=YEAR, periods=MONTHS)
    monkeypatch.setattr(module, "_compute", compute)
    assert await reports(sessions, root) == await fresh(sessions, root)


async def test_the_migration_goes_down_and_up(db_url: str) -> None:
    """0009's downgrade drops its triggers, functions and tables; upgrading again works."""
    import asyncio

    from alembic import command

    from models.db import alembic_config, create_engine

    await asyncio.to_thread(command.downgrade, alembic_config(db_url), "0008")
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            tables = await conn.run_sync(lambda sync: sync.dialect.get_table_names(sync))
            if conn.dialect.name == "sqlite":
                left = "SELECT name FROM sqlite_master WHERE name LIKE '%bump_unit%'"
            else:
                left = (
                    "SELECT tgname FROM pg_trigger WHERE tgname LIKE '%bump_unit%'"
                    " UNION ALL SELECT proname FROM pg_proc WHERE proname LIKE '%bump_unit%'"
                )
            assert (await conn.execute(text(left))).all() == []
        assert "unit_versions" not in tables and "unit_year_counts" not in tables
    finally:
        await engine.dispose()
    await asyncio.to_thread(command.upgrade, alembic_config(db_url), "head")


async def test_the_items_of_each_month_are_kept_as_reports_ask_for_them(
    sessions: async_sessionmaker[AsyncSession], generated: Gen
) -> None:
    """A report counts the entries of its own month only; another month's report adds its
    items to the cached row (same version) instead of dropping the first month's."""
    from models.reports import build_report

    await prepared(sessions, generated)
    cell = generated.named["Chi bộ thôn 3"]
    c = unit_year_counts.c
    for period in (PERIOD, "2026-03"):
        async with sessions() as s, s.begin():
            unit = await s.get(OrgUnit, cell)
            assert unit is not None
            await build_report(s, unit, year=YEAR, period=period)
    async with sessions() as s:
        row = (await s.execute(select(unit_year_counts).where(c.unit_id == cell))).one()
    assert row.items_done_05 is not None and row.items_done_03 is not None
    assert row.items_done_04 is None
    assert await reports(sessions, cell) == await fresh(sessions, cell)
