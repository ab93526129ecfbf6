"""The one database helper layer: the same small async API over MySQL/MariaDB (aiomysql) and SQLite (aiosqlite).

Queries are written once with ``%s`` placeholders and run on both dialects.
Errors are never swallowed: a server that is down, frozen or out of
connections raises ``DatabaseUnavailable`` within the configured timeouts,
a violated constraint raises ``IntegrityError``, anything else propagates.
"""

from __future__ import annotations

import asyncio
import random
import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import aiomysql
import aiosqlite
import pymysql.err
from pymysql.constants import CLIENT

from config import DatabaseTarget, Settings
from models.metrics import DB_POOL_IN_USE, DB_POOL_WAITS

Row = dict[str, Any]
Args = Sequence[Any]
MAX_ID = 2**31 - 1  # the id columns are INT; larger numbers would overflow SQLite's binding
CONFLICT_RETRIES = 5
T = TypeVar("T")


class DatabaseUnavailable(Exception):
    """The database did not answer in time or refused the connection."""


class IntegrityError(Exception):
    """A constraint (unique key, foreign key, not null) refused the write."""


class Conflict(DatabaseUnavailable):
    """The server rolled the transaction back (a deadlock, a lock wait, or on Galera a write set
    that lost certification to another node's at COMMIT); nothing of it happened, so it may be
    run again. One that escapes ``retry_conflicts`` is answered as unavailable (503)."""


async def retry_conflicts(work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` (a whole transaction) again while the server rolls it back as a conflict,
    after a short random pause so that the two sides of a conflict do not meet again at once."""
    for attempt in range(CONFLICT_RETRIES - 1):
        try:
            return await work()
        except Conflict:
            await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))
    return await work()


@dataclass(frozen=True)
class Result:
    rowcount: int
    last_id: int | None


def contains(text: str) -> str:
    """A LIKE pattern for ``text`` anywhere, its ``%`` and ``_`` taken literally: use with ESCAPE '!'."""
    return "%" + text.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"


def placeholders(count: int) -> str:
    """``%s, %s, ...`` for an IN list of ``count`` parameters (never input text)."""
    return ", ".join(["%s"] * count)


class Session(ABC):
    """Runs statements on one connection; shared by plain calls and transactions."""

    @abstractmethod
    async def _run(self, sql: str, args: Args, fetch: bool) -> tuple[list[Row], Result]: ...

    async def fetch_one(self, sql: str, args: Args = ()) -> Row | None:
        rows, _ = await self._run(sql, args, True)
        return rows[0] if rows else None

    async def fetch_all(self, sql: str, args: Args = ()) -> list[Row]:
        rows, _ = await self._run(sql, args, True)
        return rows

    async def execute(self, sql: str, args: Args = ()) -> Result:
        _, result = await self._run(sql, args, False)
        return result

    @abstractmethod
    async def fetch_sets(self, sql: str, args: Args = ()) -> list[list[Row]]:
        """Every result set of one statement, as a stored procedure returns several."""


class Database(ABC):
    """A pool of connections; each call borrows one, ``transaction()`` holds one."""

    dialect: str
    _table_exists_sql: str

    @abstractmethod
    def _session(self) -> AsyncIterator[Session]: ...

    @abstractmethod
    def transaction(self) -> AsyncIterator[Session]: ...

    @abstractmethod
    async def close(self) -> None: ...

    async def fetch_one(self, sql: str, args: Args = ()) -> Row | None:
        async with self._session() as session:
            return await session.fetch_one(sql, args)

    async def fetch_all(self, sql: str, args: Args = ()) -> list[Row]:
        async with self._session() as session:
            return await session.fetch_all(sql, args)

    async def execute(self, sql: str, args: Args = ()) -> Result:
        async with self._session() as session:
            return await session.execute(sql, args)

    async def fetch_sets(self, sql: str, args: Args = ()) -> list[list[Row]]:
        async with self._session() as session:
            return await session.fetch_sets(sql, args)

    async def table_exists(self, table: str) -> bool:
        return await self.fetch_one(self._table_exists_sql, (table,)) is not None

    async def ping(self) -> None:
        await self.fetch_one("SELECT 1 AS ok")

    async def run_script(self, script: str) -> None:
        """Run a migration file statement by statement (see ``statements``)."""
        async with self._session() as session:
            for statement in statements(script):
                await session.execute(statement)


def statements(script: str) -> list[str]:
    """A script's statements: each ends with ';' at the end of a line, or with what a
    ``DELIMITER`` line chose, as in the mysql client, so that a routine's body may hold ';'."""
    delimiter, found, lines = ";", [], []
    for line in script.splitlines():
        if line.strip().upper().startswith("DELIMITER "):
            delimiter = line.split()[1]
        elif line.rstrip().endswith(delimiter):
            lines.append(line.rstrip()[: -len(delimiter)])
            found.append("\n".join(lines))
            lines = []
        else:
            lines.append(line)
    found.append("\n".join(lines))
    return [statement for statement in found if statement.strip()]


# --- MySQL / MariaDB -------------------------------------------------------

_CONNECTION_LOST = (pymysql.err.OperationalError, pymysql.err.InterfaceError, OSError)
# Errors after which the server has rolled back and the connection is still good: lock wait
# timeout; deadlock, which is also what Galera answers when a write set fails certification (at
# COMMIT) or was aborted by a replicated one. Galera's "WSREP has not yet prepared node for
# application use" (1047: the node left the primary component) is not one of them: that
# connection is closed like a lost one, and the next goes through HAProxy to a synced node.
_CONFLICTS = {1205, 1213}


class _MySQLSession(Session):
    def __init__(self, conn: aiomysql.Connection, query_timeout: float) -> None:
        self.conn = conn
        self.query_timeout = query_timeout

    async def _run(self, sql: str, args: Args, fetch: bool) -> tuple[list[Row], Result]:
        async with self._cursor(sql, args) as cursor:
            rows = list(await cursor.fetchall()) if fetch else []
            return rows, Result(cursor.rowcount, cursor.lastrowid)

    async def fetch_sets(self, sql: str, args: Args = ()) -> list[list[Row]]:
        async with self._cursor(sql, args) as cursor:
            sets = []
            while cursor.description is not None:  # a CALL ends with a status that has none
                sets.append(list(await cursor.fetchall()))
                await cursor.nextset()
            return sets

    @asynccontextmanager
    async def _cursor(self, sql: str, args: Args) -> AsyncIterator[aiomysql.DictCursor]:
        """A cursor that has run ``sql``, with the driver's errors turned into ours."""
        try:
            async with asyncio.timeout(self.query_timeout), self.conn.cursor(aiomysql.DictCursor) as cursor:
                await cursor.execute(sql, tuple(args) or None)
                yield cursor
        except pymysql.err.IntegrityError as exc:
            raise IntegrityError(exc.args[-1]) from exc
        except (TimeoutError, *_CONNECTION_LOST) as exc:
            if isinstance(exc, pymysql.err.OperationalError) and exc.args and exc.args[0] in _CONFLICTS:
                raise Conflict(exc.args[-1]) from exc
            # The connection may be mid-protocol: never hand it out again.
            self.conn.close()
            raise DatabaseUnavailable(f"MySQL query failed: {exc!r}") from exc
        except asyncio.CancelledError:
            self.conn.close()
            raise


class MySQLDatabase(Database):
    dialect = "mysql"
    _table_exists_sql = (
        "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = %s"
    )

    def __init__(self, pool: aiomysql.Pool, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings

    @classmethod
    async def open(cls, target: DatabaseTarget, settings: Settings) -> MySQLDatabase:
        try:
            # aiomysql's own defaults would be autocommit off, no connect timeout and no recycling:
            # each is set here. Its connect timeout covers the TCP connection only, so the whole
            # opening (handshake and init_command too) is bounded as well.
            async with asyncio.timeout(settings.db_connect_timeout + settings.db_query_timeout):
                pool = await aiomysql.create_pool(
                    host=target.host,
                    port=target.port,
                    user=target.user,
                    password=target.password,
                    db=target.name,
                    minsize=settings.db_pool_min,
                    maxsize=settings.db_pool_max,
                    pool_recycle=settings.db_pool_recycle,
                    connect_timeout=settings.db_connect_timeout,
                    autocommit=True,
                    charset="utf8mb4",
                    # rowcount = rows matched, as on SQLite, not only rows changed.
                    client_flag=CLIENT.FOUND_ROWS,
                    # Timestamps are stored and compared in UTC; bad data is an error, not a warning.
                    init_command=(
                        "SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,"
                        "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'"
                    ),
                )
        except (TimeoutError, *_CONNECTION_LOST) as exc:
            raise DatabaseUnavailable(f"cannot connect to MySQL at {target.host}:{target.port}: {exc}") from exc
        return cls(pool, settings)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[aiomysql.Connection]:
        if self.pool.freesize == 0 and self.pool.size >= self.pool.maxsize:
            DB_POOL_WAITS.inc()
        try:
            async with asyncio.timeout(self.settings.db_acquire_timeout):
                conn = await self.pool.acquire()
        except (TimeoutError, *_CONNECTION_LOST) as exc:
            raise DatabaseUnavailable(f"no MySQL connection: {exc!r}") from exc
        DB_POOL_IN_USE.inc()
        try:
            yield conn
        finally:
            DB_POOL_IN_USE.dec()
            self.pool.release(conn)

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[Session]:
        async with self._connection() as conn:
            yield _MySQLSession(conn, self.settings.db_query_timeout)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        async with self._connection() as conn:
            session = _MySQLSession(conn, self.settings.db_query_timeout)
            await session.execute("BEGIN")
            try:
                yield session
            except BaseException:
                if not conn.closed:
                    # A failed rollback closes the connection; the pool then drops it.
                    await asyncio.shield(session.execute("ROLLBACK"))
                raise
            await session.execute("COMMIT")

    async def close(self) -> None:
        self.pool.close()
        await self.pool.wait_closed()


# --- SQLite (embedded default) --------------------------------------------

sqlite3.register_adapter(datetime, lambda value: value.isoformat(" "))
sqlite3.register_converter("DATETIME", lambda raw: datetime.fromisoformat(raw.decode()))


@lru_cache(maxsize=512)
def _qmark(sql: str) -> str:
    """Rewrite the shared ``%s`` placeholders into SQLite's ``?``."""
    return re.sub(r"%[s%]", lambda m: "?" if m.group() == "%s" else "%", sql)


class _SQLiteSession(Session):
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def fetch_sets(self, sql: str, args: Args = ()) -> list[list[Row]]:
        return [await self.fetch_all(sql, args)]  # SQLite statements return one set

    async def _run(self, sql: str, args: Args, fetch: bool) -> tuple[list[Row], Result]:
        try:
            async with self.conn.execute(_qmark(sql), tuple(args)) as cursor:
                rows: list[Row] = []
                if fetch:
                    names = [column[0] for column in cursor.description or ()]
                    rows = [dict(zip(names, row, strict=True)) for row in await cursor.fetchall()]
                return rows, Result(cursor.rowcount, cursor.lastrowid)
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise DatabaseUnavailable(f"SQLite is busy: {exc}") from exc
            raise


class SQLiteDatabase(Database):
    """One connection guarded by a lock: enough for the embedded default.

    Writers from other processes on the same file wait on SQLite's busy
    timeout; transactions start with BEGIN IMMEDIATE so they never deadlock.
    """

    dialect = "sqlite"
    _table_exists_sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name = %s"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self.lock = asyncio.Lock()

    @classmethod
    async def open(cls, target: DatabaseTarget, settings: Settings) -> SQLiteDatabase:
        Path(target.path).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(
            target.path,
            detect_types=sqlite3.PARSE_DECLTYPES,
            isolation_level=None,
            timeout=settings.db_query_timeout,
        )
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA foreign_keys = ON")
        # PRAGMA takes no parameters; the value is a number validated by the config loader.
        await conn.execute(f"PRAGMA busy_timeout = {int(settings.db_query_timeout * 1000)}")
        return cls(conn)

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[Session]:
        if self.lock.locked():
            DB_POOL_WAITS.inc()
        async with self.lock:
            DB_POOL_IN_USE.inc()
            try:
                yield _SQLiteSession(self.conn)
            finally:
                DB_POOL_IN_USE.dec()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        async with self._session() as session:
            await session.execute("BEGIN IMMEDIATE")
            try:
                yield session
            except BaseException:
                await asyncio.shield(session.execute("ROLLBACK"))
                raise
            await session.execute("COMMIT")

    async def close(self) -> None:
        await self.conn.close()


async def open_database(settings: Settings) -> Database:
    target = settings.database
    if target.dialect == "mysql":
        return await MySQLDatabase.open(target, settings)
    return await SQLiteDatabase.open(target, settings)
