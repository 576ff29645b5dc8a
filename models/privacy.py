"""Data care: everything held about one member (`export`), and erasing it (`forget`).

Only what the bot needs is collected: the roster import reads its known columns (unit, name,
chức vụ, vai trò, loại, miễn sinh hoạt, phone) and nothing else, so a party card number, a
citizen ID (CCCD/CMND) or a date of admission in the file is never stored.

`forget` erases a person and keeps the anonymous counts, so past reports still add up: rows
that reports count (pledges, assessments and their entries, member_periods, deliveries,
nominations) stay with their statuses, numbers and dates; their text goes. What it does with
each table (in the caller's transaction, never committing; a second run changes nothing):

table               forget
------------------  ------------------------------------------------------------------------
members             row kept: id, unit, category, exempt, active, created_at. full_name
                    "Đảng viên đã xóa #id", name_key its folded form, position "", party_role
                    "member", phone and preferred_channel NULL; active False (the person
                    left) unless keep_active
roles, identities   deleted
invites             their personal and /lienket codes deleted
code_attempts       those from their chats deleted
join_requests       pending ones by them deleted; decided ones kept, full_name the
                    placeholder, user_id and chat_id ""
conversations       theirs (by member, by their chats) deleted
pledges             study, shortcomings [], comment NULL; year, version, status, theme,
                    dates kept
pledge_items        action, result ""; position, deadline, breakthrough kept
assessments         difficulties NULL; period, pledge, late, who entered it, dates kept
assessment_entries  note NULL; status kept
member_periods      excuse_reason, review_comment NULL; excuse status and dates kept
year_reviews        text ""
nominations         naming them (linked, or an unlinked person under their exact name
                    put forward by a unit of their chain): name the placeholder,
                    description "", result NULL; unit, year, kind, subject, replicated kept
deliveries          to them (their member id or chats): payload {"text": ""}, chat_id "",
                    last_error NULL; kind, status, dates kept; a pending one becomes
                    unreachable
inbox               from their accounts or chats: chat_id, user_id, text, choice, display
                    name blanked; event, status, dates kept; a pending one becomes failed
audit_log           kept (who did what is held as ids)
everything else     their name and phone (and a display name only they use) masked as
                    "[đã xóa]" wherever text is kept: other people's pledges, comments,
                    nominations, plans, themes, places; in the logs (deliveries, inbox,
                    conversations, audit_log, broadcasts) also their platform ids and their
                    own distinctive texts (12+ characters, not in another member's pledge);
                    a file attached to a message (an export) that names them is dropped
org_units, unit_periods, unit_plans, themes, meeting_overrides, broadcasts, channel_usage,
oa_tokens, leases: nothing of a person (a name written into one is masked, as above).
unit_versions, unit_year_counts (the report's cache): counts only; the erasure's writes make
the unit's cached counts stale, recomputed at the next report.

Ids that point to the member (decided_by, entered_by, created_by, actor_member_id, …) stay:
they now lead to the anonymous row.

Why a forgotten member becomes inactive by default: erasure is asked for by someone who has left
(moved away, died, expelled). An active member without a name would stay "chưa nộp" in every
digest, could never be reached, and the next roster import would add them again under their
real name, counting them twice. Reports count today's active members, so leaving changes the
figures exactly as any departure does; the erasure itself changes none (see the tests).
keep_active is for a person who still belongs to the unit but must no longer be named, or to
keep a year's figures unchanged until it is closed.
"""

from __future__ import annotations

import base64
import binascii
import html
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Text, cast, delete, false, or_, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession

from handlers import texts
from handlers.text import fold
from models.orgs import full_name
from models.tables import (
    Assessment,
    AssessmentEntry,
    AuditLog,
    Base,
    Broadcast,
    CodeAttempt,
    Conversation,
    Delivery,
    Identity,
    InboxUpdate,
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
    UnitPlan,
    YearReview,
)

# What forget does with every table (the tests check that no table is left undecided).
DECISIONS = {
    "org_units": "nothing personal",
    "members": "anonymised: placeholder name, personal fields cleared, counts' fields kept",
    "roles": "deleted",
    "identities": "deleted",
    "invites": "theirs deleted",
    "code_attempts": "from their chats deleted",
    "join_requests": "pending by them deleted; decided ones anonymised",
    "themes": "name masked",
    "pledges": "texts erased; status, version, dates kept",
    "pledge_items": "texts erased; position, deadline, breakthrough kept",
    "meeting_overrides": "name masked",
    "assessments": "difficulties erased; period, late, dates kept",
    "assessment_entries": "note erased; status kept",
    "member_periods": "reasons and comments erased; excuse status kept",
    "unit_periods": "nothing personal",
    "unit_plans": "name masked",
    "nominations": "naming them: texts erased, counts' fields kept; others: name masked",
    "year_reviews": "text erased",
    "broadcasts": "name masked",
    "conversations": "theirs deleted; others: name and texts masked",
    "inbox": "from them: blanked; others: name and texts masked",
    "deliveries": "to them: blanked; others: name and texts masked, a file naming them dropped",
    "channel_usage": "nothing personal",
    "oa_tokens": "nothing personal",
    "leases": "nothing personal (which bot process leads)",
    "unit_versions": "nothing personal (a unit's version, bumped by the erasure's writes)",
    "unit_year_counts": "nothing personal (a unit's counts, recomputed after the erasure)",
    "audit_log": "kept; name, phone and ids in details masked",
}

MIN_TEXT = 12  # shorter texts of theirs are not looked for elsewhere (too likely to be common)
CHUNK = 500
_LIKE_ESCAPE = "!"
# Audit detail keys whose value is the member a row is about.
AUDIT_SUBJECT_KEYS = ("member", "subject", "target", "joined")
# Statuses of rows that are still to be sent or processed.
_OUTBOX_OPEN = ("pending",)


def placeholder(member_id: int) -> str:
    return texts.FORGOTTEN_NAME.format(id=member_id)


def is_forgotten(member: Member) -> bool:
    return member.full_name == placeholder(member.id)


# -- export ------------------------------------------------------------------------------------


async def export(session: AsyncSession, member: Member, now: datetime) -> dict[str, Any]:
    """Everything held about the member, JSON-serialisable (dates ISO 8601). Other people appear
    only by id: their names in the messages are replaced by "[#id]"."""
    mid = member.id
    identities = list(await session.scalars(select(Identity).where(Identity.member_id == mid)))
    chats = {(i.channel, i.chat_id) for i in identities}
    users = {(i.channel, i.user_id) for i in identities}
    units: dict[int, str] = {}

    async def unit_path(unit_id: int) -> str:
        if unit_id not in units:
            unit = await session.get(OrgUnit, unit_id)
            units[unit_id] = await full_name(session, unit) if unit else f"#{unit_id}"
        return units[unit_id]

    pledges = list(
        await session.scalars(
            select(Pledge).where(Pledge.member_id == mid).order_by(Pledge.year, Pledge.version)
        )
    )
    assessments = list(
        await session.scalars(
            select(Assessment).where(Assessment.member_id == mid).order_by(Assessment.period)
        )
    )
    periods = await session.scalars(
        select(MemberPeriod).where(MemberPeriod.member_id == mid).order_by(MemberPeriod.period)
    )
    reviews = await session.scalars(
        select(YearReview).where(YearReview.member_id == mid).order_by(YearReview.year)
    )
    roles = await session.scalars(select(Role).where(Role.member_id == mid).order_by(Role.id))
    invites = await session.scalars(
        select(Invite).where(Invite.member_id == mid).order_by(Invite.id)
    )
    requests = await _join_requests(session, mid, users)
    nominations = await _nominations(session, member)
    deliveries = await _deliveries_to(session, mid, chats)
    inbox = await _inbox_from(session, users, chats)
    conversations = await _conversations(session, mid, chats)
    audit = await _audit_about(session, mid)

    result: dict[str, Any] = {
        "exported_at": now,
        "member": _columns(
            member,
            "id",
            "full_name",
            "position",
            "party_role",
            "category",
            "exempt",
            "phone",
            "active",
            "preferred_channel",
            "created_at",
            "updated_at",
        ),
        "unit": {"id": member.unit_id, "path": await unit_path(member.unit_id)},
        "roles": [
            {"unit": await unit_path(r.unit_id), "role": r.role, "created_at": r.created_at}
            for r in roles
        ],
        "identities": [
            _columns(
                i,
                "channel",
                "user_id",
                "chat_id",
                "display_name",
                "created_at",
                "last_inbound_at",
                "unreachable_at",
            )
            for i in identities
        ],
        # Codes are credentials, not data about the person: only when and how they were used.
        "invites": [
            _columns(v, "purpose", "created_at", "expires_at", "used_at", "revoked_at")
            for v in invites
        ],
        "join_requests": [
            {"unit": await unit_path(r.unit_id)}
            | _columns(
                r,
                "channel",
                "user_id",
                "chat_id",
                "full_name",
                "status",
                "created_at",
                "decided_at",
            )
            for r in requests
        ],
        "pledges": [
            _columns(
                p,
                "id",
                "year",
                "version",
                "status",
                "theme_id",
                "study",
                "shortcomings",
                "comment",
                "decided_by",
                "submitted_at",
                "decided_at",
            )
            | {
                "items": [
                    _columns(
                        i,
                        "id",
                        "position",
                        "action",
                        "result",
                        "deadline",
                        "breakthrough",
                        "kept_vague",
                    )
                    for i in p.items
                ]
            }
            for p in pledges
        ],
        "assessments": [
            _columns(
                a,
                "period",
                "pledge_id",
                "difficulties",
                "late",
                "entered_by",
                "submitted_at",
                "updated_at",
            )
            | {"entries": [_columns(e, "pledge_item_id", "status", "note") for e in a.entries]}
            for a in assessments
        ],
        "periods": [
            _columns(
                p,
                "period",
                "excuse",
                "excuse_reason",
                "reopened_at",
                "reviewed_at",
                "review_comment",
                "decided_by",
                "updated_at",
            )
            for p in periods
        ],
        "year_reviews": [_columns(r, "year", "text", "updated_at") for r in reviews],
        "nominations": [
            {"unit": await unit_path(n.unit_id)}
            | _columns(
                n,
                "year",
                "kind",
                "subject",
                "name",
                "description",
                "result",
                "replicated",
                "nominated_by",
                "created_at",
            )
            for n in nominations
        ],
        "conversations": [
            _columns(c, "key", "flow", "step", "data", "updated_at") for c in conversations
        ],
        "deliveries": [
            _columns(d, "id", "channel", "chat_id", "kind", "status", "created_at", "sent_at")
            | {"payload": _without_file(d.payload)}
            for d in deliveries
        ],
        "inbox": [
            _columns(u, "id", "channel", "status", "received_at", "processed_at")
            | {"payload": u.payload}
            for u in inbox
        ],
        "audit": [
            _columns(a, "at", "actor", "action", "refused", "detail")
            | {
                "unit": await unit_path(a.unit_id) if a.unit_id else None,
                "by_them": a.actor_member_id == mid,
            }
            for a in audit
        ],
    }
    for key in ("deliveries", "inbox", "audit", "conversations"):
        result[key] = await _mask_others(session, mid, result[key])
    exported: dict[str, Any] = _jsonable(result)
    return exported


def _columns(row: Any, *names: str) -> dict[str, Any]:
    return {name: getattr(row, name) for name in names}


def _without_file(payload: dict[str, Any]) -> dict[str, Any]:
    """A message's payload without a file's bytes (its name is kept)."""
    doc = payload.get("document")
    if not isinstance(doc, dict):
        return payload
    return payload | {"document": {"name": doc.get("name")}}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


# Runs of 2 to 7 capitalised words: where another person's name can be.
_WORD = re.compile(r"[^\W\d_]+")
_MAX_NAME_WORDS = 7


def _name_candidates(text: str) -> set[str]:
    found: set[str] = set()
    run: list[re.Match[str]] = []
    for m in [*_WORD.finditer(text), None]:
        joined = m is not None and bool(run) and text[run[-1].end() : m.start()] == " "
        if m is not None and m.group()[0].isupper() and (joined or not run):
            run.append(m)
            continue
        for i in range(len(run)):
            for j in range(i + 2, min(len(run), i + _MAX_NAME_WORDS) + 1):
                found.add(text[run[i].start() : run[j - 1].end()])
        run = [m] if m is not None and m.group()[0].isupper() else []
    return found


async def _mask_others(session: AsyncSession, member_id: int, value: Any) -> Any:
    """Other members' full names in the strings of `value` become "[#id]"."""
    strings: list[str] = []

    def collect(s: str) -> str:
        strings.append(s)
        return s

    _walk(value, collect)
    candidates = sorted({c for s in strings for c in _name_candidates(s)})
    names: dict[str, int] = {}
    for chunk in _chunks(candidates, CHUNK):
        rows = await session.execute(
            select(Member.full_name, Member.id).where(
                Member.full_name.in_(chunk), Member.id != member_id
            )
        )
        names.update((name, mid) for name, mid in rows)
    if not names:
        return value
    pattern = _words_pattern(names)
    return _walk(value, lambda s: pattern.sub(lambda m: f"[#{names[m.group()]}]", s))


# -- forget ------------------------------------------------------------------------------------


@dataclass
class ForgetResult:
    identities: int = 0
    roles: int = 0
    invites: int = 0
    conversations: int = 0
    join_requests: int = 0
    pledges: int = 0
    assessments: int = 0
    periods: int = 0
    year_reviews: int = 0
    nominations: int = 0
    deliveries: int = 0
    inbox: int = 0
    mentions: int = 0  # other rows where their name, ids or texts were masked
    member: bool = False  # the member row itself changed

    def changed(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))


@dataclass
class _Needles:
    """What identifies the person, looked for in the rest of the database."""

    words: set[str] = field(default_factory=set)  # name, phone: masked as whole words
    ids: set[str] = field(default_factory=set)  # platform ids: masked where a string is one
    texts: set[str] = field(default_factory=set)  # their own texts: masked in the logs


async def forget(
    session: AsyncSession, member: Member, now: datetime, *, keep_active: bool = False
) -> ForgetResult:
    """Erase the member's personal data in the caller's transaction (see the module docstring).
    Running it again changes nothing."""
    result = ForgetResult()
    mid = member.id
    # PostgreSQL: lock the row, so two erasures of one person never run at once.
    await session.execute(select(Member.id).where(Member.id == mid).with_for_update())
    identities = list(await session.scalars(select(Identity).where(Identity.member_id == mid)))
    chats = {(i.channel, i.chat_id) for i in identities}
    users = {(i.channel, i.user_id) for i in identities}
    needles = await _needles(session, member, identities)

    # Their own rows, found by id or by their chats.
    result.identities = len(identities)
    for identity in identities:
        await session.delete(identity)
    result.roles = _count(await session.execute(delete(Role).where(Role.member_id == mid)))
    result.invites = _count(await session.execute(delete(Invite).where(Invite.member_id == mid)))
    for channel, chat_id in chats:
        await session.execute(
            delete(CodeAttempt).where(
                CodeAttempt.channel == channel, CodeAttempt.chat_id == chat_id
            )
        )
    conversations = await _conversations(session, mid, chats)
    result.conversations = len(conversations)
    for conv in conversations:
        await session.delete(conv)
    for request in await _join_requests(session, mid, users):
        if request.status == "pending":
            await session.delete(request)
        elif (request.full_name, request.user_id, request.chat_id) != (placeholder(mid), "", ""):
            request.full_name, request.user_id, request.chat_id = placeholder(mid), "", ""
        else:
            continue
        result.join_requests += 1

    for pledge in await session.scalars(select(Pledge).where(Pledge.member_id == mid)):
        changed = bool(pledge.study or pledge.shortcomings or pledge.comment is not None)
        pledge.study, pledge.shortcomings, pledge.comment = [], [], None
        for item in pledge.items:
            changed = changed or bool(item.action or item.result)
            item.action, item.result = "", ""
        result.pledges += changed
    for assessment in await session.scalars(select(Assessment).where(Assessment.member_id == mid)):
        changed = assessment.difficulties is not None
        assessment.difficulties = None
        for entry in assessment.entries:
            changed = changed or entry.note is not None
            entry.note = None
        result.assessments += changed
    result.periods = _count(
        await session.execute(
            update(MemberPeriod)
            .where(
                MemberPeriod.member_id == mid,
                or_(
                    MemberPeriod.excuse_reason.is_not(None),
                    MemberPeriod.review_comment.is_not(None),
                ),
            )
            .values(excuse_reason=None, review_comment=None)
        )
    )
    result.year_reviews = _count(
        await session.execute(
            update(YearReview)
            .where(YearReview.member_id == mid, YearReview.text != "")
            .values(text="")
        )
    )
    for nomination in await _nominations(session, member):
        values = (placeholder(mid), "", None)
        if (nomination.name, nomination.description, nomination.result) != values:
            nomination.name, nomination.description, nomination.result = values
            result.nominations += 1

    for delivery in await _deliveries_to(session, mid, chats):
        blank = {"text": ""}
        if delivery.payload != blank or delivery.chat_id or delivery.last_error is not None:
            delivery.payload, delivery.chat_id, delivery.last_error = blank, "", None
            result.deliveries += 1
        if delivery.status in _OUTBOX_OPEN:
            delivery.status = "unreachable"
    for update_row in await _inbox_from(session, users, chats):
        payload = _blank_incoming(update_row.payload)
        if payload != update_row.payload or update_row.error is not None:
            update_row.payload, update_row.error = payload, None
            result.inbox += 1
        if update_row.status == "pending":
            update_row.status, update_row.processed_at = "failed", now
    await session.flush()

    # Elsewhere: their name, phone, ids and texts in other people's rows and in the logs.
    result.mentions = await _sweep(session, needles)
    result.mentions += await _drop_files(session, needles)

    member_values: dict[str, Any] = {
        "full_name": placeholder(mid),
        "name_key": fold(placeholder(mid)),
        "position": "",
        "party_role": "member",
        "phone": None,
        "preferred_channel": None,
    }
    if not keep_active:
        member_values["active"] = False
    if any(getattr(member, k) != v for k, v in member_values.items()):
        for key, value in member_values.items():
            setattr(member, key, value)
        member.updated_at = now
        result.member = True
    await session.flush()
    return result


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _blank_incoming(payload: dict[str, Any]) -> dict[str, Any]:
    """An inbox payload (handlers.messages.Incoming) with nothing of the person left."""
    return payload | {
        "chat_id": "",
        "user_id": "",
        "text": "",
        "choice": None,
        "display_name": "",
        "ack_ref": None,
    }


async def _needles(
    session: AsyncSession, member: Member, identities: Sequence[Identity]
) -> _Needles:
    needles = _Needles()
    if not is_forgotten(member):
        needles.words.add(member.full_name)
    if member.phone:
        needles.words.add(member.phone)
    for identity in identities:
        needles.ids.update({identity.user_id, identity.chat_id})
        name = identity.display_name or ""
        if len(name.split()) >= 2 and not await _shared_display_name(session, identity):
            needles.words.add(name)
    users = {(i.channel, i.user_id) for i in identities}
    for request in await _join_requests(session, member.id, users):
        if len(request.full_name.split()) >= 2 and request.full_name != placeholder(member.id):
            needles.words.add(request.full_name)
    needles.words.discard("")
    needles.ids.discard("")

    # Their own texts, looked for in the logs when distinctive.
    mine: set[str] = set()
    study: set[str] = set()
    for pledge in await session.scalars(select(Pledge).where(Pledge.member_id == member.id)):
        study.update(pledge.study)
        mine.update(pledge.shortcomings)
        mine.add(pledge.comment or "")
        mine.update(t for item in pledge.items for t in (item.action, item.result))
    for assessment in await session.scalars(
        select(Assessment).where(Assessment.member_id == member.id)
    ):
        mine.add(assessment.difficulties or "")
        mine.update(e.note or "" for e in assessment.entries)
    for mark in await session.scalars(
        select(MemberPeriod).where(MemberPeriod.member_id == member.id)
    ):
        mine.update((mark.excuse_reason or "", mark.review_comment or ""))
    mine.update(
        await session.scalars(select(YearReview.text).where(YearReview.member_id == member.id))
    )
    titles = [t for t in await session.scalars(select(Theme.title)) if t]
    study = {
        s
        for s in study
        if s not in texts.STUDY_STANDARD_OPTIONS and not any(t in s for t in titles)
    }
    candidates = {t.strip() for t in mine | study if len(t.strip()) >= MIN_TEXT}
    needles.texts = candidates - await _used_by_others(session, member.id, candidates)
    return needles


async def _shared_display_name(session: AsyncSession, identity: Identity) -> bool:
    """A display name someone else's account has too ("Người dùng", "Admin"): not identifying."""
    other = await session.scalar(
        select(Identity.id)
        .where(Identity.display_name == identity.display_name, Identity.id != identity.id)
        .limit(1)
    )
    return other is not None


async def _used_by_others(session: AsyncSession, member_id: int, candidates: set[str]) -> set[str]:
    """Those of the texts that another member's pledge holds too: theirs as much as this one's."""
    if not candidates:
        return set()
    shared: set[str] = set()
    values = sorted(candidates)
    for chunk in _chunks(values, CHUNK):
        stmt = (
            select(PledgeItem.action, PledgeItem.result)
            .join(Pledge, Pledge.id == PledgeItem.pledge_id)
            .where(
                Pledge.member_id != member_id,
                or_(PledgeItem.action.in_(chunk), PledgeItem.result.in_(chunk)),
            )
        )
        for action, result in await session.execute(stmt):
            shared.update({action, result} & candidates)
    lists = (Pledge.study, Pledge.shortcomings)
    stmt = select(*lists).where(
        Pledge.member_id != member_id, or_(*(_contains(c, values, escaped=True) for c in lists))
    )
    for row in await session.execute(stmt):
        for texts_of in row:
            shared.update(set(texts_of) & candidates)
    return shared


# Columns searched for a forgotten person: (table, columns, is a log). In a log, their platform
# ids and their own texts are masked too; elsewhere only their name and phone.
_SWEEP: tuple[tuple[type[Base], tuple[str, ...], bool], ...] = (
    (Delivery, ("payload", "last_error"), True),
    (InboxUpdate, ("payload", "error"), True),
    (Conversation, ("data", "menu"), True),
    (AuditLog, ("detail",), True),
    (Broadcast, ("payload", "progress_text"), True),
    (Pledge, ("study", "shortcomings", "comment"), False),
    (PledgeItem, ("action", "result"), False),
    (Assessment, ("difficulties",), False),
    (AssessmentEntry, ("note",), False),
    (MemberPeriod, ("excuse_reason", "review_comment"), False),
    (YearReview, ("text",), False),
    (Nomination, ("name", "description", "result"), False),
    (UnitPlan, ("items", "standards"), False),
    (Theme, ("title", "summary"), False),
    (MeetingOverride, ("place",), False),
)


async def _sweep(session: AsyncSession, needles: _Needles) -> int:
    """Mask the needles wherever the sweep looks; returns the rows changed."""
    if not (needles.words or needles.ids or needles.texts):
        return 0
    words = _words_pattern(needles.words) if needles.words else None
    changed = 0
    for model, names, is_log in _SWEEP:
        ids = needles.ids if is_log else set()
        own_texts = needles.texts if is_log else set()
        if not (needles.words or ids or own_texts):
            continue

        def mask(s: str, ids: set[str] = ids, own_texts: set[str] = own_texts) -> str:
            if s in ids:
                return texts.FORGOTTEN_TEXT
            if words is not None:
                s = words.sub(texts.FORGOTTEN_TEXT, s)
            for t in sorted(own_texts, key=len, reverse=True):
                s = s.replace(t, texts.FORGOTTEN_TEXT)
            return s

        key = sa_inspect(model).primary_key[0]
        columns = [getattr(model, n) for n in names]
        conditions: list[ColumnElement[bool]] = []
        for column in columns:
            is_json = _is_json(column)
            conditions.append(_contains(column, sorted(needles.words | own_texts), escaped=is_json))
            if ids and is_json:
                conditions.append(_contains(column, sorted(f'"{i}"' for i in ids), escaped=False))
                conditions.append(
                    _contains(column, sorted(json.dumps(i) for i in ids), escaped=False)
                )
        rows = (await session.execute(select(key, *columns).where(or_(*conditions)))).all()
        for row in rows:
            values: dict[str, Any] = {}
            for name, value in zip(names, row[1:], strict=True):
                new = _walk(value, mask)
                if new != value:
                    values[name] = new
            if values:
                await session.execute(update(model).where(key == row[0]).values(**values))
                changed += 1
    return changed


async def _drop_files(session: AsyncSession, needles: _Needles) -> int:
    """A file (an export, a report) attached to a message and naming them is dropped."""
    look_for = needles.words | needles.texts
    if not look_for:
        return 0
    stmt = select(Delivery.id, Delivery.payload).where(
        _contains(Delivery.payload, ['"document"'], escaped=False)
    )
    changed = 0
    for delivery_id, payload in (await session.execute(stmt)).all():
        doc = payload.get("document")
        if isinstance(doc, dict) and _file_mentions(str(doc.get("data", "")), look_for):
            new = {k: v for k, v in payload.items() if k != "document"}
            await session.execute(
                update(Delivery).where(Delivery.id == delivery_id).values(payload=new)
            )
            changed += 1
    return changed


def _file_mentions(data: str, needles: Iterable[str]) -> bool:
    try:
        content = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return False
    parts: list[str] = []
    if content.startswith(b"PK"):
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                parts = [archive.read(n).decode("utf-8", "ignore") for n in archive.namelist()]
        except (zipfile.BadZipFile, OSError, ValueError):
            parts = []
    else:
        parts = [content.decode("utf-8-sig", "ignore")]
    # XML text: "&#224;" for "à" (openpyxl), "&amp;" for "&"
    parts = [html.unescape(part) for part in parts]
    return any(n in part for part in parts for n in needles)


# -- what belongs to them ----------------------------------------------------------------------


async def _join_requests(
    session: AsyncSession, member_id: int, users: set[tuple[str, str]]
) -> list[JoinRequest]:
    conditions: list[ColumnElement[bool]] = [JoinRequest.member_id == member_id]
    conditions += [
        (JoinRequest.channel == channel) & (JoinRequest.user_id == user_id)
        for channel, user_id in users
    ]
    stmt = select(JoinRequest).where(or_(*conditions)).order_by(JoinRequest.id)
    return list(await session.scalars(stmt))


async def _nominations(session: AsyncSession, member: Member) -> list[Nomination]:
    """Nominations naming the member: linked to them, or an unlinked person nominated by a unit
    on their unit's chain under their full name."""
    from models.orgs import ancestor_ids

    linked = select(Nomination).where(Nomination.member_id == member.id)
    found = {n.id: n for n in await session.scalars(linked)}
    if not is_forgotten(member):
        key = fold(member.full_name)
        unlinked = select(Nomination).where(
            Nomination.member_id.is_(None),
            Nomination.subject == "ca_nhan",
            Nomination.unit_id.in_(ancestor_ids(member.unit)),
        )
        for n in await session.scalars(unlinked):
            if fold(n.name) == key:
                found[n.id] = n
    return [found[k] for k in sorted(found)]


async def _deliveries_to(
    session: AsyncSession, member_id: int, chats: set[tuple[str, str]]
) -> list[Delivery]:
    conditions: list[ColumnElement[bool]] = [Delivery.member_id == member_id]
    conditions += [(Delivery.channel == c) & (Delivery.chat_id == chat) for c, chat in chats]
    stmt = select(Delivery).where(or_(*conditions)).order_by(Delivery.id)
    return list(await session.scalars(stmt))


async def _inbox_from(
    session: AsyncSession, users: set[tuple[str, str]], chats: set[tuple[str, str]]
) -> list[InboxUpdate]:
    """Updates from their accounts or chats (Incoming payloads: channel, chat_id, user_id)."""
    wanted = {("user_id", c, u) for c, u in users} | {("chat_id", c, chat) for c, chat in chats}
    if not wanted:
        return []
    ids = sorted({v for _, _, v in wanted})
    stmt = (
        select(InboxUpdate)
        .where(
            InboxUpdate.channel.in_(sorted({c for _, c, _ in wanted})),
            or_(
                _contains(InboxUpdate.payload, [json.dumps(i) for i in ids], escaped=False),
                _contains(InboxUpdate.payload, [f'"{i}"' for i in ids], escaped=False),
            ),
        )
        .order_by(InboxUpdate.id)
    )
    found = []
    for row in await session.scalars(stmt):
        payload = row.payload
        if any((k, row.channel, str(payload.get(k))) in wanted for k in ("user_id", "chat_id")):
            found.append(row)
    return found


async def _conversations(
    session: AsyncSession, member_id: int, chats: set[tuple[str, str]]
) -> list[Conversation]:
    from models.conversations import member_key

    keys = [member_key(member_id), *(f"c:{c}:{chat}" for c, chat in sorted(chats))]
    stmt = select(Conversation).where(Conversation.key.in_(keys)).order_by(Conversation.key)
    return list(await session.scalars(stmt))


async def _audit_about(session: AsyncSession, member_id: int) -> list[AuditLog]:
    """Rows where they acted, or whose detail names them (member, subject, target, joined)."""
    stmt = (
        select(AuditLog)
        .where(
            or_(
                AuditLog.actor_member_id == member_id,
                cast(AuditLog.detail, Text).like(f"%{member_id}%"),
            )
        )
        .order_by(AuditLog.id)
    )
    return [
        a
        for a in await session.scalars(stmt)
        if a.actor_member_id == member_id
        or any(a.detail.get(k) == member_id for k in AUDIT_SUBJECT_KEYS)
    ]


# -- helpers ------------------------------------------------------------------------------------


def _is_json(column: Any) -> bool:
    from sqlalchemy import JSON

    return isinstance(column.type, JSON)


def _like(value: str) -> str:
    escaped = value.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"


def _contains(column: Any, values: Iterable[str], *, escaped: bool) -> ColumnElement[bool]:
    """Any of the values inside the column's text: a prefilter, the caller checks exactly.
    escaped: look for the values as JSON writes them too ("\\u00e0" for "à", by database)."""
    forms: set[str] = set()
    for v in values:
        forms.add(v)
        if escaped:
            forms.add(json.dumps(v)[1:-1])
            forms.add(json.dumps(v, ensure_ascii=False)[1:-1])
    target = cast(column, Text) if _is_json(column) else column
    return or_(false(), *(target.like(_like(f), escape=_LIKE_ESCAPE) for f in sorted(forms)))


def _words_pattern(words: Iterable[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def _walk(value: Any, fn: Callable[[str], str]) -> Any:
    """The value (JSON: dicts, lists, strings…) with fn applied to every string in it."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {k: _walk(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, fn) for v in value]
    return value


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
