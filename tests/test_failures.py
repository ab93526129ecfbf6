"""MariaDB or Redis down or frozen: bounded 503s, no traceback, and recovery without a restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from application import init
from application.cluster.poll_cache import LIFETIME_SECONDS
from application.keys import DB
from tests.conftest import make_settings
from tests.factories import make_question

# Tight timeouts keep the test quick; production defaults are in config/default.yaml.
FAST = {
    "VOTE_DB_CONNECT_TIMEOUT": "1",
    "VOTE_DB_ACQUIRE_TIMEOUT": "1",
    "VOTE_DB_QUERY_TIMEOUT": "1.5",
    "VOTE_REDIS_TIMEOUT": "1",
}
BOUND = 5.0  # seconds a request may take while a dependency hangs


async def timed_get(client: Any, path: str) -> tuple[int, float, str]:
    started = time.monotonic()
    response = await client.get(path)
    return response.status, time.monotonic() - started, await response.text()


async def wait_for_status(client: Any, path: str, status: int, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while (await client.get(path)).status != status:
        assert time.monotonic() < deadline, f"{path} never answered {status}"
        await asyncio.sleep(0.2)


@pytest.fixture
async def mysql_client(clean_mysql: str, redis_url: str, proxy: Callable[..., Any], aiohttp_client: Any) -> Any:
    """An app whose MariaDB and Redis connections both pass through freezable proxies."""
    db, cache = urlsplit(clean_mysql), urlsplit(redis_url)
    db_proxy = await proxy(db.hostname, db.port or 3306)
    redis_proxy = await proxy(cache.hostname, cache.port or 6379)
    settings = make_settings(
        {
            **FAST,
            "VOTE_DATABASE_URL": clean_mysql.replace(db.netloc, f"{db.username or 'root'}@127.0.0.1:{db_proxy.port}"),
            "VOTE_REDIS_URL": f"redis://127.0.0.1:{redis_proxy.port}{cache.path}",
        }
    )
    client = await aiohttp_client(init(settings))
    client.db_proxy, client.redis_proxy = db_proxy, redis_proxy
    return client


@pytest.mark.parametrize("fault", ["freeze", "cut"])
async def test_database_fault_gives_bounded_503_then_recovers(mysql_client: Any, fault: str) -> None:
    await make_question(mysql_client.app[DB], "Still here?")
    assert (await mysql_client.get("/")).status == 200

    db_proxy = mysql_client.db_proxy
    if fault == "freeze":
        db_proxy.freeze()
    else:
        await db_proxy.cut()
    # Pages read in the last LIFETIME_SECONDS may still come from the poll cache; after that
    # every request needs the database.
    await asyncio.sleep(LIFETIME_SECONDS)
    for path in ("/readyz", "/", "/questions/1/choice"):
        status, took, body = await timed_get(mysql_client, path)
        assert status == 503, path
        assert took < BOUND, f"{path} took {took:.1f}s"
        assert "Traceback" not in body
    assert (await mysql_client.get("/healthz")).status == 200  # the process itself is fine

    await db_proxy.restore()
    await wait_for_status(mysql_client, "/readyz", 200)
    assert "Still here?" in await (await mysql_client.get("/")).text()


@pytest.mark.parametrize("fault", ["freeze", "cut"])
async def test_redis_fault_makes_readyz_503_then_recovers(mysql_client: Any, fault: str) -> None:
    redis_proxy = mysql_client.redis_proxy
    assert (await mysql_client.get("/readyz")).status == 200
    if fault == "freeze":
        redis_proxy.freeze()
    else:
        await redis_proxy.cut()
    status, took, _ = await timed_get(mysql_client, "/readyz")
    assert status == 503
    assert took < BOUND
    # Pages that need no session keep working while Redis is away.
    assert (await mysql_client.get("/")).status == 200
    await redis_proxy.restore()
    await wait_for_status(mysql_client, "/readyz", 200)


async def test_api_paths_get_json_503(mysql_client: Any) -> None:
    await mysql_client.db_proxy.cut()
    response = await mysql_client.get("/questions/1/choice")
    assert response.status == 503
    assert response.headers["Retry-After"] == "5"
    assert (await response.json())["error_code"] == 20017
