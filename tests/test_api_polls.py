"""The polls API, and exact counts under concurrency on one and on two app instances."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from application import init
from application.keys import DB
from config import Settings
from models import api_token
from models.db import Database
from tests.factories import make_question, make_user


async def token_for(db: Database, **fields: Any) -> tuple[int, dict[str, str]]:
    user_id = await make_user(db, **fields)
    _, token = await api_token.create(db, user_id, "test")
    return user_id, {"Authorization": f"Bearer {token}"}


async def choice_ids(db: Database, question_id: int) -> list[int]:
    rows = await db.fetch_all("SELECT id FROM choice WHERE question_id = %s ORDER BY id", (question_id,))
    return [row["id"] for row in rows]


async def total_votes(db: Database, question_id: int) -> int:
    row = await db.fetch_one("SELECT SUM(votes) AS n FROM choice WHERE question_id = %s", (question_id,))
    return int(row["n"] or 0)


async def test_create_read_vote_results_close_delete(client: Any) -> None:
    db = client.app[DB]
    _, auth = await token_for(db)
    created = await client.post(
        "/api/v1/questions",
        json={"question_text": "API poll?", "choices": ["one", "two", "three"], "max_choices": 2},
        headers=auth,
    )
    assert created.status == 201
    poll = await created.json()
    assert poll["question_text"] == "API poll?" and poll["is_open"] is True and poll["max_choices"] == 2
    assert [c["choice_text"] for c in poll["choices"]] == ["one", "two", "three"]
    assert poll["my_vote"] is None and poll["total_votes"] == 0
    qid, ids = poll["id"], [c["id"] for c in poll["choices"]]

    listing = await (await client.get("/api/v1/questions?per_page=5")).json()
    assert listing["total"] == 1 and listing["page"] == 1 and listing["per_page"] == 5
    assert listing["items"][0]["id"] == qid

    voted = await client.post(f"/api/v1/questions/{qid}/votes", json={"choice_ids": ids[:2]}, headers=auth)
    assert voted.status == 201
    results = await voted.json()
    assert results["question_id"] == qid and results["total"] == 2
    assert [(c["votes"], c["percent"]) for c in results["choices"]] == [(1, 50.0), (1, 50.0), (0, 0.0)]
    again = await client.post(f"/api/v1/questions/{qid}/votes", json={"choice_ids": ids[2:]}, headers=auth)
    assert again.status == 409 and (await again.json())["error_code"] == 20009

    mine = await (await client.get(f"/api/v1/questions/{qid}", headers=auth)).json()
    assert mine["my_vote"] == ids[:2] and mine["choices"][0]["votes"] == 1
    assert (await (await client.get(f"/api/v1/questions/{qid}/results")).json())["total"] == 2

    closed = await client.post(f"/api/v1/questions/{qid}/close", headers=auth)
    assert closed.status == 200 and (await closed.json())["is_open"] is False
    _, other = await token_for(db)
    late = await client.post(f"/api/v1/questions/{qid}/votes", json={"choice_ids": ids[:1]}, headers=other)
    assert late.status == 403 and (await late.json())["error_code"] == 20010

    assert (await client.delete(f"/api/v1/questions/{qid}", headers=other)).status == 403
    assert (await client.delete(f"/api/v1/questions/{qid}", headers=auth)).status == 204
    assert (await client.get(f"/api/v1/questions/{qid}")).status == 404


async def test_api_vote_errors(client: Any) -> None:
    db = client.app[DB]
    qid = await make_question(db)
    other = await make_question(db, "Other?")
    _, auth = await token_for(db)
    url = f"/api/v1/questions/{qid}/votes"
    assert (await client.post(url, json={"choice_ids": [1]})).status == 401
    for body in (
        {},
        {"choice_ids": 3},
        {"choice_ids": []},
        {"choice_ids": ["x"]},
        {"choice_ids": [True]},
        {"choice_ids": (await choice_ids(db, other))[:1]},
        {"choice_ids": await choice_ids(db, qid)},
    ):
        response = await client.post(url, json=body, headers=auth)
        assert response.status == 400, body
        assert (await response.json())["error_code"] == 20005
    assert await total_votes(db, qid) == 0
    assert (await client.post("/api/v1/questions/999999/votes", json={"choice_ids": [1]}, headers=auth)).status == 404
    text = await client.post(url, data="choice_ids=1", headers={**auth, "Content-Type": "text/plain"})
    assert text.status == 415


async def test_api_create_errors_and_pagination_parameters(client: Any) -> None:
    _, auth = await token_for(client.app[DB])
    assert (await client.post("/api/v1/questions", json={"question_text": "x", "choices": ["a", "b"]})).status == 401
    bad = await client.post("/api/v1/questions", json={"question_text": "", "choices": "a,b"}, headers=auth)
    assert bad.status == 400
    assert set((await bad.json())["fields"]) == {"question_text", "choices"}  # the request's names
    qid = await make_question(client.app[DB])
    vote = await client.post(f"/api/v1/questions/{qid}/votes", json={"choice_ids": ["first"]}, headers=auth)
    assert vote.status == 400 and set((await vote.json())["fields"]) == {"choice_ids"}
    for query in ("page=0", "page=x", "per_page=0", "per_page=101"):
        assert (await client.get(f"/api/v1/questions?{query}")).status == 400, query


async def test_hidden_results_in_the_api(client: Any) -> None:
    db = client.app[DB]
    qid = await make_question(db, closes_in=timedelta(days=1))
    await db.execute("UPDATE question SET results_visibility = 'after_close' WHERE id = %s", (qid,))
    _, auth = await token_for(db)
    detail = await (await client.get(f"/api/v1/questions/{qid}", headers=auth)).json()
    assert detail["results_visible"] is False and "votes" not in detail["choices"][0]
    voted = await client.post(f"/api/v1/questions/{qid}/votes", json={"choice_ids": detail["choices"][0]["id"]})
    assert voted.status == 401
    voted = await client.post(
        f"/api/v1/questions/{qid}/votes", json={"choice_ids": [detail["choices"][0]["id"]]}, headers=auth
    )
    assert voted.status == 201
    assert await voted.json() == {"question_id": qid, "receipt": None, "results_hidden": True}
    hidden = await client.get(f"/api/v1/questions/{qid}/results", headers=auth)
    assert hidden.status == 403 and (await hidden.json())["error_code"] == 20011


async def test_openapi_is_served(client: Any) -> None:
    response = await client.get("/api/v1/openapi.yaml")
    assert response.status == 200
    assert "/api/v1/questions/{question_id}/votes" in await response.text()


# --- Exact counts under concurrency ------------------------------------------------


async def fire_votes(clients: list[Any], question_id: int, choice: int, headers: list[dict[str, str]]) -> list[int]:
    async def one(n: int) -> int:
        response = await clients[n % len(clients)].post(
            f"/api/v1/questions/{question_id}/votes", json={"choice_ids": [choice]}, headers=headers[n]
        )
        await response.read()
        return response.status

    return list(await asyncio.gather(*(one(n) for n in range(len(headers)))))


async def test_fifty_distinct_voters_in_parallel_add_exactly_fifty(client: Any) -> None:
    db = client.app[DB]
    qid = await make_question(db)
    choice = (await choice_ids(db, qid))[0]
    headers = [(await token_for(db))[1] for _ in range(50)]
    statuses = await fire_votes([client], qid, choice, headers)
    assert statuses.count(201) == 50, statuses
    assert await total_votes(db, qid) == 50
    assert len(await db.fetch_all("SELECT id FROM ballot WHERE question_id = %s", (qid,))) == 50


async def test_one_voter_posting_fifty_times_in_parallel_adds_exactly_one(client: Any) -> None:
    db = client.app[DB]
    qid = await make_question(db)
    choice = (await choice_ids(db, qid))[0]
    _, auth = await token_for(db)
    statuses = await fire_votes([client], qid, choice, [auth] * 50)
    assert statuses.count(201) == 1 and statuses.count(409) == 49, statuses
    assert await total_votes(db, qid) == 1


async def test_the_same_across_two_app_instances(settings: Settings, aiohttp_client: Any) -> None:
    a, b = await aiohttp_client(init(settings)), await aiohttp_client(init(settings))
    db = a.app[DB]
    distinct = await make_question(db, "Distinct?")
    same = await make_question(db, "Same voter?")
    headers = [(await token_for(db))[1] for _ in range(50)]
    statuses = await fire_votes([a, b], distinct, (await choice_ids(db, distinct))[0], headers)
    assert statuses.count(201) == 50, statuses
    assert await total_votes(db, distinct) == 50
    statuses = await fire_votes([a, b], same, (await choice_ids(db, same))[1], [headers[0]] * 50)
    assert statuses.count(201) == 1 and statuses.count(409) == 49, statuses
    assert await total_votes(db, same) == 1
