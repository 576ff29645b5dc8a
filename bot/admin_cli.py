"""python -m bot role | report | export | broadcast | nomination: the command-line side of the
higher committee's work.

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
from models import access, audit, broadcasts, nominations
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

    nom = sub.add_parser(
        "nomination", help="điển hình, mô hình do chi bộ đề xuất (như /dienhinh)"
    ).add_subparsers(metavar="VIỆC")
    add = nom.add_parser("add", help="ghi một đề xuất điển hình hoặc mô hình của một đơn vị")
    add.add_argument("--unit", required=True, help="đơn vị đề xuất, các cấp ngăn cách bằng /")
    add.add_argument(
        "--kind",
        required=True,
        choices=nominations.KINDS,
        help="dien_hinh: điển hình; mo_hinh: mô hình",
    )
    add.add_argument(
        "--subject",
        required=True,
        choices=nominations.SUBJECTS,
        help="ca_nhan: cá nhân; tap_the: tập thể",
    )
    add.add_argument(
        "--name", help="họ tên người, tên tập thể hoặc tên mô hình (mặc định: họ tên của --member)"
    )
    add.add_argument("--description", required=True, help="mô tả ngắn: thành tích, cách làm")
    add.add_argument("--result", help="kết quả đạt được")
    add.add_argument(
        "--member",
        help="đảng viên được đề xuất: #số thứ tự, số điện thoại, hoặc Đơn vị/…/Họ tên "
        "(không ghi: điển hình cá nhân là đảng viên được đối chiếu theo --name với danh sách "
        "đảng viên của đơn vị)",
    )
    add.add_argument(
        "--masses",
        action="store_true",
        help="người được đề xuất là quần chúng, không phải đảng viên",
    )
    add.add_argument("--year", type=int, help="năm (mặc định: năm nay)")
    add.set_defaults(handler=cmd_nomination_add)
    nls = nom.add_parser("list", help="các đề xuất của một đơn vị và mọi đơn vị cấp dưới")
    nls.add_argument("--unit", required=True)
    nls.add_argument("--year", type=int, help="năm (mặc định: năm nay)")
    nls.add_argument("--format", choices=("table", "csv"), default="table")
    nls.add_argument("--out", help="tệp ghi ra (mặc định: in ra màn hình)")
    nls.set_defaults(handler=cmd_nomination_list)


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


# -- nominations (điển hình, mô hình) -----------------------------------------------------------


def _year(value: int | None) -> None:
    if value is not None and not 2000 <= value <= 2100:
        raise UserError(texts.CLI_NOMINATION_BAD_YEAR.format(value=value))


def _text(option: str, value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    text = clean(value)
    if not text or len(text) > limit:
        raise UserError(texts.CLI_NOMINATION_TEXT.format(option=option, limit=limit))
    return text


def cmd_nomination_add(config: Config, args: argparse.Namespace) -> None:
    _year(args.year)
    person = args.subject == nominations.CA_NHAN
    for option, given in (("--member", args.member), ("--masses", args.masses)):
        if given and not person:
            raise UserError(texts.CLI_NOMINATION_PERSON_ONLY.format(option=option))
    if args.member and args.masses:
        raise UserError(texts.CLI_NOMINATION_MEMBER_MASSES)
    if args.name is None and not args.member:
        raise UserError(texts.CLI_NOMINATION_NO_NAME)
    if args.name is not None and not 0 < len(clean(args.name)) <= nominations.MAX_NAME:
        raise UserError(texts.CLI_NOMINATION_NAME.format(limit=nominations.MAX_NAME))
    _text("--description", args.description, nominations.MAX_TEXT)
    _text("--result", args.result, nominations.MAX_TEXT)
    migrate(config)
    asyncio.run(_nomination_add(config, args))


async def _nomination_add(config: Config, args: argparse.Namespace) -> None:
    from zoneinfo import ZoneInfo

    async with transaction(config) as session:
        unit = await unit_at(session, args.unit)
        if unit.closed_at is not None:  # it takes nothing new (its nominations moved on)
            closed = unit.closed_at.astimezone(ZoneInfo(unit.timezone))
            raise UserError(
                texts.TREE_UNIT_CLOSED.format(
                    unit=await full_name(session, unit), date=f"{closed:%d/%m/%Y}"
                )
            )
        now = utcnow()
        year = args.year or now.astimezone(ZoneInfo(unit.timezone)).year
        name = clean(args.name) if args.name is not None else None
        member: Member | None = None
        if args.member:
            member = await member_at(session, args.member)
            if not member.active or not member.unit.path.startswith(unit.path):
                raise UserError(
                    texts.CLI_NOMINATION_MEMBER_OUTSIDE.format(
                        name=member.full_name, unit=await full_name(session, unit)
                    )
                )
        elif (
            name is not None
            and args.kind == nominations.DIEN_HINH
            and args.subject == nominations.CA_NHAN
            and not args.masses
        ):
            member = await nominations.member_named(session, unit, name)
        nomination = await nominations.add(
            session,
            unit,
            year=year,
            kind=args.kind,
            subject=args.subject,
            name=name or (member.full_name if member else ""),
            description=_text("--description", args.description, nominations.MAX_TEXT) or "",
            result=_text("--result", args.result, nominations.MAX_TEXT),
            member_id=member.id if member else None,
            party_member=not args.masses,
            now=now,
        )
        audit.record(
            session,
            action="nomination_add",
            now=now,
            actor="cli",
            unit_id=unit.id,
            nomination=nomination.id,
            year=year,
            kind=nomination.kind,
            subject=nomination.subject,
        )
        print(
            texts.CLI_NOMINATION_ADDED.format(
                id=nomination.id,
                unit=await full_name(session, unit),
                year=year,
                kind=texts.NOMINATION_KIND_NAMES[(nomination.kind, nomination.subject)],
                name=nomination.name,
                member=texts.CLI_NOMINATION_LINKED.format(id=member.id) if member else "",
            )
        )


def cmd_nomination_list(config: Config, args: argparse.Namespace) -> None:
    _year(args.year)
    migrate(config)
    asyncio.run(_nomination_list(config, args))


async def _nomination_list(config: Config, args: argparse.Namespace) -> None:
    from zoneinfo import ZoneInfo

    from handlers.nominations import kind_label, who_label

    async with transaction(config) as session:
        unit = await unit_at(session, args.unit)
        now = utcnow()
        year = args.year or now.astimezone(ZoneInfo(unit.timezone)).year
        found = await nominations.in_subtree(session, unit, year)
        paths: dict[int, str] = {}
        rows: list[list[str]] = []
        for nomination, at in found:
            if at.id not in paths:
                paths[at.id] = await full_name(session, at)
            made = nomination.created_at.astimezone(ZoneInfo(at.timezone))
            rows.append(
                [
                    str(nomination.id),
                    paths[at.id],
                    kind_label(nomination),
                    nomination.name,
                    who_label(nomination),
                    nomination.description,
                    nomination.result or "",
                    texts.CLI_NOMINATION_YES if nomination.replicated else "",
                    f"{made:%d/%m/%Y}",
                ]
            )
        audit.record(
            session,
            action="nomination_list",
            now=now,
            actor="cli",
            unit_id=unit.id,
            year=year,
            format=args.format,
            nominations=len(rows),
        )
        unit_name = await full_name(session, unit)
    if args.format == "csv":
        content = _csv([texts.CLI_NOMINATION_HEADER, *rows])
    elif rows:
        content = _aligned([texts.CLI_NOMINATION_HEADER, *[_cut(r) for r in rows]]).encode()
    else:
        content = (texts.CLI_NOMINATION_NONE.format(unit=unit_name, year=year) + "\n").encode()
    _emit(args.out, content)
    if args.out:
        print(texts.CLI_NOMINATION_WRITTEN.format(path=args.out, n=len(rows)))


def _csv(rows: list[list[str]]) -> bytes:
    """UTF-8 with a BOM (Excel reads the Vietnamese letters); text a spreadsheet would run as a
    formula is defused with Excel's apostrophe."""
    import csv
    import io

    from documents.report import FORMULA_START

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows(["'" + v if v.startswith(FORMULA_START) else v for v in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")


def _cut(row: list[str], limit: int = 50) -> list[str]:
    """A terminal row: every cell on one line, long text shortened."""
    from handlers.text import short

    return [short(cell, limit) for cell in row]


def _aligned(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines) + "\n"
