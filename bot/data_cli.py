"""python -m bot member export|forget, db backup|restore: data care.

`member export` writes everything held about one person as JSON; `member forget` erases it and
keeps the anonymous counts (models/privacy.py). `db backup` and `db restore` copy the database
to a file and back (bot/backup.py). Every export and erasure is audited with actor "cli".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot import backup
from bot.admin_cli import member_at
from bot.cli_common import UserError, migrate, transaction
from bot.config import Config
from handlers import texts
from models import audit, privacy
from models.db import utcnow
from models.orgs import full_name

CONFIRM_WORD = "xoa"
MEMBER_HELP = "#số thứ tự, số điện thoại, hoặc Đơn vị/…/Họ tên"


def register(sub: Any, db: Any) -> None:
    """Add `member` to the top-level subcommands and backup/restore to `db`."""
    member = sub.add_parser("member", help="dữ liệu cá nhân của một đảng viên").add_subparsers(
        metavar="VIỆC"
    )
    exp = member.add_parser("export", help="xuất mọi dữ liệu bot giữ về một đảng viên (JSON)")
    exp.add_argument("--member", required=True, help=MEMBER_HELP)
    exp.add_argument("--out", help="tệp ghi ra (mặc định: in ra màn hình)")
    exp.set_defaults(handler=cmd_member_export)
    fgt = member.add_parser(
        "forget",
        help="xóa dữ liệu cá nhân của một đảng viên; giữ số liệu ẩn danh cho báo cáo",
    )
    fgt.add_argument("--member", required=True, help=MEMBER_HELP)
    fgt.add_argument("--yes", action="store_true", help="không hỏi lại")
    fgt.add_argument(
        "--keep-active",
        action="store_true",
        help="vẫn tính là đảng viên đang sinh hoạt (mặc định: ghi là đã thôi sinh hoạt)",
    )
    fgt.set_defaults(handler=cmd_member_forget)

    bak = db.add_parser("backup", help="sao lưu cơ sở dữ liệu vào một tệp (khi bot đang chạy)")
    bak.add_argument("--out", required=True, type=Path, help="tệp sao lưu")
    bak.set_defaults(handler=cmd_db_backup)
    res = db.add_parser("restore", help="khôi phục cơ sở dữ liệu từ tệp sao lưu (dừng bot trước)")
    res.add_argument("file", type=Path)
    res.add_argument(
        "--yes", action="store_true", help="ghi đè cả khi cơ sở dữ liệu đang có dữ liệu"
    )
    res.set_defaults(handler=cmd_db_restore)


# -- member export / forget ---------------------------------------------------------------------


def cmd_member_export(config: Config, args: argparse.Namespace) -> None:
    migrate(config)
    asyncio.run(_member_export(config, args))


async def _member_export(config: Config, args: argparse.Namespace) -> None:
    async with transaction(config) as session:
        member = await member_at(session, args.member)
        now = utcnow()
        data = await privacy.export(session, member, now)
        audit.record(
            session,
            action="member_export",
            now=now,
            actor="cli",
            unit_id=member.unit_id,
            member=member.id,
            to_file=bool(args.out),
        )
        content = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        if args.out:
            _write_private(Path(args.out), content.encode("utf-8"))
    if args.out:
        print(texts.CLI_MEMBER_EXPORTED.format(name=member.full_name, id=member.id, path=args.out))
    else:
        sys.stdout.write(content)


def _write_private(path: Path, content: bytes) -> None:
    """Write a file readable by its owner only (it holds personal data)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise UserError(texts.CLI_CANNOT_WRITE.format(path=path, error=e)) from None


def cmd_member_forget(config: Config, args: argparse.Namespace) -> None:
    migrate(config)
    if not args.yes:
        # Say what will go and ask for the word; no transaction stays open meanwhile.
        preview = asyncio.run(_forget_preview(config, args))
        if preview is not None:
            print(preview)
            print(texts.CLI_FORGET_STAYS if args.keep_active else texts.CLI_FORGET_LEAVES)
            try:
                answer = input(texts.CLI_FORGET_ASK)
            except EOFError:
                answer = ""
            if answer.strip().lower() != CONFIRM_WORD:
                raise UserError(texts.CLI_FORGET_CANCELLED)
    asyncio.run(_member_forget(config, args))


async def _member_forget(config: Config, args: argparse.Namespace) -> None:
    async with transaction(config) as session:
        member = await member_at(session, args.member)
        unit = await full_name(session, member.unit)
        mid = member.id
        now = utcnow()
        result = await privacy.forget(session, member, now, keep_active=args.keep_active)
        if not result.changed():
            print(texts.CLI_FORGET_NOTHING.format(id=mid))
            return
        audit.record(
            session,
            action="member_forget",
            now=now,
            actor="cli",
            unit_id=member.unit_id,
            member=mid,
            keep_active=args.keep_active,
            identities=result.identities,
            pledges=result.pledges,
            assessments=result.assessments,
            deliveries=result.deliveries,
            inbox=result.inbox,
            mentions=result.mentions,
        )
    print(
        texts.CLI_FORGOTTEN.format(
            id=mid,
            unit=unit,
            placeholder=privacy.placeholder(mid),
            identities=result.identities,
            roles=result.roles,
            invites=result.invites,
            conversations=result.conversations,
            pledges=result.pledges,
            assessments=result.assessments,
            deliveries=result.deliveries,
            inbox=result.inbox,
            mentions=result.mentions,
        )
    )
    print(texts.CLI_FORGET_STAYS if args.keep_active else texts.CLI_FORGET_ROSTER_HINT)


async def _forget_preview(config: Config, args: argparse.Namespace) -> str | None:
    """What forget will erase; None for a member erased before (nothing more will change)."""
    from sqlalchemy import func, select

    from models.tables import Assessment, Identity, Pledge

    async with transaction(config) as session:
        member = await member_at(session, args.member)
        if privacy.is_forgotten(member):
            return None
        n = {
            model.__name__: await session.scalar(
                select(func.count()).select_from(model).where(model.member_id == member.id)
            )
            for model in (Identity, Pledge, Assessment)
        }
        return texts.CLI_FORGET_PREVIEW.format(
            name=member.full_name,
            id=member.id,
            unit=await full_name(session, member.unit),
            identities=n["Identity"],
            pledges=n["Pledge"],
            assessments=n["Assessment"],
        )


# -- db backup / restore ------------------------------------------------------------------------


def cmd_db_backup(config: Config, args: argparse.Namespace) -> None:
    out: Path = args.out
    if not out.parent.is_dir():
        raise UserError(
            texts.CLI_CANNOT_WRITE.format(
                path=out, error=texts.CLI_FILE_NOT_FOUND.format(path=out.parent)
            )
        )
    size = backup.backup(config.database_url, out)
    print(
        texts.CLI_BACKUP_DONE.format(
            db=backup.describe(config.database_url), path=out, size=max(1, round(size / 1024))
        )
    )


def cmd_db_restore(config: Config, args: argparse.Namespace) -> None:
    file: Path = args.file
    url = config.database_url
    if not file.is_file():
        raise UserError(texts.CLI_FILE_NOT_FOUND.format(path=file))
    backup.check_file(url, file)
    before = asyncio.run(backup.counts(url))
    if not before.empty and not args.yes:
        raise UserError(
            texts.CLI_RESTORE_NOT_EMPTY.format(
                db=backup.describe(url), members=before.members, pledges=before.pledges
            )
        )
    backup.restore(url, file)
    try:
        migrate(config)  # a backup of an older version is brought up to date
    except SQLAlchemyError as e:
        error = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        raise UserError(
            texts.CLI_RESTORE_UPGRADE_FAILED.format(db=backup.describe(url), path=file, error=error)
        ) from None
    after = asyncio.run(backup.counts(url))
    print(
        texts.CLI_RESTORED.format(
            db=backup.describe(url),
            path=file,
            members=after.members,
            pledges=after.pledges,
            assessments=after.assessments,
            deliveries=after.deliveries,
        )
    )
    print(texts.CLI_RESTORE_FORGET_HINT)
