"""The production stack for real: supervisord + 4 processes + nginx, under load and faults.

Brings the stack up once (deploy/stack.py, as `make stack-up` does) on a private port, database
and Redis prefix, then: kill -9 a worker, rolling restart, MariaDB frozen, Redis restarted, 40
voters. Every fault is undone in a finally block.
"""

from __future__ import annotations

import asyncio
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from application.cluster.poll_cache import LIFETIME_SECONDS
from tests.conftest import MYSQL_SERVER, REDIS_PREFIX, mysql_connect, service_missing
from tests.test_cli import free_port

ROOT = Path(__file__).resolve().parent.parent
REDIS_START = [
    "redis-server",
    "--daemonize",
    "yes",
    "--bind",
    "127.0.0.1",
    "--port",
    "6379",
    "--save",
    "",
    "--appendonly",
    "no",
]


class RunningStack:
    def __init__(self, directory: Path, port: int, env: dict[str, str]) -> None:
        self.directory = directory
        self.url = f"http://127.0.0.1:{port}"
        self.env = env

    def run(self, command: str) -> str:
        result = subprocess.run(
            [sys.executable, "deploy/stack.py", command],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def supervisorctl(self, *args: str) -> str:
        control = [str(Path(sys.executable).with_name("supervisorctl")), "-c", str(self.directory / "supervisord.conf")]
        return subprocess.run(
            [*control, *args],
            capture_output=True,
            text=True,
            env=self.env,
        ).stdout

    def worker_pids(self) -> dict[str, int]:
        output = self.supervisorctl("status")
        return {
            line.split()[0]: int(line.split()[3].rstrip(",")) for line in output.splitlines() if " RUNNING " in line
        }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, mysql_url: str) -> Iterator[RunningStack]:
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        service_missing("nginx is not installed (apt-get install nginx)")
    name = f"vote_stack_{secrets.token_hex(3)}"
    port = free_port()
    directory = tmp_path_factory.mktemp("stack")
    env = {
        **os.environ,
        "STACK_DIR": str(directory),
        "STACK_PORT": str(port),
        "VOTE_DATABASE_URL": f"{MYSQL_SERVER}/{name}",
        "VOTE_REDIS_URL": "redis://127.0.0.1:6379/0",
        "VOTE_REDIS_PREFIX": REDIS_PREFIX + "stack:",
        "VOTE_SECRET_KEY": "stack-secret",
        "VOTE_SHUTDOWN_TIMEOUT": "5",
        "VOTE_LOG_LEVEL": "WARNING",
    }
    running = RunningStack(directory, port, env)
    try:
        running.run("up")
        yield running
    finally:
        running.run("down")
        conn = mysql_connect()
        with conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()
        leftovers = subprocess.run(["pgrep", "-f", str(directory)], capture_output=True, text=True).stdout
        assert leftovers == "", f"processes left behind: {leftovers}"


async def load(url: str, seconds: float, concurrency: int = 8) -> Counter[str]:
    """GET ``url`` in a loop from ``concurrency`` clients; count answers by status (or error)."""
    outcomes: Counter[str] = Counter()
    deadline = time.monotonic() + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        while time.monotonic() < deadline:
            try:
                async with session.get(url) as response:
                    await response.read()
                    outcomes[str(response.status)] += 1
            except aiohttp.ClientError as exc:
                outcomes[type(exc).__name__] += 1

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
    return outcomes


async def wait_for(url: str, status: int, within: float) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        while True:
            try:
                async with session.get(url) as response:
                    if response.status == status:
                        return
            except aiohttp.ClientError:
                pass
            assert time.monotonic() < deadline, f"{url} never answered {status}"
            await asyncio.sleep(0.2)


async def test_pages_static_files_and_websocket_through_nginx(stack: RunningStack) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{stack.url}/") as response:
            assert response.status == 200
            assert response.headers["X-Frame-Options"] == "DENY"
            html = await response.text()
        css = html.split('<link rel="stylesheet" href="')[1].split('"')[0]
        async with session.get(stack.url + css, headers={"Accept-Encoding": "gzip"}) as response:
            assert response.status == 200
            assert response.headers["Server"].startswith("nginx")  # served from disk, not by the app
            assert "immutable" in response.headers["Cache-Control"]
            assert response.headers["Content-Encoding"] == "gzip"
            assert "--brand" in await response.text()
        async with session.get(f"{stack.url}/", headers={"Accept-Encoding": "gzip"}) as response:
            assert response.headers["Content-Encoding"] == "gzip"  # pages too, compressed by nginx
        async with session.post(
            f"{stack.url}/api/v1/register", data=b"x" * (2 * 1024 * 1024), headers={"Content-Type": "application/json"}
        ) as response:
            assert response.status == 413
        token = await api_user(session, stack.url, 0)
        poll = await post(
            session,
            f"{stack.url}/api/v1/questions",
            {"question_text": "Through nginx?", "choices": ["yes", "no"]},
            token,
        )
        async with session.ws_connect(f"{stack.url}/questions/{poll['id']}/live") as ws:
            assert (await ws.receive_json(timeout=2))["total"] == 0
            await post(
                session,
                f"{stack.url}/api/v1/questions/{poll['id']}/votes",
                {"choice_ids": [poll["choices"][0]["id"]]},
                token,
            )
            assert (await ws.receive_json(timeout=2))["total"] == 1


async def test_a_hall_opening_the_live_results_at_once_all_connect(stack: RunningStack) -> None:
    """2,000 phones open a poll's live results within a fraction of a second: each is upgraded and
    shows the results. With 128-deep accept queues nginx's connects overflowed (EAGAIN), it took
    every process out for 2 s, and ~600 of 2,000 opened (docs/performance.md)."""
    phones = 2000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, phones + 1000)), hard))
    opened: list[aiohttp.ClientWebSocketResponse] = []
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        token = await api_user(session, stack.url, 900)
        poll = await post(
            session, f"{stack.url}/api/v1/questions", {"question_text": "Scan now?", "choices": ["a", "b"]}, token
        )
        live = f"{stack.url}/questions/{poll['id']}/live"

        async def phone() -> str:
            try:
                ws = await session.ws_connect(live)
            except aiohttp.WSServerHandshakeError as exc:
                return f"HTTP {exc.status}"
            except aiohttp.ClientError as exc:
                return type(exc).__name__
            opened.append(ws)
            return "results" if (await ws.receive_json(timeout=30))["question_id"] == poll["id"] else "other"

        try:
            outcomes = Counter(await asyncio.gather(*(phone() for _ in range(phones))))
        finally:
            await asyncio.gather(*(ws.close() for ws in opened))
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert outcomes == Counter({"results": phones})


async def test_kill_9_a_worker_under_load(stack: RunningStack) -> None:
    before = stack.worker_pids()
    assert len(before) == 4
    victim = "vote:vote_1"
    loading = asyncio.create_task(load(f"{stack.url}/", seconds=4))
    await asyncio.sleep(1)
    os.kill(before[victim], signal.SIGKILL)
    outcomes = await loading
    assert set(outcomes) == {"200"}, outcomes  # nginx moved every GET to a live process
    deadline = time.monotonic() + 15
    while (after := stack.worker_pids()).get(victim) in (None, before[victim]):
        assert time.monotonic() < deadline, "supervisor did not restart the worker"
        await asyncio.sleep(0.2)
    assert after[victim] != before[victim]


async def test_rolling_restart_of_all_workers_under_load(stack: RunningStack) -> None:
    before = stack.worker_pids()
    loading = asyncio.create_task(load(f"{stack.url}/", seconds=2, concurrency=6))
    restart = asyncio.create_task(asyncio.to_thread(stack.run, "restart"))
    outcomes = Counter[str]()
    while not restart.done():
        outcomes += await load(f"{stack.url}/", seconds=1, concurrency=6)
    outcomes += await loading
    await restart
    assert set(outcomes) == {"200"}, outcomes
    after = stack.worker_pids()
    assert len(after) == 4 and not set(after.values()) & set(before.values())


async def test_mariadb_frozen_gives_bounded_503_then_recovers(stack: RunningStack) -> None:
    pid = int((await command("pgrep", "-xo", "mariadbd"))[1].split()[0])
    os.kill(pid, signal.SIGSTOP)
    try:
        await asyncio.sleep(LIFETIME_SECONDS)  # pages cached before the freeze expire first
        async with aiohttp.ClientSession() as session:
            for path in ("/readyz", "/", "/api/v1/questions"):
                started = time.monotonic()
                async with session.get(stack.url + path) as response:
                    assert response.status == 503, path
                    assert "Traceback" not in await response.text()
                assert time.monotonic() - started < 8, path
    finally:
        os.kill(pid, signal.SIGCONT)
    await wait_for(f"{stack.url}/readyz", 200, within=20)
    outcomes = await load(f"{stack.url}/", seconds=1)
    assert set(outcomes) == {"200"}, outcomes


async def test_redis_restart_no_500s_and_recovery_without_worker_restart(stack: RunningStack) -> None:
    before = stack.worker_pids()
    loading = asyncio.create_task(load(f"{stack.url}/readyz", seconds=4, concurrency=4))
    pages = asyncio.create_task(load(f"{stack.url}/", seconds=4, concurrency=4))
    await asyncio.sleep(0.5)
    await command("redis-cli", "-p", "6379", "shutdown", "nosave")
    try:
        await asyncio.sleep(1.5)
    finally:
        if (await command("redis-cli", "-p", "6379", "ping"))[0] != 0:
            assert (await command(*REDIS_START))[0] == 0
    outcomes = await loading + await pages
    assert set(outcomes) <= {"200", "503"}, outcomes
    await wait_for(f"{stack.url}/readyz", 200, within=15)
    assert stack.worker_pids() == before
    async with aiohttp.ClientSession() as session:  # sessions and throttling work again
        token = await api_user(session, stack.url, 1)
        async with session.get(f"{stack.url}/api/v1/tokens", headers=bearer(token)) as response:
            assert response.status == 200


async def test_forty_voters_through_nginx_are_counted_exactly(stack: RunningStack) -> None:
    async with aiohttp.ClientSession() as session:
        tokens = await asyncio.gather(*(api_user(session, stack.url, 100 + n) for n in range(40)))
        poll = await post(
            session, f"{stack.url}/api/v1/questions", {"question_text": "Forty?", "choices": ["a", "b"]}, tokens[0]
        )
        choice = poll["choices"][1]["id"]

        async def vote(token: str) -> int:
            async with session.post(
                f"{stack.url}/api/v1/questions/{poll['id']}/votes", json={"choice_ids": [choice]}, headers=bearer(token)
            ) as response:
                return response.status

        statuses = await asyncio.gather(*(vote(token) for token in tokens))
        assert statuses.count(201) == 40
        async with session.get(f"{stack.url}/api/v1/questions/{poll['id']}/results") as response:
            results = await response.json()
    assert results["total"] == 40 and results["choices"][1]["votes"] == 40


async def test_votes_go_to_two_processes_and_to_the_other_two_while_those_are_down(stack: RunningStack) -> None:
    """nginx sends votes to vote_0 and vote_1 only (larger batches), vote_2 and vote_3 being their backups."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        tokens = await asyncio.gather(*(api_user(session, stack.url, 200 + n) for n in range(16)))
        poll = await post(
            session, f"{stack.url}/api/v1/questions", {"question_text": "Who counts?", "choices": ["a", "b"]}, tokens[0]
        )

        async def vote(token: str) -> int:
            async with session.post(
                f"{stack.url}/api/v1/questions/{poll['id']}/votes",
                json={"choice_ids": [poll["choices"][0]["id"]]},
                headers=bearer(token),
            ) as response:
                return response.status

        others = [stack.worker_pids()[name] for name in ("vote:vote_2", "vote:vote_3")]
        for pid in others:
            os.kill(pid, signal.SIGSTOP)  # a vote sent to either would time out
        try:
            assert await asyncio.gather(*(vote(token) for token in tokens[:8])) == [201] * 8
        finally:
            for pid in others:
                os.kill(pid, signal.SIGCONT)

        stack.supervisorctl("stop", "vote:vote_0", "vote:vote_1")
        try:
            assert await asyncio.gather(*(vote(token) for token in tokens[8:])) == [201] * 8
        finally:
            stack.supervisorctl("start", "vote:vote_0", "vote:vote_1")
        async with session.get(f"{stack.url}/api/v1/questions/{poll['id']}/results") as response:
            assert (await response.json())["total"] == 16
    assert len(stack.worker_pids()) == 4


async def command(*args: str) -> tuple[int, str]:
    """Run a command without blocking the event loop (the load keeps going meanwhile)."""
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def post(session: aiohttp.ClientSession, url: str, body: dict[str, Any], token: str = "") -> Any:
    async with session.post(url, json=body, headers=bearer(token) if token else {}) as response:
        assert response.status == 201, await response.text()
        return await response.json()


async def api_user(session: aiohttp.ClientSession, base: str, n: int) -> str:
    account = {
        "name": f"stack{n}",
        "email": f"stack{n}-{secrets.token_hex(3)}@example.com",
        "phone": f"1880{secrets.randbelow(10**7):07d}",
        "password": "stack-pass-2026",
    }
    await post(session, f"{base}/api/v1/register", account)
    token = await post(
        session, f"{base}/api/v1/tokens", {"account": account["email"], "password": account["password"], "name": "t"}
    )
    return str(token["token"])
