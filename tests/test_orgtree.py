"""Tree changes after the 2025 reform: models/orgtree.py and python -m bot org rename, move,
merge, close, on both databases. Nothing a member recorded is lost, paths stay right, and a
refused change changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.text import fold
from models import orgtree
from models.orgs import ClosedUnitError, ensure_unit, find_unit, subtree
from models.roster import import_roster
from models.tables import (
    Assessment,
    AssessmentEntry,
    AuditLog,
    Delivery,
    Invite,
    JoinRequest,
    MeetingOverride,
    Member,
    MemberPeriod,
    Nomination,
    OrgUnit,
    Pledge,
    PledgeItem,
    Role,
    Theme,
    UnitPeriod,
    UnitPlan,
)
from tests.support.operator import cli

NOW = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=1)

ROOT = "Tỉnh ủy T"
XA_A = f"{ROOT}/Đảng bộ xã A"
XA_B = f"{ROOT}/Đảng bộ xã B"
THON1 = f"{XA_A}/Chi bộ thôn 1"
THON2 = f"{XA_A}/Chi bộ thôn 2"
THON3 = f"{XA_B}/Chi bộ thôn 3"
TO3A = f"{THON3}/Tổ đảng 3a"
NHOM = f"{TO3A}/Nhóm 3a-1"
THON4 = f"{XA_B}/Chi bộ thôn 4"

Sessions = async_sessionmaker[AsyncSession]


@dataclass
class Tree:
    ids: dict[str, int]  # unit path -> id


# -- building a tree with a history ----------------------------------------------------------


def _member(unit: OrgUnit, name: str, *, active: bool = True, role: str = "member") -> Member:
    return Member(
        unit_id=unit.id,
        full_name=name,
        name_key=fold(name),
        party_role=role,
        active=active,
        created_at=NOW,
        updated_at=NOW,
    )


async def _history(s: AsyncSession, m: Member, n: int) -> None:
    """A pledge of n items, n monthly assessments with entries, a member_period, a delivery."""
    pledge = Pledge(
        member_id=m.id,
        year=2026,
        version=1,
        status="approved",
        study=["Quy định 144"],
        shortcomings=["Ngại phát biểu"],
        submitted_at=NOW,
    )
    pledge.items = [
        PledgeItem(position=i, action=f"Việc {i}", result="5 hộ", deadline="monthly")
        for i in range(n)
    ]
    s.add(pledge)
    await s.flush()
    for month in range(1, n + 1):
        assessment = Assessment(
            member_id=m.id,
            period=f"2026-{month:02d}",
            pledge_id=pledge.id,
            submitted_at=NOW,
            updated_at=NOW,
        )
        assessment.entries = [
            AssessmentEntry(pledge_item_id=item.id, status="done") for item in pledge.items
        ]
        s.add(assessment)
    s.add(MemberPeriod(member_id=m.id, period="2026-01", excuse="approved", updated_at=NOW))
    s.add(
        Delivery(
            channel="telegram",
            chat_id=str(m.id),
            member_id=m.id,
            kind="reminder",
            dedupe_key=f"reminder:2026-01:d3:m{m.id}",
            payload={"text": "Nhắc"},
            status="sent",
            next_attempt_at=NOW,
            created_at=NOW,
        )
    )


async def build(sessions: Sessions) -> Tree:
    async with sessions() as s, s.begin():
        units = {p: await ensure_unit(s, p, NOW) for p in (THON1, THON2, NHOM, THON4)}
        for path in (ROOT, XA_A, XA_B, THON3, TO3A):
            found = await find_unit(s, path)
            assert found is not None
            units[path] = found
        people: dict[str, Member] = {}
        for path, name, extra in (
            (THON1, "Nguyễn Văn An", {}),  # also in thôn 2: the name clash
            (THON1, "Trần Thị Bình", {"role": "secretary"}),
            (THON1, "Lê Văn Cường", {"active": False}),
            (THON2, "Nguyễn Văn An", {}),
            (THON2, "Phạm Văn Dũng", {"role": "secretary"}),
            (XA_A, "Đỗ Văn Quản", {}),  # observer of both chi bộ
            (XA_B, "Vũ Thị Ủy", {}),  # a member of the đảng bộ itself
            (THON3, "Hoàng Văn Em", {}),
            (TO3A, "Bùi Thị Gấm", {}),
            (NHOM, "Đặng Văn Hải", {}),
            (THON4, "Ngô Thị Ích", {}),
        ):
            m = _member(units[path], name, **extra)
            s.add(m)
            await s.flush()
            people[f"{path}|{name}"] = m
            await _history(s, m, 1 + len(people) % 3)

        def who(path: str, name: str) -> int:
            return people[f"{path}|{name}"].id

        t1, t2 = units[THON1].id, units[THON2].id
        quan = who(XA_A, "Đỗ Văn Quản")
        s.add_all(
            [
                Role(member_id=member, unit_id=unit_id, role=role, created_at=NOW)
                for member, unit_id, role in (
                    (who(THON1, "Trần Thị Bình"), t1, "secretary"),
                    (who(THON2, "Phạm Văn Dũng"), t2, "secretary"),
                    (quan, t1, "observer"),
                    (quan, t2, "observer"),
                )
            ]
        )
        # chi bộ thôn 1 reviewed January and February; thôn 2 February and March
        for unit_id, period in ((t1, "2026-01"), (t1, "2026-02"), (t2, "2026-02"), (t2, "2026-03")):
            s.add(UnitPeriod(unit_id=unit_id, period=period, reviewed_at=NOW))
        s.add_all(
            [
                Theme(unit_id=t1, year=2025, title="Thôn 1, 2025", created_at=NOW),
                Theme(unit_id=t1, year=2026, title="Thôn 1, 2026", created_at=NOW),
                Theme(unit_id=t2, year=2026, title="Thôn 2, 2026", created_at=NOW),
                UnitPlan(unit_id=t1, year=2026, items=[], standards=[], updated_at=NOW),
                MeetingOverride(unit_id=t1, period="2026-11", cancelled=True, created_at=NOW),
                MeetingOverride(unit_id=t1, period="2026-12", cancelled=True, created_at=NOW),
                MeetingOverride(unit_id=t2, period="2026-12", cancelled=True, created_at=NOW),
                Invite(
                    code="PEND1NGA",
                    unit_id=t1,
                    member_id=who(THON1, "Nguyễn Văn An"),
                    expires_at=NOW + timedelta(days=30),
                    created_at=NOW,
                ),
                Invite(code="J01NCODE", unit_id=t1, expires_at=NOW, created_at=NOW),
                Invite(
                    code="USEDC0DE",
                    unit_id=t1,
                    member_id=who(THON1, "Trần Thị Bình"),
                    expires_at=NOW,
                    used_at=NOW,
                    created_at=NOW,
                ),
                JoinRequest(
                    unit_id=t1,
                    channel="telegram",
                    user_id="1",
                    chat_id="1",
                    full_name="Mới",
                    created_at=NOW,
                ),
                JoinRequest(
                    unit_id=t1,
                    channel="telegram",
                    user_id="2",
                    chat_id="2",
                    full_name="Bị từ chối",
                    status="rejected",
                    created_at=NOW,
                ),
                Nomination(
                    unit_id=t1,
                    year=2026,
                    kind="mo_hinh",
                    subject="tap_the",
                    name="Thôn sạch",
                    description="Phân loại rác",
                    created_at=NOW,
                ),
            ]
        )
        return Tree({path: unit.id for path, unit in units.items()})


# -- snapshots ---------------------------------------------------------------------------------


async def per_member(s: AsyncSession) -> dict[int, tuple[int, ...]]:
    """Per member: pledges, pledge items, assessments, entries, member_periods, deliveries."""
    counts: dict[int, list[int]] = {m: [0] * 6 for m in await s.scalars(select(Member.id))}
    queries = [
        select(Pledge.member_id, func.count()).group_by(Pledge.member_id),
        select(Pledge.member_id, func.count())
        .join(PledgeItem, PledgeItem.pledge_id == Pledge.id)
        .group_by(Pledge.member_id),
        select(Assessment.member_id, func.count()).group_by(Assessment.member_id),
        select(Assessment.member_id, func.count())
        .join(AssessmentEntry, AssessmentEntry.assessment_id == Assessment.id)
        .group_by(Assessment.member_id),
        select(MemberPeriod.member_id, func.count()).group_by(MemberPeriod.member_id),
        select(Delivery.member_id, func.count()).group_by(Delivery.member_id),
    ]
    for column, query in enumerate(queries):
        for member_id, n in await s.execute(query):
            counts[member_id][column] = n
    return {m: tuple(c) for m, c in counts.items()}


async def totals(s: AsyncSession, path: str) -> tuple[int, int, int]:
    """Members, pledges and assessments in the subtree of path."""
    top = await find_unit(s, path)
    assert top is not None
    ids = [u.id for u in await subtree(s, top)]
    in_tree = select(Member.id).where(Member.unit_id.in_(ids)).scalar_subquery()
    members = await s.scalar(select(func.count()).where(Member.unit_id.in_(ids)))
    pledges = await s.scalar(select(func.count()).where(Pledge.member_id.in_(in_tree)))
    assessments = await s.scalar(select(func.count()).where(Assessment.member_id.in_(in_tree)))
    return int(members or 0), int(pledges or 0), int(assessments or 0)


async def units_snapshot(s: AsyncSession) -> list[tuple[Any, ...]]:
    rows = await s.execute(
        select(
            OrgUnit.id,
            OrgUnit.parent_id,
            OrgUnit.name,
            OrgUnit.path,
            OrgUnit.closed_at,
            OrgUnit.merged_into_id,
        ).order_by(OrgUnit.id)
    )
    return [tuple(r) for r in rows]


async def everything(s: AsyncSession) -> tuple[Any, ...]:
    """Every row a refused change could have touched."""
    members = await s.execute(
        select(Member.id, Member.unit_id, Member.full_name, Member.active).order_by(Member.id)
    )
    roles = await s.execute(select(Role.id, Role.unit_id).order_by(Role.id))
    return (
        await units_snapshot(s),
        [tuple(r) for r in members],
        [tuple(r) for r in roles],
        await per_member(s),
        await audit_rows(s),
    )


async def audit_rows(s: AsyncSession) -> list[tuple[str, int | None, dict[str, Any]]]:
    rows = await s.execute(
        select(AuditLog.action, AuditLog.unit_id, AuditLog.detail).order_by(AuditLog.id)
    )
    return [(a, u, d) for a, u, d in rows]


async def refused(sessions: Sessions, change: Callable[[AsyncSession], Any], *expected: str) -> str:
    """Run a change that must be refused in a transaction that commits anyway; the message."""
    async with sessions() as s:
        before = await everything(s)
    async with sessions() as s, s.begin():
        with pytest.raises(orgtree.TreeError) as caught:
            await change(s)
    async with sessions() as s:
        assert await everything(s) == before
    message = caught.value.message
    for part in expected:
        assert part in message, message
    return message


async def unit(s: AsyncSession, path: str) -> OrgUnit:
    found = await find_unit(s, path)
    assert found is not None, path
    return found


# -- merge -------------------------------------------------------------------------------------


async def test_merge_two_chi_bo_keeps_every_pledge_and_assessment(sessions: Sessions) -> None:
    tree = await build(sessions)
    t1, t2 = tree.ids[THON1], tree.ids[THON2]
    async with sessions() as s:
        before = await per_member(s)
        before_totals = await totals(s, XA_A)
        source_members = set(await s.scalars(select(Member.id).where(Member.unit_id == t1)))
        target_members = set(await s.scalars(select(Member.id).where(Member.unit_id == t2)))

    async with sessions() as s, s.begin():
        result = await orgtree.merge(s, await unit(s, THON1), await unit(s, THON2), LATER)

    assert result.members == 3 and result.inactive == 1
    assert result.renamed == [("Nguyễn Văn An", "Nguyễn Văn An (2)")]
    assert result.pledges == 3 and result.assessments == sum(before[m][2] for m in source_members)
    assert (result.roles, result.roles_dropped) == (1, 1)  # the observer held it on both
    assert (result.invites, result.join_requests, result.nominations) == (2, 1, 1)
    assert result.moved == {
        "unit_plans": 1,
        "themes": 1,
        "meeting_overrides": 1,
        "unit_periods": 1,
    }
    assert sorted(result.kept) == [("meeting_overrides", "2026-12"), ("themes", "2026")]

    async with sessions() as s:
        assert await per_member(s) == before  # nothing a member recorded was touched
        assert await totals(s, XA_A) == before_totals
        members = list(await s.scalars(select(Member).where(Member.unit_id == t2)))
        assert {m.id for m in members} == source_members | target_members
        assert not await s.scalar(select(func.count()).where(Member.unit_id == t1))
        names = sorted((m.full_name, m.name_key, m.active) for m in members)
        assert names == [
            ("Lê Văn Cường", "le van cuong", False),
            ("Nguyễn Văn An", "nguyen van an", True),
            ("Nguyễn Văn An (2)", "nguyen van an (2)", True),
            ("Phạm Văn Dũng", "pham van dung", True),
            ("Trần Thị Bình", "tran thi binh", True),
        ]
        source = await s.get(OrgUnit, t1)
        assert source is not None and source.closed_at == LATER and source.merged_into_id == t2
        assert await find_unit(s, THON1) is not None  # history still finds it
        roles = sorted((r.unit_id, r.role) for r in await s.scalars(select(Role).order_by(Role.id)))
        assert roles == [(t2, "observer"), (t2, "secretary"), (t2, "secretary")]
        periods = list(
            await s.execute(
                select(UnitPeriod.period, func.count())
                .where(UnitPeriod.unit_id == t2)
                .group_by(UnitPeriod.period)
                .order_by(UnitPeriod.period)
            )
        )
        assert [tuple(p) for p in periods] == [("2026-01", 1), ("2026-02", 1), ("2026-03", 1)]
        themes = sorted((t.unit_id, t.year, t.title) for t in await s.scalars(select(Theme)))
        assert themes == [
            (t1, 2026, "Thôn 1, 2026"),
            (t2, 2025, "Thôn 1, 2025"),
            (t2, 2026, "Thôn 2, 2026"),
        ]
        invites = {i.code: i.unit_id for i in await s.scalars(select(Invite))}
        assert invites == {"PEND1NGA": t2, "J01NCODE": t2, "USEDC0DE": t1}
        requests = {r.full_name: r.unit_id for r in await s.scalars(select(JoinRequest))}
        assert requests == {"Mới": t2, "Bị từ chối": t1}
        assert set(await s.scalars(select(Nomination.unit_id))) == {t2}
        assert set(await s.scalars(select(UnitPlan.unit_id))) == {t2}
        overrides = sorted((o.unit_id, o.period) for o in await s.scalars(select(MeetingOverride)))
        assert overrides == [(t1, "2026-12"), (t2, "2026-11"), (t2, "2026-12")]
        log = await audit_rows(s)
        assert [(a, u) for a, u, _ in log] == [("org_merge", t1)]
        assert log[0][2]["into"] == t2 and log[0][2]["renamed"] == [
            ["Nguyễn Văn An", "Nguyễn Văn An (2)"]
        ]


async def test_merge_two_dang_bo_moves_the_subtrees(sessions: Sessions) -> None:
    tree = await build(sessions)
    async with sessions() as s:
        before = await per_member(s)
        before_totals = await totals(s, ROOT)
        a_before = await totals(s, XA_A)
        b_before = await totals(s, XA_B)

    async with sessions() as s, s.begin():
        xa_a = await unit(s, XA_A)
        result = await orgtree.merge(s, await unit(s, XA_B), xa_a, LATER)
        thon3 = await s.get(OrgUnit, tree.ids[THON3])
        assert thon3 is not None and thon3.path == f"{xa_a.path}{thon3.id}/"  # in memory too

    assert result.units == ["Chi bộ thôn 3", "Chi bộ thôn 4"]
    assert result.members == 1 and result.unit_members == 4
    async with sessions() as s:
        assert await per_member(s) == before
        assert await totals(s, ROOT) == before_totals
        merged = await totals(s, XA_A)
        assert merged == tuple(a + b for a, b in zip(a_before, b_before, strict=True))
        xa_a = await unit(s, XA_A)
        found = {u.id for u in await subtree(s, xa_a)}
        for path in (THON3, TO3A, NHOM, THON4):
            moved = await s.get(OrgUnit, tree.ids[path])
            assert moved is not None and moved.id in found
            parent = await s.get(OrgUnit, moved.parent_id)
            assert parent is not None and moved.path == f"{parent.path}{moved.id}/"
        assert (await unit(s, f"{XA_A}/Chi bộ thôn 3/Tổ đảng 3a/Nhóm 3a-1")).id == tree.ids[NHOM]
        xa_b = await s.get(OrgUnit, tree.ids[XA_B])
        assert xa_b is not None and xa_b.merged_into_id == xa_a.id
        assert [u.id for u in await subtree(s, xa_b)] == [xa_b.id]  # nothing left below it


async def test_merge_refusals_change_nothing(sessions: Sessions) -> None:
    await build(sessions)

    async def into_itself(s: AsyncSession) -> None:
        await orgtree.merge(s, await unit(s, THON1), await unit(s, THON1), LATER)

    async def into_descendant(s: AsyncSession) -> None:
        await orgtree.merge(s, await unit(s, XA_B), await unit(s, TO3A), LATER)

    await refused(sessions, into_itself, "chính nó")
    await refused(sessions, into_descendant, "cấp dưới", TO3A)

    async with sessions() as s, s.begin():  # a clash between the children's names
        await ensure_unit(s, f"{XA_A}/Chi bộ thôn 4", NOW)

    async def children_clash(s: AsyncSession) -> None:
        await orgtree.merge(s, await unit(s, XA_B), await unit(s, XA_A), LATER)

    await refused(sessions, children_clash, "«Chi bộ thôn 4»", "org rename")

    async with sessions() as s, s.begin():
        await orgtree.merge(s, await unit(s, THON1), await unit(s, THON2), LATER)

    async def into_closed(s: AsyncSession) -> None:
        await orgtree.merge(s, await unit(s, THON2), await unit(s, THON1), LATER)

    async def closed_again(s: AsyncSession) -> None:
        await orgtree.merge(s, await unit(s, THON1), await unit(s, XA_A), LATER)

    await refused(sessions, into_closed, "đã đóng")
    await refused(sessions, closed_again, "đã đóng")


# -- move --------------------------------------------------------------------------------------


async def test_move_rewrites_the_paths_of_a_three_level_subtree(sessions: Sessions) -> None:
    tree = await build(sessions)
    async with sessions() as s:
        before = await per_member(s)
    async with sessions() as s, s.begin():
        thon3, xa_a = await unit(s, THON3), await unit(s, XA_A)
        nhom = await unit(s, NHOM)  # loaded: its path in memory follows the UPDATE
        assert await orgtree.move(s, thon3, xa_a, LATER) == 3
        assert thon3.path == f"{xa_a.path}{thon3.id}/"
        assert nhom.path == f"{xa_a.path}{thon3.id}/{tree.ids[TO3A]}/{nhom.id}/"

    async with sessions() as s:
        assert await per_member(s) == before
        xa_a = await unit(s, XA_A)
        below = {u.id: u for u in await subtree(s, xa_a)}
        for path in (THON3, TO3A, NHOM):
            moved = below[tree.ids[path]]
            parent = await s.get(OrgUnit, moved.parent_id)
            assert parent is not None and moved.path == f"{parent.path}{moved.id}/"
        assert below[tree.ids[NHOM]].path == (
            f"{xa_a.path}{tree.ids[THON3]}/{tree.ids[TO3A]}/{tree.ids[NHOM]}/"
        )
        xa_b = await unit(s, XA_B)
        assert {u.id for u in await subtree(s, xa_b)} == {tree.ids[XA_B], tree.ids[THON4]}
        assert (await unit(s, f"{XA_A}/Chi bộ thôn 3/Tổ đảng 3a/Nhóm 3a-1")).id == tree.ids[NHOM]
        assert await find_unit(s, NHOM) is None
        log = await audit_rows(s)
        assert [(a, u) for a, u, _ in log] == [("org_move", tree.ids[THON3])]
        assert log[0][2]["old_path"] != log[0][2]["new_path"]

    async with sessions() as s, s.begin():  # and up to the top level
        assert await orgtree.move(s, await unit(s, f"{XA_A}/Chi bộ thôn 3"), None, LATER) == 3
    async with sessions() as s:
        top = await unit(s, "Chi bộ thôn 3")
        assert top.path == f"/{top.id}/" and len(await subtree(s, top)) == 3


async def test_move_refusals_change_nothing(sessions: Sessions) -> None:
    await build(sessions)

    async def into_descendant(s: AsyncSession) -> None:
        await orgtree.move(s, await unit(s, THON3), await unit(s, NHOM), LATER)

    async def into_itself(s: AsyncSession) -> None:
        await orgtree.move(s, await unit(s, THON3), await unit(s, THON3), LATER)

    await refused(sessions, into_descendant, "cấp dưới")
    await refused(sessions, into_itself, "chính nó")

    async with sessions() as s, s.begin():
        await ensure_unit(s, f"{XA_A}/Chi bộ thôn 4", NOW)

    async def clash(s: AsyncSession) -> None:
        await orgtree.move(s, await unit(s, THON4), await unit(s, XA_A), LATER)

    async def same_parent(s: AsyncSession) -> None:
        await orgtree.move(s, await unit(s, THON4), await unit(s, XA_B), LATER)

    await refused(sessions, clash, "«Chi bộ thôn 4»", XA_A)
    await refused(sessions, same_parent, "đã trực thuộc")

    async with sessions() as s, s.begin():
        await orgtree.close(s, await unit(s, f"{XA_A}/Chi bộ thôn 4"), LATER)

    async def under_closed(s: AsyncSession) -> None:
        await orgtree.move(s, await unit(s, TO3A), await unit(s, f"{XA_A}/Chi bộ thôn 4"), LATER)

    await refused(sessions, under_closed, "đã đóng")


# -- rename, close, roster ---------------------------------------------------------------------


async def test_rename(sessions: Sessions) -> None:
    tree = await build(sessions)

    async def clash(s: AsyncSession) -> None:
        await orgtree.rename(s, await unit(s, THON1), "Chi bộ thôn 2", LATER)

    async def slash(s: AsyncSession) -> None:
        await orgtree.rename(s, await unit(s, THON1), "Chi bộ 1/2", LATER)

    await refused(sessions, clash, "«Chi bộ thôn 2»", XA_A)
    await refused(sessions, slash, "dấu /")
    async with sessions() as s, s.begin():
        await orgtree.rename(s, await unit(s, THON1), "  Chi bộ   thôn Một ", LATER)
    async with sessions() as s:
        renamed = await unit(s, f"{XA_A}/Chi bộ thôn Một")
        assert renamed.id == tree.ids[THON1] and await find_unit(s, THON1) is None
        assert await audit_rows(s) == [
            ("org_rename", renamed.id, {"old": "Chi bộ thôn 1", "new": "Chi bộ thôn Một"})
        ]


async def test_close(sessions: Sessions) -> None:
    tree = await build(sessions)

    async def with_members(s: AsyncSession) -> None:
        await orgtree.close(s, await unit(s, THON1), LATER)

    async def with_children(s: AsyncSession) -> None:
        await orgtree.close(s, await unit(s, XA_B), LATER)

    await refused(sessions, with_members, "2 đảng viên", "--force")
    await refused(sessions, with_children, "2 đơn vị trực thuộc")

    async with sessions() as s, s.begin():
        result = await orgtree.close(s, await unit(s, XA_B), LATER, force=True)
    assert (result.units, result.members) == (4, 5)
    async with sessions() as s:
        below = await subtree(s, await unit(s, XA_B))
        assert len(below) == 5 and all(u.closed_at == LATER for u in below)
        ids = [u.id for u in below]
        assert not await s.scalar(
            select(func.count()).where(Member.unit_id.in_(ids), Member.active.is_(True))
        )
        assert await s.scalar(select(func.count()).where(Member.unit_id.in_(ids))) == 5
        log = await audit_rows(s)
        assert [(a, u) for a, u, _ in log] == [("org_close", tree.ids[XA_B])]
        assert log[0][2]["force"] is True

    async def again(s: AsyncSession) -> None:
        await orgtree.close(s, await unit(s, XA_B), LATER, force=True)

    await refused(sessions, again, "đã đóng")


async def test_roster_import_into_a_closed_unit_is_refused(
    sessions: Sessions, tmp_path: Path
) -> None:
    await build(sessions)
    async with sessions() as s, s.begin():
        await orgtree.merge(s, await unit(s, THON1), await unit(s, THON2), LATER)
        await orgtree.close(s, await unit(s, THON4), LATER, force=True)
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "Đơn vị,Họ và tên,Vai trò\n"
        f"{THON2},Người Mới,Đảng viên\n"
        f"{THON1},Người Thứ Hai,Đảng viên\n"
        f"{THON4}/Tổ đảng mới,Người Thứ Ba,Đảng viên\n",
        encoding="utf-8",
    )
    async with sessions() as s:
        before = await everything(s)
    async with sessions() as s, s.begin():
        report = await import_roster(s, roster, LATER)
        assert [(e.row, e.column, e.code) for e in report.errors] == [
            (3, "Đơn vị", "merged_unit"),
            (4, "Đơn vị", "closed_unit"),
        ]
        assert report.errors[0].value == f"{THON1} → {THON2}"
        assert report.errors[1].value == THON4
        with pytest.raises(ClosedUnitError):
            await ensure_unit(s, f"{THON1}/Tổ mới", LATER)
        assert not s.new and not s.dirty
    async with sessions() as s:
        assert await everything(s) == before
        assert await find_unit(s, f"{THON4}/Tổ đảng mới") is None


# -- the command line ----------------------------------------------------------------------------

HB = "Đảng bộ xã Hưng Bình"
CLI_THON2 = f"{HB}/Chi bộ thôn 2"
SCHOOL = f"{HB}/Chi bộ Trường Tiểu học Hưng Bình"


@pytest.mark.parametrize("args", [["rename"], ["move"], ["merge"], ["close"]])
def test_org_help(args: list[str], tmp_path: Path) -> None:
    done = cli(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", "org", *args, "--help")
    assert done.returncode == 0 and "usage: python -m bot org" in done.stdout


async def test_org_commands(db_url: str, sessions: Sessions) -> None:
    assert cli(db_url, "org", "import", "examples/roster.csv").returncode == 0
    async with sessions() as s:
        before = await everything(s)

    dry = cli(db_url, "org", "merge", "--unit", CLI_THON2, "--into", SCHOOL, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "chưa thay đổi gì" in dry.stdout and "Đảng viên chuyển sang: 16" in dry.stdout
    assert "Bản đăng ký: 0; bản tự đánh giá: 0" in dry.stdout
    async with sessions() as s:
        assert await everything(s) == before  # not even an audit row

    bad = cli(
        db_url, "org", "rename", "--unit", CLI_THON2, "--name", "Chi bộ Trường Tiểu học Hưng Bình"
    )
    assert bad.returncode == 1 and "hãy chọn tên khác" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr
    busy = cli(db_url, "org", "close", "--unit", CLI_THON2)
    assert busy.returncode == 1 and "--force" in busy.stderr
    loop = cli(db_url, "org", "move", "--unit", HB, "--to", CLI_THON2)
    assert loop.returncode == 1 and "cấp dưới" in loop.stderr
    missing = cli(db_url, "org", "merge", "--unit", "Không có", "--into", SCHOOL)
    assert missing.returncode == 1 and "Không có đơn vị" in missing.stderr
    async with sessions() as s:
        assert await everything(s) == before

    done = cli(db_url, "org", "merge", "--unit", CLI_THON2, "--into", SCHOOL)
    assert done.returncode == 0 and "đã đóng" in done.stdout, done.stderr
    again = cli(db_url, "org", "import", "examples/roster.csv")
    assert again.returncode == 1 and "đơn vị đã sáp nhập" in again.stderr
    renamed = cli(db_url, "org", "rename", "--unit", SCHOOL, "--name", "Chi bộ Hưng Bình")
    assert renamed.returncode == 0 and "Chi bộ Hưng Bình" in renamed.stdout
    moved = cli(db_url, "org", "move", "--unit", f"{HB}/Chi bộ Hưng Bình", "--to", "/")
    assert moved.returncode == 0 and "cấp cao nhất" in moved.stdout, moved.stderr
    closed = cli(db_url, "org", "close", "--unit", "Chi bộ Hưng Bình", "--force")
    assert closed.returncode == 0 and "30 đảng viên thôi sinh hoạt" in closed.stdout
    async with sessions() as s:
        log = [a for a, _, _ in await audit_rows(s)]
        assert log == ["org_merge", "org_rename", "org_move", "org_close"]
        assert not await s.scalar(select(func.count()).where(Member.active.is_(True)))
