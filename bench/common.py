"""Helpers the benchmarks share."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import secrets
import subprocess
from contextlib import closing
from datetime import datetime
from pathlib import Path

import aiohttp
import pymysql
from pymysql.cursors import Cursor


async def wait_ready(session: aiohttp.ClientSession, base_url: str) -> None:
    """Until the app at ``base_url`` answers /readyz (20 s at most)."""
    for _ in range(200):
        try:
            async with session.get(f"{base_url}/readyz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit(f"{base_url} never became ready")


def pids(*pgrep_arguments: str) -> list[str]:
    """The processes ``pgrep`` finds with these arguments (none is no error)."""
    return subprocess.run(["pgrep", *pgrep_arguments], capture_output=True, text=True).stdout.split()


def cpu_seconds(process_ids: list[str]) -> float:
    """User + system CPU seconds these processes (all their threads) have used so far."""
    ticks = 0
    for pid in process_ids:
        with contextlib.suppress(FileNotFoundError):  # gone meanwhile
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def write_section(doc: Path, name: str, text: str) -> None:
    """Puts ``text`` between ``doc``'s markers <!-- name:start --> and <!-- name:end -->, replacing
    what was there (appended with its markers the first time)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    content = doc.read_text()
    block = f"{start}\n{text}\n{end}"
    if start in content:
        content = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: block, content, flags=re.S)
    else:
        content = content.rstrip("\n") + "\n\n" + block + "\n"
    doc.write_text(content)


def insert_tokens(cursor: Cursor, name: str) -> list[str]:
    """An API token for every account in the database, in the order of their ids."""
    cursor.execute("SELECT id FROM user ORDER BY id")
    user_ids = [row[0] for row in cursor.fetchall()]
    tokens = [f"vote_{secrets.token_urlsafe(32)}" for _ in user_ids]
    cursor.executemany(
        "INSERT INTO api_token (user_id, name, token_hash) VALUES (%s, %s, %s)",
        [(uid, name, hashlib.sha256(t.encode()).hexdigest()) for uid, t in zip(user_ids, tokens, strict=True)],
    )
    return tokens


def insert_poll(
    cursor: Cursor, owner: int, text: str, choices: list[str], published: datetime, method: str = "choice"
) -> tuple[int, list[int]]:
    """A published poll with these choices, none voted for yet: its id and its choices' ids."""
    cursor.execute(
        "INSERT INTO question (user_id, question_text, pub_date, method) VALUES (%s, %s, %s, %s)",
        (owner, text, published, method),
    )
    poll_id = cursor.lastrowid
    cursor.executemany(
        "INSERT INTO choice (question_id, choice_text, votes) VALUES (%s, %s, 0)",
        [(poll_id, choice) for choice in choices],
    )
    cursor.execute("SELECT id FROM choice WHERE question_id = %s ORDER BY id", (poll_id,))
    return poll_id, [row[0] for row in cursor.fetchall()]


def latency(output: str, percentile: str) -> float:
    """A percentile of wrk's --latency report, in milliseconds."""
    value, unit = re.search(rf"^\s+{percentile}\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def votes_sum(conn: pymysql.Connection, polls: list[tuple[int, list[int]]], ballots: bool = False) -> int:
    """The votes counted in these polls, or with ``ballots`` the ballots cast in them (a ranked or
    score ballot counts a vote for each choice it marks); closes ``conn``."""
    counted = "SELECT COUNT(*) FROM ballot" if ballots else "SELECT COALESCE(SUM(votes), 0) FROM choice"
    with closing(conn), conn.cursor() as cursor:
        cursor.execute(counted + " WHERE question_id IN %s", ([poll for poll, _ in polls],))
        return int(cursor.fetchone()[0])
