"""Live results at scale: 1,000 open WebSockets per process, on two processes sharing MariaDB + Redis.

Reports each process's memory per open socket (RSS growth / sockets) and, over several votes
cast on process A, the time from sending the vote to the moment the last of all sockets (on A
and on B) has received the new total.

Needs MariaDB and Redis (VOTE_BENCH_MYSQL, default mysql://root@127.0.0.1:3306; a scratch
database is created and dropped). Usage: .venv/bin/python bench/live_sockets.py [sockets-per-process]
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pymysql
from common import wait_ready

ROOT = Path(__file__).resolve().parent.parent
PORTS = (9131, 9132)
VOTES = 7


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def api(session: aiohttp.ClientSession, path: str, body: dict[str, object], token: str = "") -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with session.post(f"http://127.0.0.1:{PORTS[0]}{path}", json=body, headers=headers) as response:
        assert response.status == 201, await response.text()
        return await response.json()


async def make_voter(session: aiohttp.ClientSession, n: int) -> str:
    account = {"name": f"b{n}", "email": f"b{n}@example.com", "phone": f"1550000{n:04d}", "password": "bench-pass-2026"}
    await api(session, "/api/v1/register", account)
    token = await api(
        session, "/api/v1/tokens", {"account": account["email"], "password": account["password"], "name": "b"}
    )
    return str(token["token"])


async def measure(servers: list[subprocess.Popen[bytes]], per_process: int) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        for port in PORTS:
            await wait_ready(session, f"http://127.0.0.1:{port}")
        tokens = [await make_voter(session, n) for n in range(VOTES + 1)]
        poll = await api(session, "/api/v1/questions", {"question_text": "Bench?", "choices": ["a", "b"]}, tokens[0])
        choice = poll["choices"][0]["id"]

        before = [rss_kib(server.pid) for server in servers]
        sockets = []
        for port in PORTS:
            for _ in range(per_process):
                ws = await session.ws_connect(f"http://127.0.0.1:{port}/questions/{poll['id']}/live")
                await ws.receive_json()
                sockets.append(ws)
        await asyncio.sleep(1)
        after = [rss_kib(server.pid) for server in servers]

        latencies = []
        for n in range(1, VOTES + 1):
            started = time.perf_counter()

            async def until_total(ws: aiohttp.ClientWebSocketResponse, total: int = n, since: float = started) -> float:
                while (await ws.receive_json())["total"] != total:
                    pass
                return time.perf_counter() - since

            waiting = [asyncio.create_task(until_total(ws)) for ws in sockets]
            await api(session, f"/api/v1/questions/{poll['id']}/votes", {"choice_ids": [choice]}, tokens[n])
            latencies.append(max(await asyncio.gather(*waiting)))
            await asyncio.sleep(0.3)
        for ws in sockets:
            await ws.close()

    for label, old, new in zip("AB", before, after, strict=True):
        print(
            f"process {label}: RSS {old / 1024:.1f} MiB -> {new / 1024:.1f} MiB with {per_process} sockets: "
            f"{(new - old) / per_process:.1f} KiB per socket"
        )
    print(
        f"vote on A -> last of {len(sockets)} sockets updated (n={VOTES}): "
        f"median {statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
    )


def main() -> None:
    per_process = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    server_url = os.environ.get("VOTE_BENCH_MYSQL", "mysql://root@127.0.0.1:3306")
    name = f"vote_bench_{secrets.token_hex(3)}"
    admin = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
    admin.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    env = {
        **os.environ,
        "VOTE_DATABASE_URL": f"{server_url}/{name}",
        "VOTE_REDIS_URL": "redis://127.0.0.1:6379/0",
        "VOTE_SECRET_KEY": "bench",
        "VOTE_LOG_LEVEL": "WARNING",
        "VOTE_REDIS_PREFIX": f"{name}:",
    }
    servers: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run([sys.executable, "main.py", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
        servers = [
            subprocess.Popen([sys.executable, "main.py", "--port", str(port)], cwd=ROOT, env=env) for port in PORTS
        ]
        asyncio.run(measure(servers, per_process))
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
        admin.cursor().execute(f"DROP DATABASE `{name}`")


if __name__ == "__main__":
    main()
