"""/xuat: a unit's pledges and monthly self-assessments as a spreadsheet (XLSX) or as printable
pledge forms (DOCX), for the minutes and the files. A secretary exports their own chi bộ; an
admin any unit of their subtree."""

from __future__ import annotations

from handlers import texts
from handlers.common import local_now, pledge_year
from handlers.engine import Ctx, action, command
from handlers.messages import Choice, Reply
from handlers.scopes import children, refuse, unit_from, units_for
from handlers.text import fmt
from models import access, audit
from models.tables import OrgUnit

FORMATS = ("xlsx", "docx")
MAX_CHILD_BUTTONS = 30


@command("xuat", keeps_flow=True)
async def xuat(ctx: Ctx, args: str) -> None:
    units = await units_for(ctx, access.MANAGE)
    if not units:
        refuse(ctx, "export")
        return
    if len(units) == 1:
        await offer(ctx, units[0])
        return
    ctx.reply(texts.EXPORT_PICK, [Choice(u.name, f"!xu:{u.id}") for u in units])


@action("xu")
async def unit_action(ctx: Ctx, args: str) -> None:
    """!xu:<unit id>: what can be exported for that unit, and its units below."""
    unit = await unit_from(ctx, args, access.MANAGE, action="export")
    if unit is not None:
        await offer(ctx, unit)


async def offer(ctx: Ctx, unit: OrgUnit) -> None:
    year = pledge_year(ctx, unit)
    choices = [
        Choice(texts.BTN_EXPORT_XLSX, f"!xf:{unit.id}:xlsx:{year}"),
        Choice(texts.BTN_EXPORT_DOCX, f"!xf:{unit.id}:docx:{year}"),
    ]
    choices += [
        Choice(texts.BTN_EXPORT_CHILD.format(name=child.name), f"!xu:{child.id}")
        for child in (await children(ctx, unit))[:MAX_CHILD_BUTTONS]
    ]
    ctx.reply(fmt(texts.EXPORT_OFFER, unit=unit.name, year=year), choices)


@action("xf")
async def file_action(ctx: Ctx, args: str) -> None:
    """!xf:<unit id>:<format>:<year>: build the file and send it."""
    from documents.pledges import export_filename, to_docx, to_xlsx
    from models.exports import unit_export

    unit_id, fmt_name, year = [*args.split(":"), "", ""][:3]
    if fmt_name not in FORMATS or not year.isdigit():
        ctx.reply(texts.STALE_BUTTON)
        return
    unit = await unit_from(ctx, unit_id, access.MANAGE, action="export")
    if unit is None:
        return
    export = await unit_export(ctx.session, unit, year=int(year))
    if fmt_name == "xlsx":
        content = to_xlsx(export)
    else:
        settings = ctx.settings
        content = to_docx(
            export,
            settings.export_template,
            place=settings.export_place,
            today=local_now(ctx, unit).date(),
        )
    assert ctx.member is not None
    audit.record(
        ctx.session,
        action="export",
        now=ctx.now,
        member_id=ctx.member.id,
        unit_id=unit.id,
        format=fmt_name,
        year=int(year),
        members=len(export.members),
    )
    reply = Reply(fmt(texts.EXPORT_SENT, unit=unit.name, n=len(export.members)))
    ctx.send(reply.attach(export_filename(export, fmt_name), content))
