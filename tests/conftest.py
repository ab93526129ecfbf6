"""Shared fixtures: settings per backend, a private MariaDB database per test session, real Redis.

Tests that need MariaDB or Redis skip with a reason when those are unreachable,
and fail instead when CI=true or VOTE_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pymysql
import pytest
import redis
from aiohttp.test_utils import TestClient

from application import init
from config import Settings, load_settings
from deploy.stack import Stack, nginx_binary, wait_gone
from models import migrations
from models.db import Database, open_database
from tests.proxy import TcpProxy

# Each test run has its own Redis prefix, so runs sharing one Redis never see each other's keys.
REDIS_PREFIX = f"vote-test-{secrets.token_hex(4)}:"
MYSQL_SERVER = os.environ.get("VOTE_TEST_MYSQL", "mysql://root@127.0.0.1:3306")
REDIS_TEST_URL = os.environ.get("VOTE_TEST_REDIS", "redis://127.0.0.1:6379/15")
REQUIRE_SERVICES = os.environ.get("CI") == "true" or os.environ.get("VOTE_REQUIRE_SERVICES") == "1"

# Child tables first, so rows can be deleted without breaking foreign keys.
TABLES = [
    "ballot_marks",
    "ballot_choice",
    "ballot",
    "invite",
    "secret_ballot",
    "api_token",
    "password_reset",
    "account_session",
    "choice",
    "question",
    "user",
    "wechat_message",
    "web_session",
]


def service_missing(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (required because CI=true or VOTE_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def mysql_connect(database: str | None = None) -> pymysql.Connection:
    parts = urlsplit(MYSQL_SERVER)
    return pymysql.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        database=database,
        connect_timeout=3,
        autocommit=True,
    )


@contextmanager
def mysql_database(prefix: str) -> Iterator[str]:
    """A new empty database on the test MariaDB (its URL), dropped afterwards."""
    try:
        conn = mysql_connect()
    except pymysql.err.OperationalError as exc:
        service_missing(f"MariaDB unreachable at {MYSQL_SERVER}: {exc}")
    name = f"{prefix}_{secrets.token_hex(4)}"
    with conn.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    try:
        yield f"{MYSQL_SERVER}/{name}"
    finally:
        with conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE `{name}`")
        conn.close()


@pytest.fixture(scope="session")
def mysql_url() -> Iterator[str]:
    """A migrated database of our own on the test MariaDB, dropped at the end."""
    with mysql_database("vote_test") as url:
        asyncio.run(_migrate(make_settings({"VOTE_DATABASE_URL": url, "VOTE_SECRET_KEY": "test"})))
        yield url


async def _migrate(settings: Settings) -> None:
    db = await open_database(settings)
    try:
        await migrations.migrate(db)
    finally:
        await db.close()


@pytest.fixture
def clean_mysql(mysql_url: str) -> str:
    conn = mysql_connect(urlsplit(mysql_url).path.lstrip("/"))
    with conn.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"DELETE FROM {table}")
    conn.close()
    return mysql_url


@pytest.fixture
def redis_url() -> str:
    """The test Redis, with this run's keys from earlier tests removed."""
    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
    try:
        for key in client.scan_iter(match=REDIS_PREFIX + "*", count=1000):
            client.delete(key)
    except redis.exceptions.ConnectionError as exc:
        service_missing(f"Redis unreachable at {REDIS_TEST_URL}: {exc}")
    finally:
        client.close()
    return REDIS_TEST_URL


def make_settings(env: dict[str, str]) -> Settings:
    """Settings through the real loader: the shipped YAML plus these VOTE_* overrides."""
    return load_settings(environ={"VOTE_SECRET_KEY": "test-secret", "VOTE_REDIS_PREFIX": REDIS_PREFIX, **env})


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    settings = make_settings({"VOTE_DATABASE_URL": f"sqlite:///{tmp_path}/vote.sqlite3"})
    # Migrated up front, so the app does not treat it as new and load the sample data.
    asyncio.run(_migrate(settings))
    return settings


@pytest.fixture
def mysql_settings(clean_mysql: str, redis_url: str) -> Settings:
    return make_settings({"VOTE_DATABASE_URL": clean_mysql, "VOTE_REDIS_URL": redis_url})


@pytest.fixture(params=["sqlite", "mysql"])
def settings(request: pytest.FixtureRequest) -> Settings:
    """Each test using this runs twice: embedded default, and MariaDB + Redis."""
    return request.getfixturevalue(f"{request.param}_settings")


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = await open_database(settings)
    yield database
    await database.close()


@pytest.fixture
async def client(settings: Settings, aiohttp_client: Callable[..., Any]) -> Any:
    return await aiohttp_client(init(settings))


@pytest.fixture
async def another_browser() -> AsyncIterator[Callable[[Any], Any]]:
    """Another browser on a test client's server: its own cookies, the same app."""
    opened: list[TestClient[Any, Any]] = []

    async def open_on(client: Any) -> TestClient[Any, Any]:
        other: TestClient[Any, Any] = TestClient(client.server)
        await other.start_server()  # the server runs already: this only opens the browser's session
        opened.append(other)
        return other

    yield open_on
    for other in opened:
        await other.session.close()


@pytest.fixture
async def proxy() -> AsyncIterator[Callable[[str, int], Any]]:
    """Start TCP proxies in front of real services, to freeze or cut them mid-test."""
    started: list[TcpProxy] = []

    async def start(host: str, port: int) -> TcpProxy:
        tcp_proxy = TcpProxy(host, port)
        await tcp_proxy.start()
        started.append(tcp_proxy)
        return tcp_proxy

    yield start
    for tcp_proxy in started:
        await tcp_proxy.stop()


@pytest.fixture
def private_redis() -> Iterator[Any]:
    """A redis-server of this test's own, so restarting it disturbs nobody else."""
    binary = shutil.which("redis-server")
    if binary is None:
        service_missing("redis-server not installed")
    port = free_port()

    class Server:
        url = f"redis://127.0.0.1:{port}/0"
        process: subprocess.Popen[bytes] | None = None

        def start(self) -> None:
            self.process = subprocess.Popen(
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    return
                except OSError:
                    time.sleep(0.05)
            raise RuntimeError("redis-server did not start")

        def stop(self) -> None:
            if self.process:
                self.process.kill()
                self.process.wait()

    server = Server()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def instances_on_private_redis(
    clean_mysql: str, private_redis: Any, aiohttp_client: Any
) -> AsyncIterator[tuple[Any, Any]]:
    settings = make_settings({"VOTE_DATABASE_URL": clean_mysql, "VOTE_REDIS_URL": private_redis.url})
    yield await aiohttp_client(init(settings)), await aiohttp_client(init(settings))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def nginx_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """nginx as deployed: deploy/nginx-site.conf.in rendered by deploy/stack.py, on a free port; no app yet."""
    nginx = nginx_binary()
    if not Path(nginx).exists():
        service_missing("nginx is not installed (Debian: apt-get install nginx)")
    monkeypatch.setenv("STACK_DIR", str(tmp_path))
    monkeypatch.setenv("STACK_PORT", str(free_port()))
    stack = Stack()
    stack.render()
    subprocess.run([nginx, "-c", str(stack.dir / "nginx.conf"), "-p", str(stack.dir)], check=True)
    nginx_pid = int((stack.run_dir / "nginx.pid").read_text())
    try:
        stack.wait_port()
        yield stack
    finally:
        os.kill(nginx_pid, signal.SIGQUIT)
        wait_gone(nginx_pid, 15)
