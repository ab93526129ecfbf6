"""The per-process poll cache never shows a change late: every change drops every process's copy."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from application import init, polls
from application.keys import DB
from application.poll_cache import PollCache
from config import Settings
from models import api_token
from tests.browser import register
from tests.factories import make_question, make_user


async def total_on(client: Any, question_id: int) -> int:
    response = await client.get(f"/api/v1/questions/{question_id}/results")
    return int((await response.json())["total"])


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
