"""Command line: serve (default), migrate, seed, createsuperuser, check-counts, verify (``--help``)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

import uvloop
from aiohttp import web

from application import PendingMigrations, init
from application.keys import SAMPLE_DATA_CREATED
from application.services import accounts, secret_ballots
from application.views.refusals import as_error
from application.web.access_log import AccessLogger
from application.web.errors import AppError
from config import ConfigError, Settings, load_settings
from models import counts, migrations, seed
from models.db import Database, DatabaseUnavailable, open_database
from models.refusal import Refused

log = logging.getLogger("vote")
T = TypeVar("T")

# Connections the kernel queues before the app accepts them (aiohttp's default is 128). A hall
# told to scan at once sends thousands of WebSocket upgrades within a second; on a unix socket a
# full queue fails nginx's connect() at once (EAGAIN: a 502). The kernel caps it at
# net.core.somaxconn (docs/deploy.md).
LISTEN_BACKLOG = 4096
# The collector's thresholds once serving. Thousands of live sockets are hundreds of thousands of
# long-lived objects, and each update allocates in bursts: at the default (700, 10, 10) the
# collector took 35-55% of the app's CPU at 20,000 sockets and stopped the loop up to a second
# for a full pass. Collecting young objects every 50,000 allocations instead took none of it
# during the votes (docs/performance.md); what start-up made is frozen out of every pass.
GC_THRESHOLDS = (50_000, 20, 100)


async def _settle_collector(app: web.Application) -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def build_parser() -> argparse.ArgumentParser:
    def add_options(parser: argparse.ArgumentParser, top: bool) -> None:
        # Sub-commands repeat the options without defaults, so that
        # `python main.py --port 1 serve` keeps the top-level value.
        default = (lambda value: value) if top else (lambda value: argparse.SUPPRESS)
        parser.add_argument("--config", default=default(None), help="YAML settings file (default config/default.yaml)")
        parser.add_argument("--host", default=default("127.0.0.1"), help="address to listen on")
        parser.add_argument("--port", type=int, default=default(9000), help="TCP port to listen on")
        parser.add_argument("--path", default=default(None), help="unix socket to listen on instead of host/port")

    parser = argparse.ArgumentParser(prog="python main.py", description="vote: a polls web app on aiohttp")
    add_options(parser, top=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, text in [
        ("serve", "serve the app (the default command)"),
        ("migrate", "apply pending schema migrations"),
        ("seed", "load the sample users and polls"),
    ]:
        add_options(commands.add_parser(name, help=text, description=text), top=False)
    text = "create an administrator (password from the prompt or VOTE_SUPERUSER_PASSWORD)"
    superuser = commands.add_parser("createsuperuser", help=text, description=text)
    add_options(superuser, top=False)
    for field in ("name", "email", "phone"):
        superuser.add_argument(f"--{field}", required=True)
    text = "recompute each choice's votes from the ballots and report mismatches (exit 1 when any)"
    check = commands.add_parser("check-counts", help=text, description=text)
    add_options(check, top=False)
    check.add_argument("--fix", action="store_true", help="set the mismatched counts to the ballots' count")
    text = "recount a secret poll from its published ballots and compare with its stored totals"
    verify = commands.add_parser("verify", help=text, description=text)
    add_options(verify, top=False)
    verify.add_argument("question_id", type=int, metavar="QUESTION_ID")
    return parser


class Mismatch(Exception):
    """``verify`` found the published ballots and the stored totals apart."""


async def _with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    db = await open_database(settings)
    try:
        return await work(db)
    finally:
        await db.close()


async def _migrate(db: Database) -> None:
    applied = await migrations.migrate(db)
    print(f"applied {', '.join(applied)}" if applied else "database is up to date")


async def _seed(db: Database) -> None:
    if await migrations.pending(db):
        raise PendingMigrations("pending migrations: run `./vote migrate` first")
    loaded = await seed.load_sample_data(db)
    print("sample data loaded" if loaded else "sample data already present")


async def _check_counts(fix: bool, db: Database) -> bool:
    """True when every count agrees with the ballots, or was repaired."""
    if await migrations.pending(db):
        raise PendingMigrations("pending migrations: run `./vote migrate` first")
    found = await counts.mismatches(db)
    for item in found:
        print(f"poll {item.question_id}, choice {item.choice_id}: votes {item.stored}, ballots {item.counted}")
    if not found:
        print("every choice's votes match its ballots")
        return True
    if not fix:
        print(f"{len(found)} mismatched; `check-counts --fix` sets them to the ballots' count", file=sys.stderr)
        return False
    repaired = await counts.repair(db, found)
    # The processes' cached copies of these counts expire within seconds (cluster/poll_cache.py).
    print(f"repaired {len(repaired)}")
    return True


def _superuser_password() -> str:
    password = os.environ.get("VOTE_SUPERUSER_PASSWORD")
    if password is not None:
        return password
    if not sys.stdin.isatty():
        raise AppError(400, "no terminal to ask for the password: set VOTE_SUPERUSER_PASSWORD")
    password = getpass.getpass("Password: ")
    if password != getpass.getpass("Password (again): "):
        raise AppError(400, "the passwords do not match")
    return password


async def _create_superuser(args: argparse.Namespace, db: Database) -> None:
    if await migrations.pending(db):
        raise PendingMigrations("pending migrations: run `./vote migrate` first")
    fields = {"name": args.name, "email": args.email, "phone": args.phone, "password": _superuser_password()}
    admin = await accounts.register(db, accounts.check_registration(fields), is_admin=True)
    print(f"administrator {admin['email']} created (id {admin['id']})")


async def _verify(question_id: int, db: Database) -> None:
    problems = await secret_ballots.verify(db, question_id)
    if problems:
        raise Mismatch("\n".join(problems))
    print(f"poll {question_id}: the published ballots recount to the stored totals")


def serve(settings: Settings, args: argparse.Namespace) -> None:
    app = init(settings)
    where = f"unix:{args.path}" if args.path else f"http://{args.host}:{args.port}"

    async def announce(app: web.Application) -> None:
        log.info("serving on %s (%s)", where, settings.database.dialect)
        if app[SAMPLE_DATA_CREATED]:  # a newcomer's first start: say how to log in
            log.info("log in at %s/login with a demo account (email or phone, then password):", where)
            for demo in seed.DEMO_USERS:
                log.info("    %s  %s  %s", demo["email"], demo["phone"], demo["password"])

    app.on_startup.append(announce)
    app.on_startup.append(_settle_collector)
    options = {
        "shutdown_timeout": settings.shutdown_timeout,
        "access_log_class": AccessLogger,
        "access_log": logging.getLogger("aiohttp.access") if settings.access_log else None,
        "print": None,
        "loop": uvloop.new_event_loop(),
        "backlog": LISTEN_BACKLOG,
    }
    if args.path:
        web.run_app(app, path=args.path, **options)
    else:
        web.run_app(app, host=args.host, port=args.port, **options)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"vote: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "migrate":
            asyncio.run(_with_database(settings, _migrate))
        elif args.command == "seed":
            asyncio.run(_with_database(settings, _seed))
        elif args.command == "createsuperuser":
            asyncio.run(_with_database(settings, partial(_create_superuser, args)))
        elif args.command == "verify":
            asyncio.run(_with_database(settings, partial(_verify, args.question_id)))
        elif args.command == "check-counts":
            return 0 if asyncio.run(_with_database(settings, partial(_check_counts, args.fix))) else 1
        else:
            serve(settings, args)
    except (DatabaseUnavailable, PendingMigrations, Mismatch) as exc:
        print(f"vote: {exc}", file=sys.stderr)
        return 1
    except (AppError, Refused) as exc:
        error = as_error(exc)
        details = "; ".join(f"{field}: {problem}" for field, problem in error.fields.items())
        print(f"vote: {error.message}" + (f" ({details})" if details else ""), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
