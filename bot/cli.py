"""python -m bot …: run the bot, talk to it in a terminal, and administer it.

Exit codes a script can rely on: 0 success, 1 a user error (message on stderr), 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import logging
import signal
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from bot import config as config_module
from bot import logs
from bot.cli_common import UserError, migrate, print_table
from bot.config import Config, ConfigError
from handlers import texts
from handlers.text import clean
from models.db import create_engine, session_factory, utcnow
from models.db import fault as db_fault
from models.roster import RosterError, import_roster

EXAMPLE_ROSTER = Path(__file__).resolve().parent.parent / "examples" / "roster.csv"
EXAMPLE_UNIT = "Đảng bộ xã Hưng Bình/Chi bộ thôn 2"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    config: Config | None = None
    try:
        config = config_module.load(args.config)
        logs.protect_config(config)
        logging.basicConfig(
            level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        logging.getLogger("alembic").setLevel(logging.WARNING)
        logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per Bot API request
        args.handler(config, args)
    except ConfigError as e:
        print(texts.CLI_CONFIG_ERROR.format(error=e), file=sys.stderr)
        return 1
    except UserError as e:
        print(e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    except Exception as e:
        # The database itself failed (disk full, read-only, away, locked): a clear line, not a
        # traceback. Each command writes in one transaction: nothing of this one is kept.
        kind = db_fault(e, config.database_url if config else None)
        if kind is None:
            raise
        logging.getLogger(__name__).debug("database fault", exc_info=True)
        print(texts.CLI_DB_FAULTS[kind].format(error=_short(e)), file=sys.stderr)
        return 1
    return 0


def _short(exc: BaseException) -> str:
    """The driver's own words, without SQLAlchemy's statement and link lines."""
    orig = getattr(exc, "orig", None) or exc
    return str(orig).splitlines()[0][:200] if str(orig) else type(orig).__name__


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bot", description="lamtheo: trợ lý chi bộ.")
    p.add_argument("--config", help="tệp cấu hình (mặc định config.toml, hoặc $LAMTHEO_CONFIG)")
    sub = p.add_subparsers(metavar="LỆNH")

    run = sub.add_parser("run", help="chạy bot (không có token: mở trò chuyện thử)")
    run.set_defaults(handler=cmd_run)

    chat = sub.add_parser("chat", help="trò chuyện với bot trên bàn phím")
    who = chat.add_mutually_exclusive_group(required=True)
    who.add_argument("--code", help="bắt đầu bằng mã mời, như một người mới")
    who.add_argument("--member", help="nói chuyện với tư cách đảng viên này (họ và tên)")
    chat.add_argument("--unit", help="đơn vị của đảng viên, khi trùng tên")
    chat.set_defaults(handler=cmd_chat)

    db = sub.add_parser("db", help="cơ sở dữ liệu").add_subparsers(metavar="VIỆC")
    db.add_parser("upgrade", help="áp dụng các bản cập nhật cấu trúc").set_defaults(
        handler=cmd_db_upgrade
    )

    org = sub.add_parser("org", help="tổ chức, đảng viên").add_subparsers(metavar="VIỆC")
    imp = org.add_parser("import", help="nhập danh sách đảng viên từ .xlsx hoặc .csv")
    imp.add_argument("file", type=Path)
    imp.set_defaults(handler=cmd_org_import)
    unit_help = "đường dẫn đơn vị, ví dụ «Đảng bộ xã A/Chi bộ 1»"
    ren = org.add_parser("rename", help="đổi tên một đơn vị")
    ren.add_argument("--unit", required=True, help=unit_help)
    ren.add_argument("--name", required=True, help="tên mới")
    ren.set_defaults(handler=cmd_org_rename)
    mov = org.add_parser("move", help="chuyển một đơn vị (cả nhánh) sang trực thuộc đơn vị khác")
    mov.add_argument("--unit", required=True, help=unit_help)
    mov.add_argument("--to", required=True, help="đơn vị cấp trên mới («/»: cấp cao nhất)")
    mov.set_defaults(handler=cmd_org_move)
    mer = org.add_parser(
        "merge", help="sáp nhập một đơn vị vào đơn vị khác (đơn vị nhận giữ lại, đơn vị kia đóng)"
    )
    mer.add_argument("--unit", required=True, help="đơn vị được sáp nhập (sẽ đóng)")
    mer.add_argument("--into", required=True, help="đơn vị nhận")
    mer.add_argument(
        "--dry-run", action="store_true", help="chỉ in những gì sẽ chuyển, không thay đổi gì"
    )
    mer.set_defaults(handler=cmd_org_merge)
    clo = org.add_parser("close", help="đóng (giải thể) một đơn vị; lịch sử vẫn giữ")
    clo.add_argument("--unit", required=True, help=unit_help)
    clo.add_argument(
        "--force",
        action="store_true",
        help="đóng cả các đơn vị trực thuộc; đảng viên trong nhánh thôi sinh hoạt",
    )
    clo.set_defaults(handler=cmd_org_close)

    inv = sub.add_parser("invite", help="mã mời").add_subparsers(metavar="VIỆC")
    lst = inv.add_parser("list", help="in mã mời và đường dẫn cho từng đảng viên")
    lst.add_argument(
        "--unit", required=True, help="đường dẫn đơn vị, ví dụ «Đảng bộ xã A/Chi bộ 1»"
    )
    lst.add_argument("--reissue", action="store_true", help="hủy mã cũ chưa dùng, cấp mã mới")
    lst.add_argument("--days", type=int, help="số ngày hiệu lực (mặc định theo config.toml)")
    lst.add_argument("--format", choices=("text", "csv"), default="text")
    lst.set_defaults(handler=cmd_invite_list)

    rem = sub.add_parser("reminders", help="nhắc việc").add_subparsers(metavar="VIỆC")
    plan = rem.add_parser("plan", help="lên lịch những tin đến hạn (chạy lại không gửi trùng)")
    plan.add_argument("--now", help="thời điểm ISO-8601 (mặc định: bây giờ)")
    plan.set_defaults(handler=cmd_reminders_plan)
    rset = rem.add_parser("set", help="giờ nhắc riêng của một đơn vị (khác [reminders] chung)")
    rset.add_argument("--unit", required=True)
    rset.add_argument(
        "values", nargs="*", metavar="KEY=VALUE", help="ví dụ d3_at=07:00 dayof_hours=3"
    )
    rset.add_argument("--reset", action="store_true", help="trở về giờ nhắc chung")
    rset.set_defaults(handler=cmd_reminders_set)

    box = sub.add_parser("outbox", help="hàng đợi tin gửi đi").add_subparsers(metavar="VIỆC")
    box.add_parser(
        "status", help="số tin theo trạng thái và loại; hạn mức Zalo đã dùng trong tháng"
    ).set_defaults(handler=cmd_outbox_status)

    theme = sub.add_parser("theme", help="chuyên đề năm").add_subparsers(metavar="VIỆC")
    tset = theme.add_parser("set", help="công bố (hoặc sửa) chuyên đề năm cho một đơn vị")
    tset.add_argument("--unit", required=True)
    tset.add_argument("--year", type=int, required=True)
    tset.add_argument("--title", required=True)
    tset.add_argument("--until-year", type=int, help="chuyên đề kéo dài đến năm này")
    tset.add_argument(
        "--term",
        action="store_true",
        help="chuyên đề toàn khóa (--year đến --until-year); chuyên đề năm trong khoảng đó "
        "của đơn vị và cấp dưới thuộc về nó",
    )
    tset.add_argument("--summary")
    tset.add_argument("--link", help="đường dẫn tài liệu (không gửi văn bản qua chat)")
    tset.add_argument("--deadline", help="hạn đăng ký, YYYY-MM-DD")
    tset.set_defaults(handler=cmd_theme_set)

    from bot import admin_cli, data_cli

    admin_cli.register(sub)
    data_cli.register(sub, db)
    return p


def _migrate(config: Config) -> None:
    migrate(config)


# -- run / chat -------------------------------------------------------------------------------


def cmd_run(config: Config, args: argparse.Namespace) -> None:
    _migrate(config)
    if not (config.telegram.token or config.zalo_bot.token or config.zalo_oa.enabled):
        asyncio.run(_demo_console(config))
        return
    asyncio.run(_run_bot(config))


async def _run_bot(config: Config) -> None:
    from bot.app import App

    app = App(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await app.start()
    username = app.telegram.username if app.telegram else ""
    print(texts.CLI_RUNNING.format(username=username, mode=config.telegram.mode), flush=True)
    try:
        await stop.wait()
    finally:
        await app.stop()


async def _demo_console(config: Config) -> None:
    """No token: chat as a member of the example chi bộ. The example roster is imported only
    into an empty database, so a real roster never gets invented members mixed in."""
    from sqlalchemy import func, select

    from models.orgs import find_unit
    from models.tables import Member

    engine = create_engine(config.database_url)
    sessions = session_factory(engine)
    try:
        async with sessions() as session, session.begin():
            if not await session.scalar(select(func.count()).select_from(Member)):
                report = await import_roster(session, EXAMPLE_ROSTER, utcnow())
                if report.errors:
                    raise UserError(_render_roster_errors(report.errors))
            unit = await find_unit(session, EXAMPLE_UNIT)
            member = None
            if unit is not None:
                member = (
                    await session.scalars(
                        select(Member)
                        .where(Member.unit_id == unit.id, Member.party_role == "member")
                        .where(Member.exempt.is_(False))
                        .order_by(Member.id)
                    )
                ).first()
    finally:
        await engine.dispose()
    if member is None:
        raise UserError(texts.CLI_NO_TOKEN_REAL_DATA)
    print(texts.CONSOLE_NO_TOKEN.format(unit=member.unit.name))
    await _chat(config, member=member.full_name, unit=EXAMPLE_UNIT, code=None)


def cmd_chat(config: Config, args: argparse.Namespace) -> None:
    _migrate(config)
    asyncio.run(_chat(config, member=args.member, unit=args.unit, code=args.code))


async def _chat(config: Config, *, member: str | None, unit: str | None, code: str | None) -> None:
    from bot.console import ConsoleChat

    chat = ConsoleChat(config)
    try:
        if code:
            await chat.with_code(code)
        elif member and not await chat.as_member(member, unit):
            raise UserError(texts.CONSOLE_UNKNOWN_MEMBER.format(name=member))
        await chat.loop(lambda: input("> "))
    finally:
        await chat.close()


# -- administration -----------------------------------------------------------------------------


def cmd_db_upgrade(config: Config, args: argparse.Namespace) -> None:
    _migrate(config)
    print(texts.CLI_MIGRATED.format(url=_redact(config.database_url)))


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_org_import(config: Config, args: argparse.Namespace) -> None:
    path: Path = args.file
    if not path.is_file():
        raise UserError(texts.CLI_FILE_NOT_FOUND.format(path=path))
    if path.suffix.lower() not in (".xlsx", ".csv"):
        raise UserError(texts.CLI_BAD_FORMAT.format(path=path))
    _migrate(config)
    asyncio.run(_org_import(config, path))


def _render_roster_errors(errors: Sequence[RosterError]) -> str:
    lines = []
    for e in errors:
        value = texts.ROSTER_FILE_REASONS.get(e.value, e.value)
        message = texts.ROSTER_ERRORS[e.code].format(value=value)
        if e.row:
            lines.append(
                texts.ROSTER_ERROR_LINE.format(row=e.row, column=e.column, message=message)
            )
        else:
            lines.append(texts.ROSTER_FILE_ERROR.format(message=message))
    lines.append(texts.ROSTER_REJECTED.format(n=len(errors)))
    return "\n".join(lines)


async def _org_import(config: Config, path: Path) -> None:
    from models.roster import import_roster

    engine = create_engine(config.database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            report = await import_roster(session, path, utcnow())
            if report.errors:
                await session.rollback()
                raise UserError(_render_roster_errors(report.errors))
        print(
            texts.ROSTER_DONE.format(
                added=report.added,
                updated=report.updated,
                unchanged=report.unchanged,
                units=len(report.units_created),
            )
        )
    finally:
        await engine.dispose()


# -- tree changes (models/orgtree.py) ----------------------------------------------------------


class _DryRun(Exception):
    """Leave the transaction without committing: merge --dry-run."""


def cmd_org_rename(config: Config, args: argparse.Namespace) -> None:
    _migrate(config)
    asyncio.run(_org_change(config, args, "rename"))


def cmd_org_move(config: Config, args: argparse.Namespace) -> None:
    _migrate(config)
    asyncio.run(_org_change(config, args, "move"))


def cmd_org_merge(config: Config, args: argparse.Namespace) -> None:
    _migrate(config)
    asyncio.run(_org_change(config, args, "merge"))


def cmd_org_close(config: Config, args: argparse.Namespace) -> None:
    _migrate(config)
    asyncio.run(_org_change(config, args, "close"))


async def _org_change(config: Config, args: argparse.Namespace, action: str) -> None:
    """One tree change in one transaction; a refused change (TreeError) writes nothing."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from models import orgtree
    from models.orgs import find_unit, full_name, split_path
    from models.tables import OrgUnit

    async def unit_at(session: AsyncSession, path: str) -> OrgUnit:
        unit = await find_unit(session, clean(path))
        if unit is None:
            raise UserError(texts.CLI_UNIT_NOT_FOUND.format(path=path))
        return unit

    lines: list[str] = []
    engine = create_engine(config.database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            unit = await unit_at(session, args.unit)
            name = await full_name(session, unit)
            now = utcnow()
            try:
                if action == "rename":
                    await orgtree.rename(session, unit, clean(args.name), now)
                    lines.append(texts.CLI_ORG_RENAMED.format(old=name, new=unit.name))
                elif action == "move":
                    to = await unit_at(session, args.to) if split_path(args.to) else None
                    n = await orgtree.move(session, unit, to, now)
                    if to is None:
                        lines.append(texts.CLI_ORG_MOVED_ROOT.format(unit=name, n=n))
                    else:
                        parent = await full_name(session, to)
                        lines.append(texts.CLI_ORG_MOVED.format(unit=name, parent=parent, n=n))
                elif action == "merge":
                    target = await unit_at(session, args.into)
                    result = await orgtree.merge(session, unit, target, now)
                    lines.extend(
                        _merge_lines(result, name, await full_name(session, target), args.dry_run)
                    )
                    if args.dry_run:
                        raise _DryRun
                else:
                    closed = await orgtree.close(session, unit, now, force=args.force)
                    if closed.units or closed.members or closed.invites:
                        lines.append(
                            texts.CLI_ORG_CLOSED_FORCE.format(
                                unit=name,
                                units=closed.units,
                                members=closed.members,
                                invites=closed.invites,
                            )
                        )
                    else:
                        lines.append(texts.CLI_ORG_CLOSED.format(unit=name))
            except orgtree.TreeError as e:
                raise UserError(e.message) from None
    except _DryRun:
        pass  # rolled back: nothing changed
    finally:
        await engine.dispose()
    print("\n".join(lines))


def _merge_lines(result: object, unit: str, target: str, dry_run: bool) -> list[str]:
    from models.orgtree import MergeResult

    assert isinstance(result, MergeResult)
    head = texts.CLI_ORG_MERGE_DRY_RUN if dry_run else texts.CLI_ORG_MERGED
    lines = [head.format(unit=unit, target=target)]
    lines.append(
        texts.CLI_ORG_MERGE_LINES.format(
            members=result.members,
            inactive=result.inactive,
            units=len(result.units),
            unit_members=result.unit_members,
            pledges=result.pledges,
            assessments=result.assessments,
            roles=result.roles,
            roles_dropped=result.roles_dropped,
            invites=result.invites,
            requests=result.join_requests,
            nominations=result.nominations,
            plans=result.moved.get("unit_plans", 0),
            themes=result.moved.get("themes", 0),
            overrides=result.moved.get("meeting_overrides", 0),
            periods=result.moved.get("unit_periods", 0),
        )
    )
    lines.extend(texts.CLI_ORG_MERGE_RENAMED.format(old=o, new=n) for o, n in result.renamed)
    if result.kept:
        what = ", ".join(texts.TREE_KEPT_KINDS[t].format(key=k) for t, k in result.kept)
        lines.append(texts.CLI_ORG_MERGE_KEPT.format(target=target, what=what))
    return lines


def cmd_invite_list(config: Config, args: argparse.Namespace) -> None:
    _migrate(config)
    days = args.days or config.settings.invite_days
    if days <= 0:
        raise UserError(texts.CLI_BAD_DAYS)
    asyncio.run(_invite_list(config, clean(args.unit), args.reissue, days, args.format))


async def _invite_list(config: Config, path: str, reissue: bool, days: int, fmt: str) -> None:
    from sqlalchemy import select

    from models import invites
    from models.orgs import find_unit, full_name, subtree
    from models.tables import Identity, Member

    tz = ZoneInfo(config.settings.timezone)
    username = config.telegram.username

    def link(code: str) -> str:
        return f"https://t.me/{username}?start={code}" if username else ""

    engine = create_engine(config.database_url)
    rows: list[list[str]] = []
    try:
        async with session_factory(engine)() as session, session.begin():
            top = await find_unit(session, path)
            if top is None:
                raise UserError(texts.CLI_UNIT_NOT_FOUND.format(path=path))
            now = utcnow()
            out = sys.stdout
            writer = csv.writer(out) if fmt == "csv" else None
            if writer:
                writer.writerow(["Đơn vị", *texts.CLI_INVITE_HEADER])
            printed = 0
            for unit in await subtree(session, top):
                members = list(
                    await session.scalars(
                        select(Member)
                        .where(Member.unit_id == unit.id, Member.active.is_(True))
                        .order_by(Member.full_name)
                    )
                )
                if not members:
                    continue
                printed += len(members)
                linked = set(
                    await session.scalars(
                        select(Identity.member_id).where(
                            Identity.member_id.in_([m.id for m in members])
                        )
                    )
                )
                unit_name = await full_name(session, unit)
                join = await invites.issue(session, unit, None, now, days=days, reissue=reissue)
                rows = []
                for m in members:
                    if m.id in linked and not reissue:
                        rows.append([m.full_name, texts.CLI_INVITE_LINKED, "", ""])
                        continue
                    inv = await invites.issue(session, unit, m, now, days=days, reissue=reissue)
                    rows.append([m.full_name, inv.code, link(inv.code), _day(inv.expires_at, tz)])
                if writer:
                    writer.writerows([unit_name, *r] for r in rows)
                    continue
                print(texts.CLI_INVITE_UNIT.format(path=unit_name))
                print(
                    texts.CLI_INVITE_JOIN_CODE.format(
                        code=join.code, expires=_day(join.expires_at, tz)
                    )
                )
                print_table([list(texts.CLI_INVITE_HEADER), *rows])
                print()
            if not printed:
                raise UserError(texts.CLI_INVITE_NONE)
            if not username and not writer:
                print(texts.CLI_INVITE_NO_USERNAME)
    finally:
        await engine.dispose()


def _day(moment: object, tz: ZoneInfo) -> str:
    from datetime import datetime

    assert isinstance(moment, datetime)
    local = moment.astimezone(tz)
    return f"{local.day:02d}/{local.month:02d}/{local.year}"


def cmd_theme_set(config: Config, args: argparse.Namespace) -> None:
    deadline = None
    if args.deadline:
        try:
            deadline = date.fromisoformat(args.deadline)
        except ValueError:
            raise UserError(texts.CLI_BAD_DATE.format(value=args.deadline)) from None
    if args.until_year is not None and args.until_year < args.year:
        raise UserError(texts.CLI_BAD_YEARS.format(year=args.year))
    if args.term and args.until_year is None:
        raise UserError(texts.CLI_TERM_NEEDS_UNTIL)
    _migrate(config)
    asyncio.run(_theme_set(config, args, deadline))


async def _theme_set(config: Config, args: argparse.Namespace, deadline: date | None) -> None:
    from models import audit
    from models.orgs import find_unit, full_name
    from models.tables import Theme
    from models.themes import set_theme

    engine = create_engine(config.database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            unit = await find_unit(session, clean(args.unit))
            if unit is None:
                raise UserError(texts.CLI_UNIT_NOT_FOUND.format(path=args.unit))
            now = utcnow()
            theme = await set_theme(
                session,
                unit,
                year=args.year,
                title=clean(args.title),
                now=now,
                until_year=args.until_year,
                summary=clean(args.summary) if args.summary else None,
                link=args.link,
                deadline=deadline,
                term=args.term,
            )
            audit.record(
                session,
                action="theme_set",
                now=now,
                actor="cli",
                theme=theme.id,
                unit=unit.id,
                year=args.year,
                term=args.term,
            )
            done = texts.CLI_TERM_THEME_SET if args.term else texts.CLI_THEME_SET
            print(
                done.format(
                    year=args.year,
                    until=args.until_year,
                    unit=await full_name(session, unit),
                    title=theme.title,
                )
            )
            if theme.parent_id is not None:
                term = await session.get(Theme, theme.parent_id)
                assert term is not None
                print(texts.CLI_THEME_UNDER_TERM.format(title=term.title))
    finally:
        await engine.dispose()


def cmd_reminders_plan(config: Config, args: argparse.Namespace) -> None:
    from datetime import UTC, datetime

    now = utcnow()
    if args.now:
        try:
            now = datetime.fromisoformat(args.now)
        except ValueError:
            raise UserError(texts.CLI_BAD_NOW) from None
        if now.tzinfo is None:
            now = now.replace(tzinfo=ZoneInfo(config.settings.timezone))
        now = now.astimezone(UTC)
    _migrate(config)
    asyncio.run(_reminders_plan(config, now))


async def _reminders_plan(config: Config, now: object) -> None:
    from datetime import datetime

    from bot.scheduler import tick

    assert isinstance(now, datetime)
    engine = create_engine(config.database_url)
    try:
        planned = await tick(session_factory(engine), config.settings, now)
    finally:
        await engine.dispose()
    if not planned:
        print(texts.CLI_NOTHING_PLANNED.format(now=now.isoformat()))
        return
    print(texts.CLI_PLANNED.format(n=sum(planned.values())))
    for kind, n in sorted(planned.items()):
        print(texts.CLI_PLANNED_LINE.format(kind=kind, n=n))


def cmd_outbox_status(config: Config, args: argparse.Namespace) -> None:
    _migrate(config)
    asyncio.run(_outbox_status(config))


async def _outbox_status(config: Config) -> None:
    from bot import inbox
    from bot.outbox import render_status, status_counts
    from bot.usage import UsageMeter, render_usage, usage_rows

    engine = create_engine(config.database_url)
    try:
        sessions = session_factory(engine)
        print(render_status(await status_counts(sessions)))
        month = UsageMeter(sessions, utcnow, config.settings).month()
        usage = render_usage(
            await usage_rows(sessions, month), month, {"zalo_bot": config.zalo_bot.monthly_messages}
        )
        if usage:
            print(usage)
        print(inbox.render_status(await inbox.status_counts(sessions)))
    finally:
        await engine.dispose()


def cmd_reminders_set(config: Config, args: argparse.Namespace) -> None:
    from handlers.schedule import ReminderRule

    values: dict[str, object] = {}
    for item in args.values:
        key, sep, raw = item.partition("=")
        if not sep:
            raise UserError(texts.CLI_BAD_REMINDER.format(error=item))
        number: object = raw
        for kind in (int, float):
            try:
                number = kind(raw)
                break
            except ValueError:
                continue
        values[key.strip()] = number
    base = config.settings.reminders.to_json()
    try:
        rule = None if args.reset else ReminderRule.from_json(base | values)
    except ValueError as e:
        raise UserError(texts.CLI_BAD_REMINDER.format(error=e)) from None
    _migrate(config)
    asyncio.run(_reminders_set(config, clean(args.unit), rule))


async def _reminders_set(config: Config, path: str, rule: object) -> None:
    from handlers.schedule import ReminderRule
    from models import audit
    from models.orgs import find_unit

    engine = create_engine(config.database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            unit = await find_unit(session, path)
            if unit is None:
                raise UserError(texts.CLI_UNIT_NOT_FOUND.format(path=path))
            unit.reminder_rule = rule.to_json() if isinstance(rule, ReminderRule) else None
            audit.record(
                session,
                action="reminder_rule",
                now=utcnow(),
                actor="cli",
                unit=unit.id,
                rule=unit.reminder_rule,
            )
        print(texts.CLI_REMINDERS_SET.format(unit=path) if rule else texts.CLI_REMINDERS_RESET)
    finally:
        await engine.dispose()
