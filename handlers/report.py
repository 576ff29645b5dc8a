"""/baocao: registration and self-assessment rates for a unit and each unit below it.

A report shows one month; buttons drill down to a child unit, go back a month, or send the
same figures as a spreadsheet (the "phụ lục số liệu" a committee files).
"""

from __future__ import annotations

from handlers import texts
from handlers.engine import Ctx, action, command
from handlers.messages import Choice, Reply
from handlers.schedule import shift_period
from handlers.scopes import PERIOD, refuse, unit_from, units_for
from handlers.text import fmt
from models import access, audit
from models.reports import build_report, default_period
from models.tables import OrgUnit

MAX_CHILD_BUTTONS = 30


@command("baocao", keeps_flow=True)
async def baocao(ctx: Ctx, args: str) -> None:
    units = await units_for(ctx, access.READ)
    if not units:
        refuse(ctx, "report_view")
        return
    if len(units) == 1:
        await show(ctx, units[0], None)
        return
    ctx.reply(texts.REPORT_PICK, [Choice(u.name, f"!bc:{u.id}") for u in units])


@action("bc")
async def report_action(ctx: Ctx, args: str) -> None:
    """!bc:<unit id>[:<period>]: the report of that unit (drill-down, another month)."""
    unit_id, _, period = args.partition(":")
    if period and not PERIOD.match(period):
        ctx.reply(texts.STALE_BUTTON)
        return
    unit = await unit_from(ctx, unit_id, access.READ, action="report_view")
    if unit is not None:
        await show(ctx, unit, period or None)


@action("bcx")
async def spreadsheet_action(ctx: Ctx, args: str) -> None:
    """!bcx:<unit id>:<period>: the same report as an XLSX file."""
    from documents.report import report_filename, to_xlsx

    unit_id, _, period = args.partition(":")
    if not PERIOD.match(period):
        ctx.reply(texts.STALE_BUTTON)
        return
    unit = await unit_from(ctx, unit_id, access.READ, action="report_file")
    if unit is None:
        return
    report = await build_report(ctx.session, unit, year=int(period[:4]), period=period)
    _audit(ctx, unit, "report_file", period)
    reply = Reply(fmt(texts.REPORT_FILE_SENT, unit=unit.name))
    ctx.send(reply.attach(report_filename(report, "xlsx"), to_xlsx(report)))


async def show(ctx: Ctx, unit: OrgUnit, period: str | None) -> None:
    from documents.report import report_chart
    from handlers.report_view import report_text

    period = period or default_period(ctx.now, unit.timezone)
    report = await build_report(ctx.session, unit, year=int(period[:4]), period=period)
    _audit(ctx, unit, "report_view", period)
    choices = [
        Choice(texts.BTN_REPORT_CHILD.format(name=row.name), f"!bc:{row.unit_id}:{period}")
        for row in report.children[:MAX_CHILD_BUTTONS]
    ]
    choices += [
        Choice(texts.BTN_REPORT_PREVIOUS, f"!bc:{unit.id}:{shift_period(period, -1)}"),
        Choice(texts.BTN_REPORT_XLSX, f"!bcx:{unit.id}:{period}"),
    ]
    chart = report_chart(report) if report.children else None
    ctx.send(Reply(report_text(report), choices, chart=chart))


def _audit(ctx: Ctx, unit: OrgUnit, what: str, period: str) -> None:
    assert ctx.member is not None
    audit.record(
        ctx.session,
        action=what,
        now=ctx.now,
        member_id=ctx.member.id,
        unit_id=unit.id,
        period=period,
    )
