"""python -m bot role …: the command-line side of the higher committee's work.

Every change is audited with actor "cli" (the operator at the server's terminal).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli_common import UserError, migrate, print_table, transaction
from bot.config import Config
from handlers import texts
from handlers.scopes import PERIOD
from handlers.text import clean, is_link
from models import access, audit, broadcasts
from models.db import utcnow
from models.orgs import find_unit, full_name
from models.people import find_members
from models.tables import Member, OrgUnit

MAX_BROADCAST = 3500
WATCH_SECONDS = 1.0


def register(sub: Any) -> None:
    """Add this module's commands to the top-level parser's subcommands."""
    role = sub.add_parser("role", help="giao, thu hồi, xem quyền").add_subparsers(metavar="VIỆC")
    for name, handler, what in (
        ("grant", cmd_role_grant, "giao quyền cho một đảng viên tại một đơn vị"),
        ("revoke", cmd_role_revoke, "thu hồi quyền"),
    ):
        p = role.add_parser(name, help=what)
        p.add_argument(
            "--member", required=True, help="#số thứ tự, số điện thoại, hoặc Đơn vị/…/Họ tên"
        )
        p.add_argument("--unit", required=True, help="đơn vị, các cấp ngăn cách bằng /")
        p.add_argument("--role", required=True, choices=access.ROLES)
        p.set_defaults(handler=handler)
    lst = role.add_parser("list", help="ai có quyền tại một đơn vị (kể cả quản trị cấp trên)")
    lst.add_argument("--unit", required=True)
    lst.set_defaults(handler=cmd_role_list)

    rep = sub.add_parser("report", help="tỉ lệ đăng ký, tự đánh giá của một đơn vị và cấp dưới")
    rep.add_argument("--unit", required=True)
    rep.add_argument("--year", type=int, required=True)
    rep.add_argument("--month", help="YYYY-MM (mặc định: tháng này, hoặc tháng 12 của năm đã qua)")
    rep.add_argument("--format", choices=("table", "csv", "xlsx", "png"), default="table")
    rep.add_argument("--out", help="tệp ghi ra (mặc định: in ra màn hình với table/csv)")
    rep.set_defaults(handler=cmd_report)

    exp = sub.add_parser("export", help="bản đăng ký và tự đánh giá: bảng tính hoặc bản in")
    exp.add_argument("--unit", required=True)
    exp.add_argument("--year", type=int, required=True)
    exp.add_argument("--format", choices=("xlsx", "docx"), default="xlsx")
    exp.add_argument("--out", help="tệp ghi ra (mặc định: tên tự đặt, trong thư mục hiện tại)")
    exp.set_defaults(handler=cmd_export)

    bc = sub.add_parser("broadcast", help="gửi thông báo tới mọi đảng viên của một đơn vị")
    bc.add_argument("--unit", required=True)
    bc.add_argument("--text", required=True)
    bc.add_argument("--link", help="đường dẫn tài liệu, https://…")
    bc.add_argument("--dry-run", action="store_true", help="chỉ xem số người nhận, không gửi")
    bc.add_argument(
        "--wait",
        type=float,
        default=30.0,
        help="giây chờ khi không thấy tiến triển (bot chưa chạy?) trước khi thoát; 0: không chờ",
    )
    bc.set_defaults(handler=cmd_broadcast)


async def unit_at(session: AsyncSession, path: str) -> OrgUnit:
    unit = await find_unit(session, clean(path))
    if unit is None:
        raise UserError(texts.CLI_UNIT_NOT_FOUND.format(path=path))
    return unit


async def member_at(session: AsyncSession, ref: str) -> Member:
    found = await find_members(session, clean(ref))
    if not found:
        raise UserError(texts.CLI_MEMBER_NOT_FOUND.format(ref=ref))
    if len(found) > 1:
        lines = [texts.CLI_MEMBER_AMBIGUOUS.format(ref=ref, n=len(found))]
        for m in found:
            unit = await full_name(session, m.unit)
            lines.append(texts.CLI_MEMBER_LINE.format(id=m.id, name=m.full_name, unit=unit))
        raise UserError("\n".join(lines))
    return found[0]


# -- roles -----------------------------------------------------------------------------------


def cmd_role_grant(config: Config, args: argparse.Namespace) -> None:
    migrate(config)
    asyncio.run(_role_change(config, args, grant=True))


def cmd_role_revoke(config: Config, args: argparse.Namespace) -> None:
    migrate(config)
    asyncio.run(_role_change(config, args, grant=False))


async def _role_change(config: Config, args: argparse.Namespace, *, grant: bool) -> None:
    async with transaction(config) as session:
        unit = await unit_at(session, args.unit)
        member = await member_at(session, args.member)
        now = utcnow()
        change = access.grant if grant else access.revoke
        changed = await change(session, member, unit, args.role, now=now)
        if grant:
            message = texts.CLI_ROLE_GRANTED if changed else texts.CLI_ROLE_HAD
        else:
            message = texts.CLI_ROLE_REVOKED if changed else texts.CLI_ROLE_NOT_HELD
        print(
            message.format(
                role=texts.ROLE_NAMES[args.role],
                unit=await full_name(session, unit),
                name=member.full_name,
            )
        )


def cmd_role_list(config: Config, args: argparse.Namespace) -> None:
    migrate(config)
    asyncio.run(_role_list(config, args.unit))


async def _role_list(config: Config, path: str) -> None:
    async with transaction(config) as session:
        unit = await unit_at(session, path)
        rows = [
            [m.full_name, texts.ROLE_NAMES.get(role, role), await full_name(session, at)]
            for m, role, at in await access.holders(session, unit)
        ]
        if not rows:
            print(texts.CLI_ROLE_NONE.format(unit=await full_name(session, unit)))
            return
        print_table([texts.CLI_ROLE_HEADER, *rows])


# -- report / export ---------------------------------------------------------------------------


def cmd_report(config: Config, args: argparse.Namespace) -> None:
    if args.month and not (PERIOD.match(args.month) and args.month[:4] == str(args.year)):
        raise UserError(texts.CLI_BAD_MONTH.format(value=args.month, year=args.year))
    if args.format in ("xlsx", "png") and not args.out:
        raise UserError(texts.CLI_OUT_NEEDED.format(format=args.format))
    migrate(config)
    asyncio.run(_report(config, args))


async def _report(config: Config, args: argparse.Namespace) -> None:
    from documents import report as report_files
    from documents.charts import chart_png
    from models.reports import build_report, default_period

    async with transaction(config) as session:
        unit = await unit_at(session, args.unit)
        period = args.month
        if period is None:
            current = default_period(utcnow(), unit.timezone)
            period = current if current[:4] == str(args.year) else f"{args.year}-12"
        report = await build_report(session, unit, year=args.year, period=period)
        audit.record(
            session,
            action="report_file",
            now=utcnow(),
            actor="cli",
            unit_id=unit.id,
            period=period,
            format=args.format,
        )
    if args.format == "table":
        _emit(args.out, report_files.to_table(report).encode())
    elif args.format == "csv":
        _emit(args.out, report_files.to_csv(report))
    elif args.format == "xlsx":
        _emit(args.out, report_files.to_xlsx(report))
    else:
        _emit(args.out, chart_png(report_files.report_chart(report)))


def cmd_export(config: Config, args: argparse.Namespace) -> None:
    migrate(config)
    asyncio.run(_export(config, args))


async def _export(config: Config, args: argparse.Namespace) -> None:
    from zoneinfo import ZoneInfo

    from documents.pledges import export_filename, to_docx, to_xlsx
    from models.exports import unit_export

    async with transaction(config) as session:
        unit = await unit_at(session, args.unit)
        export = await unit_export(session, unit, year=args.year)
        audit.record(
            session,
            action="export",
            now=utcnow(),
            actor="cli",
            unit_id=unit.id,
            format=args.format,
            year=args.year,
            members=len(export.members),
        )
        today = utcnow().astimezone(ZoneInfo(unit.timezone)).date()
    if args.format == "xlsx":
        content = to_xlsx(export)
    else:
        settings = config.settings
        content = to_docx(
            export, settings.export_template, place=settings.export_place, today=today
        )
    out = args.out or export_filename(export, args.format)
    _emit(out, content)
    print(texts.CLI_EXPORTED.format(path=out, n=len(export.members)))


def _emit(out: str | None, content: bytes) -> None:
    """Write to the file, or to the terminal when no file was named."""
    if out is None:
        sys.stdout.write(content.decode("utf-8-sig"))
        return
    try:
        Path(out).write_bytes(content)
    except OSError as e:
        raise UserError(texts.CLI_CANNOT_WRITE.format(path=out, error=e)) from None


# -- broadcast ---------------------------------------------------------------------------------


def cmd_broadcast(config: Config, args: argparse.Namespace) -> None:
    text = clean(args.text)
    if not text or len(text) > MAX_BROADCAST:
        raise UserError(texts.CLI_BROADCAST_TEXT.format(limit=MAX_BROADCAST))
    if args.link and not is_link(args.link):
        raise UserError(texts.BROADCAST_BAD_LINK)
    migrate(config)
    asyncio.run(_broadcast(config, args, text))


async def _broadcast(config: Config, args: argparse.Namespace, text: str) -> None:
    from handlers.broadcast import CHANNEL_NAMES, message

    policy = config.settings.routes
    async with transaction(config) as session:
        unit = await unit_at(session, args.unit)
        now = utcnow()
        found = await broadcasts.routes(session, unit, now, policy)
        seen = broadcasts.preview(found)
        channels = ", ".join(f"{CHANNEL_NAMES.get(c, c)} {n}" for c, n in seen.by_channel.items())
        print(
            texts.CLI_BROADCAST_PREVIEW.format(
                unit=await full_name(session, unit),
                total=seen.total,
                channels=channels or "—",
                unreachable=seen.unreachable,
            )
        )
        if args.dry_run:
            return
        payload = message({"text": text, "link": args.link}).to_payload()
        sent = await broadcasts.start(
            session, unit, payload=payload, now=now, policy=policy, created_by=None
        )
        audit.record(
            session,
            action="broadcast",
            now=now,
            actor="cli",
            unit_id=unit.id,
            broadcast=sent.id,
            recipients=sent.total,
        )
        broadcast_id = sent.id
    await _watch(config, broadcast_id, args.wait)


async def _watch(config: Config, broadcast_id: int, patience: float) -> None:
    """A progress bar until every row has settled, or until nothing moves for `patience`."""
    from models.tables import Broadcast

    last, still = None, 0.0
    while True:
        async with transaction(config) as session:
            broadcast = await session.get(Broadcast, broadcast_id)
            assert broadcast is not None
            state = await broadcasts.progress(session, broadcast)
        print("\r" + _bar(state), end="", flush=True)
        if state.done:
            print()
            return
        still = 0.0 if state != last else still + WATCH_SECONDS
        last = state
        if still >= patience:
            print("\n" + texts.CLI_BROADCAST_QUEUED)
            return
        await asyncio.sleep(WATCH_SECONDS)


def _bar(state: broadcasts.Progress, width: int = 30) -> str:
    settled = state.total - state.pending
    filled = width * settled // state.total if state.total else width
    return texts.CLI_BROADCAST_BAR.format(
        bar="█" * filled + "░" * (width - filled),
        sent=state.sent,
        total=state.total,
        failed=state.failed,
        unreachable=state.unreachable,
    )
