"""Live results at hall scale, through the production stack (nginx + 4 processes + MariaDB + Redis).

Brings the stack up as `make stack-up` does, on its own port, directory, database and Redis prefix
(HALL_PORT, default 8028; var/hall-stack/; database vote_hall), then:

1. the "scan now" burst: BURST phones open the live results of one poll all at once; how many
   connected, how the others failed, how long each took to show the first results;
2. for each size (1,000, 5,000, 20,000 sockets), on a freshly started stack: open that many
   sockets on one poll at CONNECT_RATE a second, then ROUNDS times cast votes through the API
   (bearer tokens, one voter per vote) at VOTE_RATE a second for VOTE_SECONDS, and measure:
   memory per socket (RSS growth of the 4 app processes and of the nginx workers / sockets),
   time from the last vote sent to each socket showing the final count (median, p99, last),
   CPU per delivered update (app + nginx + Redis over the vote phase, less what the same votes
   cost with no socket open, divided by the messages the sockets received), sockets dropped,
   and `/hello` answered meanwhile (probed every 100 ms).

The sockets are held by a lean client (bench/ws_fleet.py) in FLEETS processes, from several
loopback source addresses. Writes the figures into docs/performance.md.

Usage: .venv/bin/python bench/live_sockets.py [--sizes 1000,5000,20000] [--burst 2000]
    [--connect-rate 2000] [--vote-rate 300] [--vote-seconds 4] [--rounds 2] [--fleets 2]
    [--profile] [--no-docs]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pymysql
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import cpu_seconds, insert_poll, insert_tokens, pids, write_section  # noqa: E402
from ws_fleet import FleetProcess  # noqa: E402

PORT = int(os.environ.get("HALL_PORT", "8028"))
BASE = f"http://127.0.0.1:{PORT}"
STACK_DIR = ROOT / "var" / "hall-stack"
DB_NAME = "vote_hall"
SOURCES = [f"127.0.0.{n}" for n in range(2, 18)]  # 16 loopback source addresses, ~28k ports each
SETTLE_SECONDS = 20.0  # a socket not showing the final count by then is "behind"
HELLO_EVERY = 0.1
DOCS = ROOT / "docs" / "performance.md"
PROFILES = ROOT / "var" / "profiles"


def stack_env() -> dict[str, str]:
    return {
        **os.environ,
        "STACK_PORT": str(PORT),
        "STACK_DIR": str(STACK_DIR),
        "VOTE_DATABASE_URL": f"mysql://root@127.0.0.1:3306/{DB_NAME}",
        "VOTE_REDIS_URL": "redis://127.0.0.1:6379/0",
        "VOTE_REDIS_PREFIX": "vote-hall:",
        "VOTE_SECRET_KEY": "hall-secret",
        "VOTE_LOG_LEVEL": "WARNING",
    }


def stack(command: str) -> None:
    subprocess.run([sys.executable, "deploy/stack.py", command], cwd=ROOT, env=stack_env(), check=True)


def db(database: str | None = DB_NAME) -> pymysql.Connection:
    return pymysql.connect(host="127.0.0.1", user="root", database=database, autocommit=True, charset="utf8mb4")


def drop_database() -> None:
    conn = db(None)
    with conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{DB_NAME}`")
    conn.close()


# --- data: written straight into the database, setting up is not measured ------------------


def create_voters(count: int) -> list[str]:
    """``count`` accounts with an API token each (the password is never used)."""
    conn = db()
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO user (name, phone, email, password) VALUES (%s, %s, %s, 'unused')",
            [(f"h{n}", f"2{n:010d}", f"h{n}@hall.example") for n in range(count)],
        )
        tokens = insert_tokens(cursor, "hall")
    conn.close()
    return tokens


def create_poll(label: str) -> tuple[int, list[int]]:
    conn = db()
    with conn.cursor() as cursor:
        cursor.execute("SELECT MIN(id) FROM user")
        published = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(minutes=1)
        poll = insert_poll(cursor, cursor.fetchone()[0], f"{label}: which one?", ["Left", "Right"], published)
    conn.close()
    return poll


# --- the stack's processes ------------------------------------------------------------------


def app_pids() -> list[str]:
    return pids("-f", f"main.py serve --path {STACK_DIR}/run/")


def nginx_worker_pids() -> list[str]:
    master = (STACK_DIR / "run" / "nginx.pid").read_text().strip()
    return pids("-P", master)


def redis_pid() -> list[str]:
    return [str(redis.Redis(host="127.0.0.1", port=6379).info("server")["process_id"])]


def rss_kib(process_ids: list[str]) -> int:
    total = 0
    for pid in process_ids:
        with contextlib.suppress(FileNotFoundError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def kernel_kib() -> int:
    """The kernel's slab memory (sockets, files...): the whole machine's, both ends of every socket."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("Slab:"):
            return int(line.split()[1])
    return 0


def parts_cpu() -> dict[str, float]:
    return {
        "app": cpu_seconds(app_pids()),
        "nginx": cpu_seconds(nginx_worker_pids()),
        "Redis": cpu_seconds(redis_pid()),
        "MariaDB": cpu_seconds(pids("-x", "mariadbd")),
    }


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# --- measuring ------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


class HelloProbe:
    """GET /hello every HELLO_EVERY seconds while it runs: latencies and failures."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.latencies: list[float] = []
        self.failures: Counter[str] = Counter()
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                async with self.session.get(f"{BASE}/hello", timeout=aiohttp.ClientTimeout(total=10)) as response:
                    await response.read()
                    if response.status == 200:
                        self.latencies.append(time.monotonic() - started)
                    else:
                        self.failures[f"HTTP {response.status}"] += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.failures[type(exc).__name__] += 1
            await asyncio.sleep(max(0.0, started + HELLO_EVERY - time.monotonic()))

    def __enter__(self) -> HelloProbe:
        self.task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()

    def summary(self) -> str:
        if not self.latencies:
            return f"no answer ({dict(self.failures)})"
        text = (
            f"median {statistics.median(self.latencies) * 1000:.0f} ms,"
            f" p99 {percentile(self.latencies, 0.99) * 1000:.0f} ms, max {max(self.latencies) * 1000:.0f} ms"
        )
        return text + (f", failed {dict(self.failures)}" if self.failures else "")


@dataclass
class Votes:
    accepted: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    last_sent: float = 0.0
    answered_in: list[float] = field(default_factory=list)


async def cast_votes(
    session: aiohttp.ClientSession, poll: tuple[int, list[int]], tokens: list[str], rate: float
) -> Votes:
    """One vote per token, ``rate`` a second, each sent at its time whatever the others do."""
    poll_id, choices = poll
    votes = Votes()
    url = f"{BASE}/api/v1/questions/{poll_id}/votes"

    async def vote(n: int, token: str) -> None:
        started = time.monotonic()
        votes.last_sent = max(votes.last_sent, started)
        body = {"choice_ids": [choices[n % len(choices)]]}
        try:
            headers = {"Authorization": f"Bearer {token}"}
            async with session.post(url, json=body, headers=headers, timeout=aiohttp.ClientTimeout(total=30)) as answer:
                await answer.read()
                votes.statuses[str(answer.status)] += 1
                votes.accepted += answer.status == 201
        except (aiohttp.ClientError, TimeoutError) as exc:
            votes.statuses[type(exc).__name__] += 1
        votes.answered_in.append(time.monotonic() - started)

    began = time.monotonic()
    tasks = []
    for n, token in enumerate(tokens):
        await asyncio.sleep(max(0.0, began + n / rate - time.monotonic()))
        tasks.append(asyncio.create_task(vote(n, token)))
    await asyncio.gather(*tasks)
    return votes


def votes_counted(poll_id: int) -> int:
    """The poll's total in the database: what every socket must end up showing."""
    conn = db()
    with conn.cursor() as cursor:
        cursor.execute("SELECT COALESCE(SUM(votes), 0) FROM choice WHERE question_id = %s", (poll_id,))
        total = int(cursor.fetchone()[0])
    conn.close()
    return total


@dataclass
class Round:
    votes: Votes
    final_total: int
    delays: list[float]  # last vote sent -> each socket shows the final total, seconds
    behind: int
    frames: int  # results messages the sockets received during the round
    seconds: float
    cpu: dict[str, float]
    client_cpu: float
    hello: HelloProbe


async def vote_round(
    fleets: list[FleetProcess],
    session: aiohttp.ClientSession,
    poll: tuple[int, list[int]],
    tokens: list[str],
    rate: float,
) -> Round:
    total_before = votes_counted(poll[0])
    frames_before = sum(await asyncio.gather(*(fleet.call("frames") for fleet in fleets)))
    client_before = sum(await asyncio.gather(*(fleet.call("cpu") for fleet in fleets)))
    cpu_before, began = parts_cpu(), time.monotonic()
    with HelloProbe(session) as hello:
        votes = await cast_votes(session, poll, tokens, rate)
        final = votes_counted(poll[0])
        if final != total_before + votes.accepted:
            print(f"counted {final - total_before} votes, {votes.accepted} answered 201", flush=True)
        settled = await asyncio.gather(*(fleet.call("settle", final, SETTLE_SECONDS) for fleet in fleets))
    seconds, cpu_after = time.monotonic() - began, parts_cpu()
    client_after = sum(await asyncio.gather(*(fleet.call("cpu") for fleet in fleets)))
    shown = [moment for answer in settled for moment in answer["shown_at"]]
    return Round(
        votes=votes,
        final_total=final,
        delays=[moment - votes.last_sent for moment in shown],
        behind=sum(answer["behind"] for answer in settled),
        frames=sum(answer["frames"] for answer in settled) - frames_before,
        seconds=seconds,
        cpu={part: cpu_after[part] - cpu_before[part] for part in cpu_before},
        client_cpu=client_after - client_before,
        hello=hello,
    )


async def open_sockets(
    fleets: list[FleetProcess], poll_id: int, count: int, rate: float, deflate: bool
) -> dict[str, Any]:
    """``count`` sockets shared among the fleets, opening together at ``rate`` a second overall."""
    shares = [count // len(fleets) + (n < count % len(fleets)) for n in range(len(fleets))]
    await asyncio.gather(*(fleet.call("poll", poll_id, deflate) for fleet in fleets))
    answers = await asyncio.gather(
        *(fleet.call("open", share, rate / len(fleets)) for fleet, share in zip(fleets, shares, strict=True))
    )
    outcomes: Counter[str] = Counter()
    for answer in answers:
        outcomes.update(answer["outcomes"])
    return {
        "outcomes": outcomes,
        "issued": max(answer["issued_seconds"] for answer in answers),
        "open_seconds": [seconds for answer in answers for seconds in answer["open_seconds"]],
    }


async def close_sockets(fleets: list[FleetProcess]) -> int:
    answers = await asyncio.gather(*(fleet.call("close") for fleet in fleets))
    await asyncio.sleep(2)  # nginx and the app let go of them
    return sum(answer["dropped"] for answer in answers)


@contextlib.contextmanager
def profiled(name: str, seconds: float, enabled: bool) -> Iterator[None]:
    """py-spy on the app process holding the most sockets, and perf (CPU clock, the whole machine:
    kernel and user time of every process), for ``seconds``, into var/profiles/."""
    if not enabled:
        yield
        return
    PROFILES.mkdir(parents=True, exist_ok=True)
    busiest = max(app_pids(), key=lambda pid: len(os.listdir(f"/proc/{pid}/fd")))
    py_spy = [
        str(Path(sys.executable).parent / "py-spy"),
        "record",
        "--format",
        "raw",
        "--rate",
        "250",
        "--nonblocking",
    ]
    py_spy += ["--pid", busiest]
    commands = [[*py_spy, "--duration", str(int(seconds)), "-o", str(PROFILES / f"{name}.folded")]]
    if shutil.which("perf"):
        perf = ["perf", "record", "-e", "cpu-clock", "-a", "-g", "-o", str(PROFILES / f"{name}.perf")]
        commands.append([*perf, "--", "sleep", str(seconds)])
    tools = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for command in commands]
    try:
        yield
    finally:
        for tool in tools:
            tool.wait(60)
        print(f"profiles: {PROFILES}/{name}.* (app process {busiest})", flush=True)


# --- the runs -------------------------------------------------------------------------------


@dataclass
class Size:
    sockets: int
    opened: dict[str, Any]
    app_kib: float
    nginx_kib: float
    kernel_kib: float
    app_kib_busy: float
    nginx_kib_busy: float
    rounds: list[Round]
    dropped: int
    nginx_spread: list[int]
    app_spread: list[int]
    load: str


def fd_counts(process_ids: list[str]) -> list[int]:
    counts = []
    for pid in process_ids:
        with contextlib.suppress(FileNotFoundError):
            counts.append(len(os.listdir(f"/proc/{pid}/fd")))
    return counts


async def burst(fleets: list[FleetProcess], count: int, deflate: bool) -> dict[str, Any]:
    poll = create_poll("Burst")
    async with aiohttp.ClientSession() as session:
        with HelloProbe(session) as hello:
            opened = await open_sockets(fleets, poll[0], count, 0, deflate)
    opened["hello"] = hello
    opened["dropped"] = await close_sockets(fleets)
    return opened


async def baseline(tokens: list[str], rate: float) -> dict[str, float]:
    """CPU per vote with no socket open: subtracted from the rounds' CPU."""
    poll = create_poll("Baseline")
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=128)) as session:
        before = parts_cpu()
        votes = await cast_votes(session, poll, tokens, rate)
        await asyncio.sleep(0.5)
        after = parts_cpu()
    return {part: (after[part] - before[part]) / max(1, votes.accepted) for part in before}


async def hold(fleets: list[FleetProcess], count: int, tokens: list[list[str]], args: argparse.Namespace) -> Size:
    poll = create_poll(f"Hall of {count}")
    apps, workers = app_pids(), nginx_worker_pids()
    app_before, nginx_before, kernel_before = rss_kib(apps), rss_kib(workers), kernel_kib()
    profiling = args.profile and count == max(args.sizes)
    cpu_before = parts_cpu()
    with profiled(f"hall-{count}-open", count / args.connect_rate, profiling):
        opened = await open_sockets(fleets, poll[0], count, args.connect_rate, args.deflate)
    cpu_after = parts_cpu()
    opened["cpu"] = {part: cpu_after[part] - cpu_before[part] for part in cpu_before}
    await asyncio.sleep(1)
    app_after, nginx_after, kernel_after = rss_kib(apps), rss_kib(workers), kernel_kib()
    spreads = fd_counts(workers), fd_counts(apps)
    rounds = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=128)) as session:
        for number, share in enumerate(tokens):
            with profiled(f"hall-{count}", args.vote_seconds + 1, profiling and number == 0):
                rounds.append(await vote_round(fleets, session, poll, share, args.vote_rate))
            await asyncio.sleep(1)
    busy_app, busy_nginx = rss_kib(apps), rss_kib(workers)
    held = max(1, opened["outcomes"]["open"])
    return Size(
        sockets=count,
        opened=opened,
        app_kib=(app_after - app_before) / held,
        nginx_kib=(nginx_after - nginx_before) / held,
        kernel_kib=(kernel_after - kernel_before) / held,
        app_kib_busy=(busy_app - app_before) / held,
        nginx_kib_busy=(busy_nginx - nginx_before) / held,
        rounds=rounds,
        dropped=await close_sockets(fleets),
        nginx_spread=spreads[0],
        app_spread=spreads[1],
        load=load_average(),
    )


# --- report ---------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def outcome_text(outcomes: Counter[str]) -> str:
    failed = {name: count for name, count in outcomes.items() if name != "open"}
    return f"{outcomes['open']:,} open" + (f", failed: {failed}" if failed else ", none failed")


def burst_report(count: int, result: dict[str, Any]) -> list[str]:
    opened = result["open_seconds"]
    return [
        f"- {count:,} sockets opened at once (all connects issued within {ms(result['issued'])}):"
        f" {outcome_text(result['outcomes'])}; upgrade to first results: median {ms(statistics.median(opened))},"
        f" p99 {ms(percentile(opened, 0.99))}, last {ms(max(opened))}"
        if opened
        else f"- {count:,} sockets opened at once: {outcome_text(result['outcomes'])}",
        f"- `/hello` meanwhile: {result['hello'].summary()}",
    ]


def size_rows(sizes: list[Size], per_vote: dict[str, float]) -> list[str]:
    rows = [
        "| sockets | opened | app KiB/socket | nginx KiB/socket | last vote -> socket: median | p99 | last"
        " | updates/socket/s | CPU µs per update (app + nginx + Redis) | client µs/update | dropped | `/hello` p99 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size in sizes:
        delays = [delay for one in size.rounds for delay in one.delays]
        behind = sum(one.behind for one in size.rounds)
        frames = sum(one.frames for one in size.rounds)
        seconds = sum(one.seconds for one in size.rounds)
        votes = sum(one.votes.accepted for one in size.rounds)
        cpu = sum(one.cpu[part] for one in size.rounds for part in ("app", "nginx", "Redis"))
        cpu -= votes * sum(per_vote[part] for part in ("app", "nginx", "Redis"))
        client = sum(one.client_cpu for one in size.rounds)
        hello = [latency for one in size.rounds for latency in one.hello.latencies]
        last = (ms(max(delays)) if delays else "none") + (f" ({behind:,} behind)" if behind else "")
        held = max(1, size.opened["outcomes"]["open"])
        rows.append(
            f"| {size.sockets:,} | {outcome_text(size.opened['outcomes'])} | {size.app_kib:.1f} | {size.nginx_kib:.1f}"
            f" | {ms(percentile(delays, 0.5))} | {ms(percentile(delays, 0.99))} | {last}"
            f" | {frames / held / seconds:.1f} | {cpu / max(1, frames) * 1e6:.1f}"
            f" | {client / max(1, frames) * 1e6:.1f}"
            f" | {size.dropped} | {ms(percentile(hello, 0.99)) if hello else 'none'} |"
        )
    return rows


def size_notes(sizes: list[Size]) -> list[str]:
    lines = []
    for size in sizes:
        statuses: Counter[str] = Counter()
        for one in size.rounds:
            statuses.update(one.votes.statuses)
        answered = [seconds for one in size.rounds for seconds in one.votes.answered_in]
        rate = size.sockets / size.opened["issued"] if size.opened["issued"] else 0
        held = max(1, size.opened["outcomes"]["open"])
        upgrade_cpu = ", ".join(
            f"{part} {seconds / held * 1e6:,.0f} µs" for part, seconds in size.opened["cpu"].items()
        )
        lines.append(
            f"- {size.sockets:,} sockets: opened at {rate:,.0f}/s"
            f" (upgrade to first results p99 {ms(percentile(size.opened['open_seconds'], 0.99))};"
            f" CPU per socket opened: {upgrade_cpu});"
            f" memory per socket after the votes: app {size.app_kib_busy:.1f} KiB, nginx {size.nginx_kib_busy:.1f} KiB;"
            f" kernel slab {size.kernel_kib:.1f} KiB/socket (all ends); votes {dict(statuses)}, answered p99"
            f" {ms(percentile(answered, 0.99))}; connections per nginx worker {size.nginx_spread}, per app process"
            f" {size.app_spread} (file descriptors); load average after: {size.load}"
        )
    return lines


def cpu_notes(sizes: list[Size], per_vote: dict[str, float]) -> list[str]:
    lines = [
        "- CPU per vote with no socket open (subtracted above): "
        + ", ".join(f"{part} {seconds * 1e6:,.0f} µs" for part, seconds in per_vote.items())
    ]
    for size in sizes:
        frames = sum(one.frames for one in size.rounds)
        parts = {part: sum(one.cpu[part] for one in size.rounds) for part in size.rounds[0].cpu}
        lines.append(
            f"- {size.sockets:,} sockets, CPU in the vote phases per delivered update before subtracting: "
            + ", ".join(f"{part} {seconds / max(1, frames) * 1e6:.1f} µs" for part, seconds in parts.items())
        )
    return lines


async def run(args: argparse.Namespace, fleets: list[FleetProcess]) -> str:
    voters = int(args.vote_rate * args.vote_seconds)
    drop_database()
    stack("down")
    stack("up")
    lines = [f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average before: {load_average()}.", ""]
    sizes: list[Size] = []
    try:
        tokens = create_voters(voters * args.rounds)
        if args.burst:
            lines += burst_report(args.burst, await burst(fleets, args.burst, args.deflate))
            print("\n".join(lines), flush=True)
        per_vote = await baseline(tokens[:voters], args.vote_rate) if args.sizes else {}
        for count in args.sizes:
            stack("down")
            stack("up")
            shares = [tokens[n * voters : (n + 1) * voters] for n in range(args.rounds)]
            sizes.append(await hold(fleets, count, shares, args))
            print("\n".join(size_rows(sizes[-1:], per_vote) + size_notes(sizes[-1:])), flush=True)
    finally:
        stack("down")
        drop_database()
    lines += ["", *size_rows(sizes, per_vote), "", *size_notes(sizes), *cpu_notes(sizes, per_vote)]
    lines.append(
        f"- each size: {args.rounds} rounds of {voters:,} votes at {args.vote_rate:,.0f}/s on the watched poll;"
        f" sockets opened at {args.connect_rate:,.0f}/s by {len(fleets)} client processes,"
        + (" offering permessage-deflate as browsers do" if args.deflate else " without permessage-deflate")
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=lambda text: [int(n) for n in text.split(",") if n], default=[1000, 5000, 20000]
    )
    parser.add_argument("--burst", type=int, default=2000, help="sockets opened at once first (0: none)")
    parser.add_argument("--connect-rate", type=float, default=2000, help="sockets opened a second for each size")
    parser.add_argument("--vote-rate", type=float, default=300, help="votes a second")
    parser.add_argument("--vote-seconds", type=float, default=4)
    parser.add_argument("--rounds", type=int, default=2, help="vote phases per size")
    parser.add_argument("--fleets", type=int, default=2, help="client processes holding the sockets")
    parser.add_argument("--profile", action="store_true", help="py-spy the busiest app process at the largest size")
    parser.add_argument(
        "--no-deflate",
        dest="deflate",
        action="store_false",
        help="do not offer permessage-deflate (browsers do; the server then compresses per socket)",
    )
    parser.add_argument("--no-docs", action="store_true", help="print only")
    args = parser.parse_args()
    # Forked before any event loop or thread exists in this process.
    fleets = [FleetProcess(PORT, SOURCES[n :: args.fleets]) for n in range(args.fleets)]
    try:
        report = asyncio.run(run(args, fleets))
    finally:
        for fleet in fleets:
            fleet.stop()
    print(report)
    if not args.no_docs:
        write_section(DOCS, "hall-sockets", report)


if __name__ == "__main__":
    main()
