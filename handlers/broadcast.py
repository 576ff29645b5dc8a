"""/thongbao: an admin sends one message to every member of a unit of their subtree.

Compose the text (and an optional link), choose the unit, see how many members each channel
reaches, confirm. The admin's message then shows the progress and ends with the report; failed
sends can be queued again with one tap.
"""

from __future__ import annotations

from typing import Any

from handlers import texts
from handlers.engine import Answer, Ctx, Flow, Step, action, command, flow
from handlers.messages import Choice, Reply
from handlers.scopes import pick_unit, refuse, unit_from, unit_options, units_for
from handlers.text import Html, fmt, is_link, number_vi
from models import access, audit, broadcasts
from models.tables import Broadcast, OrgUnit

MAX_TEXT = 3500  # leaves room for the header within one Telegram message (4,096)
CHANNEL_NAMES = {"telegram": "Telegram", "zalo_bot": "Zalo", "zalo_oa": "Zalo OA"}


@command("thongbao")
async def thongbao(ctx: Ctx, args: str) -> None:
    assert ctx.member is not None
    units = await units_for(ctx, access.PUBLISH)
    if not units:
        refuse(ctx, "broadcast", texts.BROADCAST_ADMIN_ONLY)
        return
    ctx.start_flow("broadcast", {"scopes": [u.id for u in units]})
    await ctx.goto("text")


async def _prompt_text(ctx: Ctx) -> None:
    ctx.ask(texts.BROADCAST_ASK_TEXT.format(limit=number_vi(MAX_TEXT)))


async def _answer_text(ctx: Ctx, answer: Answer) -> None:
    if not answer.text:
        await ctx.goto("text")
        return
    ctx.data["text"] = answer.text
    ctx.touch_data()
    await ctx.goto("link")


async def _prompt_link(ctx: Ctx) -> None:
    ctx.ask(texts.BROADCAST_ASK_LINK, [(texts.BTN_NO_LINK, "none")])


async def _answer_link(ctx: Ctx, answer: Answer) -> None:
    if await take_link(ctx, answer, none_value="none"):
        await ctx.goto("unit")


async def take_link(ctx: Ctx, answer: Answer, *, none_value: str) -> bool:
    """An optional link step (here and in /chuyende): keep ctx.data["link"], None when the
    no-link button was pressed; anything but a link is explained and asked again (False)."""
    if answer.value == none_value:
        ctx.data["link"] = None
    elif is_link(answer.text):
        ctx.data["link"] = answer.text
    else:
        ctx.reply(texts.BROADCAST_BAD_LINK)
        await ctx.goto(ctx.conv.step or "link")
        return False
    ctx.touch_data()
    return True


async def _prompt_unit(ctx: Ctx) -> None:
    options = await unit_options(ctx, ctx.data["scopes"], texts.BTN_BROADCAST_ALL)
    ctx.ask(texts.BROADCAST_ASK_UNIT, options)


async def _answer_unit(ctx: Ctx, answer: Answer) -> None:
    if await pick_unit(ctx, answer, access.PUBLISH, action="broadcast"):
        await ctx.goto("confirm")


async def _prompt_confirm(ctx: Ctx) -> None:
    unit = await ctx.session.get(OrgUnit, ctx.data["unit_id"])
    assert unit is not None
    found = await broadcasts.routes(ctx.session, unit, ctx.now, ctx.settings.routes)
    seen = broadcasts.preview(found)
    channels = " · ".join(
        f"{CHANNEL_NAMES.get(channel, channel)} {number_vi(n)}"
        for channel, n in seen.by_channel.items()
    )
    lines = [
        fmt(texts.BROADCAST_PREVIEW, unit=unit.name, total=number_vi(seen.total)),
        texts.BROADCAST_PREVIEW_CHANNELS.format(channels=channels or "—"),
    ]
    if seen.unreachable:
        lines.append(texts.BROADCAST_PREVIEW_UNREACHABLE.format(n=number_vi(seen.unreachable)))
    lines += ["", texts.BROADCAST_PREVIEW_TEXT, message(ctx.data).text]
    ctx.ask(
        "\n".join(lines),
        [
            (texts.BTN_BROADCAST_SEND, "send"),
            (texts.BTN_BROADCAST_EDIT, "edit"),
            (texts.BTN_CANCEL, "cancel"),
        ],
    )


async def _answer_confirm(ctx: Ctx, answer: Answer) -> None:
    if answer.value == "edit":
        await ctx.goto("text")
        return
    if answer.value == "cancel":
        ctx.end_flow()
        ctx.reply(texts.CANCELLED)
        return
    if answer.value != "send":
        ctx.reply(texts.CHOOSE_FROM_BUTTONS)
        await ctx.goto("confirm")
        return
    assert ctx.member is not None
    unit = await unit_from(ctx, str(ctx.data["unit_id"]), access.PUBLISH, action="broadcast")
    if unit is None:
        ctx.end_flow()
        return
    sent = await broadcasts.start(
        ctx.session,
        unit,
        payload=message(ctx.data).to_payload(),
        now=ctx.now,
        policy=ctx.settings.routes,
        created_by=ctx.member.id,
        progress_chat=(ctx.inc.channel, ctx.inc.chat_id),
        render=render_progress,
    )
    audit.record(
        ctx.session,
        action="broadcast",
        now=ctx.now,
        member_id=ctx.member.id,
        unit_id=unit.id,
        broadcast=sent.id,
        recipients=sent.total,
    )
    ctx.end_flow()


def message(data: dict[str, Any]) -> Reply:
    """What every recipient gets: the admin's text (escaped) and the link."""
    parts = [fmt(texts.BROADCAST_MESSAGE, text=data["text"])]
    if data.get("link"):
        parts.append(fmt(texts.BROADCAST_LINK, link=data["link"]))
    return Reply(Html("\n".join(parts)))


def render_progress(broadcast: Broadcast, state: broadcasts.Progress) -> dict[str, Any]:
    """The admin's progress message, and at the end the report with a resend button."""
    counts = {
        "sent": number_vi(state.sent),
        "total": number_vi(state.total),
        "failed": number_vi(state.failed),
        "unreachable": number_vi(state.unreachable),
    }
    if not state.done:
        return Reply(texts.BROADCAST_PROGRESS.format(**counts)).to_payload()
    lines = [texts.BROADCAST_DONE.format(**counts)]
    if state.unknown:
        lines.append(texts.BROADCAST_UNKNOWN.format(n=number_vi(state.unknown)))
    choices = []
    if state.failed:
        label = texts.BTN_BROADCAST_RESEND.format(n=number_vi(state.failed))
        choices.append(Choice(label, f"!bcr:{broadcast.id}"))
    return Reply("\n".join(lines), choices).to_payload()


@action("bcr")
async def resend_action(ctx: Ctx, args: str) -> None:
    """!bcr:<broadcast id>: queue a finished broadcast's failed sends again."""
    broadcast = await ctx.session.get(Broadcast, int(args)) if args.isdigit() else None
    if broadcast is None:
        ctx.reply(texts.STALE_BUTTON)
        return
    unit = await unit_from(ctx, str(broadcast.unit_id), access.PUBLISH, action="broadcast_resend")
    if unit is None or ctx.member is None:
        return
    n = await broadcasts.resend_failed(ctx.session, broadcast, ctx.now)
    audit.record(
        ctx.session,
        action="broadcast_resend",
        now=ctx.now,
        member_id=ctx.member.id,
        unit_id=unit.id,
        broadcast=broadcast.id,
        resent=n,
    )
    ctx.reply(texts.BROADCAST_RESENDING.format(n=number_vi(n)) if n else texts.BROADCAST_NO_FAILED)


flow(
    Flow(
        "broadcast",
        {
            "text": Step(_prompt_text, _answer_text, max_chars=MAX_TEXT),
            "link": Step(_prompt_link, _answer_link, max_chars=500),
            "unit": Step(_prompt_unit, _answer_unit),
            "confirm": Step(_prompt_confirm, _answer_confirm),
        },
        title="soạn thông báo",
    )
)
