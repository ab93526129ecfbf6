"""The tally of 100,000 ranked or score ballots read from the database, as the results pages do.

Writes the ballots of a ranked and a score poll into a fresh database (SQLite file, and MariaDB when
one answers at VOTE_TEST_MYSQL, default mysql://root@127.0.0.1:3306), then times the read of the
poll with its ballots grouped in SQL (``services/results.load``: identical ballots counted by
GROUP BY on their key) and the tally of the distinct ballots (``results.document``), wall time, median of
several runs. Prints a table and writes it into docs/performance.md.

Usage: .venv/bin/python bench/tally_db_bench.py [--ballots 100000] [--runs 5] [--no-docs]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pymysql
from common import write_section

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tally_bench import mostly_complete, popularity, stars  # noqa: E402

from application.services import results  # noqa: E402
from config import load_settings  # noqa: E402
from models import migrations  # noqa: E402
from models.ballot import Ballot, Voter  # noqa: E402
from models.db import Database, open_database, placeholders  # noqa: E402

DOCS = ROOT / "docs" / "performance.md"
MYSQL_SERVER = os.environ.get("VOTE_TEST_MYSQL", "mysql://root@127.0.0.1:3306")
BENCH_DB = "vote_tally_bench"
CHOICES = (5, 10)  # a few distinct rankings, and very many (docs/performance.md, tally-bench)
SEED = 18


async def fill(db: Database, method: str, choices: int, ballots: int) -> int:
    """A poll of ``method`` with ``ballots`` ballots from as many users: its id."""
    rng = random.Random(SEED)
    await db.execute(
        "INSERT INTO user (name, phone, email, password) VALUES ('bench', %s, %s, 'x')",
        (f"13900000{len(method)}{choices:02d}", f"{method}{choices}@example.com"),
    )
    owner = (await db.fetch_one("SELECT MAX(id) AS id FROM user"))["id"]  # type: ignore[index]
    poll = (
        await db.execute(
            "INSERT INTO question (user_id, question_text, method) VALUES (%s, %s, %s)", (owner, method, method)
        )
    ).last_id
    for n in range(choices):
        await db.execute("INSERT INTO choice (question_id, choice_text) VALUES (%s, %s)", (poll, f"choice {n}"))
    ids = [row["id"] for row in await db.fetch_all("SELECT id FROM choice WHERE question_id = %s", (poll,))]
    weights = popularity(rng, choices)
    drawn = []
    for _ in range(ballots):
        if method == "ranked":
            drawn.append(sorted((c, place, None) for place, c in enumerate(mostly_complete(rng, ids, weights), 1)))
        else:
            drawn.append([(c, None, s) for c, s in zip(ids, stars(rng, ids, weights), strict=True) if s])
    # WeChat voters: no user rows needed, one distinct openid each; the key as the vote path writes it.
    await insert_rows(db, "ballot (question_id, wechat_openid)", [(poll, f"o{poll}-{n}") for n in range(ballots)])
    first = (await db.fetch_one("SELECT MIN(id) AS id FROM ballot WHERE question_id = %s", (poll,)))["id"]  # type: ignore[index]
    keys = [(first + n, poll, Ballot(poll, tuple(marks), Voter()).key) for n, marks in enumerate(drawn)]
    await insert_rows(db, "ballot_marks (ballot_id, question_id, marks)", keys)
    rows = [(first + n, *mark) for n, marks in enumerate(drawn) for mark in marks]
    await insert_rows(db, "ballot_choice (ballot_id, choice_id, place, score)", rows)
    return int(poll)  # type: ignore[arg-type]


async def insert_rows(db: Database, into: str, rows: list[tuple[Any, ...]], batch: int = 1000) -> None:
    """Many rows, a thousand to a statement (setting up is not what is measured)."""
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        values = ", ".join(["(" + placeholders(len(chunk[0])) + ")"] * len(chunk))
        await db.execute(f"INSERT INTO {into} VALUES {values}", [value for row in chunk for value in row])


async def timed(work: Callable[[], Awaitable[Any]], runs: int) -> tuple[float, Any]:
    times, value = [], None
    for _ in range(runs):
        start = time.perf_counter()
        value = await work()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


async def measure(url: str, ballots: int, runs: int) -> list[dict[str, Any]]:
    settings = load_settings(environ={"VOTE_DATABASE_URL": url, "VOTE_SECRET_KEY": "bench"})
    db = await open_database(settings)
    rows = []
    try:
        await migrations.migrate(db)
        for method, choices in ((method, choices) for method in ("ranked", "score") for choices in CHOICES):
            poll = await fill(db, method, choices, ballots)
            read, loaded = await timed(lambda poll=poll: results.load(db, poll), runs)
            # A fresh holder each run: the results are kept in it once counted (results.Ballots).
            grouped = loaded[results.BALLOTS].grouped
            tally, document = await timed(
                lambda loaded=loaded, grouped=grouped: asyncio.sleep(
                    0, results.document({**loaded, results.BALLOTS: results.Ballots(grouped)})
                ),
                runs,
            )
            rows.append(
                {
                    "poll": f"{method}, {choices} choices",
                    "ballots": document["total"],
                    "distinct": len(grouped),
                    "read": read,
                    "tally": tally,
                }
            )
    finally:
        await db.close()
    return rows


def mysql_server() -> pymysql.Connection:
    parts = urlsplit(MYSQL_SERVER)
    return pymysql.connect(
        host=parts.hostname, port=parts.port or 3306, user=parts.username or "root", password=parts.password or ""
    )


def mysql_database() -> str | None:
    """A fresh MariaDB database for the run, or None when no server answers."""
    try:
        conn = mysql_server()
    except pymysql.err.OperationalError:
        return None
    with conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
        cursor.execute(f"CREATE DATABASE {BENCH_DB} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    conn.close()
    return f"{MYSQL_SERVER}/{BENCH_DB}"


def drop_mysql_database() -> None:
    conn = mysql_server()
    with conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
    conn.close()


def report(rows: list[dict[str, Any]], runs: int) -> str:
    lines = [
        f"Wall time, median of {runs} runs, on the shared 2-core machine.",
        "",
        "| database | poll | ballots | distinct ballots | read grouped in SQL | tally of the distinct ballots |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['database']} | {row['poll']} | {row['ballots']:,} | {row['distinct']:,} |"
            f" {row['read'] * 1000:.0f} ms | {row['tally'] * 1000:.1f} ms |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ballots", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-docs", action="store_true", help="print only")
    arguments = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        for row in asyncio.run(measure(f"sqlite:///{directory}/tally.sqlite3", arguments.ballots, arguments.runs)):
            rows.append({"database": "SQLite", **row})
    mysql = mysql_database()
    if mysql is not None:
        try:
            for row in asyncio.run(measure(mysql, arguments.ballots, arguments.runs)):
                rows.append({"database": "MariaDB", **row})
        finally:
            drop_mysql_database()
    table = report(rows, arguments.runs)
    print(table)
    if not arguments.no_docs:
        write_section(DOCS, "tally-db-bench", table)


if __name__ == "__main__":
    main()
