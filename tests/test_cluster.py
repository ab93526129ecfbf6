"""The distributed engine under the app (deploy/cluster.py, `make cluster-up`), for real.

Redis behind Sentinel: killing the primary, the app's one client object reaches the promoted
replica without a restart, for commands, pub/sub, sessions and live results. MariaDB Galera
behind HAProxy: writes go to one node and are read on another; killing that node moves the
writes to the next; it rejoins; `down` leaves nothing running. Faults under votes, on one whole
cluster with the app: 40 voters (8 signed in with the form, their sessions in Redis, the others
with API tokens) vote through nginx while the writer is killed -9 and restarted,
frozen and thawed, and the Redis primary is killed; no 500, 503s only in the failover, every vote
answered 201 counted exactly once, a retried 503 gets 201 or 409, check-counts finds nothing. A
certification conflict between two nodes is retried.

Each test runs its own processes on free ports in a directory of its own: the shared MariaDB and
Redis, and a cluster someone has up on the default ports, are never touched. Without the Debian
packages the tests skip (and fail when CI=true). The Galera test takes 1.5-2 minutes on the shared
2-core machine and the fault tests ~2.5 (their cluster included), so they run only with
VOTE_CLUSTER_TESTS=1 or CI=true.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pymysql
import pytest
from yarl import URL

from application import init
from application.keys import DB, REDIS
from models import api_token, choice, user
from models.api_token import hash_token
from models.db import open_database, retry_conflicts
from models.passwords import hash_password
from models.redis_client import REDIS_UNAVAILABLE, open_redis
from tests.conftest import REQUIRE_SERVICES, make_settings, service_missing
from tests.factories import make_question, make_user
from tests.test_cli import get
from tests.test_live import first_choice, vote, voter, wait_for_total
from tests.test_metrics import Samples, parse, value
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


@contextmanager
def private_cluster(prefix: str) -> Iterator[cluster.Cluster]:
    """A whole cluster of this test's own on free ports, in /tmp (reachable by user mysql); it
    runs only when asked or on CI: minutes of three mariadbd on a shared machine."""
    if not (REQUIRE_SERVICES or os.environ.get("VOTE_CLUSTER_TESTS") == "1"):
        pytest.skip("minutes and three mariadbd on a shared machine: VOTE_CLUSTER_TESTS=1 runs it (CI does)")
    require(*cluster.REQUIRED)
    if os.geteuid() != 0:
        service_missing("the Galera cluster runs mariadbd as user mysql: it must be started by root")
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    grid = cluster.Cluster(directory, cluster.Ports.free())
    try:
        yield grid
    finally:
        grid.down()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def galera_cluster() -> Iterator[cluster.Cluster]:
    with private_cluster("vote-cluster-") as grid:
        yield grid


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


# --- faults under votes: the whole cluster with the app, 40 voters voting through nginx ------------------

VOTERS = 40
BROWSERS = 8  # of the voters, these vote with the form, signed in: their sessions live in Redis
PASSWORD = "fault-test-password"
POLLS = 160
PAUSE = 0.2  # between a voter's votes: ~150 votes/s in all, on the shared 2-core machine
FAILOVER_BOUND = 15.0  # seconds after a fault within which every 503 (and unanswered request) must fall
ANSWER_WITHIN = 15.0  # a request the app leaves unanswered this long counts as unanswered (status 0)


@pytest.fixture(scope="module")
def app_cluster() -> Iterator[cluster.Cluster]:
    """One cluster for the fault tests below (~40-60 s to bring up); each test starts healthy."""
    with private_cluster("vote-faults-") as grid:
        grid.up()
        yield grid


@pytest.fixture
def healthy(app_cluster: cluster.Cluster) -> cluster.Cluster:
    app_cluster.up()  # restarts what an earlier test killed, thaws what it froze; else changes nothing
    assert app_cluster.haproxy.writer() == "node1"
    return app_cluster


@dataclass
class Attempt:
    voter: int
    poll: int
    choice: int
    status: int  # 0: no answer within ANSWER_WITHIN
    at: float  # monotonic seconds when the answer came


@dataclass
class Election:
    """Polls and voters (API tokens) on the cluster, and every vote attempt with its answer."""

    polls: list[tuple[int, list[int]]]
    tokens: list[str]
    emails: list[str]
    browsers: list[tuple[str, str]] = field(default_factory=list)  # session cookie, form token
    attempts: list[Attempt] = field(default_factory=list)
    events: dict[str, float] = field(default_factory=dict)
    scraped: list[Samples] = field(default_factory=list)  # /metrics before and after

    def accepted(self) -> dict[tuple[int, int], int]:
        """(voter, poll) -> choice of every vote the voter was told was counted: 201, or 409 after
        a 503 (the vote whose answer was lost had been counted)."""
        return {(a.voter, a.poll): a.choice for a in self.attempts if a.status in (201, 409)}


async def make_election(grid: cluster.Cluster) -> Election:
    db = await open_database(make_settings({"VOTE_DATABASE_URL": grid.database_url}))
    try:
        owner = await make_user(db)
        polls = []
        for _ in range(POLLS):
            qid = await make_question(db, owner=owner)
            polls.append((qid, [row["id"] for row in await choice.for_question(db, qid)]))
        password_hash = await hash_password(PASSWORD)
        voters = [await make_user(db, password_hash=password_hash) for _ in range(VOTERS)]
        tokens = [(await api_token.create(db, voter, "faults"))[1] for voter in voters]
        emails = [(await user.get(db, voter) or {})["email"] for voter in voters]
    finally:
        await db.close()
    return Election(polls, tokens, emails)


async def sign_in(url: str, email: str) -> tuple[str, str]:
    """Log in with the form as a browser does: the session cookie and the form token to vote with."""
    jar = aiohttp.CookieJar(unsafe=True)  # unsafe: keeps cookies of an IP-address host
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        page = await (await browser.get(f"{url}/login")).text()
        form = {"account": email, "password": PASSWORD, "csrf_token": form_token(page)}
        async with browser.post(f"{url}/login", data=form, allow_redirects=False) as response:
            assert response.status == 302, await response.text()
        page = await (await browser.get(f"{url}/")).text()
        return jar.filter_cookies(URL(url))["vote_session"].value, form_token(page)


def form_token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


async def send_vote(session: aiohttp.ClientSession, url: str, election: Election, n: int, qid: int, picked: int) -> int:
    """The answer's status; a browser's vote counted (a redirect to the results) as 201."""
    if n >= BROWSERS:
        headers = {"Authorization": f"Bearer {election.tokens[n]}"}
        async with session.post(
            f"{url}/api/v1/questions/{qid}/votes", json={"choice_ids": [picked]}, headers=headers
        ) as response:
            return response.status
    cookie, token = election.browsers[n]
    async with session.post(
        f"{url}/questions/{qid}/vote",
        data={"csrf_token": token, "choice": str(picked)},
        headers={"Cookie": f"vote_session={cookie}"},
        allow_redirects=False,
    ) as response:
        if response.status == 302:
            # Counted: to the results; a session the promoted Redis lost would be sent to log in.
            assert response.headers["Location"].endswith(f"/questions/{qid}/results"), response.headers
            return 201
        return response.status


async def run_voter(session: aiohttp.ClientSession, url: str, election: Election, n: int, stop: asyncio.Event) -> None:
    """Votes on poll after poll; a vote answered 503 (or not at all) is sent again until 201 or 409."""
    rng = random.Random(n)
    for qid, choices in election.polls:
        if stop.is_set():
            return
        picked = rng.choice(choices)
        while True:
            try:
                status = await send_vote(session, url, election, n, qid, picked)
            except (TimeoutError, aiohttp.ClientError):
                status = 0
            election.attempts.append(Attempt(n, qid, picked, status, time.monotonic()))
            if status not in (0, 503):
                break
            await asyncio.sleep(PAUSE)
        await asyncio.sleep(PAUSE)


async def vote_through(grid: cluster.Cluster, faults: list[tuple[float, str, Callable[[], object]]]) -> Election:
    """40 voters vote through the app while each fault happens at its time (seconds after the
    start); they stop 6 s after the last fault's 503s are over, or 40 s after it at most."""
    election = await make_election(grid)
    stop = asyncio.Event()
    url = f"http://127.0.0.1:{grid.ports.app}"
    election.scraped.append(parse(get(f"{url}/metrics")))
    timeout = aiohttp.ClientTimeout(total=ANSWER_WITHIN)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=VOTERS)) as session:
        election.browsers = [await sign_in(url, email) for email in election.emails[:BROWSERS]]
        voters = [asyncio.create_task(run_voter(session, url, election, n, stop)) for n in range(VOTERS)]
        started = time.monotonic()
        for at, name, fault in faults:
            await asyncio.sleep(max(0.0, started + at - time.monotonic()))
            election.events[name] = time.monotonic()
            await asyncio.to_thread(fault)
        last_fault = time.monotonic()
        while time.monotonic() - last_fault < 40:
            await asyncio.sleep(0.5)
            failed = [a.at for a in election.attempts if a.status in (0, 503)]
            if time.monotonic() - max(failed, default=last_fault) > 6:
                break
        stop.set()
        await asyncio.gather(*voters)
    election.scraped.append(parse(get(f"{url}/metrics")))
    return election


def check_election(grid: cluster.Cluster, election: Election) -> None:
    """No 500, 503s only in the failover after a fault, every accepted vote counted exactly once,
    and check-counts finds nothing."""
    statuses = Counter(a.status for a in election.attempts)
    print(f"answers {dict(statuses)}; faults at {sorted(election.events)}")
    assert set(statuses) <= {201, 409, 503, 0}, statuses
    starts = sorted(election.events.values())
    for attempt in election.attempts:
        if attempt.status in (0, 503):
            since = [attempt.at - start for start in starts if start <= attempt.at]
            assert since and min(since) < FAILOVER_BOUND, f"a {attempt.status} outside a failover: {attempt}"
    ends = [*starts[1:], float("inf")]
    for (name, start), end in zip(sorted(election.events.items(), key=lambda item: item[1]), ends, strict=True):
        failed = [a.at - start for a in election.attempts if a.status in (0, 503) and start <= a.at < end]
        window = f"from +{min(failed):.1f} s to +{max(failed):.1f} s" if failed else "none"
        print(f"{name}: {len(failed)} answers 503 or none, {window}")

    # A 409 only ever answers a retry of a vote whose earlier answer was lost.
    retried = {(a.voter, a.poll) for a in election.attempts if a.status in (0, 503)}
    assert all((a.voter, a.poll) in retried for a in election.attempts if a.status == 409)
    accepted = election.accepted()
    assert sum(1 for a in election.attempts if a.status == 201) > VOTERS * 10  # the voting went on

    polls = tuple(qid for qid, _ in election.polls)
    holders = ",".join(["%s"] * len(polls))
    rows = query_args(
        grid.ports.db,
        "SELECT b.question_id, b.user_id, bc.choice_id FROM ballot b JOIN ballot_choice bc ON bc.ballot_id = b.id"
        f" WHERE b.question_id IN ({holders})",
        polls,
    )
    users = {user_id: n for n, user_id in enumerate(token_users(grid, election.tokens))}
    counted = Counter((users[user_id], qid) for qid, user_id, _ in rows)
    assert all(times == 1 for times in counted.values())  # never two ballots (the UNIQUE key) ...
    ballots = {(users[user_id], qid): choice_id for qid, user_id, choice_id in rows}
    lost = {key: picked for key, picked in accepted.items() if ballots.get(key) != picked}
    unasked = {key: picked for key, picked in ballots.items() if key not in accepted}
    if lost or unasked:
        for key in list(lost)[:3] + list(unasked)[:3]:
            print(key, [a for a in election.attempts if (a.voter, a.poll) == key], ballots.get(key))
    assert (lost, unasked) == ({}, {})  # each accepted vote counted, with its choice; nothing else
    votes = query_args(grid.ports.db, f"SELECT SUM(votes) FROM choice WHERE question_id IN ({holders})", polls)
    assert int(votes[0][0]) == len(accepted)

    # One scrape of nginx sums the four processes' metrics (whichever process answers it).
    before, after = election.scraped

    def delta(route: str, status: str) -> float:
        labels = {"route": route, "method": "POST", "status": status}
        return value(after, "vote_http_requests_total", **labels) - value(before, "vote_http_requests_total", **labels)

    by_form = sum(1 for a in election.attempts if a.status == 201 and a.voter < BROWSERS)
    assert (delta("api_votes", "201"), delta("question_vote", "302")) == (statuses[201] - by_form, by_form)
    counted = value(after, "vote_votes_counted_total") - value(before, "vote_votes_counted_total")
    assert statuses[201] <= counted <= len(accepted)  # a commit whose answer was lost is not seen

    env = {**os.environ, "VOTE_DATABASE_URL": grid.database_url, "VOTE_SECRET_KEY": "x"}
    result = subprocess.run(
        [sys.executable, "main.py", "check-counts"], cwd=cluster.ROOT, env=env, capture_output=True, text=True
    )
    states = {node.name: node.state().get("wsrep_local_state_comment") for node in grid.galera.nodes}
    assert (result.returncode, result.stdout) == (0, "every choice's votes match its ballots\n"), (
        result,
        grid.haproxy.servers(),
        states,
    )


def query_args(port: int, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    with closing(connect(port, cluster.SERVICE)) as conn, conn.cursor() as cursor:
        cursor.execute(sql, args)
        return list(cursor.fetchall())


def token_users(grid: cluster.Cluster, tokens: list[str]) -> list[int]:
    """Each voter's user id, in the order of their tokens."""
    sql = "SELECT user_id FROM api_token WHERE token_hash = %s"
    return [int(query_args(grid.ports.db, sql, (hash_token(token),))[0][0]) for token in tokens]


@pytest.mark.timeout(300)
async def test_kill_9_the_writer_while_40_vote_then_it_rejoins(healthy: cluster.Cluster) -> None:
    grid = healthy
    node1 = grid.node(1)

    def rejoin() -> None:
        grid.galera.start_node(node1)  # IST from the others ...
        seconds_until(lambda: grid.haproxy.writer() == "node1", within=20)  # ... then it takes the writes back

    election = await vote_through(
        grid, [(3, "kill -9 node1", lambda: node1.signal(signal.SIGKILL)), (15, "node1 restarted", rejoin)]
    )
    assert grid.haproxy.writer() == "node1"
    check_election(grid, election)


@pytest.mark.timeout(300)
async def test_sigstop_the_writer_while_40_vote_then_it_thaws(healthy: cluster.Cluster) -> None:
    grid = healthy
    node1 = grid.node(1)

    def thaw() -> None:
        node1.signal(signal.SIGCONT)
        node1.wait_synced()  # evicted meanwhile: it rejoins by itself (IST) ...
        seconds_until(lambda: grid.haproxy.writer() == "node1", within=20)  # ... then it takes the writes back

    election = await vote_through(
        grid, [(3, "SIGSTOP node1", lambda: node1.signal(signal.SIGSTOP)), (15, "SIGCONT node1", thaw)]
    )
    check_election(grid, election)


@pytest.mark.timeout(300)
async def test_kill_the_redis_primary_while_40_vote(healthy: cluster.Cluster) -> None:
    grid = healthy
    killed: list[int] = []
    election = await vote_through(
        grid, [(3, "kill -9 the Redis primary", lambda: killed.append(grid.redis.kill_primary()))]
    )
    assert grid.redis.primary() not in (None, *killed)
    check_election(grid, election)


async def test_a_certification_conflict_between_two_nodes_is_retried(healthy: cluster.Cluster) -> None:
    """Two nodes change the same row: the transaction that commits second fails certification
    (error 1213 at COMMIT) and ``retry_conflicts`` runs it again; both changes land."""
    grid = healthy
    on_node2 = await open_database(
        make_settings({"VOTE_DATABASE_URL": f"mysql://root@127.0.0.1:{grid.ports.nodes[1]}/{cluster.SERVICE}"})
    )
    qid = await make_question(on_node2)
    runs = 0

    async def add_one() -> None:
        nonlocal runs
        runs += 1
        async with on_node2.transaction() as tx:
            await tx.execute("UPDATE question SET max_choices = max_choices + 1 WHERE id = %s", (qid,))
            if runs == 1:  # node1 commits a change of the same row meanwhile
                query(grid.ports.nodes[0], f"UPDATE question SET max_choices = max_choices + 10 WHERE id = {qid}")

    try:
        before = query_args(grid.ports.db, "SELECT max_choices FROM question WHERE id = %s", (qid,))[0][0]
        await retry_conflicts(add_one)
    finally:
        await on_node2.close()
    assert runs == 2
    assert query_args(grid.ports.db, "SELECT max_choices FROM question WHERE id = %s", (qid,))[0][0] == before + 11
