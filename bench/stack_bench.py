"""make bench: the real stack (nginx + 4 processes + MariaDB + Redis) under wrk.

Brings the stack up as `make stack-up` does (on its own port, database and Redis prefix),
creates users, API tokens, logged-in browser sessions and polls, then drives each scenario
with wrk (64 connections, 2 threads) and prints requests/s, p50/p99 latency and the ratio to
GET /hello measured through the same stack in the same run. The machine is shared and noisy, so
/hello and every scenario run in several rounds, one after the other, and each figure is the
median of its rounds. Vote scenarios replay prepared requests (bench/replay.lua), each
voter/poll pair once, and after each round the votes added to the database are compared with
the answers wrk counted. Writes the table and a chart into docs/performance.md.

Usage: .venv/bin/python bench/stack_bench.py [--seconds 10] [--rounds 3] [--no-docs] [--only vote] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pymysql
from yarl import URL

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import cpu_seconds, insert_poll, insert_tokens, latency, pids, votes_sum, write_section  # noqa: E402

from models.invite import new_code  # noqa: E402
from models.passwords import hash_password  # noqa: E402

# Not 8008 (make stack-up), 8018 (make cluster-up) or 8028 (bench/live_sockets.py): they can run beside it.
PORT = int(os.environ.get("BENCH_PORT", "8038"))
BASE = f"http://127.0.0.1:{PORT}"
DB_NAME = "vote_bench"
CONNECTIONS, THREADS = 64, 2
VOTERS_PER_ROUND = 80_000  # distinct voters for one round of the hot-choice run (~5k votes/s seen)
DISTINCT_POLLS = 40
FORM_SESSIONS = 64
FORM_POLLS_PER_ROUND = 800  # 64 sessions x 800 polls: 51,200 form votes a round (~3.5k/s seen)
RANKED_RESULTS_BALLOTS = 20_000  # ballots behind the ranked results page, as a large hall would cast
PASSWORD = "bench-password-2026"
DOCS = ROOT / "docs" / "performance.md"
CHART = ROOT / "docs" / "performance-stack.png"
PROFILES = ROOT / "var" / "profiles"


@dataclass
class Outcome:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    ok: int | None = None
    refused: int | None = None
    db_votes: int | None = None
    in_flight: int | None = None
    cpu_us: dict[str, float] = field(default_factory=dict)  # CPU time per request, by component
    statements: float = 0.0  # SQL statements MariaDB received per request
    answered: int = 0  # requests wrk completed
    exact: bool = True  # every vote answered 201/302 is in the database, and no other


def stack_env() -> dict[str, str]:
    return {
        **os.environ,
        "STACK_PORT": str(PORT),
        "STACK_DIR": str(ROOT / "var" / "bench-stack"),
        "VOTE_DATABASE_URL": f"mysql://root@127.0.0.1:3306/{DB_NAME}",
        "VOTE_REDIS_URL": "redis://127.0.0.1:6379/0",
        "VOTE_REDIS_PREFIX": "vote-bench:",
        "VOTE_SECRET_KEY": "bench-secret",
    }


def stack(command: str) -> None:
    subprocess.run([sys.executable, "deploy/stack.py", command], cwd=ROOT, env=stack_env(), check=True)


def db() -> pymysql.Connection:
    return pymysql.connect(host="127.0.0.1", user="root", database=DB_NAME, autocommit=True, charset="utf8mb4")


def reset_database() -> None:
    conn = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
    with conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{DB_NAME}`")
    conn.close()


# --- data ------------------------------------------------------------------------


def create_data(rounds: int) -> dict[str, object]:
    """Users, tokens and polls written straight into the database: setting up is not measured."""
    password_hash = asyncio.run(hash_password(PASSWORD))
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(minutes=1)
    conn = db()
    with conn.cursor() as cursor:
        voters = VOTERS_PER_ROUND * rounds
        users = [(f"v{n}", f"1{n:010d}", f"v{n}@bench.example", password_hash) for n in range(voters + 1)]
        cursor.executemany("INSERT INTO user (name, phone, email, password) VALUES (%s, %s, %s, %s)", users)
        tokens = insert_tokens(cursor, "bench")
        cursor.execute("SELECT MIN(id) FROM user")
        owner = cursor.fetchone()[0]

        def polls(count: int, label: str, choices: int = 3, method: str = "choice") -> list[tuple[int, list[int]]]:
            return [
                insert_poll(
                    cursor,
                    owner,
                    f"{label} poll {n}: which one do you prefer?",
                    [f"Choice {c + 1} of {label} {n}" for c in range(choices)],
                    now,
                    method,
                )
                for n in range(count)
            ]

        data = {
            "tokens": tokens[1:],
            "emails": [f"v{n}@bench.example" for n in range(1, voters + 1)],
            "reads": polls(1, "Results", choices=5),
            "distinct": polls(DISTINCT_POLLS, "Distinct"),
            "hot": polls(1, "Hot", choices=2),
            "form": polls(FORM_POLLS_PER_ROUND * rounds, "Form"),
            "invite": polls(DISTINCT_POLLS, "Invite"),
            "ranked": polls(DISTINCT_POLLS, "Ranked", method="ranked"),
            "score": polls(DISTINCT_POLLS, "Score", method="score"),
            "ranked_reads": polls(1, "Ranked results", choices=5, method="ranked"),
        }
        data["codes"] = insert_codes(cursor, data["invite"], len(tokens) - 1)  # type: ignore[arg-type]
        ranked_id, ranked_choices = data["ranked_reads"][0]  # type: ignore[index]
        insert_rankings(cursor, ranked_id, ranked_choices, owner + 1, RANKED_RESULTS_BALLOTS)
        _, choice_ids = data["reads"][0]  # type: ignore[index]
        for offset, choice_id in enumerate(choice_ids):
            cursor.execute("UPDATE choice SET votes = %s WHERE id = %s", (100 + 37 * offset, choice_id))
    conn.close()
    return data


def insert_rankings(cursor: pymysql.cursors.Cursor, poll: int, choices: list[int], first_user: int, count: int) -> None:
    """``count`` ranked ballots (users from ``first_user`` on), partial and full rankings drawn at
    random with a fixed seed, and their choices' counts."""
    draw = random.Random(18)
    rankings = [draw.sample(choices, draw.randint(1, len(choices))) for _ in range(count)]
    # Each ballot's key as the vote path writes it (models/ballot.py, Ballot.key): "choice:place" by choice id.
    keys = [",".join(f"{c}:{place}" for c, place in sorted((c, p) for p, c in enumerate(r, 1))) for r in rankings]
    cursor.executemany(
        "INSERT INTO ballot (question_id, user_id) VALUES (%s, %s)", [(poll, first_user + n) for n in range(count)]
    )
    cursor.execute("SELECT id FROM ballot WHERE question_id = %s ORDER BY id", (poll,))
    ballot_ids = [ballot_id for (ballot_id,) in cursor.fetchall()]
    cursor.executemany(
        "INSERT INTO ballot_marks (ballot_id, question_id, marks) VALUES (%s, %s, %s)",
        [(ballot_id, poll, key) for ballot_id, key in zip(ballot_ids, keys, strict=True)],
    )
    marks = []
    for ballot_id, ranking in zip(ballot_ids, rankings, strict=True):
        marks += [(ballot_id, choice_id, place) for place, choice_id in enumerate(ranking, 1)]
    cursor.executemany("INSERT INTO ballot_choice (ballot_id, choice_id, place) VALUES (%s, %s, %s)", marks)
    cursor.execute(
        "UPDATE choice c SET votes = (SELECT COUNT(*) FROM ballot_choice bc WHERE bc.choice_id = c.id)"
        " WHERE c.question_id = %s",
        (poll,),
    )


def insert_codes(cursor: pymysql.cursors.Cursor, polls: list[tuple[int, list[int]]], count: int) -> list[str]:
    """Make the polls invite polls and give them ``count`` codes, spread in turn: code n is poll n's."""
    ids = [poll for poll, _ in polls]
    cursor.execute("UPDATE question SET access = 'invite' WHERE id IN (" + ",".join(["%s"] * len(ids)) + ")", ids)
    codes = [new_code() for _ in range(count)]
    cursor.executemany(
        "INSERT INTO invite (question_id, code) VALUES (%s, %s)",
        [(ids[n % len(ids)], code) for n, code in enumerate(codes)],
    )
    return codes


async def browser_sessions(emails: list[str], poll_id: int) -> list[tuple[str, str]]:
    """Log in for real (form + CSRF) and keep each session's cookie and form token."""

    async def one(email: str) -> tuple[str, str]:
        # unsafe=True: keep cookies from an IP-address host (127.0.0.1).
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            page = await (await session.get(f"{BASE}/login")).text()
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
            data = {"account": email, "password": PASSWORD, "csrf_token": token}
            async with session.post(f"{BASE}/login", data=data, allow_redirects=False) as response:
                assert response.status == 302, await response.text()
            page = await (await session.get(f"{BASE}/questions/{poll_id}")).text()
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
            cookie = session.cookie_jar.filter_cookies(URL(BASE))["vote_session"].value
            return cookie, token

    return list(await asyncio.gather(*(one(email) for email in emails)))


def request_files(
    data: dict[str, object], sessions: list[tuple[str, str]], directory: Path, rounds: int
) -> dict[str, list[Path]]:
    """Each vote scenario's prepared requests, split into one file per round: no pair twice."""
    tokens: list[str] = data["tokens"]  # type: ignore[assignment]
    distinct: list[tuple[int, list[int]]] = data["distinct"]  # type: ignore[assignment]
    (hot_id, hot_choices) = data["hot"][0]  # type: ignore[index]
    form: list[tuple[int, list[int]]] = data["form"]  # type: ignore[assignment]
    invite: list[tuple[int, list[int]]] = data["invite"]  # type: ignore[assignment]
    codes: list[str] = data["codes"]  # type: ignore[assignment]

    ranked: list[tuple[int, list[int]]] = data["ranked"]  # type: ignore[assignment]
    score: list[tuple[int, list[int]]] = data["score"]  # type: ignore[assignment]

    def ballot_line(token: str, poll: int, body: dict[str, object]) -> str:
        return (
            f"POST\t/api/v1/questions/{poll}/votes\tAuthorization\tBearer {token}\tapplication/json\t{json.dumps(body)}"
        )

    def api_line(token: str, poll: int, choice: int) -> str:
        return ballot_line(token, poll, {"choice_ids": [choice]})

    def ranked_line(n: int) -> str:
        poll, choices = ranked[n % len(ranked)]
        return ballot_line(tokens[n // len(ranked)], poll, {"ranking": choices[n % 3 :] + choices[: n % 3]})

    def score_line(n: int) -> str:
        poll, choices = score[n % len(score)]
        stars = {str(choice): (n + i) % 6 for i, choice in enumerate(choices)}
        return ballot_line(tokens[n // len(score)], poll, {"scores": stars})

    def invite_line(code: str, poll: int, choice: int) -> str:
        body = json.dumps({"choice_ids": [choice], "invite": code})  # no credentials: the code is one
        return f"POST\t/api/v1/questions/{poll}/votes\tAccept\tapplication/json\tapplication/json\t{body}"

    files = {
        "api_ranked": [ranked_line(n) for n in range(len(tokens))],
        "api_score": [score_line(n) for n in range(len(tokens))],
        # Consecutive requests go to different polls: every voter/poll pair once.
        "api_distinct": [
            api_line(tokens[n // DISTINCT_POLLS], *pick(distinct[n % DISTINCT_POLLS], n)) for n in range(len(tokens))
        ],
        "api_hot": [api_line(token, hot_id, hot_choices[0]) for token in tokens],
        "invite": [invite_line(code, *pick(invite[n % len(invite)], n)) for n, code in enumerate(codes)],
        "form": [
            f"POST\t/questions/{poll}/vote\tCookie\tvote_session={sessions[n % len(sessions)][0]}"
            f"\tapplication/x-www-form-urlencoded\tcsrf_token={sessions[n % len(sessions)][1]}&choice={choices[0]}"
            for n, (poll, choices) in ((n, form[n // len(sessions)]) for n in range(len(sessions) * len(form)))
        ],
    }
    paths: dict[str, list[Path]] = {}
    for name, lines in files.items():
        share = len(lines) // rounds
        paths[name] = []
        for round_ in range(rounds):
            path = directory / f"{name}-{round_}.tsv"
            path.write_text("\n".join(lines[round_ * share : (round_ + 1) * share]) + "\n")
            paths[name].append(path)
    return paths


def pick(poll: tuple[int, list[int]], n: int) -> tuple[int, int]:
    return poll[0], poll[1][n % len(poll[1])]


# --- wrk -----------------------------------------------------------------------


def wrk(name: str, url: str, seconds: int, requests: Path | None = None) -> tuple[Outcome, str]:
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    env = dict(os.environ)
    if requests is not None:
        command += ["-s", str(ROOT / "bench" / "replay.lua")]
        env.update(BENCH_REQUESTS=str(requests), BENCH_THREADS=str(THREADS))
    before, statements_before, wrk_before = component_cpu_seconds(), statements_received(), children_cpu_seconds()
    output = subprocess.run([*command, url], capture_output=True, text=True, env=env, check=True).stdout
    after, statements_after, wrk_after = component_cpu_seconds(), statements_received(), children_cpu_seconds()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    requests_done = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    cpu = {part: (after[part] - before[part]) / requests_done * 1e6 for part in COMPONENTS}
    cpu[LOAD_GENERATOR] = (wrk_after - wrk_before) / requests_done * 1e6
    statements = (statements_after - statements_before - 1) / requests_done  # less our own SHOW STATUS
    outcome = Outcome(name, rps, latency(output, "50%"), latency(output, "99%"), cpu_us=cpu, statements=statements)
    outcome.answered = requests_done
    return outcome, output


def children_cpu_seconds() -> float:
    """CPU time of this script's finished children: wrk's, measured around one run of it."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def statements_received() -> int:
    """MariaDB's count of statements sent by clients (a CALL is one), all databases."""
    conn = db()
    with conn.cursor() as cursor:
        cursor.execute("SHOW GLOBAL STATUS LIKE 'Questions'")
        count = int(cursor.fetchone()[1])
    conn.close()
    return count


def votes_in(polls: list[tuple[int, list[int]]], ballots: bool = False) -> int:
    return votes_sum(db(), polls, ballots)


def replay(name: str, path: Path, polls: list[tuple[int, list[int]]], seconds: int, ballots: bool = False) -> Outcome:
    votes_before = votes_in(polls, ballots)
    outcome, output = wrk(name, BASE, seconds, path)
    counts = dict(re.findall(r"(\w+)=(\d+)", output.split("REPLAY", 1)[1]))
    sent, filler = int(counts["sent"]), int(counts["filler"])
    if filler:
        raise SystemExit(f"{name}: ran out of prepared requests; prepare more\n{output}")
    found = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    refused = int(found.group(1)) if found else 0
    ok = outcome.answered - refused
    time.sleep(1)  # let requests wrk abandoned at the deadline finish on the server
    outcome.ok, outcome.refused, outcome.db_votes = ok, refused, votes_in(polls, ballots) - votes_before
    outcome.in_flight = sent - ok - refused
    # Requests wrk gave up on at its deadline may have been counted or not.
    outcome.exact = ok <= outcome.db_votes <= ok + outcome.in_flight
    return outcome


# --- process figures ---------------------------------------------------------------


def startup_seconds() -> float:
    """Median time for a fresh `python main.py` to answer /readyz on a unix socket."""
    times = []
    for _ in range(3):
        sock = Path(tempfile.mkdtemp()) / "s.sock"
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "main.py", "--path", str(sock)],
            cwd=ROOT,
            env=stack_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while (
            subprocess.run(
                ["curl", "-sf", "--unix-socket", str(sock), "http://x/readyz"], capture_output=True
            ).returncode
            != 0
        ):
            time.sleep(0.02)
        times.append(time.monotonic() - started)
        process.terminate()
        process.wait()
    return statistics.median(times)


APP = ("-f", "main.py serve --path .*bench-stack")
# Processes whose CPU time is charged to the requests of a scenario (wrk itself is not).
COMPONENTS = {"app": APP, "MariaDB": ("-x", "mariadbd"), "nginx": ("-x", "nginx"), "Redis": ("-x", "redis-server")}
# wrk shares the 2 cores with the stack: shown apart, not in the total.
LOAD_GENERATOR = "wrk"


def component_cpu_seconds() -> dict[str, float]:
    return {part: cpu_seconds(pids(*pgrep)) for part, pgrep in COMPONENTS.items()}


def worker_rss_mib() -> list[float]:
    sizes = []
    for pid in pids(*APP):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(int(line.split()[1]) / 1024)
    return sizes


@contextmanager
def profiled(name: str, enabled: bool) -> Iterator[None]:
    """Record one worker with py-spy while the scenario runs: collapsed stacks, for speedscope or flamegraph.pl."""
    if not enabled:
        yield
        return
    PROFILES.mkdir(parents=True, exist_ok=True)
    target = PROFILES / (re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") + ".folded")
    spy = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "--format",
            "raw",
            "--pid",
            pids(*APP)[0],
            "-o",
            str(target),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait()
        print(f"profile of one worker: {target}")


# --- report --------------------------------------------------------------------------


def table(outcomes: list[Outcome], hello: float) -> str:
    rows = ["| scenario | requests/s | p50 | p99 | ratio to /hello |", "|---|---|---|---|---|"]
    for o in outcomes:
        rows.append(f"| {o.name} | {o.rps:,.0f} | {o.p50_ms:.1f} ms | {o.p99_ms:.1f} ms | {o.rps / hello:.2f} |")
    return "\n".join(rows)


def cpu_table(outcomes: list[Outcome]) -> str:
    """Where the machine's CPU went, per request: steadier than requests/s on a shared machine."""
    rows = [
        "| scenario | " + " | ".join(COMPONENTS) + f" | total | SQL statements | {LOAD_GENERATOR} (apart) |",
        "|---|" + "---|" * (len(COMPONENTS) + 3),
    ]
    for o in outcomes:
        cells = [f"{o.cpu_us[part]:,.0f} µs" for part in COMPONENTS]
        total = sum(o.cpu_us[part] for part in COMPONENTS)
        rows.append(
            f"| {o.name} | " + " | ".join(cells) + f" | {total:,.0f} µs | {o.statements:.2f}"
            f" | {o.cpu_us[LOAD_GENERATOR]:,.0f} µs |"
        )
    return "\n".join(rows)


def median_of(rounds: list[Outcome]) -> Outcome:
    """Each figure the median of the rounds; votes and answers summed over them."""

    def middle(figure: Callable[[Outcome], float]) -> float:
        return statistics.median(figure(o) for o in rounds)

    cpu = {part: middle(lambda o, part=part: o.cpu_us[part]) for part in [*COMPONENTS, LOAD_GENERATOR]}  # type: ignore[misc]
    summary = Outcome(
        rounds[0].name,
        middle(lambda o: o.rps),
        middle(lambda o: o.p50_ms),
        middle(lambda o: o.p99_ms),
        cpu_us=cpu,
        statements=middle(lambda o: o.statements),
    )
    if rounds[0].ok is not None:
        summary.ok, summary.refused = sum(o.ok or 0 for o in rounds), sum(o.refused or 0 for o in rounds)
        summary.db_votes = sum(o.db_votes or 0 for o in rounds)
        summary.in_flight = sum(o.in_flight or 0 for o in rounds)
        summary.exact = all(o.exact for o in rounds)
    return summary


def chart(outcomes: list[Outcome], hello: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 3.6), dpi=110)
    names = [o.name for o in outcomes][::-1]
    values = [o.rps / hello for o in outcomes][::-1]
    bars = axis.barh(names, values, color="#1e5bd8")
    axis.bar_label(bars, labels=[f"{o.rps:,.0f}/s" for o in outcomes][::-1], padding=3, fontsize=8)
    axis.set_xlabel("requests/s as a ratio to GET /hello (same stack, same run)")
    axis.set_xlim(0, max(values) * 1.25)
    axis.set_title("vote on nginx + 4 processes + MariaDB + Redis, wrk -c64", fontsize=10)
    figure.tight_layout()
    figure.savefig(CHART)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each scenario; figures are their medians")
    parser.add_argument("--no-docs", action="store_true", help="print only")
    parser.add_argument(
        "--only", help="run only the scenarios whose name contains this (and /hello); implies --no-docs"
    )
    parser.add_argument("--profile", action="store_true", help="py-spy one worker per scenario into var/profiles/")
    args = parser.parse_args()
    args.no_docs = args.no_docs or bool(args.only)
    reset_database()
    stack("down")
    stack("up")
    try:
        started = startup_seconds()
        data = create_data(args.rounds)
        form_polls: list[tuple[int, list[int]]] = data["form"]  # type: ignore[assignment]
        sessions = asyncio.run(browser_sessions(data["emails"][:FORM_SESSIONS], form_polls[0][0]))  # type: ignore[index]
        workdir = Path(tempfile.mkdtemp())
        files = request_files(data, sessions, workdir, args.rounds)
        time.sleep(2)
        idle = worker_rss_mib()
        reads_id = data["reads"][0][0]  # type: ignore[index]
        seconds = args.seconds

        def get(path: str) -> Callable[[str, int], Outcome]:
            return lambda name, _round: wrk(name, BASE + path, seconds)[0]

        def votes(
            file: str, polls: list[tuple[int, list[int]]], ballots: bool = False
        ) -> Callable[[str, int], Outcome]:
            return lambda name, round_: replay(name, files[file][round_], polls, seconds, ballots)

        ranked_reads = data["ranked_reads"][0][0]  # type: ignore[index]

        scenarios = [
            ("GET / (index)", get("/")),
            ("GET results page (HTML)", get(f"/questions/{reads_id}/results")),
            ("GET results (JSON API)", get(f"/api/v1/questions/{reads_id}/results")),
            ("POST vote (API, distinct pairs)", votes("api_distinct", data["distinct"])),  # type: ignore[arg-type]
            ("POST vote (API, one hot choice)", votes("api_hot", data["hot"])),  # type: ignore[arg-type]
            ("POST vote (form, session + CSRF)", votes("form", form_polls)),
            ("POST vote (API, invite codes)", votes("invite", data["invite"])),  # type: ignore[arg-type]
            ("POST ranked vote (API, distinct pairs)", votes("api_ranked", data["ranked"], ballots=True)),  # type: ignore[arg-type]
            ("POST score vote (API, distinct pairs)", votes("api_score", data["score"], ballots=True)),  # type: ignore[arg-type]
            (
                f"GET ranked results page ({RANKED_RESULTS_BALLOTS:,} ballots)",
                get(f"/questions/{ranked_reads}/results"),
            ),
        ]
        scenarios = [("GET /hello", get("/hello"))] + [
            (name, run) for name, run in scenarios if not args.only or args.only.lower() in name.lower()
        ]
        rounds: dict[str, list[Outcome]] = {name: [] for name, _ in scenarios}
        for round_ in range(args.rounds):
            for name, run in scenarios:
                with profiled(name, args.profile and round_ == 0):
                    rounds[name].append(run(name, round_))
            print(f"round {round_ + 1} of {args.rounds}:")
            print(table([runs[-1] for runs in rounds.values()], rounds["GET /hello"][-1].rps), flush=True)
        outcomes = [median_of(runs) for runs in rounds.values()]
        hello = outcomes[0]
        busy = worker_rss_mib()
    finally:
        stack("down")
        reset_database()

    lines = [
        table(outcomes, hello.rps),
        "",
        "CPU time per request, by process, and SQL statements MariaDB received per request:",
        "",
        cpu_table(outcomes),
        "",
    ]
    for o in outcomes:
        if o.ok is not None:
            lines.append(
                f"- {o.name}, {plural(args.rounds, 'round')}: {o.ok:,} answered 201/302, {o.refused:,} refused,"
                f" {o.db_votes:,} votes in the database ({o.in_flight} still in flight when wrk stopped):"
                f" {'exact' if o.exact else 'MISMATCH'}"
            )
    lines += [
        "",
        f"- start-up, `python main.py` to a ready `/readyz` (median of 3): {started:.2f} s",
        f"- memory per process: {statistics.median(idle):.1f} MiB idle, {statistics.median(busy):.1f} MiB after the run"
        f" (median of {len(idle)} processes)",
        f"- run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, wrk -t{THREADS} -c{CONNECTIONS} -d{seconds}s, medians of"
        f" {plural(args.rounds, 'round')}, 2 cores shared by wrk, nginx, 4 app processes, MariaDB and Redis",
    ]
    report = "\n".join(lines)
    print(report)
    if not args.no_docs:
        chart(outcomes, hello.rps)
        write_section(DOCS, "stack-bench", report + "\n\n![requests/s by scenario](performance-stack.png)")


if __name__ == "__main__":
    main()
