"""Property-based fuzzing of the conversations: hostile inputs, what a platform accepts, and an
explorer that finds a way into every step of every registered flow.

- `hostile_text()` / `incoming()`: what people (and forged clients) can send: empty text, 10,000
  characters, NUL and control characters, bidi overrides, zero-width characters, combining-mark
  storms, emoji, NFD Vietnamese, HTML and Markdown specials, digits that are not ASCII, forged
  or stale button data, a command at the wrong step.
- `problems(reply)`: why a planned reply could not be sent on Telegram, the Zalo Bot or a Zalo
  OA, rendered with each channel's own functions and judged with the fake servers' own checks.
- `Explorer`: from every command of every person of the example world, presses every choice
  and types the step's sample answers, depth first, and keeps one `Spot` (the conversation row
  and the clock) per flow step reached, so a fuzz example can put a person back there.
"""

from __future__ import annotations

import copy
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hypothesis import strategies as st
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.constants import MessageLimit

from bot.channels import plain
from bot.channels.split import split_text
from bot.channels.telegram import keyboard
from bot.channels.zalo_bot_api import MAX_TEXT as ZALO_BOT_MAX
from bot.channels.zalo_oa import CHOICE_PREFIX
from bot.channels.zalo_oa_api import MAX_TEXT as ZALO_OA_MAX
from bot.config import ZaloOAConfig
from bot.inbox import store
from handlers.engine import ACTIONS, COMMANDS, FLOWS
from handlers.messages import Choice, Incoming, Reply
from handlers.settings import Settings
from models.people import member_by_identity
from models.tables import Conversation, Delivery, InboxUpdate
from tests.fakes.telegram_api import ApiError, _check_markup, parse_html
from tests.support.harness import CHANNEL, Harness

# -- hostile input ---------------------------------------------------------------------------

VIETNAMESE = "Vận động các hộ trong xóm phân loại rác tại nguồn, đạt 100% số hộ đăng ký"
NFD_VIETNAMESE = unicodedata.normalize("NFD", VIETNAMESE)
SPECIALS = [
    "\x00",
    "\x07",
    "\x1b[31m",
    "\x7f",
    "\r\n",
    "\t",
    "\u0085",  # next line
    "\u2028",  # line separator
    "\u202e",  # right-to-left override
    "\u202d",
    "\u2066",
    "\u2069",
    "\u200b",  # zero width space
    "\u200d",  # zero width joiner
    "\u2060",  # word joiner
    "\ufeff",
    "\u00ad",  # soft hyphen
    "\ufffd",
    "\U000e0001",  # language tag
    "\u0301" * 40,  # a combining-mark storm
    "\u0e47" * 20,
    "👍🏽",
    "👨‍👩‍👧‍👦",
    "🇻🇳",
    "\U0001f600",
    "<b>",
    "</b>",
    "<i>x</i>",
    "<a href='javascript:x'>",
    "<script>",
    "&",
    "&amp;",
    "&lt;",
    "&#0;",
    "&#xD800;",
    "&nbsp;",
    '"',
    "'",
    "*đậm*",
    "_nghiêng_",
    "`mã`",
    "[liên kết](http://x)",
    "\\",
    "||",
    "²",  # superscript two: str.isdigit() but not int()
    "①",
    "١٢",  # Arabic-Indic digits
    "９",  # full-width digit
    "99999999999999999999999",
    "-1",
    "0",
    "1",
    "/",
    "!",
    ":",
    "#c:",
    "%s",
    "{0}",
    "{name}",
    "Đ",
    "đ",
    "ư",
]
LONG_TEXTS = [
    "a" * 10_000,
    "đ" * 10_000,
    ("Học tập và làm theo Bác " * 500)[:10_000],
    "<b>" * 3_334,
    "&" * 10_000,
    "\u0301" * 10_000,
    "👍🏽" * 2_500,
    "\x00" * 10_000,
    "\u200b" * 10_000,
    "9" * 10_000,
    "\n" * 10_000,
    "x" + " " * 9_998 + "y",
]
KNOWN_COMMANDS = sorted(COMMANDS)
# Everything at once, short enough for any step (a pledge item: 500 characters), for the sweep
# that sends it at every step: markup, escapes, invisible and control characters, a combining
# storm, emoji, digits that are not ASCII, NFD, then escapes that grow fivefold when escaped.
ALL_AT_ONCE = (
    "Nội dung <b>đậm</i> & &amp; &lt;x&gt; <a href='x'>ừ</a> *_`[x](y)` \x00\x07\x1b "
    "\u202eđảo\u202c \u2066\u200b\u200d\ufeff e\u0301\u0301\u0301\u0301 👨‍👩‍👧 🇻🇳 ² ① ９ "
    + NFD_VIETNAMESE
    + " "
)
ALL_AT_ONCE += "&<>" * ((490 - len(ALL_AT_ONCE)) // 3)


def hostile_text() -> st.SearchStrategy[str]:
    """Text a person (or a broken client) may send."""
    pieces = st.one_of(
        st.sampled_from(SPECIALS),
        st.text(max_size=20),  # any code point but surrogates, control characters included
        st.sampled_from([VIETNAMESE, NFD_VIETNAMESE, "Hoàn thành", "tháng 9", "19:30"]),
    )
    return st.one_of(
        st.just(""),
        st.just(ALL_AT_ONCE),
        st.lists(pieces, max_size=8).map("".join),
        st.lists(st.sampled_from(SPECIALS), min_size=1, max_size=6).map(" ".join),
        st.sampled_from(LONG_TEXTS),
        st.text(min_size=900, max_size=1_100),  # around the default field limit
        st.builds(lambda a, b: a + b, st.sampled_from(SPECIALS), st.sampled_from(LONG_TEXTS)),
    )


def command_text() -> st.SearchStrategy[str]:
    """A command at any step, with or without arguments, and words that look like one."""
    return st.one_of(
        st.builds(
            lambda name, sep, args: f"/{name}{sep}{args}",
            st.sampled_from(KNOWN_COMMANDS),
            st.sampled_from(["", " ", "@lamtheo_bot ", "  "]),
            st.one_of(st.just(""), st.sampled_from(SPECIALS), hostile_text()),
        ),
        st.builds(lambda name: name.upper(), st.sampled_from(KNOWN_COMMANDS)),
        st.sampled_from(["/", "//", "/ ", "/\x00", "/khongco", "/start@", "/ĐĂNGKÝ", "Huỷ"]),
    )


def forged_choice(spot: Spot) -> st.SearchStrategy[str]:
    """Button data: stale (an older prompt's number), forged (a value never offered, an action
    with made-up arguments), or garbage a modified client can put in a callback."""
    menu = [str(data) for _, data in spot.menu] or ["1:x"]
    seqs = [str(spot.seq), str(spot.seq - 1), str(spot.seq + 1), "0", "-1", "²", "9" * 30]
    values = st.one_of(st.sampled_from(SPECIALS), st.text(max_size=12))
    return st.one_of(
        st.sampled_from(menu),  # the real choice, pressed again (or pressed late)
        st.builds(lambda d: f"{spot.seq - 1}:{d.partition(':')[2]}", st.sampled_from(menu)),
        st.builds(lambda s, v: f"{s}:{v}", st.sampled_from(seqs), values),
        st.builds(
            lambda d, v: f"{d.rsplit(':', 1)[0]}:{v}",
            st.sampled_from(menu),
            st.one_of(values, st.sampled_from(["999999", "0", "²", "9" * 25, "-3", ""])),
        ),
        st.builds(
            lambda a, v: f"!{a}:{v}",
            st.sampled_from(sorted(ACTIONS)),
            st.one_of(
                values,
                st.sampled_from(["1", "999999", "9" * 25, "²", "1:2", "1:x:y", ":", "abc"]),
            ),
        ),
        st.text(max_size=64),
        st.sampled_from(["", ":", "!", "!:", "!!", "#c:"]),
    )


@dataclass(frozen=True)
class Fuzz:
    """One hostile update: typed text, or a pressed (forged, stale) button."""

    text: str = ""
    choice: str | None = None
    display_name: str = "Người thử"  # as the platform reports the person's name

    def incoming(self, chat: str) -> Incoming:
        return Incoming(
            channel=CHANNEL,
            chat_id=chat,
            user_id=chat,
            text=self.text,
            choice=self.choice,
            display_name=self.display_name,
            ack_ref="ack" if self.choice is not None else None,
        )


def fuzz_for(spot: Spot) -> st.SearchStrategy[list[Fuzz]]:
    """One to three updates from the spot: hostile ones, and answers that move the flow on
    (a choice's number, the step's sample answer), so hostile text is carried to later steps."""
    names = st.one_of(st.just("Người thử"), hostile_text())
    onward = st.sampled_from(["1", "2", "3", *SAMPLE_ANSWERS.get(spot.name, DEFAULT_ANSWERS)])
    update = st.one_of(
        st.builds(Fuzz, text=hostile_text(), display_name=names),
        st.builds(Fuzz, text=command_text()),
        st.builds(Fuzz, choice=forged_choice(spot)),
        st.builds(Fuzz, text=onward),
    )
    return st.lists(update, min_size=1, max_size=3)


# -- sendable? -------------------------------------------------------------------------------

TELEGRAM_CALLBACK_BYTES = 64
_OA = ZaloOAConfig()


def problems(reply: Reply) -> list[str]:
    """Why this reply could not be sent as planned on one of the platforms ([] if it can)."""
    found: list[str] = []
    strings = [reply.text, *(c.label for c in reply.choices), *(c.data for c in reply.choices)]
    if any("\x00" in s for s in strings):
        found.append("a NUL character")
    if not reply.text.strip() and not reply.document and not reply.chart:
        found.append("an empty text")
    found += [f"telegram: {p}" for p in _telegram(reply)]
    found += [f"zalo_bot: {p}" for p in _zalo_bot(reply)]
    found += [f"zalo_oa: {p}" for p in _zalo_oa(reply)]
    return found


def _telegram(reply: Reply) -> list[str]:
    """As bot.channels.telegram.deliver: pieces with parse_mode=HTML, buttons on the last."""
    found = []
    pieces = split_text(reply.text, MessageLimit.MAX_TEXT_LENGTH)
    for piece in pieces:
        try:
            visible = parse_html(piece)
        except ApiError as exc:
            found.append(f"{exc.description} in {piece[:200]!r}")
            continue
        if not visible.strip():
            found.append("message text is empty")
        if len(visible) > MessageLimit.MAX_TEXT_LENGTH:
            found.append(f"message is too long ({len(visible)})")
    markup = keyboard(reply)
    if markup is not None:
        try:
            _check_markup(markup.to_dict())
        except ApiError as exc:
            found.append(f"{exc.description}: {[c.data for c in reply.choices]}")
    for choice in reply.choices:
        if not 1 <= len(choice.data.encode()) <= TELEGRAM_CALLBACK_BYTES:
            found.append(f"callback data of {len(choice.data.encode())} bytes: {choice.data!r}")
    return found


def _zalo_text(pieces: list[str], limit: int) -> list[str]:
    return [
        f"a piece of {len(p)} characters" if len(p) > limit else "an empty piece"
        for p in pieces
        if len(p) > limit or not p.strip()
    ]


def _zalo_bot(reply: Reply) -> list[str]:
    """As bot.channels.zalo_bot.deliver: plain text with numbered choices, cut at 2,000."""
    return _zalo_text(split_text(plain.render(reply), ZALO_BOT_MAX, html=False), ZALO_BOT_MAX)


def _zalo_oa(reply: Reply) -> list[str]:
    """As bot.channels.zalo_oa.deliver: up to max_buttons choices as buttons, else numbered."""
    as_buttons = 0 < len(reply.choices) <= _OA.max_buttons
    text = plain.render(reply, with_choices=not as_buttons)
    found = _zalo_text(split_text(text, ZALO_OA_MAX, html=False), ZALO_OA_MAX)
    if as_buttons:
        for n, c in enumerate(reply.choices, start=1):
            if not f"{n}. {c.label}"[: _OA.button_title_chars].strip():
                found.append(f"an empty button title for {c.data!r}")
            if not c.data:  # the payload would be the bare prefix: no choice comes back
                found.append(f"an empty payload behind {CHOICE_PREFIX!r}")
    return found


# -- reaching every step ---------------------------------------------------------------------


@dataclass
class Spot:
    """A person at one step of one flow: the conversation row and the time it was reached."""

    chat: str
    key: str
    flow: str | None
    step: str | None
    seq: int
    data: dict[str, Any]
    menu: list[Any]
    now: datetime

    @property
    def name(self) -> str:
        return f"{self.flow}.{self.step}"


# Sample answers typed at a step besides pressing its choices ("flow.step"); a step whose
# answer needs a form of its own gets it here, every other step gets DEFAULT_ANSWERS.
DEFAULT_ANSWERS = [VIETNAMESE]
MAX_CHOICES = 6  # pressed per step: the first ones and the last two
SAMPLE_ANSWERS: dict[str, list[str]] = {
    "pledge.study": ["Đọc Di chúc của Chủ tịch Hồ Chí Minh"],
    "pledge.shortcomings": ["Còn ngại phát biểu ý kiến trong sinh hoạt chi bộ"],
    "pledge.item_action": ["Học tập và làm theo Bác", VIETNAMESE],
    "pledge.item_result": ["5 hộ tham gia"],
    "pledge.item_deadline": ["tháng 9"],
    "unit_plan.item_deadline": ["tháng 9"],
    "unit_plan.item_result": ["5 hộ tham gia"],
    "schedule.ask_rule": ["ngày 3"],
    "schedule.ask_time": ["19:30"],
    "schedule.ask_place": ["Nhà văn hóa thôn"],
    "schedule.move_date": ["5/12/2026", "5/1/2027"],
    "schedule.move_time": ["19:30"],
    "theme.title": ["Học tập và làm theo Bác về tự lực, tự cường"],
    "theme.link": ["https://tuyengiao.example.vn/chuyen-de"],
    "theme.deadline": ["30/12/2026"],
    "broadcast.link": ["https://tuyengiao.example.vn/thong-bao"],
    "join.name": ["Nguyễn Văn Mới"],
}


@dataclass
class Planned:
    chat_id: str
    kind: str
    reply: Reply | None


class Pipe:
    """The real inbox worker and core on the real database, without the delivery worker: an
    update is stored and processed (it must not end "failed": no unhandled exception), and
    what it planned is read back from the outbox (and marked sent, so the harness's own channel
    never sends it). Faster than Harness.deliver; each planned message is judged by `problems`
    instead."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.count = 0
        self.mark: int | None = None  # the newest outbox row already read

    async def send(self, inc: Incoming) -> list[Planned]:
        if self.mark is None:
            async with self.h.sessions() as s:
                self.mark = await s.scalar(select(func.max(Delivery.id))) or 0
        self.count += 1
        key = f"fz{self.count}"
        await store(self.h.sessions, inc, update_key=key, now=self.h.clock())
        await self.h.inbox.drain()
        async with self.h.sessions() as s, s.begin():
            row = (await s.scalars(select(InboxUpdate).where(InboxUpdate.update_key == key))).one()
            # An exception in the core: the update is marked failed (and never retried).
            assert row.status == "done", f"{inc!r} ended {row.status}: {row.error}"
            rows = list(
                await s.scalars(select(Delivery).where(Delivery.id > self.mark).order_by("id"))
            )
            if rows:
                self.mark = rows[-1].id
                ids = [r.id for r in rows]
                await s.execute(update(Delivery).where(Delivery.id.in_(ids)).values(status="sent"))
        return [
            Planned(r.chat_id, r.kind, None if r.kind == "ack" else Reply.from_payload(r.payload))
            for r in rows
        ]

    async def replies(self, inc: Incoming) -> list[Reply]:
        """What the update's own chat was sent."""
        return [p.reply for p in await self.send(inc) if p.reply and p.chat_id == inc.chat_id]


def done(spots: dict[tuple[str, str], Spot]) -> bool:
    return registered_steps() <= {name for _, name in spots}


@dataclass
class Explorer:
    h: Harness
    pipe: Pipe
    # Per person and step ("m2", "pledge.study"): a bí thư without a pledge and a member
    # editing theirs meet the same step in different states.
    spots: dict[tuple[str, str], Spot] = field(default_factory=dict)
    pressed: set[tuple[str, str]] = field(default_factory=set)
    offered: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # choice values seen
    refilled: set[tuple[str, str]] = field(default_factory=set)
    trace: list[str] = field(default_factory=list)  # what was sent where, and what came back

    async def conversation(self, chat: str) -> tuple[str, Conversation | None]:
        async with self.h.sessions() as s:
            member = await member_by_identity(s, CHANNEL, chat)
            key = f"m:{member.id}" if member else f"c:{CHANNEL}:{chat}"
            return key, await s.get(Conversation, key)

    async def spot(self, chat: str) -> Spot:
        key, conv = await self.conversation(chat)
        if conv is None:
            return Spot(chat, key, None, None, 0, {}, [], self.h.clock())
        return Spot(
            chat,
            key,
            conv.flow,
            conv.step,
            conv.seq,
            copy.deepcopy(conv.data),
            copy.deepcopy(conv.menu),
            self.h.clock(),
        )

    async def start(self, chat: str, text: str) -> bool:
        """Enter from nothing (the person's conversation cleared) by typing `text`; True if
        that led into a flow."""
        if done(self.spots):
            return False
        key, _ = await self.conversation(chat)
        await restore(self.h.sessions, Spot(chat, key, None, None, 0, {}, [], self.h.clock()))
        replies = await self.send(Incoming(CHANNEL, chat, chat, text=text))
        entered = (await self.spot(chat)).flow is not None
        await self.explore(chat, replies, 0)
        return entered

    async def explore(
        self, chat: str, replies: list[Reply], depth: int, typed_at: str | None = None
    ) -> None:
        """Try what the person is offered from where the last update left them, depth first.

        `typed_at`: the step a sample answer was typed at. Staying there (a list typed line by
        line: study contents, hạn chế) counts as progress once: its choices are pressed again
        from there, so "Tiếp tục" goes on with something entered."""
        here = await self.spot(chat)
        offered = _choices(replies)
        if here.flow is not None:
            # A step seen before is explored again only for choices it did not offer then
            # (a plan's "remove" once it has an item).
            key = (chat, here.name)
            seen = self.offered.setdefault(key, set())
            fresh = [c for c in offered if _value(c.data) not in seen]
            if typed_at == here.name and key not in self.refilled:
                self.refilled.add(key)
                fresh = offered
            seen.update(_value(c.data) for c in offered)
            tries = [Incoming(CHANNEL, chat, chat, choice=c.data, ack_ref="a") for c in fresh]
            if key not in self.spots:
                self.spots[key] = here
                typed = SAMPLE_ANSWERS.get(here.name, DEFAULT_ANSWERS)
                tries += [Incoming(CHANNEL, chat, chat, text=t) for t in typed]
        else:
            # Outside a flow: each action (approve, open a command…) once per person, the last
            # offered first: "Trả lại" (into a flow) before "Duyệt" settles the pledge.
            fresh = [c for c in offered if (chat, _action(c.data)) not in self.pressed][::-1]
            self.pressed.update((chat, _action(c.data)) for c in fresh)
            tries = [Incoming(CHANNEL, chat, chat, choice=c.data, ack_ref="a") for c in fresh]
        for inc in tries:
            if done(self.spots) or depth > 40:
                return
            await restore(self.h.sessions, here)
            self.h.clock.now = here.now
            replies = await self.send(inc, here)
            await self.explore(chat, replies, depth + 1, here.name if inc.text else None)

    async def send(self, inc: Incoming, at: Spot | None = None) -> list[Reply]:
        replies = await self.pipe.replies(inc)
        shown = " | ".join(r.text[:60].replace("\n", " ") for r in replies)
        where = at.name if at else "-"
        self.trace.append(f"{inc.chat_id} at {where}: {inc.text or inc.choice!r} -> {shown}")
        return replies


def _choices(replies: list[Reply]) -> list[Choice]:
    seen: dict[str, Choice] = {}
    for reply in replies:
        for c in reply.choices:
            seen.setdefault(c.data, c)
    found = list(seen.values())
    # Long lists (members, units): the first ones and the last (often "back", "done").
    return found if len(found) <= MAX_CHOICES else found[: MAX_CHOICES - 2] + found[-2:]


def _action(data: str) -> str:
    return data.split(":", 1)[0] if data.startswith("!") else _value(data)


def _value(data: str) -> str:
    """A choice without its prompt number: "12:submit" -> "submit"; actions as they are."""
    head, _, rest = data.partition(":")
    return rest if head.isdecimal() else data


async def restore(sessions: async_sessionmaker[AsyncSession], spot: Spot) -> None:
    """Put the person back at the spot: position, draft, prompt number and typed-answer menu."""
    async with sessions() as s, s.begin():
        conv = await s.get(Conversation, spot.key)
        if conv is None:
            conv = Conversation(key=spot.key, updated_at=spot.now)
            s.add(conv)
        conv.flow, conv.step, conv.seq = spot.flow, spot.step, spot.seq
        conv.data, conv.menu = copy.deepcopy(spot.data), copy.deepcopy(spot.menu)
        conv.updated_at = spot.now


def at_limit(spot: Spot, settings: Settings) -> str:
    """Text of the longest length the spot's step accepts (the engine's rule), escapes that
    grow fivefold when escaped among Vietnamese words: stored, echoed, split for sending."""
    if spot.flow is None or spot.step is None:
        return ""
    step = FLOWS[spot.flow].steps[spot.step]
    limit = settings.max_field_chars
    if step.item_text:
        limit = min(limit, settings.max_item_chars)
    if step.max_chars:
        limit = step.max_chars
    return ("Đảng viên & <b> lời " * (limit // 20 + 1))[:limit].strip()


def registered_steps() -> set[str]:
    return {f"{f.name}.{step}" for f in FLOWS.values() for step in f.steps}
