"""How long a login takes, and how responsive /healthz stays while 20 logins run at once.

Starts `python main.py serve` on the database and Redis named by VOTE_DATABASE_URL /
VOTE_REDIS_URL (default: a throw-away SQLite file), registers one account, then:
  1. times 20 logins one after another (POST /api/v1/tokens: the same Argon2id check as /login);
  2. fires 20 logins at once while polling /healthz every 5 ms, and reports its latency.
  3. compares a wrong password with an unknown account (they should take as long).
Usage: .venv/bin/python bench/login_latency.py
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from common import wait_ready

ROOT = Path(__file__).resolve().parent.parent
PORT = 9123
BASE = f"http://127.0.0.1:{PORT}"
ACCOUNT = {"name": "Bench", "email": "bench@example.com", "phone": "13512345678", "password": "bench-password-1"}
CREDENTIALS = {"account": ACCOUNT["email"], "password": ACCOUNT["password"], "name": "bench"}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


async def timed_login(session: aiohttp.ClientSession) -> float:
    started = time.perf_counter()
    async with session.post(f"{BASE}/api/v1/tokens", json=CREDENTIALS) as response:
        assert response.status == 201, await response.text()
    return time.perf_counter() - started


async def timed_failure(session: aiohttp.ClientSession, account: str) -> float:
    body = {"account": account, "password": "not-the-password", "name": "bench"}
    started = time.perf_counter()
    async with session.post(f"{BASE}/api/v1/tokens", json=body) as response:
        assert response.status == 400, await response.text()
    return time.perf_counter() - started


async def poll_healthz(session: aiohttp.ClientSession, stop: asyncio.Event) -> list[float]:
    latencies = []
    while not stop.is_set():
        started = time.perf_counter()
        async with session.get(f"{BASE}/healthz") as response:
            await response.read()
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.005)
    return latencies


async def measure() -> None:
    async with aiohttp.ClientSession() as session:
        await wait_ready(session, BASE)
        async with session.post(f"{BASE}/api/v1/register", json=ACCOUNT) as response:
            assert response.status in (201, 409), await response.text()
        sequential = [await timed_login(session) for _ in range(20)]
        # Five of each stays under the default throttle of ten failures per account + IP.
        wrong_password = [await timed_failure(session, ACCOUNT["email"]) for _ in range(5)]
        unknown = [await timed_failure(session, f"nobody{n}@example.com") for n in range(5)]

        stop = asyncio.Event()
        poller = asyncio.create_task(poll_healthz(session, stop))
        await asyncio.sleep(0.2)
        started = time.perf_counter()
        concurrent = await asyncio.gather(*(timed_login(session) for _ in range(20)))
        burst = time.perf_counter() - started
        stop.set()
        health = await poller

    busy = health[max(1, int(0.2 / 0.006)) :]  # drop the samples taken before the burst
    print(f"login, one at a time (n=20): median {ms(statistics.median(sequential))}, max {ms(max(sequential))}")
    print(
        f"failed login (n=5 each): wrong password median {ms(statistics.median(wrong_password))}, "
        f"unknown account median {ms(statistics.median(unknown))}"
    )
    print(f"20 logins at once: all done in {ms(burst)}, median each {ms(statistics.median(concurrent))}")
    print(
        f"/healthz during the burst (n={len(busy)}): median {ms(statistics.median(busy))}, "
        f"p99 {ms(statistics.quantiles(busy, n=100)[98])}, max {ms(max(busy))}"
    )


def main() -> None:
    env = dict(os.environ)
    scratch = tempfile.mkdtemp()
    env.setdefault("VOTE_DATABASE_URL", f"sqlite:///{scratch}/bench.sqlite3")
    env.setdefault("VOTE_SECRET_KEY", "bench")
    env["VOTE_LOG_LEVEL"] = "WARNING"
    server = subprocess.Popen([sys.executable, "main.py", "--port", str(PORT)], cwd=ROOT, env=env)
    try:
        asyncio.run(measure())
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
