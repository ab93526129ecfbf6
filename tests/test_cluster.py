"""The distributed engine under the app (deploy/cluster.py, `make cluster-up`), for real.

Redis behind Sentinel: killing the primary, the app's one client object reaches the promoted
replica without a restart, for commands, pub/sub, sessions and live results. MariaDB Galera
behind HAProxy: writes go to one node and are read on another; killing that node moves the
writes to the next; it rejoins; `down` leaves nothing running.

Each test runs its own processes on free ports in a directory of its own: the shared MariaDB and
Redis, and a cluster someone has up on the default ports, are never touched. Without the Debian
packages the tests skip (and fail when CI=true). The Galera test takes 1.5-2 minutes on the shared
2-core machine, so it runs only with VOTE_CLUSTER_TESTS=1 or CI=true.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pymysql
import pytest

from application import init
from application.keys import DB, REDIS
from models.redis_client import REDIS_UNAVAILABLE, open_redis
from tests.conftest import REQUIRE_SERVICES, make_settings, service_missing
from tests.factories import make_question
from tests.test_live import first_choice, vote, voter, wait_for_total
from tests.test_sessions import recall, remember

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "deploy"))  # scripts, not a package
import cluster

# Sentinels decide after 1 s without an answer and elect in about as much again; measured 2-4 s.
FAILOVER_WITHIN = 15.0


def require(*paths: str) -> None:
    missing = sorted({cluster.REQUIRED[path] for path in paths if not Path(path).exists()})
    if missing:
        service_missing(f"not installed: {' '.join(missing)} (make cluster-up installs them)")


async def seconds_until_true(check: Callable[[], Awaitable[bool]], within: float = FAILOVER_WITHIN) -> float:
    """Seconds until check() is true; "Redis unavailable" meanwhile counts as not yet."""
    started = time.monotonic()
    while True:
        try:
            if await check():
                return time.monotonic() - started
        except REDIS_UNAVAILABLE:
            pass
        assert time.monotonic() - started < within, f"not within {within} s"
        await asyncio.sleep(0.05)


@pytest.fixture
def sentinel_redis(tmp_path: Path) -> Iterator[cluster.RedisServers]:
    """A Redis primary, its replica and three Sentinels of this test's own."""
    require("/usr/bin/redis-server", "/usr/bin/redis-sentinel")
    servers = cluster.RedisServers(tmp_path / "redis", cluster.Ports.free())
    try:
        servers.up()
        yield servers
    finally:
        servers.down()
    assert servers.pids() == []


async def test_one_client_follows_the_promoted_primary(sentinel_redis: cluster.RedisServers, tmp_path: Path) -> None:
    settings = make_settings(
        {"VOTE_DATABASE_URL": f"sqlite:///{tmp_path}/vote.sqlite3", "VOTE_REDIS_URL": sentinel_redis.url}
    )
    client = open_redis(settings)
    try:
        await client.set("kept", b"before")
        assert await client.wait(1, 2000) == 1  # on the replica too
        listener = client.pubsub()
        await listener.subscribe("news")
        assert (await listener.get_message(timeout=1))["type"] == "subscribe"

        killed = sentinel_redis.kill_primary()
        took = await seconds_until_true(lambda: client.set("after", b"1"))
        assert sentinel_redis.primary() not in (None, killed)
        assert await client.get("kept") == b"before"
        print(f"SET works again {took:.1f} s after the primary was killed")

        # The subscription made before the failover hears the new primary's messages: the same
        # PubSub reconnects through the Sentinels and subscribes again by itself.
        async def heard() -> bool:
            await client.publish("news", b"hello")
            message = await listener.get_message(ignore_subscribe_messages=True, timeout=0.5)
            return message is not None and message["data"] == b"hello"

        await seconds_until_true(heard)
        async with client.pubsub() as fresh:
            await fresh.subscribe("news")
            await fresh.get_message(timeout=1)
            await client.publish("news", b"again")
            assert (await fresh.get_message(ignore_subscribe_messages=True, timeout=1))["data"] == b"again"
        await listener.aclose()
    finally:
        await client.aclose()


@pytest.fixture
async def instances_on_sentinel(
    clean_mysql: str, sentinel_redis: cluster.RedisServers, aiohttp_client: Any
) -> tuple[Any, Any]:
    settings = make_settings({"VOTE_DATABASE_URL": clean_mysql, "VOTE_REDIS_URL": sentinel_redis.url})
    app = init(settings)
    app.router.add_get("/_test/remember", remember)
    app.router.add_get("/_test/recall", recall)
    return await aiohttp_client(app), await aiohttp_client(init(settings))


async def test_sessions_and_live_results_survive_a_redis_failover(
    instances_on_sentinel: tuple[Any, Any], sentinel_redis: cluster.RedisServers
) -> None:
    a, b = instances_on_sentinel
    db = a.app[DB]
    qid = await make_question(db)
    choice = await first_choice(db, qid)
    await a.get("/_test/remember", params={"colour": "teal"})
    assert await a.app[REDIS].wait(1, 2000) == 1
    async with a.ws_connect(f"/questions/{qid}/live") as ws:
        await vote(b, qid, choice, await voter(db))
        assert await wait_for_total(ws, 1) < 2.0

        sentinel_redis.kill_primary()

        async def session_read() -> bool:
            response = await a.get("/_test/recall")
            if response.status == 503:  # while the Sentinels elect a new primary
                return False
            assert await response.text() == "teal"  # the session lives on in the promoted replica
            return True

        took = await seconds_until_true(session_read)
        print(f"a session is read again {took:.1f} s after the primary was killed")
        # Both processes publish and listen on the new primary without a restart.
        await vote(b, qid, choice, await voter(db))
        assert await wait_for_total(ws, 2, patience=FAILOVER_WITHIN) < FAILOVER_WITHIN


# --- Galera behind HAProxy, and the whole `make cluster-up` ---------------------------------


def connect(port: int, database: str | None = None) -> pymysql.Connection:
    return pymysql.connect(
        host="127.0.0.1", port=port, user="root", database=database, connect_timeout=2, read_timeout=5, autocommit=True
    )


def query(port: int, sql: str, database: str = cluster.SERVICE) -> list[tuple[Any, ...]]:
    with closing(connect(port, database)) as conn, conn.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def seconds_until(predicate: Callable[[], bool], within: float) -> float:
    started = time.monotonic()
    assert cluster.wait_until(predicate, within, 0.05), f"not within {within} s"
    return time.monotonic() - started


def written(port: int) -> bool:
    try:
        query(port, "INSERT INTO probe (note) VALUES ('after the writer died')")
        return True
    except pymysql.MySQLError:
        return False


def ours(grid: cluster.Cluster) -> list[str]:
    """Every process whose command line names the cluster's directory or one of its ports."""
    ports = grid.ports
    markers = [str(grid.dir), *(f"127.0.0.1:{port}" for port in (*ports.redis, *ports.sentinels))]
    markers += grid.haproxy.check_pairs
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and cluster.alive(int(entry.name)):
            line = cluster.command_line(int(entry.name))
            if any(marker in line for marker in markers) and "pytest" not in line:
                found.append(f"{entry.name}: {line}")
    return found


@pytest.fixture
def galera_cluster() -> Iterator[cluster.Cluster]:
    if not (REQUIRE_SERVICES or os.environ.get("VOTE_CLUSTER_TESTS") == "1"):
        pytest.skip("1.5-2 min and three mariadbd on a shared machine: VOTE_CLUSTER_TESTS=1 runs it (CI does)")
    require(*cluster.REQUIRED)
    if os.geteuid() != 0:
        service_missing("the Galera cluster runs mariadbd as user mysql: it must be started by root")
    directory = Path(tempfile.mkdtemp(prefix="vote-cluster-"))  # /tmp: reachable by user mysql
    grid = cluster.Cluster(directory, cluster.Ports.free())
    try:
        yield grid
    finally:
        grid.down()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.timeout(400)
def test_galera_cluster_up_failover_rejoin_down(galera_cluster: cluster.Cluster) -> None:
    grid, ports = galera_cluster, galera_cluster.ports
    started = time.monotonic()
    grid.up()
    print(f"cluster up from nothing in {time.monotonic() - started:.0f} s")
    app = f"http://127.0.0.1:{ports.app}"
    assert status(f"{app}/readyz") == 200  # migrated through HAProxy, Redis through the Sentinels
    assert status(f"{app}/") == 200

    # Written through HAProxy, which sends it to node1; read on node3 directly.
    query(ports.db, "CREATE TABLE probe (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(50))")
    query(ports.db, "INSERT INTO probe (note) VALUES ('through haproxy')")
    assert grid.haproxy.writer() == "node1"
    assert query(ports.nodes[2], "SELECT note FROM probe") == [("through haproxy",)]

    # A node that answers but is not synced takes no writes: desynced on purpose here.
    query(ports.nodes[0], "SET GLOBAL wsrep_desync = ON")
    seconds_until(lambda: grid.haproxy.writer() == "node2", within=10)
    query(ports.nodes[0], "SET GLOBAL wsrep_desync = OFF")
    seconds_until(lambda: grid.haproxy.writer() == "node1", within=10)

    # kill -9 the writer: HAProxy takes node2, and a write succeeds there within seconds.
    grid.node(1).signal(signal.SIGKILL)
    took = seconds_until(lambda: written(ports.db), within=20)
    print(f"a write through HAProxy succeeds {took:.1f} s after the writer was killed")
    assert grid.haproxy.writer() == "node2"
    took = seconds_until(lambda: status(f"{app}/readyz") == 200, within=20)
    print(f"the app is ready again {took:.1f} s later")

    # node1 rejoins, catches up with what it missed and takes the writes back.
    grid.galera.start_node(grid.node(1))
    seconds_until(lambda: grid.haproxy.writer() == "node1", within=20)
    assert query(ports.nodes[0], "SELECT COUNT(*) FROM probe")[0][0] >= 2

    # up again changes nothing; down leaves nothing running, up again finds the data.
    running = sorted(grid.pids())
    grid.up()
    assert sorted(grid.pids()) == running
    grid.down()
    assert ours(grid) == []
    grid.up(app=False)
    assert query(ports.db, "SELECT note FROM probe ORDER BY id LIMIT 1") == [("through haproxy",)]
    grid.down()
    assert ours(grid) == []
