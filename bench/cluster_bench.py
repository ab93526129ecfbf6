"""Vote throughput through the cluster (make cluster-up's shape) as a ratio to the single-node
stack (make stack-up's), measured in the same sitting.

Brings up, each on free ports and in a directory of its own: the stack against the machine's
MariaDB and Redis, and the whole cluster (three Galera nodes behind HAProxy, Redis with
Sentinels, the same app stack on top). Both get the same voters (API tokens) and polls; wrk
(bench/replay.lua) then sends each voter/poll pair's vote once, alternating stack and cluster
round by round, so that the noise of the shared machine falls on both alike. Prints votes/s and
p50/p99 per round, the medians and their ratio, checks that the votes in each database match the
201s, and writes the table into docs/deploy.md. Needs root (mariadbd runs as user mysql).

Usage: .venv/bin/python bench/cluster_bench.py [--seconds 10] [--rounds 3] [--no-docs]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pymysql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "deploy"))
sys.path.insert(0, str(ROOT / "bench"))

import cluster  # noqa: E402
from common import insert_poll, insert_tokens, latency, votes_sum, write_section  # noqa: E402

CONNECTIONS, THREADS = 32, 2
VOTERS = 6_000  # per target; x POLLS pairs, each voted once
POLLS = 20
STACK_DB = "vote_bench_cluster"
DOCS = ROOT / "docs" / "deploy.md"


@dataclass
class Target:
    name: str
    url: str
    db_port: int
    db_name: str
    polls: list[tuple[int, list[int]]]
    files: list[Path]


@dataclass
class Round:
    target: str
    votes_per_second: float
    p50_ms: float
    p99_ms: float
    ok: int
    counted: int


def connect(port: int, database: str | None = None) -> pymysql.Connection:
    return pymysql.connect(host="127.0.0.1", port=port, user="root", database=database, autocommit=True)


def free_port() -> int:
    return cluster.Ports.free().app


def stack(command: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, str(ROOT / "deploy" / "stack.py"), command], cwd=ROOT, env=env, check=True)


def prepare(name: str, url: str, port: int, database: str, rounds: int, directory: Path) -> Target:
    """Voters, tokens and polls written straight into the database; the requests split in rounds."""
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(minutes=1)
    conn = connect(port, database)
    with conn.cursor() as cursor:
        users = [(f"b{n}", f"1{n:010d}", f"b{n}@bench.example", "x") for n in range(VOTERS + 1)]
        cursor.executemany("INSERT INTO user (name, phone, email, password) VALUES (%s, %s, %s, %s)", users)
        tokens = insert_tokens(cursor, "bench")[1:]
        cursor.execute("SELECT MIN(id) FROM user")
        owner = cursor.fetchone()[0]
        polls = [insert_poll(cursor, owner, f"Poll {n}?", ["yes", "no"], now) for n in range(POLLS)]
    conn.close()
    lines = []
    for n in range(VOTERS * POLLS):  # consecutive requests go to different polls
        poll, choices = polls[n % POLLS]
        body = json.dumps({"choice_ids": [choices[n % 2]]})
        token = tokens[n // POLLS]
        lines.append(f"POST\t/api/v1/questions/{poll}/votes\tAuthorization\tBearer {token}\tapplication/json\t{body}")
    share = len(lines) // rounds
    files = []
    for number in range(rounds):
        path = directory / f"{name}-{number}.tsv"
        path.write_text("\n".join(lines[number * share : (number + 1) * share]) + "\n")
        files.append(path)
    return Target(name, url, port, database, polls, files)


def counted(target: Target) -> int:
    return votes_sum(connect(target.db_port, target.db_name), target.polls)


def run_round(target: Target, number: int, seconds: int) -> Round:
    before = counted(target)
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    command += ["-s", str(ROOT / "bench" / "replay.lua"), target.url]
    env = {**os.environ, "BENCH_REQUESTS": str(target.files[number]), "BENCH_THREADS": str(THREADS)}
    output = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout
    if int(re.search(r"filler=(\d+)", output).group(1)):  # type: ignore[union-attr]
        raise SystemExit(f"{target.name}: ran out of prepared votes; raise VOTERS\n{output}")
    answered = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    found = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    ok = answered - (int(found.group(1)) if found else 0)
    return Round(
        target.name, ok / seconds, latency(output, "50%"), latency(output, "99%"), ok, counted(target) - before
    )


def table(rounds: list[Round]) -> str:
    lines = [
        "| target | votes/s (median) | p50 ms | p99 ms | rounds (votes/s) | votes counted ≥ 201s |",
        "|---|---|---|---|---|---|",
    ]
    medians = {}
    for name in ("stack", "cluster"):
        mine = [r for r in rounds if r.target == name]
        medians[name] = statistics.median(r.votes_per_second for r in mine)
        each = ", ".join(f"{r.votes_per_second:.0f}" for r in mine)
        exact = all(r.ok <= r.counted for r in mine)
        lines.append(
            f"| {name} | {medians[name]:.0f} | {statistics.median(r.p50_ms for r in mine):.1f} "
            f"| {statistics.median(r.p99_ms for r in mine):.1f} | {each} | {'yes' if exact else 'NO'} |"
        )
    ratio = medians["cluster"] / medians["stack"]
    lines.append("")
    lines.append(f"Cluster / single node: **{ratio:.2f}** (API votes, {CONNECTIONS} connections, same sitting).")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vote-cluster-bench-"))
    work.chmod(0o755)  # mariadbd (user mysql) reaches its data directory through it
    grid = cluster.Cluster(work / "cluster", cluster.Ports.free())
    stack_env = {
        **os.environ,
        "STACK_DIR": str(work / "stack"),
        "STACK_PORT": str(free_port()),
        "VOTE_DATABASE_URL": f"mysql://root@127.0.0.1:3306/{STACK_DB}",
        "VOTE_REDIS_URL": "redis://127.0.0.1:6379/0",
        "VOTE_REDIS_PREFIX": "vote-cluster-bench:",
        "VOTE_SECRET_KEY": "bench-secret",
    }
    with connect(3306) as conn, conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{STACK_DB}`")
    try:
        stack("up", stack_env)
        grid.up()
        targets = [
            prepare("stack", f"http://127.0.0.1:{stack_env['STACK_PORT']}", 3306, STACK_DB, args.rounds, work),
            prepare("cluster", f"http://127.0.0.1:{grid.ports.app}", grid.ports.db, cluster.SERVICE, args.rounds, work),
        ]
        rounds = []
        for number in range(args.rounds):
            for target in targets:
                rounds.append(run_round(target, number, args.seconds))
                print(rounds[-1])
        text = table(rounds)
        print(text)
        if not args.no_docs:
            write_section(DOCS, "cluster-bench", text)
    finally:
        stack("down", stack_env)
        grid.down()
        with connect(3306) as conn, conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{STACK_DB}`")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
