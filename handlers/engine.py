"""The conversation engine: routes one Incoming to a command, a pressed choice or a flow step.

A flow is a set of named steps; each step has a prompt (asks, with choices) and a handler (takes
the answer). The position, the draft and the choices last shown live in the Conversation row,
which the caller commits together with every other effect of the update.

Choice data on buttons:
- "<seq>:<value>" answers the prompt numbered <seq>; an older number is a stale button.
- "!<action>:<args>" is a standalone action (approve a pledge, open a command), valid any time
  the action's own checks pass.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

from handlers import texts
from handlers.messages import Choice, Incoming, Reply
from handlers.settings import Settings
from handlers.text import Html, clean, fold
from models import audit, conversations
from models.tables import Conversation, Member

log = logging.getLogger(__name__)


@dataclass
class Outgoing:
    """A reply to the chat the update came from, or a message to a member, or to a raw chat
    (someone not linked yet, e.g. the person whose join request was decided)."""

    reply: Reply
    member_id: int | None = None
    chat: tuple[str, str] | None = None  # (channel, chat id)


@dataclass
class Answer:
    text: str = ""
    value: str | None = None  # the chosen value, when a choice was pressed or typed


@dataclass
class Ctx:
    session: AsyncSession
    inc: Incoming
    member: Member | None
    conv: Conversation
    now: datetime
    settings: Settings
    out: list[Outgoing] = field(default_factory=list)

    # -- talking ---------------------------------------------------------------------------
    def reply(self, text: str, choices: list[Choice] | None = None, row_width: int = 1) -> None:
        self.send(Reply(text, choices or [], row_width))

    def send(self, reply: Reply) -> None:
        """A reply built by the caller (with a chart or a file); its choices become the menu."""
        self.out.append(Outgoing(reply))
        if reply.choices:
            self.conv.menu = [[c.label, c.data] for c in reply.choices]

    def ask(
        self, text: str, options: list[tuple[str, str]] | None = None, row_width: int = 1
    ) -> None:
        """Prompt for the current step; its choices carry a fresh number (see module doc)."""
        self.conv.seq += 1
        choices = [Choice(label, f"{self.conv.seq}:{value}") for label, value in options or []]
        self.out.append(Outgoing(Reply(text, choices, row_width)))
        self.conv.menu = [[c.label, c.data] for c in choices]

    async def notify(self, member_id: int, reply: Reply) -> None:
        """A message to another member (routed by models.routing, which also makes its choices
        that member's typed-answer menu)."""
        self.out.append(Outgoing(reply, member_id))

    def send_to_chat(self, channel: str, chat_id: str, reply: Reply) -> None:
        self.out.append(Outgoing(reply, chat=(channel, chat_id)))

    # -- flow position ---------------------------------------------------------------------
    @property
    def data(self) -> dict[str, Any]:
        return self.conv.data

    def start_flow(self, flow: str, data: dict[str, Any] | None = None) -> None:
        """Enter a flow. A flow already in progress is set aside and resumed by finish()."""
        data = dict(data or {})
        if self.conv.flow and self.conv.flow != flow:
            data["_resume"] = {"flow": self.conv.flow, "step": self.conv.step, "data": self.data}
        self.conv.flow, self.conv.step, self.conv.data = flow, None, data

    async def goto(self, step: str) -> None:
        self.conv.step = step
        await FLOWS[self.conv.flow or ""].steps[step].prompt(self)

    def end_flow(self) -> None:
        """Leave every flow, including one set aside (used by /huy)."""
        self.conv.flow, self.conv.step, self.conv.data, self.conv.menu = None, None, {}, []

    async def finish(self) -> None:
        """Leave the current flow; resume the one it interrupted, if any."""
        resume = self.data.get("_resume")
        self.end_flow()
        if resume:
            self.conv.flow, self.conv.data = resume["flow"], resume["data"]
            self.reply(texts.STILL_IN_FLOW.format(title=FLOWS[resume["flow"]].title))
            await self.goto(resume["step"])

    def touch_data(self) -> None:
        """JSON columns do not see in-place changes to the draft: say it changed."""
        flag_modified(self.conv, "data")


StepFn = Callable[[Ctx], Awaitable[None]]
AnswerFn = Callable[[Ctx, Answer], Awaitable[None]]


@dataclass
class Step:
    prompt: StepFn
    handle: AnswerFn
    item_text: bool = False  # a pledge item: settings.max_item_chars, else max_field_chars
    max_chars: int | None = None  # the step's own limit (a name: tighter; a paragraph: looser)


@dataclass
class Flow:
    name: str
    steps: dict[str, Step]
    title: str  # shown when reminding a person where they are


@dataclass
class Command:
    name: str
    run: Callable[[Ctx, str], Awaitable[None]]
    needs_member: bool = True
    # Read-only commands answer without leaving a flow in progress.
    keeps_flow: bool = False


FLOWS: dict[str, Flow] = {}
COMMANDS: dict[str, Command] = {}
ACTIONS: dict[str, Callable[[Ctx, str], Awaitable[None]]] = {}
# What an unlinked person's plain text means (the onboarding flow sets it: a join code).
fallback_unlinked: list[Callable[[Ctx, str], Awaitable[None]]] = []


def flow(f: Flow) -> Flow:
    FLOWS[f.name] = f
    return f


def command(
    name: str, *, needs_member: bool = True, keeps_flow: bool = False
) -> Callable[[Callable[[Ctx, str], Awaitable[None]]], Callable[[Ctx, str], Awaitable[None]]]:
    def register(
        fn: Callable[[Ctx, str], Awaitable[None]],
    ) -> Callable[[Ctx, str], Awaitable[None]]:
        COMMANDS[name] = Command(name, fn, needs_member, keeps_flow)
        return fn

    return register


def action(
    prefix: str,
) -> Callable[[Callable[[Ctx, str], Awaitable[None]]], Callable[[Ctx, str], Awaitable[None]]]:
    def register(
        fn: Callable[[Ctx, str], Awaitable[None]],
    ) -> Callable[[Ctx, str], Awaitable[None]]:
        ACTIONS[prefix] = fn
        return fn

    return register


load_conversation = conversations.load


def conversation_key(inc: Incoming, member: Member | None) -> str:
    return conversations.member_key(member.id) if member else f"c:{inc.channel}:{inc.chat_id}"


# -- routing ---------------------------------------------------------------------------------


def parse_command(text: str) -> tuple[str, str] | None:
    """ "/DangKy@lamtheo_bot  x" -> ("dangky", "x"); bare known words count too ("huy")."""
    if text.startswith("/"):
        head, _, args = text[1:].partition(" ")
        name = fold(head.split("@", 1)[0]).replace(" ", "")
        return name, args.strip()
    word = fold(text).replace(" ", "")
    if word in COMMANDS and word in BARE_COMMANDS:
        return word, ""
    return None


# Words that mean a command even typed without "/" (a person types "huỷ", not "/huy").
BARE_COMMANDS = {
    "huy",
    "trogiup",
    "dangky",
    "camket",
    "tudanhgia",
    "lich",
    "xinvang",
    "tongketnam",
}


def match_menu(conv: Conversation, text: str) -> str | None:
    """The choice a typed answer means: its number, or its label with diacritics optional."""
    if not conv.menu:
        return None
    stripped = text.strip().rstrip(".)")
    if stripped.isdecimal():  # not isdigit(): "²" is a digit int() refuses
        index = int(stripped) - 1 if len(stripped) < 6 else -1
        return str(conv.menu[index][1]) if 0 <= index < len(conv.menu) else None
    wanted = match_key(text)
    if not wanted:
        return None
    for label, data in conv.menu:
        if match_key(str(label)) == wanted:
            return str(data)
    return None


def match_key(text: str) -> str:
    """Folded, without emoji or punctuation: "✅ Tiếp tục ➡" and "tiep tuc" match."""
    return " ".join(re.sub(r"[^\w\s]", " ", fold(text)).split())


async def dispatch(ctx: Ctx) -> None:
    inc = ctx.inc
    text = clean(inc.text)
    if inc.choice is not None:
        await _on_choice(ctx, inc.choice)
        return
    if inc.event == "unsupported":  # Zalo does not pass on this person's content
        ctx.reply(texts.UNSUPPORTED_CONTENT)
        return
    if inc.event == "follow":  # followed the Zalo OA: as if they had sent /start
        await run_command(ctx, "start", "")
        return
    if not text:  # a sticker, a photo without caption, only invisible characters
        ctx.reply(texts.EMPTY_MESSAGE)
        await _reprompt(ctx)
        return
    cmd = parse_command(text)
    if cmd is not None:
        await run_command(ctx, *cmd)
        return
    step = _current_step(ctx)
    limit = ctx.settings.max_field_chars
    if step is not None:
        if step.item_text:
            limit = min(limit, ctx.settings.max_item_chars)
        if step.max_chars:  # the step's own limit, tighter or looser than the default
            limit = step.max_chars
    if len(text) > limit:
        ctx.reply(Html(texts.TOO_LONG.format(limit=limit, length=len(text))))
        await _reprompt(ctx)
        return
    chosen = match_menu(ctx.conv, text)
    if chosen is not None:
        await _on_choice(ctx, chosen, typed=text)
        return
    if step is not None:
        await step.handle(ctx, Answer(text=text))
        return
    if ctx.member is None:
        for handler in fallback_unlinked:
            await handler(ctx, text)
        return
    ctx.reply(texts.NOT_UNDERSTOOD)


def _current_step(ctx: Ctx) -> Step | None:
    conv = ctx.conv
    if conv.flow and conv.step and conv.flow in FLOWS:
        return FLOWS[conv.flow].steps.get(conv.step)
    return None


async def _reprompt(ctx: Ctx) -> None:
    if _current_step(ctx) is not None:
        await ctx.goto(ctx.conv.step or "")


async def run_command(ctx: Ctx, name: str, args: str) -> None:
    cmd = COMMANDS.get(name)
    if cmd is None:
        ctx.reply(texts.UNKNOWN_COMMAND)
        return
    if cmd.needs_member and ctx.member is None:
        # Refused like any attempt without the right, and kept (no personal data: not linked).
        audit.record(ctx.session, action="not_linked", now=ctx.now, refused=True, command=name)
        ctx.reply(texts.NOT_LINKED)
        return
    in_flow = _current_step(ctx) is not None
    await cmd.run(ctx, args)
    if cmd.keeps_flow and in_flow and _current_step(ctx) is not None:
        title = FLOWS[ctx.conv.flow or ""].title
        ctx.reply(texts.STILL_IN_FLOW.format(title=title))
        await _reprompt(ctx)


# Our button data is printable ASCII, its numbers at most 18 digits (any id fits a BIGINT).
# Anything else was forged or garbled on the way, and is answered as a stale button.
_FORGED = re.compile(r"[^\x20-\x7e]|[0-9]{19}")


async def _on_choice(ctx: Ctx, data: str, typed: str | None = None) -> None:
    if _FORGED.search(data):
        ctx.reply(texts.STALE_BUTTON)
        await _reprompt(ctx)
        return
    if data.startswith("!"):
        prefix, _, args = data[1:].partition(":")
        handler = ACTIONS.get(prefix)
        if handler is None:
            ctx.reply(texts.STALE_BUTTON)
            return
        await handler(ctx, args)
        return
    seq, _, value = data.partition(":")
    step = _current_step(ctx)
    if step is None or not seq.isdigit() or int(seq) != ctx.conv.seq:
        ctx.reply(texts.STALE_BUTTON)
        await _reprompt(ctx)
        return
    await step.handle(ctx, Answer(text=typed or "", value=value))
