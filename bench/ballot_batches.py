"""What a batch of ballots costs MariaDB, by batch size: why votes are written in batches.

Calls the cast_ballots procedure (sql/mysql/0003) from 4 connections at once, as the 4 app
processes of the stack do, with batches of 1 to 32 ballots on distinct voter/poll pairs, and
prints MariaDB's CPU time per ballot (user + system, all its threads) and ballots per second.

Usage: .venv/bin/python bench/ballot_batches.py   (MariaDB on 127.0.0.1:3306, root, no password)
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import aiomysql
import pymysql
from common import cpu_seconds, pids

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "vote_bench_batches"
CALLERS = 4
POLLS, CHOICES, VOTERS = 40, 3, 200_000
BALLOTS_PER_SIZE = 16_000
SIZES = (1, 4, 8, 16, 32)


def prepare() -> list[tuple[int, list[int]]]:
    admin = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{DB_NAME}`")
        cursor.execute(f"CREATE DATABASE `{DB_NAME}`")
    admin.close()
    env = {**os.environ, "VOTE_DATABASE_URL": f"mysql://root@127.0.0.1:3306/{DB_NAME}", "VOTE_SECRET_KEY": "bench"}
    subprocess.run([sys.executable, "main.py", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
    conn = pymysql.connect(host="127.0.0.1", user="root", database=DB_NAME, autocommit=True)
    with conn.cursor() as cursor:
        users = [(f"v{n}", f"1{n:010d}", f"v{n}@bench.example", "x") for n in range(VOTERS)]
        cursor.executemany("INSERT INTO user (name, phone, email, password) VALUES (%s, %s, %s, %s)", users)
        polls = []
        for n in range(POLLS):
            cursor.execute(
                "INSERT INTO question (user_id, question_text, pub_date) VALUES (1, %s, UTC_TIMESTAMP())", (f"q{n}",)
            )
            poll = cursor.lastrowid
            cursor.executemany(
                "INSERT INTO choice (question_id, choice_text) VALUES (%s, %s)",
                [(poll, f"c{c}") for c in range(CHOICES)],
            )
            cursor.execute("SELECT id FROM choice WHERE question_id = %s ORDER BY id", (poll,))
            polls.append((poll, [row[0] for row in cursor.fetchall()]))
    conn.close()
    return polls


async def run(polls: list[tuple[int, list[int]]]) -> None:
    callers = [
        await aiomysql.connect(host="127.0.0.1", user="root", db=DB_NAME, autocommit=True) for _ in range(CALLERS)
    ]
    voter = 0

    def next_batch(size: int) -> str:
        nonlocal voter
        ballots = []
        for _ in range(size):
            voter += 1
            poll, choices = polls[voter % POLLS]
            ballots.append([poll, voter % VOTERS + 1, None, str(choices[voter % CHOICES]), 1])
        return json.dumps(sorted(ballots))  # sorted by poll, as the app sends them

    async def caller(conn: aiomysql.Connection, size: int) -> None:
        for _ in range(BALLOTS_PER_SIZE // size // CALLERS):
            async with conn.cursor() as cursor:
                await cursor.execute("CALL cast_ballots(UTC_TIMESTAMP(), %s)", (next_batch(size),))
                [(outcomes,)] = await cursor.fetchall()
                assert set(outcomes) == {"V"}, outcomes
                while await cursor.nextset():
                    await cursor.fetchall()

    print("| ballots per call | MariaDB CPU per ballot | ballots/s |")
    print("|---|---|---|")
    for size in SIZES:
        await asyncio.sleep(3)  # InnoDB's background work from the previous size settles
        cpu, started = cpu_seconds(pids("-x", "mariadbd")), time.perf_counter()
        await asyncio.gather(*(caller(conn, size) for conn in callers))
        done = BALLOTS_PER_SIZE // size // CALLERS * size * CALLERS
        per_ballot = (cpu_seconds(pids("-x", "mariadbd")) - cpu) / done * 1e6
        print(f"| {size} | {per_ballot:.0f} µs | {done / (time.perf_counter() - started):,.0f} |")
    for conn in callers:
        await conn.ensure_closed()


def main() -> None:
    polls = prepare()
    try:
        asyncio.run(run(polls))
    finally:
        admin = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{DB_NAME}`")
        admin.close()


if __name__ == "__main__":
    main()
