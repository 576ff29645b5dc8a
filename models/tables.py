"""The tables. Timestamps are UTC; schedules are computed in a unit's timezone.

Enumerations are stored as short ASCII strings (not database enums) so a new value needs no
migration on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Stable constraint names: Alembic needs them to alter tables on SQLite (batch mode).
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on both databases (SQLite drops tzinfo)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; use models.db.utcnow()")
        # SQLite keeps the wall time and drops the offset: store UTC so it reads back right.
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class OrgUnit(Base):
    """A node of the party organisation tree. Kinds are data: the tree has no fixed levels."""

    __tablename__ = "org_units"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    kind: Mapped[str] = mapped_column(String(32))  # chi_bo, dang_bo, ...
    name: Mapped[str] = mapped_column(String(200))
    # Materialised path of ids ("/1/5/12/") so a subtree is one indexed LIKE 'prefix%'.
    path: Mapped[str] = mapped_column(String(400), index=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Ho_Chi_Minh")
    # The monthly meeting (sinh hoạt chi bộ định kỳ), see handlers/schedule.py:
    # {"kind": "day", "day": 3, "time": "19:30", "place": "…"} or
    # {"kind": "weekday", "weekday": 0, "nth": 1, "time": "07:30", "place": "…"} (nth -1: last)
    meeting_rule: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Reminder offsets for this unit; None: the defaults of config.toml [reminders].
    reminder_rule: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    # Closed (dissolved, or merged into another unit): kept so history still names it.
    closed_at: Mapped[datetime | None]
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))

    __table_args__ = (UniqueConstraint("parent_id", "name"),)


class Member(Base):
    __tablename__ = "members"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    full_name: Mapped[str] = mapped_column(String(120))
    # Lower-case, no diacritics: matches "nguyen van an" to "Nguyễn Văn An".
    name_key: Mapped[str] = mapped_column(String(120))
    position: Mapped[str] = mapped_column(String(200), default="")  # chức vụ
    party_role: Mapped[str] = mapped_column(String(16), default="member")  # see texts.PARTY_ROLES
    category: Mapped[str] = mapped_column(String(16), default="official")  # official | probationary
    exempt: Mapped[bool] = mapped_column(Boolean, default=False)  # miễn sinh hoạt
    phone: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Where reminders and notices go first (/kenh); empty: the most recently used account.
    preferred_channel: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    unit: Mapped[OrgUnit] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("unit_id", "name_key"),
        # the report's counts per unit read this index alone (migration 0007)
        Index("ix_members_unit_active", "unit_id", "active", "exempt"),
    )


class Role(Base):
    """A right over a unit: secretary/deputy of a chi bộ, admin of a whole subtree, observer."""

    __tablename__ = "roles"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # secretary | deputy | admin | observer
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("member_id", "unit_id", "role"),)


class Identity(Base):
    """A member's account on one channel (Telegram user, Zalo user, console)."""

    __tablename__ = "identities"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    # The person's last message from this account: Zalo OA may only answer within a window.
    last_inbound_at: Mapped[datetime | None]
    # A send failed for good (blocked the bot, unfollowed the OA); cleared when they write again.
    unreachable_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("channel", "user_id"),
        # One account per member per channel: linking a new phone replaces the old one.
        UniqueConstraint("member_id", "channel"),
    )


class Invite(Base):
    """A one-time personal code (member_id set) or a chi bộ join code (member_id empty)."""

    __tablename__ = "invites"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    # "invite": handed out by the secretary; "link": from /lienket, to add another channel.
    purpose: Mapped[str] = mapped_column(String(8), default="invite", server_default="invite")
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class CodeAttempt(Base):
    """A failed code entry, for the lock-out after repeated wrong codes."""

    __tablename__ = "code_attempts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]

    __table_args__ = (Index("ix_code_attempts_chat", "channel", "chat_id", "at"),)


class JoinRequest(Base):
    """Someone without a personal code asks to join a chi bộ; the secretary decides."""

    __tablename__ = "join_requests"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))
    full_name: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # approved | rejected
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]


class Theme(Base):
    """The yearly theme (chuyên đề năm), or the term-wide one, a unit publishes for its subtree."""

    __tablename__ = "themes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    until_year: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    deadline: Mapped[date | None] = mapped_column(Date)
    # A term-wide theme (chuyên đề toàn khóa, year..until_year) rather than a yearly one.
    term: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The term-wide theme this yearly one implements.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("themes.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("unit_id", "year", "term"),)


class Pledge(Base):
    """One version of a member's yearly pledge. A new version supersedes the previous one."""

    __tablename__ = "pledges"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    # submitted (chờ duyệt) | approved | returned | superseded
    status: Mapped[str] = mapped_column(String(16))
    theme_id: Mapped[int | None] = mapped_column(ForeignKey("themes.id"))
    study: Mapped[list[Any]]  # nội dung học tập: list of strings
    shortcomings: Mapped[list[Any]]  # hạn chế cần khắc phục: list of strings
    comment: Mapped[str | None] = mapped_column(Text)  # the secretary's, when returned
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    submitted_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]

    items: Mapped[list[PledgeItem]] = relationship(
        order_by="PledgeItem.position", lazy="selectin", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("member_id", "year", "version"),
        Index("ix_pledges_member_year", "member_id", "year", "status"),
    )


class PledgeItem(Base):
    """A việc làm cụ thể: the action, its measurable result and its deadline."""

    __tablename__ = "pledge_items"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pledge_id: Mapped[int] = mapped_column(ForeignKey("pledges.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(Text)
    result: Mapped[str] = mapped_column(Text)
    deadline: Mapped[str] = mapped_column(String(16))  # see handlers/deadlines.py
    breakthrough: Mapped[bool] = mapped_column(Boolean, default=False)  # nội dung đột phá
    kept_vague: Mapped[bool] = mapped_column(Boolean, default=False)


class MeetingOverride(Base):
    """One month's meeting moved (or cancelled) by the secretary."""

    __tablename__ = "meeting_overrides"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    period: Mapped[str] = mapped_column(String(7))  # "2026-12": the month the meeting belongs to
    starts_at: Mapped[datetime | None]  # None when cancelled
    place: Mapped[str | None] = mapped_column(String(200))
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("unit_id", "period"),)


class Assessment(Base):
    """A member's monthly self-assessment (tự đánh giá) for the period of one meeting."""

    __tablename__ = "assessments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    period: Mapped[str] = mapped_column(String(7))
    pledge_id: Mapped[int] = mapped_column(ForeignKey("pledges.id"))
    difficulties: Mapped[str | None] = mapped_column(Text)  # khó khăn, đề xuất
    submitted_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    late: Mapped[bool] = mapped_column(Boolean, default=False)  # nộp muộn (reopened)
    # Entered by the secretary for a member without a phone: who did it.
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))

    entries: Mapped[list[AssessmentEntry]] = relationship(
        order_by="AssessmentEntry.id", lazy="selectin", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("member_id", "period"),
        Index("ix_assessments_period", "period"),
    )


class AssessmentEntry(Base):
    __tablename__ = "assessment_entries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id"), index=True)
    pledge_item_id: Mapped[int] = mapped_column(ForeignKey("pledge_items.id"))
    status: Mapped[str] = mapped_column(String(16))  # a key of the scale: done | doing | not_yet
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_assessment_entries_status", "assessment_id", "status"),)


class MemberPeriod(Base):
    """What is special about a member in one period: excused absence, a reopened assessment,
    the chi bộ's review comment. Most members have no row."""

    __tablename__ = "member_periods"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    period: Mapped[str] = mapped_column(String(7))
    # vắng có lý do: requested by the member, approved or rejected by the secretary
    excuse: Mapped[str | None] = mapped_column(String(12))  # requested | approved | rejected
    excuse_reason: Mapped[str | None] = mapped_column(Text)
    reopened_at: Mapped[datetime | None]
    reviewed_at: Mapped[datetime | None]  # "đã xem xét tại sinh hoạt chi bộ tháng M"
    review_comment: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    updated_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("member_id", "period"),)


class UnitPeriod(Base):
    """The chi bộ recorded that it reviewed the pledges at its meeting of this period."""

    __tablename__ = "unit_periods"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    period: Mapped[str] = mapped_column(String(7))
    reviewed_at: Mapped[datetime]
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))

    __table_args__ = (UniqueConstraint("unit_id", "period"),)


class UnitPlan(Base):
    """The chi bộ's collective plan (kế hoạch của tập thể) for a year: its actions, like a
    pledge's items, and the unit's chuẩn mực đạo đức. Its mô hình are Nomination rows."""

    __tablename__ = "unit_plans"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    year: Mapped[int] = mapped_column(Integer)
    items: Mapped[list[Any]]  # [{"action": …, "result": …, "deadline": …}]
    standards: Mapped[list[Any]]  # chuẩn mực đạo đức: list of strings
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    updated_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("unit_id", "year"),)


class Nomination(Base):
    """A mô hình (a model practice) or điển hình (an exemplary person or collective) a chi bộ
    registers or puts forward; counted in the reports up the tree."""

    __tablename__ = "nominations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(12))  # mo_hinh | dien_hinh
    subject: Mapped[str] = mapped_column(String(12))  # ca_nhan | tap_the
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    party_member: Mapped[bool] = mapped_column(Boolean, default=True)  # else quần chúng
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)
    replicated: Mapped[bool] = mapped_column(Boolean, default=False)  # mô hình nhân rộng
    nominated_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime]


class YearReview(Base):
    """A member's year-end summary paragraph (for the bản kiểm điểm), as they last edited it."""

    __tablename__ = "year_reviews"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    year: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("member_id", "year"),)


class Broadcast(Base):
    """A message an admin sends to every member of a subtree, with its live progress."""

    __tablename__ = "broadcasts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    payload: Mapped[dict[str, Any]]  # the Reply every recipient gets
    status: Mapped[str] = mapped_column(String(12), default="draft")  # sending | done | cancelled
    total: Mapped[int] = mapped_column(Integer, default=0)
    # The admin's message that shows the progress, edited as deliveries complete.
    progress_channel: Mapped[str | None] = mapped_column(String(16))
    progress_chat_id: Mapped[str | None] = mapped_column(String(64))
    progress_message_id: Mapped[str | None] = mapped_column(String(64))
    progress_text: Mapped[str | None] = mapped_column(Text)
    progress_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class Conversation(Base):
    """Where a person is in a flow, and their draft. Written with the step's effect."""

    __tablename__ = "conversations"
    # "m:<member id>" for members (so a flow survives a channel switch), else "c:<channel>:<chat>".
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    flow: Mapped[str | None] = mapped_column(String(32))
    step: Mapped[str | None] = mapped_column(String(32))
    # Increments with every prompt: a button carries it, so an older button is recognised.
    seq: Mapped[int] = mapped_column(Integer, default=0)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The choices last shown, so "2" or "duyet" typed on any channel means that choice.
    menu: Mapped[list[Any]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime]


class InboxUpdate(Base):
    """An incoming platform update, stored before it is acknowledged."""

    __tablename__ = "inbox"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    update_key: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # done | failed
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("channel", "update_key"),
        Index("ix_inbox_pending", "status", "id"),
    )


BULK_KINDS = ("broadcast",)  # deliveries sent after every other due row (bot/outbox.py)


class Delivery(Base):
    """The outbox: every message the bot sends, planned in the transaction that caused it."""

    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(32))  # reply | ack | notice | ...
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id"), index=True)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # pending | sending | sent | failed | unreachable | not_reached (the channel could not, e.g.
    # outside Zalo OA's window; another channel was tried) | unknown (a worker died mid-send)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    claimed_by: Mapped[str | None] = mapped_column(String(40))  # the worker that is sending it
    claimed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # kind in BULK_KINDS: sent after every other due row (set where rows are planned)
    bulk: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __table_args__ = (
        Index("ix_deliveries_due", "status", "next_attempt_at", "id"),
        # The worker's two reads: the next rows of conversations, reminders and digests, then
        # bulk rows; each one range read however many of the other kind wait (migration 0008).
        Index("ix_deliveries_due_bulk", "status", "bulk", "next_attempt_at", "id"),
        # a member's latest messages (the digest's "unreachable"), migration 0007
        Index("ix_deliveries_member", "member_id", "id"),
    )


class ChannelUsage(Base):
    """Messages sent per channel and month, and the platform's last quota figures: the Zalo
    plans count messages and users, and we warn before a limit is reached."""

    __tablename__ = "channel_usage"
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # "2026-11"
    messages: Mapped[int] = mapped_column(Integer, default=0)
    quota: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # as the platform said
    # The highest level (percent of a limit) the admins were warned about: {"messages": 80}
    warned: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime]


class OAToken(Base):
    """The Zalo OA's tokens. The refresh token is single-use: the new pair is committed before
    the new access token is used, so a crash can never leave us holding a spent one."""

    __tablename__ = "oa_tokens"
    app_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    access_token: Mapped[str] = mapped_column(Text)
    refresh_token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AuditLog(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime]
    actor_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    actor: Mapped[str] = mapped_column(String(64))  # "member", "cli", "system"
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Refused: an attempt the actor had no right to make (kept, like every admin action).
    refused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))


class Lease(Base):
    """Who leads among the bot processes on one database (see bot/leader.py)."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]


# -- the report's cache (models.reports): per-unit figures, invalidated by triggers -----------


class UnitVersion(Base):
    """Bumped by database triggers (migration 0009) on every write that changes a unit's own
    report figures: its members, their pledges, self-assessments, entries and excuses."""

    __tablename__ = "unit_versions"
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


# The monthly figures of unit_year_counts, one column per figure and month ("assessed_05"):
# assessed and the items leave the excused members out, as the report does.
MONTH_FIGURES = ("excused", "assessed", "items_done", "items_doing", "items_not_yet")


def month_column(figure: str, month: int) -> str:
    return f"{figure}_{month:02d}"


# A unit's own figures for a year, valid while `version` is the unit's current version. One
# row per unit and year, the months as columns: a report of December reads 5,000 rows for a
# province, not 60,000, and per-month rows would gain nothing (the version is the unit's).
unit_year_counts = Table(
    "unit_year_counts",
    Base.metadata,
    Column("unit_id", BigId, ForeignKey("org_units.id"), primary_key=True),
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False),
    *(
        Column(name, Integer, nullable=False)
        for name in ("members", "exempt", "registered", "approved")
    ),
    # the items may be NULL: not computed (a report computes those of its months only)
    *(
        Column(month_column(figure, month), Integer, nullable=figure.startswith("items_"))
        for month in range(1, 13)
        for figure in MONTH_FIGURES
    ),
)
