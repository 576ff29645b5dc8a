"""Who may do what: every command and every button that acts on a unit, a pledge, a join
request, an absence, a nomination, a theme or a broadcast, tried by each role, on a target in
Chi bộ thôn 2, in the other chi bộ of the đảng bộ, or in another đảng bộ (another subtree).

One table states the design; each attempt is checked against it: allowed gives the normal
reply and no refusal, refused gives the refusal and exactly one new refused row in the audit
log, naming the person who tried (none for an account not linked to anyone). Buttons are
pressed with forged data (ids the person was never shown). Rights follow the platform user id,
never a display name or a username. The command line's reports are audited as the operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Update

from bot.channels.telegram import to_incoming
from handlers import texts
from handlers.messages import Incoming
from handlers.schedule import MeetingRule
from handlers.text import fold
from models import access, invites, nominations, themes
from models import periods as pm
from models import pledges as store
from models.conversations import member_key
from models.orgs import ensure_unit, find_unit
from models.roster import import_roster
from models.tables import (
    AuditLog,
    Broadcast,
    Conversation,
    JoinRequest,
    Member,
    MemberPeriod,
    Pledge,
)
from tests.support.harness import CHANNEL, Clock, Harness, text_of
from tests.support.operator import cli
from tests.support.world import ROSTER, SCHOOL, THON2, World, link

# Friday 20 November 2026, 09:00 in Hà Nội: pledges are for 2026, the next meeting is on
# 3 December (its self-assessment opens on 26 November), the last one was on 3 November.
START = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
YEAR = 2026
HUNG_BINH = "Đảng bộ xã Hưng Bình"
TAN_LAP = "Đảng bộ xã Tân Lập"  # another subtree
TAN_LAP_CELL = f"{TAN_LAP}/Chi bộ thôn 1"
TAN_LAP_PEOPLE = ("Đinh Văn Quý", "Đinh Thị Lan", "Đinh Văn Hào", "Đinh Thị Mơ")

# The roles, as the chats that play them (the matrix's columns, in this order).
OUT, MEM, OTH, SEC, DEP, OBS, ADX, ADM = "out", "mem", "oth", "sec", "dep", "obs", "adx", "adm"
ROLES = (OUT, MEM, OTH, SEC, DEP, OBS, ADX, ADM)
PEOPLE = {
    MEM: "Hoàng Văn Sơn",  # đảng viên, Chi bộ thôn 2
    OTH: "Phạm Thị Hồng",  # đảng viên, Chi bộ Trường Tiểu học (the other chi bộ)
    SEC: "Trần Văn Thắng",  # bí thư, Chi bộ thôn 2 (from the roster)
    DEP: "Nguyễn Văn Hùng",  # phó bí thư, Chi bộ thôn 2 (from the roster)
    OBS: "Lê Văn Đức",  # đảng viên of thôn 2, theo dõi Chi bộ thôn 2 (granted)
    ADX: "Đinh Văn Quý",  # quản trị Đảng bộ xã Tân Lập (granted): another subtree
    ADM: "Vũ Văn Nam",  # đảng viên of the school, quản trị Đảng bộ xã Hưng Bình (granted)
}

# Targets made directly in the database. A state-changing button (approve, accept, agree…)
# gets its own target for each role allowed to press it, so every allowed press is a first one.
Target = str | tuple[str, str]  # a shared target, or a role's own
PLEDGES: dict[Target, str] = {  # pending pledges, by author
    "p_t": "Hồ Văn Tâm",  # thôn 2
    ("p_t", SEC): "Ngô Thị Thu",
    ("p_t", DEP): "Dương Văn Toàn",
    ("p_t", ADM): "Nguyễn Thị Hạnh",
    "p_s": "Đặng Thị Yến",  # the school
    "p_x": "Đinh Thị Lan",  # Tân Lập
}
EXCUSES: dict[Target, str] = {  # absences asked for December, by member
    "m_t": "Lê Thị Hoa",
    ("xa_t", SEC): "Phạm Văn Bình",
    ("xa_t", DEP): "Vũ Thị Mai",
    ("xa_t", ADM): "Bùi Văn Khang",
    ("xr_t", SEC): "Đỗ Thị Nhung",
    ("xr_t", DEP): "Trần Thị Xuân",
    ("xr_t", ADM): "Phạm Văn Chiến",
    "m_x": "Đinh Thị Lan",
    ("xa_x", ADX): "Đinh Văn Hào",
    ("xr_x", ADX): "Đinh Thị Mơ",
}
JOINS: list[tuple[Target, str, str]] = [  # join requests: key, unit, full name
    ("j_t", THON2, "Phan Văn An"),
    (("ja_t", SEC), THON2, "Phan Văn Bảo"),
    (("ja_t", DEP), THON2, "Phan Văn Cường"),
    (("ja_t", ADM), THON2, "Phan Văn Dũng"),
    (("jr_t", SEC), THON2, "Phan Văn Em"),
    (("jr_t", DEP), THON2, "Phan Văn Giang"),
    (("jr_t", ADM), THON2, "Phan Văn Hải"),
    ("j_x", TAN_LAP_CELL, "Phan Văn Khôi"),
    (("ja_x", ADX), TAN_LAP_CELL, "Phan Văn Lâm"),
    (("jr_x", ADX), TAN_LAP_CELL, "Phan Văn Minh"),
]

# What the replies say.
DENIED_UNIT = "Đồng chí không có quyền với «{unit}»"
T_UNIT, X_UNIT = "Chi bộ thôn 2", TAN_LAP
REPORT = "Kết quả học tập và làm theo tư tưởng"
EXPORT = "Xuất bản đăng ký năm 2026"
PLEDGE_SHOWN = "Bản đăng ký chờ duyệt"
RETURN_ASKED = "Trả lại bản đăng ký của đồng chí"
APPROVED = "Đã duyệt bản đăng ký năm 2026"
JOIN_SHOWN = "Yêu cầu tham gia chi bộ"
JOIN_ACCEPTED = "Đã chấp nhận đồng chí"
JOIN_REJECTED = "Đã từ chối yêu cầu của"
EXCUSE_DECIDED = "Đã ghi nhận:"
REVIEW = "Sau sinh hoạt tháng 11/2026"
NUDGED = "Đã nhắc"
DETAILS = "Chi tiết tự đánh giá tháng 12/2026"
WITHDRAW_ASKED = "Rút đề xuất «"
REPLICATED = "là mô hình nhân rộng"
THEME_PREVIEW = "Xem trước"
NO_FAILED = texts.BROADCAST_NO_FAILED
MENU = "Các việc đồng chí có thể làm"
WELCOME = "Để bắt đầu, xin đồng chí gửi"
OVERVIEW = "<b>Chi bộ thôn 2</b> — năm 2026"
PLAN_READ = "kế hoạch tập thể năm 2026"
PLAN_MENU = "<b>Kế hoạch học tập và làm theo Bác năm 2026</b>"
PLAN_UNIT = texts.PLAN_ASK_UNIT
NOMINATION_FLOW = "<b>Đề xuất điển hình, mô hình</b>"
STEP_1 = "Bước 1/5"
NO_PLEDGE = "chưa có bản đăng ký năm 2026"
NOT_OPEN_YET = "Tự đánh giá tháng 12/2026 mở từ ngày 26/11"
NEXT_MEETING = "Sinh hoạt chi bộ tháng 12/2026"
EXCUSE_ASKED = "Xin vắng buổi sinh hoạt tháng 12/2026"
NOTHING_TO_SUM_UP = "nên chưa có gì để tổng kết"
LINK_CODE = "Mã liên kết của đồng chí"
CHANNELS = "Kênh nhận tin"
PREFERRED = "Từ nay nhắc việc và thông báo gửi qua"
SCHEDULE = "Lịch sinh hoạt"
NOMINATIONS = "Điển hình, mô hình năm 2026"
THEME_FLOW = "Công bố chuyên đề năm"
BROADCAST_FLOW = "Soạn thông báo"
SHEET = "Bảng số liệu của"
FILE = "Tệp của"

# The matrix. Marks, one per role (out mem oth sec dep obs adx adm): + allowed, - refused.
# Then what an allowed attempt says (by role where it differs, "*" for the others) and what a
# refusal says (a pair when the outsider, who is linked to no one, is told something else).
#   out: an account never linked · mem: đảng viên of thôn 2 · oth: đảng viên of the other
#   chi bộ · sec, dep: bí thư, phó bí thư of thôn 2 · obs: theo dõi thôn 2 · adx: quản trị of
#   another đảng bộ · adm: quản trị of Đảng bộ xã Hưng Bình. Targets: _t thôn 2, _s the school,
#   _x the other đảng bộ (Tân Lập).
Says = str | dict[str, str]
Refusal = str | tuple[str, str]
Row = tuple[str, str, Says, Refusal]
LINK = texts.NOT_LINKED
STALE = texts.STALE_BUTTON
NO = texts.NOT_ALLOWED
T_DENIED = (DENIED_UNIT.format(unit=T_UNIT), STALE)
X_DENIED = (DENIED_UNIT.format(unit=X_UNIT), STALE)
XC_DENIED = (DENIED_UNIT.format(unit="Chi bộ thôn 1"), STALE)
HB_DENIED = (DENIED_UNIT.format(unit=HUNG_BINH), STALE)
COMMANDS: list[Row] = [
    # what           out mem oth sec dep obs adx adm    allowed says / refused says
    ("/start",      "+   +   +   +   +   +   +   +", {OUT: WELCOME, "*": MENU}, ""),
    ("/trogiup",    "+   +   +   +   +   +   +   +", {OUT: WELCOME, "*": MENU}, ""),
    ("/dangky",     "-   +   +   +   +   +   +   +", STEP_1, LINK),
    ("/camket",     "-   +   +   +   +   +   +   +", NO_PLEDGE, LINK),
    ("/tudanhgia",  "-   +   +   +   +   +   +   +", NOT_OPEN_YET, LINK),
    ("/lich",       "-   +   +   +   +   +   +   +", NEXT_MEETING, LINK),
    ("/xinvang",    "-   +   +   +   +   +   +   +", EXCUSE_ASKED, LINK),
    ("/tongketnam", "-   +   +   +   +   +   +   +", NOTHING_TO_SUM_UP, LINK),
    ("/lienket",    "-   +   +   +   +   +   +   +", LINK_CODE, LINK),
    ("/kenh",       "-   +   +   +   +   +   +   +", CHANNELS, LINK),
    ("!kenh:test",  "-   +   +   +   +   +   +   +", PREFERRED, LINK),
    ("/chibo",      "-   +   +   +   +   +   +   +",
                    {SEC: OVERVIEW, DEP: OVERVIEW, "*": PLAN_READ}, LINK),
    ("/kehoach",    "-   -   -   +   +   -   +   +",
                    {ADX: PLAN_UNIT, ADM: PLAN_UNIT, "*": PLAN_MENU},
                    (texts.PLAN_MANAGERS_ONLY, LINK)),
    ("/lichhop",    "-   -   -   +   +   -   +   +",
                    SCHEDULE, (texts.SCHEDULE_NOT_SECRETARY, LINK)),
    ("/baocao",     "-   -   -   +   +   +   +   +", REPORT, (texts.NO_ADMIN_SCOPE, LINK)),
    ("!cmd:baocao", "-   -   -   +   +   +   +   +", REPORT, (texts.NO_ADMIN_SCOPE, LINK)),
    ("/xuat",       "-   -   -   +   +   -   +   +", EXPORT, (texts.NO_ADMIN_SCOPE, LINK)),
    ("/dienhinh",   "-   -   -   +   +   +   +   +",
                    NOMINATIONS, (texts.NOMINATION_NO_RIGHT, LINK)),
    ("!dhm",        "-   -   -   +   +   -   +   +", NOMINATION_FLOW, texts.NOMINATION_MANAGE_ONLY),
    ("/chuyende",   "-   -   -   -   -   -   +   +", THEME_FLOW, (texts.THEME_ADMIN_ONLY, LINK)),
    ("/thongbao",   "-   -   -   -   -   -   +   +",
                    BROADCAST_FLOW, (texts.BROADCAST_ADMIN_ONLY, LINK)),
]  # fmt: skip
BUTTONS: list[Row] = [
    # what                          out mem oth sec dep obs adx adm    allowed says / refused says
    ("!bc:{thon2}",                "-   -   -   +   +   +   -   +", REPORT, T_DENIED),
    ("!bc:{tan_lap}",              "-   -   -   -   -   -   +   -", REPORT, X_DENIED),
    ("!bcx:{thon2}:2026-11",       "-   -   -   +   +   +   -   +", SHEET, T_DENIED),
    ("!bcx:{tan_lap}:2026-11",     "-   -   -   -   -   -   +   -", SHEET, X_DENIED),
    ("!xu:{thon2}",                "-   -   -   +   +   -   -   +", EXPORT, T_DENIED),
    ("!xu:{tan_lap}",              "-   -   -   -   -   -   +   -", EXPORT, X_DENIED),
    ("!xf:{thon2}:xlsx:2026",      "-   -   -   +   +   -   -   +", FILE, T_DENIED),
    ("!xf:{tan_lap}:xlsx:2026",    "-   -   -   -   -   -   +   -", FILE, X_DENIED),
    ("!pv:{p_t}",                  "-   -   -   +   +   -   -   +", PLEDGE_SHOWN, NO),
    ("!pr:{p_t}",                  "-   -   -   +   +   -   -   +", RETURN_ASKED, NO),
    ("!pa:{p_t}",                  "-   -   -   +   +   -   -   +", APPROVED, NO),
    ("!pv:{p_s}",                  "-   -   -   -   -   -   -   +", PLEDGE_SHOWN, NO),
    ("!pr:{p_s}",                  "-   -   -   -   -   -   -   +", RETURN_ASKED, NO),
    ("!pa:{p_s}",                  "-   -   -   -   -   -   -   +", APPROVED, NO),
    ("!pv:{p_x}",                  "-   -   -   -   -   -   +   -", PLEDGE_SHOWN, NO),
    ("!pr:{p_x}",                  "-   -   -   -   -   -   +   -", RETURN_ASKED, NO),
    ("!pa:{p_x}",                  "-   -   -   -   -   -   +   -", APPROVED, NO),
    ("!jv:{j_t}",                  "-   -   -   +   +   -   -   +", JOIN_SHOWN, NO),
    ("!ja:{ja_t}",                 "-   -   -   +   +   -   -   +", JOIN_ACCEPTED, NO),
    ("!jr:{jr_t}",                 "-   -   -   +   +   -   -   +", JOIN_REJECTED, NO),
    ("!jv:{j_x}",                  "-   -   -   -   -   -   +   -", JOIN_SHOWN, NO),
    ("!ja:{ja_x}",                 "-   -   -   -   -   -   +   -", JOIN_ACCEPTED, NO),
    ("!jr:{jr_x}",                 "-   -   -   -   -   -   +   -", JOIN_REJECTED, NO),
    ("!xa:{xa_t}",                 "-   -   -   +   +   -   -   +", EXCUSE_DECIDED, NO),
    ("!xr:{xr_t}",                 "-   -   -   +   +   -   -   +", EXCUSE_DECIDED, NO),
    ("!xa:{xa_x}",                 "-   -   -   -   -   -   +   -", EXCUSE_DECIDED, NO),
    ("!xr:{xr_x}",                 "-   -   -   -   -   -   +   -", EXCUSE_DECIDED, NO),
    ("!rv:{thon2}:2026-11",        "-   -   -   +   +   -   -   +", REVIEW, NO),
    ("!rv:{tan_lap_cell}:2026-11", "-   -   -   -   -   -   +   -", REVIEW, NO),
    ("!dn:{thon2}:2026-12",        "-   -   -   +   +   +   -   +", NUDGED, NO),
    ("!dd:{thon2}:2026-12",        "-   -   -   +   +   +   -   +", DETAILS, NO),
    ("!dn:{tan_lap_cell}:2026-12", "-   -   -   -   -   -   +   -", NUDGED, NO),
    ("!dd:{tan_lap_cell}:2026-12", "-   -   -   -   -   -   +   -", DETAILS, NO),
    ("!dhx:{n_t}",                 "-   -   -   +   +   -   -   +", WITHDRAW_ASKED, T_DENIED),
    ("!dhx:{n_x}",                 "-   -   -   -   -   -   +   -", WITHDRAW_ASKED, XC_DENIED),
    ("!dhn:{n_t}:1",               "-   -   -   -   -   -   -   +", REPLICATED, T_DENIED),
    ("!dhn:{n_x}:1",               "-   -   -   -   -   -   +   -", REPLICATED, XC_DENIED),
    ("!tb:{th_hb}",                "-   -   -   -   -   -   -   +", THEME_PREVIEW, HB_DENIED),
    ("!tb:{th_x}",                 "-   -   -   -   -   -   +   -", THEME_PREVIEW, X_DENIED),
    ("!bcr:{bc_t}",                "-   -   -   -   -   -   -   +", NO_FAILED, T_DENIED),
    ("!bcr:{bc_x}",                "-   -   -   -   -   -   +   -", NO_FAILED, X_DENIED),
]  # fmt: skip
# A role without a target of its own presses the shared one (refused, it changes nothing).
SHARED = {
    "xa_t": "m_t",
    "xr_t": "m_t",
    "xa_x": "m_x",
    "xr_x": "m_x",
    "ja_t": "j_t",
    "jr_t": "j_t",
    "ja_x": "j_x",
    "jr_x": "j_x",
}


@dataclass
class Authz:
    w: World
    ids: dict[Target, int]  # targets: unit, pledge, request… ids
    members: dict[str, int]  # role -> member id (the outsider has none)

    @property
    def h(self) -> Harness:
        return self.w.h

    def data(self, template: str, role: str) -> str:
        """A button's data for this role: a role's own target where it has one."""
        keys = {k for k in self.ids if isinstance(k, str)}
        return template.format(**{k: self.ids.get((k, role), self.ids[k]) for k in keys})


@pytest.fixture
async def authz(sessions: async_sessionmaker[AsyncSession]) -> Authz:
    clock = Clock(START)
    ids: dict[Target, int] = {}
    codes: dict[str, str] = {}
    async with sessions() as s, s.begin():
        report = await import_roster(s, ROSTER, clock())
        assert not report.errors, report.errors
        cell = await ensure_unit(s, TAN_LAP_CELL, START)
        for name in TAN_LAP_PEOPLE:
            s.add(
                Member(
                    unit_id=cell.id,
                    full_name=name,
                    name_key=fold(name),
                    created_at=START,
                    updated_at=START,
                )
            )
        await s.flush()
        units = {
            "thon2": await find_unit(s, THON2),
            "school": await find_unit(s, SCHOOL),
            "hung_binh": await find_unit(s, HUNG_BINH),
            "tan_lap": await find_unit(s, TAN_LAP),
            "tan_lap_cell": cell,
        }
        unit = {k: u for k, u in units.items() if u is not None}
        assert len(unit) == len(units)
        ids.update({k: u.id for k, u in unit.items()})
        by_name = {m.full_name: m for m in await s.scalars(select(Member))}

        # Every chi bộ meets on the 3rd at 19:30.
        rule = MeetingRule(kind="day", day=3, at=time(19, 30), place="Nhà văn hóa").to_json()
        for cell_key in ("thon2", "school", "tan_lap_cell"):
            unit[cell_key].meeting_rule = rule
        await access.grant(s, by_name[PEOPLE[OBS]], unit["thon2"], access.OBSERVER, now=START)
        await access.grant(s, by_name[PEOPLE[ADM]], unit["hung_binh"], access.ADMIN, now=START)
        await access.grant(s, by_name[PEOPLE[ADX]], unit["tan_lap"], access.ADMIN, now=START)
        for name in PEOPLE.values():
            member = by_name[name]
            codes[name] = (await invites.issue(s, member.unit, member, START, days=30)).code

        for target, name in PLEDGES.items():
            pledge = await store.submit(
                s,
                by_name[name],
                year=YEAR,
                theme_id=None,
                study=["Quy định 144-QĐ/TW"],
                shortcomings=["Còn ngại phát biểu"],
                items=[store.DraftItem("Vận động phân loại rác", "5 hộ tham gia", "M9")],
                now=START,
            )
            ids[target] = pledge.id
        for target, name in EXCUSES.items():
            mark = await pm.ensure_mark(s, by_name[name].id, "2026-12", START)
            mark.excuse, mark.excuse_reason = "requested", "Đi công tác"
            await s.flush()
            ids[target] = mark.id
        for n, (target, path, full_name) in enumerate(JOINS):
            where = unit["thon2"] if path == THON2 else unit["tan_lap_cell"]
            request = JoinRequest(
                unit_id=where.id,
                channel=CHANNEL,
                user_id=f"asker{n}",
                chat_id=f"asker{n}",
                full_name=full_name,
                created_at=START,
            )
            s.add(request)
            await s.flush()
            ids[target] = request.id
        for key, where in (("n_t", unit["thon2"]), ("n_x", unit["tan_lap_cell"])):
            model = await nominations.add(
                s,
                where,
                year=YEAR,
                kind=nominations.MO_HINH,
                subject=nominations.TAP_THE,
                name="Tuyến đường hoa tự quản",
                description="1,2 km đường hoa",
                now=START,
            )
            ids[key] = model.id
        for key, where in (("th_hb", unit["hung_binh"]), ("th_x", unit["tan_lap"])):
            theme = await themes.set_theme(s, where, year=YEAR, title="Tự lực, tự cường", now=START)
            ids[key] = theme.id
        for key, where in (("bc_t", unit["thon2"]), ("bc_x", unit["tan_lap"])):
            sent = Broadcast(unit_id=where.id, payload={"text": "Họp"}, status="done")
            sent.created_at = START
            s.add(sent)
            await s.flush()
            ids[key] = sent.id
        members = {role: by_name[name].id for role, name in PEOPLE.items()}
    ids.update({alias: ids[key] for alias, key in SHARED.items()})

    w = World(Harness(sessions, clock=clock), codes, join_code="")
    for role, name in PEOPLE.items():
        await link(w, role, name)
    return Authz(w, ids, members)


async def attempt(a: Authz, chat: str, what: str, *, name: str = "") -> str:
    """A typed command, or a pressed button with the given data (forged: never shown)."""
    if what.startswith("!"):
        inc = Incoming(channel=CHANNEL, chat_id=chat, user_id=chat, choice=what)
    else:
        inc = Incoming(channel=CHANNEL, chat_id=chat, user_id=chat, text=what, display_name=name)
    return text_of(await a.h.deliver(inc))


async def audit_after(a: Authz, last: int) -> list[AuditLog]:
    async with a.h.sessions() as s:
        stmt = select(AuditLog).where(AuditLog.id > last).order_by(AuditLog.id)
        return list(await s.scalars(stmt))


async def last_audit_id(a: Authz) -> int:
    async with a.h.sessions() as s:
        return await s.scalar(select(func.max(AuditLog.id))) or 0


def expected(marks: str, says: Says, refusal: Refusal, role: str) -> tuple[bool, str]:
    allowed = marks.split()[ROLES.index(role)] == "+"
    if allowed:
        phrase = says if isinstance(says, str) else says.get(role, says["*"])
        return True, phrase
    if isinstance(refusal, tuple):
        return False, refusal[1] if role == OUT else refusal[0]
    return False, refusal


def _refusals(refusal: Refusal) -> tuple[str, ...]:
    return refusal if isinstance(refusal, tuple) else (refusal,)


async def after(a: Authz, role: str, last: int) -> tuple[list[AuditLog], str | None]:
    """The audit rows since `last`, and the flow the role's conversation is in now."""
    member = a.members.get(role)
    key = member_key(member) if member is not None else f"c:{CHANNEL}:{role}"
    async with a.h.sessions() as s:
        stmt = select(AuditLog).where(AuditLog.id > last).order_by(AuditLog.id)
        conv = await s.get(Conversation, key)
        return list(await s.scalars(stmt)), conv.flow if conv is not None else None


async def run_matrix(a: Authz, rows: list[Row]) -> int:
    """Every row, every role; returns the number of attempts. Collects every mismatch and
    fails with the whole list."""
    problems: list[str] = []
    last = await last_audit_id(a)
    attempts = 0
    for what, marks, says, refusal in rows:
        assert len(marks.split()) == len(ROLES), what
        for role in ROLES:
            data = a.data(what, role)
            allowed, phrase = expected(marks, says, refusal, role)
            # Everyone writes under the secretary's display name: names give no rights.
            reply = await attempt(a, role, data, name=PEOPLE[SEC])
            attempts += 1
            new, flow = await after(a, role, last)
            last = new[-1].id if new else last
            refused = [r for r in new if r.refused]
            where = f"{role} {data}"
            if phrase not in reply:
                problems.append(f"{where}: expected {phrase!r}, got {reply[:160]!r}")
            if allowed:
                if any(no and no in reply for no in _refusals(refusal)):
                    problems.append(f"{where}: allowed, yet refused: {reply[:160]!r}")
                if refused:
                    problems.append(f"{where}: allowed but audited as refused {refused[0].action}")
                if flow is not None:  # leave the flow the attempt opened
                    await attempt(a, role, "/huy")
                continue
            if flow is not None:
                problems.append(f"{where}: refused, yet the conversation is in {flow}")
            if len(refused) != 1:
                problems.append(f"{where}: {len(refused)} refused audit rows, expected 1")
            elif refused[0].actor_member_id != a.members.get(role):
                problems.append(f"{where}: audited as {refused[0].actor_member_id}")
    assert not problems, "\n".join(problems)
    return attempts


async def test_every_command_by_every_role(authz: Authz) -> None:
    assert await run_matrix(authz, COMMANDS) == len(COMMANDS) * len(ROLES)


async def test_every_button_by_every_role_on_each_target(authz: Authz) -> None:
    assert await run_matrix(authz, BUTTONS) == len(BUTTONS) * len(ROLES)
    # The refused presses changed nothing: the shared targets still wait.
    async with authz.h.sessions() as s:
        for key, status in (
            ("p_t", store.PENDING),
            ("p_s", store.APPROVED),
            ("p_x", store.APPROVED),
        ):
            pledge = await s.get(Pledge, authz.ids[key])  # p_s, p_x: by their one approver
            assert pledge is not None and pledge.status == status
        for key in ("j_t", "j_x"):
            request = await s.get(JoinRequest, authz.ids[key])
            assert request is not None and request.status == "pending"
        for key in ("m_t", "m_x"):
            mark = await s.get(MemberPeriod, authz.ids[key])
            assert mark is not None and mark.excuse == "requested"


async def test_a_forged_button_on_a_pledge_of_the_other_chi_bo_is_refused(authz: Authz) -> None:
    a = authz
    last = await last_audit_id(a)
    pledge_id = a.ids["p_s"]  # Đặng Thị Yến's, Chi bộ Trường Tiểu học
    for data in (f"!pa:{pledge_id}", f"!pr:{pledge_id}", f"!pv:{pledge_id}"):
        assert texts.NOT_ALLOWED in await attempt(a, SEC, data)
    # With the return flow of a thôn 2 pledge open, the forged approve is refused all the same.
    assert RETURN_ASKED in await attempt(a, SEC, f"!pr:{a.ids['p_t']}")
    assert texts.NOT_ALLOWED in await attempt(a, SEC, f"!pa:{pledge_id}")
    await attempt(a, SEC, "/huy")
    async with a.h.sessions() as s:
        pledge = await s.get(Pledge, pledge_id)
        assert pledge is not None
        assert (pledge.status, pledge.decided_by, pledge.comment) == (store.PENDING, None, None)
        school = await find_unit(s, SCHOOL)
        assert school is not None
    rows = [r for r in await audit_after(a, last) if r.refused]
    assert [(r.action, r.actor_member_id, r.unit_id, r.detail["pledge"]) for r in rows] == [
        ("refused:pledge_decide", a.members[SEC], school.id, pledge_id)
    ] * 4

    # Nor may the secretary decide their own absence: the deputy, who was asked, does.
    await attempt(a, SEC, "/xinvang")
    await attempt(a, SEC, "Đi tập huấn ở huyện")
    button = a.h.with_choice(DEP, texts.BTN_AGREE)
    own = next(c.data for c in button.choices if c.label == texts.BTN_AGREE)
    assert not [c for r in a.h.to(SEC) for c in r.choices if c.data == own]  # not asked
    assert texts.NOT_ALLOWED in await attempt(a, SEC, own)
    assert EXCUSE_DECIDED in await attempt(a, DEP, own)
    refused = [r for r in await audit_after(a, rows[-1].id) if r.refused]
    assert [(r.action, r.actor_member_id) for r in refused] == [("refused:review", a.members[SEC])]


async def test_rights_follow_the_platform_user_id_not_a_name(authz: Authz) -> None:
    a = authz
    last = await last_audit_id(a)
    # Another account with the secretary's display name has no rights at all.
    for what, says in (
        ("/chibo", texts.NOT_LINKED),
        ("/baocao", texts.NOT_LINKED),
        (f"!pa:{a.ids['p_t']}", texts.NOT_ALLOWED),
        (f"!bc:{a.ids['thon2']}", texts.STALE_BUTTON),
    ):
        assert says in await attempt(a, "impostor", what, name=PEOPLE[SEC]), what
    # A member who calls themselves by the secretary's name is still that member.
    assert texts.NO_ADMIN_SCOPE in await attempt(a, MEM, "/baocao", name=PEOPLE[SEC])
    # The secretary's chat, written from another user id, is not the secretary.
    impostor = Incoming(
        channel=CHANNEL, chat_id=SEC, user_id="intruder", text="/chibo", display_name="Thắng"
    )
    assert texts.NOT_LINKED in text_of(await a.h.deliver(impostor))
    # The secretary, under any display name, keeps the rights.
    assert OVERVIEW in await attempt(a, SEC, "/chibo", name="")
    rows = [(r.actor_member_id, r.refused) for r in await audit_after(a, last)]
    assert rows == [(None, True)] * 4 + [(a.members[MEM], True), (None, True)]
    async with a.h.sessions() as s:
        pledge = await s.get(Pledge, a.ids["p_t"])
        assert pledge is not None and pledge.status == store.PENDING

    # On Telegram, the user id is the numeric id: the same name and username on another
    # account give another user id.
    def update(user_id: int) -> Update:
        sender = {
            "id": user_id,
            "is_bot": False,
            "first_name": "Thắng",
            "last_name": "Trần Văn",
            "username": "tranvanthang",
        }
        message = {
            "message_id": 1,
            "date": 0,
            "chat": {"id": user_id, "type": "private"},
            "from": sender,
            "text": "/chibo",
        }
        return Update.de_json({"update_id": user_id, "message": message}, None)

    first, second = to_incoming(update(1001)), to_incoming(update(2002))
    assert first is not None and second is not None
    assert (first.user_id, second.user_id) == ("1001", "2002")
    assert first.display_name == second.display_name


async def test_command_line_reports_are_audited_as_the_operator(
    db_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """No chat roles at the server's terminal: whoever runs it is the operator, and every
    report, export and list is recorded as theirs."""
    async with sessions() as s, s.begin():
        assert not (await import_roster(s, ROSTER, START)).errors
    async with sessions() as s:
        before = await s.scalar(select(func.max(AuditLog.id))) or 0
    runs = [
        ("report", "--unit", HUNG_BINH, "--year", "2026", "--format", "csv"),
        ("export", "--unit", THON2, "--year", "2026", "--out", str(tmp_path / "a.xlsx")),
        ("nomination", "list", "--unit", HUNG_BINH, "--year", "2026"),
    ]
    for args in runs:
        done = cli(db_url, *args)
        assert done.returncode == 0, done.stderr
    async with sessions() as s:
        rows = list(await s.scalars(select(AuditLog).where(AuditLog.id > before)))
    got = [(r.action, r.actor, r.actor_member_id, r.refused) for r in rows]
    assert got == [
        ("report_file", "cli", None, False),
        ("export", "cli", None, False),
        ("nomination_list", "cli", None, False),
    ]
