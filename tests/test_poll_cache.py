"""The per-process poll cache never shows a change late: every change drops every process's copy,
and a process listens to a poll's votes exactly while it holds that poll's counts."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from application import init
from application.cluster import changes as change_bus
from application.cluster.poll_cache import INDEX, PollCache
from application.keys import DB, POLL_CACHE, REDIS, VOTE_CHANNELS
from application.services import polls
from config import Settings
from models import api_token
from tests.browser import register
from tests.conftest import make_settings
from tests.factories import make_question, make_user


async def total_on(client: Any, question_id: int) -> int:
    response = await client.get(f"/api/v1/questions/{question_id}/results")
    return int((await response.json())["total"])


async def vote_on(client: Any, question_id: int) -> None:
    """A vote by a new voter, through the API."""
    db = client.app[DB]
    _, token = await api_token.create(db, await make_user(db), "t")
    choice = (await db.fetch_one("SELECT MIN(id) AS id FROM choice WHERE question_id = %s", (question_id,)))["id"]
    response = await client.post(
        f"/api/v1/questions/{question_id}/votes",
        json={"choice_ids": [choice]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status == 201, await response.text()


async def within(seconds: float, check: Any) -> None:
    """Wait until ``check()`` (a coroutine function) is true; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "not within the time"
        await asyncio.sleep(0.02)


async def listeners(client: Any, key: int) -> int:
    """How many processes listen to the votes of ``key`` (a poll id, or INDEX)."""
    [(_, count)] = await client.app[REDIS].pubsub_numsub(client.app[VOTE_CHANNELS].channel(key))
    return int(count)


@pytest.fixture
async def two_instances(
    mysql_settings: Settings, aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, Any]:
    """Two processes whose cached copies live 0.3 s, swept every 0.05 s."""
    monkeypatch.setattr(change_bus, "SWEEP_SECONDS", 0.05)
    a, b = await aiohttp_client(init(mysql_settings)), await aiohttp_client(init(mysql_settings))
    for client in (a, b):
        client.app[POLL_CACHE].lifetime = 0.3
    return a, b


async def test_a_vote_on_b_is_visible_on_a_without_waiting_for_expiry(
    mysql_settings: Settings, aiohttp_client: Any
) -> None:
    a, b = await aiohttp_client(init(mysql_settings)), await aiohttp_client(init(mysql_settings))
    db = a.app[DB]
    qid = await make_question(db)
    assert await total_on(a, qid) == 0  # A now holds a cached copy
    _, token = await api_token.create(db, await make_user(db), "t")
    choice = (await db.fetch_one("SELECT MIN(id) AS id FROM choice WHERE question_id = %s", (qid,)))["id"]
    response = await b.post(
        f"/api/v1/questions/{qid}/votes", json={"choice_ids": [choice]}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status == 201
    started = time.monotonic()
    totals = []
    while time.monotonic() - started < 0.5:  # well inside the 2 s expiry: only the announcement helps
        totals.append(await total_on(a, qid))
        if totals[-1] == 1:
            break
        await asyncio.sleep(0.01)
    assert totals[-1] == 1, totals


async def test_closing_and_deleting_reach_the_cache(settings: Settings, aiohttp_client: Any) -> None:
    client = await aiohttp_client(init(settings))
    qid = await make_question(client.app[DB])
    assert (await (await client.get(f"/api/v1/questions/{qid}")).json())["is_open"] is True
    await polls.close_poll(client.app, {"id": qid})
    assert (await (await client.get(f"/api/v1/questions/{qid}")).json())["is_open"] is False
    await polls.set_poll_deleted(client.app, qid, True)
    assert (await client.get(f"/api/v1/questions/{qid}")).status == 404


def test_a_read_that_started_before_a_change_is_not_stored() -> None:
    cache = PollCache()
    generation = cache.generation(7)  # a read begins...
    cache.drop(7)  # ...a vote lands meanwhile...
    cache.put(7, generation, {"id": 7, "total_votes": 0})  # ...the read's older answer arrives
    assert cache.get(7) is None
    cache.put(7, cache.generation(7), {"id": 7, "total_votes": 1})
    assert cache.get(7) == {"id": 7, "total_votes": 1}


def test_entries_expire() -> None:
    cache = PollCache(lifetime=0.0)
    cache.put(1, cache.generation(1), {"id": 1})
    assert cache.get(1) is None


async def test_anonymous_pages_are_shared_but_never_with_a_logged_in_user(client: Any) -> None:
    db = client.app[DB]
    qid = await make_question(db, "Shared?")
    first = await (await client.get(f"/questions/{qid}/results")).text()
    assert await (await client.get(f"/questions/{qid}/results")).text() == first  # the stored copy
    chinese = await (await client.get(f"/questions/{qid}/results", headers={"Accept-Language": "zh-CN"})).text()
    assert chinese != first  # one copy per language

    _, token = await api_token.create(db, await make_user(db), "t")
    choice = (await db.fetch_one("SELECT MIN(id) AS id FROM choice WHERE question_id = %s", (qid,)))["id"]
    await client.post(
        f"/api/v1/questions/{qid}/votes", json={"choice_ids": [choice]}, headers={"Authorization": f"Bearer {token}"}
    )
    after_vote = await (await client.get(f"/questions/{qid}/results")).text()
    assert after_vote != first and 'class="result-votes">1<' in after_vote.replace(" ", "")

    assert (await register(client)).status == 302
    mine = await (await client.get(f"/questions/{qid}/results")).text()
    assert "Voter 1" in mine and "Voter 1" not in after_vote


async def test_concurrent_misses_share_one_fetch_and_its_failure() -> None:
    cache = PollCache()
    calls = 0

    async def fetch() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return calls

    assert await asyncio.gather(*(cache.once("k", fetch) for _ in range(20))) == [1] * 20
    assert await cache.once("k", fetch) == 2  # the next miss fetches again

    async def broken() -> int:
        await asyncio.sleep(0.01)
        raise RuntimeError("database down")

    outcomes = await asyncio.gather(*(cache.once("k", broken) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes)
    assert cache.loading == {}


def test_a_poll_s_rules_outlive_a_vote_but_not_a_change() -> None:
    cache = PollCache()
    cache.put(3, cache.generation(3), {"id": 3, "closes_at": None})
    cache.drop(3, votes_only=True)
    assert cache.get(3) is None  # counts changed: pages read them again
    assert cache.rules_of(3) == {"id": 3, "closes_at": None}  # the vote path still knows the rules
    cache.drop(3)  # closed, edited or deleted
    assert cache.rules_of(3) is None


async def test_a_process_hears_a_poll_s_votes_only_while_it_holds_its_counts(two_instances: tuple[Any, Any]) -> None:
    a, b = two_instances
    qid = await make_question(a.app[DB])
    await vote_on(b, qid)
    await vote_on(b, qid)
    assert await listeners(a, qid) == 0  # taking votes keeps no counts: nobody hears them

    assert await total_on(a, qid) == 2  # A keeps the counts now...
    assert await listeners(a, qid) == 1  # ...so it listens to the poll's votes
    await vote_on(b, qid)
    await within(0.25, lambda: total_equals(a, qid, 3))  # well inside the copy's 0.3 s

    async def nobody_listens() -> bool:
        return await listeners(a, qid) == 0

    await within(2, nobody_listens)  # A's copy expired: it stopped listening
    assert await total_on(a, qid) == 3  # and listens again as it reads
    await vote_on(b, qid)
    await within(0.25, lambda: total_equals(a, qid, 4))


async def total_equals(client: Any, question_id: int, total: int) -> bool:
    return await total_on(client, question_id) == total


async def test_the_index_hears_votes_on_every_poll_while_kept(two_instances: tuple[Any, Any]) -> None:
    a, b = two_instances
    qid = await make_question(a.app[DB], "Indexed?")

    async def index_shows(count: str) -> bool:
        return count in await (await a.get("/")).text()

    assert await index_shows("0 votes")
    assert await listeners(a, INDEX) == 1 and await listeners(a, qid) == 0
    await vote_on(b, qid)
    await within(0.25, lambda: index_shows("1 vote"))


async def test_a_process_that_lost_redis_keeps_no_counts(
    clean_mysql: str, private_redis: Any, aiohttp_client: Any
) -> None:
    settings = make_settings({"VOTE_DATABASE_URL": clean_mysql, "VOTE_REDIS_URL": private_redis.url})
    a, b = await aiohttp_client(init(settings)), await aiohttp_client(init(settings))
    qid = await make_question(a.app[DB])
    assert await total_on(a, qid) == 0  # kept, and heard

    async def a_lost_redis() -> bool:
        return a.app[VOTE_CHANNELS].pubsub is None

    private_redis.stop()
    await within(5, a_lost_redis)
    await vote_on(b, qid)  # counted; its announcement is lost with Redis
    assert await total_on(a, qid) == 1  # A dropped its copy when it stopped hearing
    await vote_on(b, qid)
    assert await total_on(a, qid) == 2  # and keeps none while it cannot hear

    private_redis.start()

    async def a_hears_again() -> bool:
        return a.app[VOTE_CHANNELS].pubsub is not None

    await within(10, a_hears_again)
    assert await total_on(a, qid) == 2
    await vote_on(b, qid)
    await within(0.5, lambda: total_equals(a, qid, 3))


def test_counts_are_held_while_read_kept_or_shown_on_a_page() -> None:
    cache = PollCache(lifetime=60)
    assert not cache.holds_counts(5)
    with cache.reading(5):
        assert cache.holds_counts(5)
    cache.put(5, cache.generation(5), {"id": 5}, counts=False)  # the vote path keeps only rules
    assert not cache.holds_counts(5) and cache.rules_of(5) == {"id": 5}
    cache.put_page(6, cache.generation(6), "en", "<html>", cache.deadline())
    cache.put_listing(1, cache.generation(INDEX), (0, []))
    assert cache.holds_counts(6) and cache.holds_counts(INDEX)

    generation = cache.generation(6)
    cache.forget_counts(6)  # no longer heard: pages go, and a read under way is not kept
    cache.put_page(6, generation, "en", "<html>", cache.deadline())
    assert not cache.holds_counts(6)


def test_purge_forgets_what_expired() -> None:
    cache = PollCache(lifetime=0.0)
    cache.put(1, cache.generation(1), {"id": 1})
    cache.put_page(1, cache.generation(1), "en", "<html>", time.monotonic() - 1)
    cache.put_listing(1, cache.generation(INDEX), (0, []))
    cache.purge()
    assert (cache.polls, cache.rules, cache.pages, cache.listings) == ({}, {}, {}, {})


async def test_a_vote_refused_its_announcement_by_redis_is_still_answered(
    clean_mysql: str, private_redis: Any, aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings({"VOTE_DATABASE_URL": clean_mysql, "VOTE_REDIS_URL": private_redis.url})
    client = await aiohttp_client(init(settings))
    qid = await make_question(client.app[DB])
    await client.app[REDIS].execute_command("ACL", "SETUSER", "default", "-evalsha", "-eval")  # NOPERM
    await vote_on(client, qid)  # 201: the vote is counted, only its announcement is lost
    assert "not announced" in caplog.text
    assert await total_on(client, qid) == 1
