"""Ranked and score polls (SPEC section 12) end to end through the HTTP API, on SQLite and on
MariaDB + Redis: creating them, every way a ballot can be wrong, exact counts under concurrency,
and results from the stored ballots."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from typing import Any

from application.keys import DB
from application.services import polls, secret_ballots
from config import Settings
from models import counts
from models.db import Database
from tests.browser import csrf_from
from tests.factories import make_question
from tests.test_access import make_codes, owner_with_invite_poll
from tests.test_api_polls import token_for
from tests.test_polls import choice_ids, logged_in
from tests.test_wechat import connect

TENNESSEE = ("Memphis", "Nashville", "Chattanooga", "Knoxville")


async def create(
    client: Any, auth: dict[str, str], method: str, choices: tuple[str, ...] = TENNESSEE
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/questions",
        json={"question_text": f"A {method} poll?", "choices": list(choices), "method": method},
        headers=auth,
    )
    assert response.status == 201, await response.text()
    return await response.json()


async def vote(client: Any, qid: int, body: dict[str, Any], auth: dict[str, str]) -> Any:
    return await client.post(f"/api/v1/questions/{qid}/votes", json=body, headers=auth)


async def voters(db: Database, count: int) -> list[dict[str, str]]:
    return [(await token_for(db))[1] for _ in range(count)]


async def test_a_ranked_poll_counts_the_tennessee_election(client: Any) -> None:
    db = client.app[DB]
    _, owner = await token_for(db)
    poll = await create(client, owner, "ranked")
    assert poll["method"] == "ranked"
    memphis, nashville, chattanooga, knoxville = ids = [c["id"] for c in poll["choices"]]
    profile = [
        (42, [memphis, nashville, chattanooga, knoxville]),
        (26, [nashville, chattanooga, knoxville, memphis]),
        (15, [chattanooga, knoxville, nashville, memphis]),
        (17, [knoxville, chattanooga, nashville, memphis]),
    ]
    headers = await voters(db, 100)
    ballots = [ranking for count, ranking in profile for _ in range(count)]
    answers = await asyncio.gather(
        *(vote(client, poll["id"], {"ranking": r}, h) for r, h in zip(ballots, headers, strict=True))
    )
    assert [a.status for a in answers] == [201] * 100

    results = await (await client.get(f"/api/v1/questions/{poll['id']}/results")).json()
    assert results["method"] == "ranked" and results["total"] == 100
    assert results["winner"] == knoxville  # instant runoff
    assert results["condorcet_winner"] == nashville
    assert results["schulze"] == [[nashville], [chattanooga], [knoxville], [memphis]]
    assert results["borda"] == {str(memphis): 126, str(nashville): 194, str(chattanooga): 173, str(knoxville): 107}
    assert [r["eliminated"] for r in results["rounds"]] == [[chattanooga], [nashville], []]
    assert results["rounds"][-1]["tallies"] == {str(memphis): 42, str(knoxville): 58}
    # Every ballot ranks every city: each choice is marked by all 100.
    assert [(c["votes"], c["percent"]) for c in results["choices"]] == [(100, 100.0)] * 4

    mine = await (await client.get(f"/api/v1/questions/{poll['id']}", headers=headers[50])).json()
    assert mine["my_vote"] == ballots[50] and mine["total_votes"] == 100
    listed = await (await client.get("/api/v1/questions")).json()
    assert listed["items"][0]["total_votes"] == 100 and listed["items"][0]["method"] == "ranked"
    assert ids == [c["id"] for c in mine["choices"]]


async def test_partial_rankings_and_the_vote_answer(client: Any) -> None:
    db = client.app[DB]
    _, owner = await token_for(db)
    poll = await create(client, owner, "ranked", ("A", "B", "C"))
    a, b, c = (item["id"] for item in poll["choices"])
    first, second = await voters(db, 2)
    answer = await vote(client, poll["id"], {"ranking": [b]}, first)
    assert answer.status == 201
    results = await answer.json()
    assert results["total"] == 1 and results["winner"] == b
    results = await (await vote(client, poll["id"], {"ranking": [c, a]}, second)).json()
    assert results["total"] == 2 and [ch["votes"] for ch in results["choices"]] == [1, 1, 1]
    # Round 1: B 1, C 1, A 0: A goes (fewest); then B and C tie: C is listed later and goes.
    assert [r["eliminated"] for r in results["rounds"]] == [[a], [c], []]
    assert results["winner"] == b


async def test_a_score_poll_totals_averages_and_star_runoff(client: Any) -> None:
    db = client.app[DB]
    _, owner = await token_for(db)
    poll = await create(client, owner, "score", ("A", "B", "C"))
    a, b, c = (item["id"] for item in poll["choices"])
    ballots = [{a: 5, b: 4, c: 0}, {a: 5, b: 4}, {a: 0, b: 5, c: 1}, {b: 5}, {}]
    headers = await voters(db, 5)
    statuses = []
    for scores, auth in zip(ballots[:4], headers[:4], strict=True):
        statuses.append(
            (await vote(client, poll["id"], {"scores": {str(k): v for k, v in scores.items()}}, auth)).status
        )
    assert statuses == [201] * 4
    assert (await vote(client, poll["id"], {"scores": {}}, headers[4])).status == 400  # nothing scored

    results = await (await client.get(f"/api/v1/questions/{poll['id']}/results")).json()
    assert results["method"] == "score" and results["total"] == 4
    assert [(ch["id"], ch["total_score"], ch["average"]) for ch in results["choices"]] == [
        (a, 10, 2.5),
        (b, 18, 4.5),
        (c, 1, 0.25),
    ]
    # choice.votes: ballots giving it a star or more
    assert [ch["votes"] for ch in results["choices"]] == [2, 4, 1]
    assert results["runoff"] == {"finalists": [b, a], "preferred": {str(b): 2, str(a): 2}, "equal": 0}
    assert results["winner"] == b  # a tied runoff goes to the higher total


async def two_polls(client: Any) -> tuple[dict[str, Any], dict[str, Any], list[int], list[int]]:
    """A ranked and a score poll of choices A, B, C by a new owner, and their choice ids."""
    _, owner = await token_for(client.app[DB])
    ranked = await create(client, owner, "ranked", ("A", "B", "C"))
    score = await create(client, owner, "score", ("A", "B", "C"))
    return ranked, score, [c["id"] for c in ranked["choices"]], [c["id"] for c in score["choices"]]


async def test_every_wrong_ballot_is_a_clear_400(client: Any) -> None:
    db = client.app[DB]
    _, owner = await token_for(db)
    ranked, score, r_ids, s_ids = await two_polls(client)
    (auth,) = await voters(db, 1)
    wrong = [
        (ranked, {"choice_ids": r_ids[:1]}, "ranking"),
        (ranked, {"ranking": r_ids[0]}, "ranking"),
        (ranked, {"ranking": []}, None),
        (ranked, {"ranking": [r_ids[0], r_ids[0]]}, None),
        (ranked, {"ranking": [r_ids[0], s_ids[0]]}, None),
        (ranked, {"ranking": ["x"]}, "ranking"),
        (score, {"ranking": s_ids}, "scores"),
        (score, {"scores": [5, 4]}, "scores"),
        (score, {"scores": {str(s_ids[0]): 6}}, None),
        (score, {"scores": {str(s_ids[0]): -1}}, None),
        (score, {"scores": {str(s_ids[0]): 2.5}}, "scores"),
        (score, {"scores": {str(s_ids[0]): True}}, "scores"),
        (score, {"scores": {"abc": 3}}, "scores"),
        (score, {"scores": {str(r_ids[0]): 3}}, None),
        # Two kinds of ballot in one: which one was meant is unknown, so neither is counted.
        (ranked, {"ranking": r_ids, "choice_ids": r_ids[:1]}, "choice_ids"),
        (score, {"scores": {str(s_ids[0]): 3}, "ranking": s_ids}, "ranking"),
        (score, {"scores": {str(s_ids[0]): 3}, "choice_ids": s_ids[:1]}, "choice_ids"),
    ]
    for poll, body, field in wrong:
        answer = await vote(client, poll["id"], body, auth)
        error = await answer.json()
        assert answer.status == 400, (body, error)
        assert error["error_msg"], body
        if field:
            assert field in error.get("fields", {}), (body, error)
    for poll in (ranked, score):
        assert (await (await client.get(f"/api/v1/questions/{poll['id']}/results")).json())["total"] == 0
    bad_method = await client.post(
        "/api/v1/questions", json={"question_text": "?", "choices": ["a", "b"], "method": "approval"}, headers=owner
    )
    assert bad_method.status == 400 and "method" in (await bad_method.json())["fields"]


async def test_a_choice_scored_twice_is_refused_in_terms_of_stars_not_ranks(client: Any) -> None:
    ranked, score, r_ids, s_ids = await two_polls(client)
    (auth,) = await voters(client.app[DB], 1)
    twice = await vote(client, score["id"], {"scores": {str(s_ids[0]): 1, f"0{s_ids[0]}": 2}}, auth)
    error = await twice.json()
    assert twice.status == 400 and error["error_code"] == 20005, error
    assert error["error_msg"] == "Each choice may be given stars only once."
    # A ranking's own refusal still talks about ranks.
    ranked_twice = await (await vote(client, ranked["id"], {"ranking": [r_ids[0], r_ids[0]]}, auth)).json()
    assert ranked_twice["error_msg"] == "Each rank may be used only once, and each choice ranked only once."


async def test_one_ballot_per_voter_however_many_race(client: Any) -> None:
    db = client.app[DB]
    ranked, score, r_ids, score_ids = await two_polls(client)
    s_ids = [str(choice_id) for choice_id in score_ids]
    headers = await voters(db, 30)
    same = headers[0]
    races = [vote(client, ranked["id"], {"ranking": r_ids[::-1]}, same) for _ in range(20)]
    races += [vote(client, ranked["id"], {"ranking": r_ids[:2]}, h) for h in headers[1:]]
    races += [vote(client, score["id"], {"scores": dict(zip(s_ids, (5, 3, 1), strict=True))}, h) for h in headers[1:]]
    races += [vote(client, score["id"], {"scores": {s_ids[0]: 1}}, same) for _ in range(20)]
    statuses = [answer.status for answer in await asyncio.gather(*races)]
    assert statuses.count(201) == 1 + 29 + 29 + 1 and statuses.count(409) == 19 + 19, statuses
    r = await (await client.get(f"/api/v1/questions/{ranked['id']}/results")).json()
    assert r["total"] == 30 and r["rounds"][0]["tallies"] == {str(r_ids[0]): 29, str(r_ids[1]): 0, str(r_ids[2]): 1}
    s = await (await client.get(f"/api/v1/questions/{score['id']}/results")).json()
    assert s["total"] == 30 and [c["total_score"] for c in s["choices"]] == [146, 87, 29]
    rows = await db.fetch_all(
        "SELECT COUNT(*) AS n FROM ballot WHERE question_id IN (%s, %s)", (ranked["id"], score["id"])
    )
    assert rows[0]["n"] == 60


# --- the pages: creating, voting by form, results, CSV -------------------------------------


async def form_vote(client: Any, qid: int, fields: dict[str, str]) -> Any:
    token = csrf_from(await (await client.get(f"/questions/{qid}")).text())
    return await client.post(f"/questions/{qid}/vote", data={"csrf_token": token, **fields}, allow_redirects=False)


async def test_the_form_creates_a_ranked_poll_and_ranks_by_numbered_selects(client: Any) -> None:
    await logged_in(client, 1)
    form = await (await client.get("/questions/new")).text()
    assert 'name="method"' in form and "1. pizza, 2. noodles" in form  # the explanation's example
    token = csrf_from(form)
    fields = [("csrf_token", token), ("question_text", "Lunch?"), ("method", "ranked")]
    fields += [("choice", text) for text in ("Pizza", "Noodles", "Salad")]
    created = await client.post("/questions/new", data=fields, allow_redirects=False)
    assert created.status == 302, await created.text()
    qid = int(created.headers["Location"].rsplit("/", 1)[1])
    pizza, noodles, salad = await choice_ids(client, qid)

    page = await (await client.get(f"/questions/{qid}")).text()
    assert f'name="rank_{pizza}"' in page and "js/ranking.js" in page and "ranked choices" in page
    refused = await form_vote(client, qid, {f"rank_{pizza}": "1", f"rank_{noodles}": "1"})
    assert refused.status == 400
    text = await refused.text()
    assert "Each rank may be used only once" in text
    assert re.search(rf'name="rank_{noodles}".*?<option value="1" selected>', text, re.S)  # kept as entered
    assert (await form_vote(client, qid, {f"rank_{pizza}": "9"})).status == 400
    assert (await form_vote(client, qid, {f"rank_{pizza}": "x"})).status == 400
    assert (await form_vote(client, qid, {f"rank_{pizza}": "", f"rank_{noodles}": ""})).status == 400  # none ranked

    counted = await form_vote(client, qid, {f"rank_{salad}": "1", f"rank_{pizza}": "2", f"rank_{noodles}": ""})
    assert counted.status == 302 and counted.headers["Location"].endswith(f"/questions/{qid}/results")
    results = await (await client.get(f"/api/v1/questions/{qid}/results")).json()
    assert results["rounds"][0]["tallies"] == {str(pizza): 0, str(noodles): 0, str(salad): 1}
    mine = await (await client.get(f"/questions/{qid}")).text()
    assert re.search(r"Salad.*Pizza", mine.split("Your ranking:")[1], re.S)

    page = await (await client.get(f"/questions/{qid}/results")).text()
    assert "Round 1" in page and "Instant-runoff winner" in page and "Head to head" in page
    assert 'class="round-bar"' in page and "<style" not in page and " style=" not in page
    table = list(csv.reader(io.StringIO(await (await client.get(f"/questions/{qid}/results.csv")).text())))
    assert table[0] == ["choice", "votes", "percent", "borda", "round_1"]
    assert table[3] == ["Salad", "1", "100.0", "2", "1"]


async def test_score_ballots_by_star_radios(client: Any) -> None:
    me = await logged_in(client, 1)
    qid = await make_question(client.app[DB], "Films?", ("Alien", "Brazil", "Cube"), owner=me, method="score")
    alien, brazil, cube = await choice_ids(client, qid)
    page = await (await client.get(f"/questions/{qid}")).text()
    assert page.count(f'name="score_{alien}"') == 6  # 0..5 stars
    assert (await form_vote(client, qid, {f"score_{alien}": "6"})).status == 400
    assert (await form_vote(client, qid, {})).status == 400
    assert (await form_vote(client, qid, {f"score_{alien}": "5", f"score_{cube}": "2"})).status == 302
    mine = await (await client.get(f"/questions/{qid}")).text()
    assert "You gave it 5 stars" in mine and "You gave it 2 stars" in mine
    results = await (await client.get(f"/api/v1/questions/{qid}/results")).json()
    assert [c["total_score"] for c in results["choices"]] == [5, 0, 2] and results["winner"] == alien
    page = await (await client.get(f"/questions/{qid}/results")).text()
    assert "STAR winner" in page and "5.00 stars on average" in page
    table = list(csv.reader(io.StringIO(await (await client.get(f"/questions/{qid}/results.csv")).text())))
    assert table[0] == ["choice", "votes", "percent", "total_score", "average"]
    assert table[1:] == [
        ["Alien", "1", "100.0", "5", "5.0"],
        ["Brazil", "0", "0.0", "0", "0.0"],
        ["Cube", "1", "100.0", "2", "2.0"],
    ]
    assert brazil


async def test_wechat_ranks_and_scores_by_numbers(settings: Settings, aiohttp_client: Any) -> None:
    platform = await connect(aiohttp_client, settings, safe=False)
    db = platform.client.app[DB]
    ranked = await make_question(db, "Which city?", ("A", "B", "C"), method="ranked")
    score = await make_question(db, "Which film?", ("X", "Y", "Z"), method="score")
    assert "favourite first" in await platform.say(f"{ranked}")
    assert "Thanks" in await platform.say(f"{ranked} 3 1")
    a, b, c = (
        row["id"] for row in await db.fetch_all("SELECT id FROM choice WHERE question_id = %s ORDER BY id", (ranked,))
    )
    results = await (await platform.client.get(f"/api/v1/questions/{ranked}/results")).json()
    assert results["rounds"][0]["tallies"] == {str(a): 0, str(b): 0, str(c): 1}
    assert "0 to 5 stars" in await platform.say(f"{score} 5 1")  # one number per choice
    assert "Thanks" in await platform.say(f"{score} 5 0 3")
    results = await (await platform.client.get(f"/api/v1/questions/{score}/results")).json()
    assert [ch["total_score"] for ch in results["choices"]] == [5, 0, 3]
    assert "already voted" in await platform.say(f"{score} 1 1 1")
    assert "STAR winner: X" in await platform.say(f"result {score}")
    assert "5.00 stars on average" in await platform.say(f"result {score}")
    assert "Instant-runoff winner: C" in await platform.say(f"result {ranked}")


async def test_the_grouping_key_agrees_with_the_ballot_rows(client: Any) -> None:
    """ballot_marks (what the tally groups by) says what the ballot_choice rows say, ballot by ballot."""
    db = client.app[DB]
    ranked, score, r, score_ids = await two_polls(client)
    s = [str(choice_id) for choice_id in score_ids]
    headers = await voters(db, 6)
    for n, auth in enumerate(headers):
        assert (
            await vote(client, ranked["id"], {"ranking": (r[n % 3 :] + r[: n % 3])[: 1 + n % 3]}, auth)
        ).status == 201
        assert (await vote(client, score["id"], {"scores": {s[n % 3]: n % 6, s[(n + 1) % 3]: 5}}, auth)).status == 201
    rows = await db.fetch_all(
        "SELECT b.id, m.marks, bc.choice_id, COALESCE(bc.place, bc.score) AS mark FROM ballot b"
        " JOIN ballot_marks m ON m.ballot_id = b.id LEFT JOIN ballot_choice bc ON bc.ballot_id = b.id"
        " WHERE b.question_id IN (%s, %s) ORDER BY b.id, bc.choice_id",
        (ranked["id"], score["id"]),
    )
    by_ballot: dict[int, tuple[str, list[str]]] = {}
    for row in rows:
        _, marks = by_ballot.setdefault(row["id"], (row["marks"], []))
        if row["choice_id"] is not None:
            marks.append(f"{row['choice_id']}:{row['mark']}")
    assert len(by_ballot) == 12
    assert all(key == ",".join(marks) for key, marks in by_ballot.values())


# --- with secret ballots and every kind of voter (SPEC section 11) -----------------------


async def test_secret_ranked_and_score_polls_seal_the_ballot_and_count_it(client: Any, settings: Settings) -> None:
    db = client.app[DB]
    owner, owner_auth = await token_for(db)
    ranked = await make_question(db, "Rank?", ("A", "B", "C"), owner=owner, method="ranked", secret=True)
    score = await make_question(db, "Stars?", ("X", "Y"), owner=owner, method="score", secret=True)
    a, b, c = await choice_ids(client, ranked)
    x, y = await choice_ids(client, score)
    receipts = []
    for ranking, auth in zip(([c, a], [c, b, a], [b]), await voters(db, 3), strict=True):
        answer = await vote(client, ranked, {"ranking": ranking}, auth)
        body = await answer.json()
        assert answer.status == 201 and set(body) == {"question_id", "receipt"}, body
        receipts.append(body["receipt"])
        scored = await vote(client, score, {"scores": {str(x): len(ranking), str(y): 0}}, auth)
        assert scored.status == 201
    # Nothing links a voter to a ranking: no ballot_choice rows, no grouping keys.
    linked = await db.fetch_one(
        "SELECT (SELECT COUNT(*) FROM ballot_choice bc JOIN ballot b ON b.id = bc.ballot_id"
        " WHERE b.question_id IN (%s, %s)) AS rows_, (SELECT COUNT(*) FROM ballot_marks"
        " WHERE question_id IN (%s, %s)) AS keys_",
        (ranked, score, ranked, score),
    )
    assert linked is not None and (linked["rows_"], linked["keys_"]) == (0, 0)

    results = await (await client.get(f"/api/v1/questions/{ranked}/results", headers=owner_auth)).json()
    assert results["total"] == 3 and results["rounds"][0]["tallies"] == {str(a): 0, str(b): 1, str(c): 2}
    assert results["winner"] == c and [ch["votes"] for ch in results["choices"]] == [2, 2, 2]
    stars = await (await client.get(f"/api/v1/questions/{score}/results", headers=owner_auth)).json()
    assert [ch["total_score"] for ch in stars["choices"]] == [6, 0] and stars["winner"] == x

    shown = await client.get(f"/questions/{ranked}/receipt", params={"code": receipts[0]})
    assert shown.status == 200 and re.search(r"<ol[^>]*>\s*<li[^>]*>C</li><li[^>]*>A</li>", await shown.text())
    assert (await client.get(f"/questions/{ranked}/ballots.csv")).status == 409  # published after close only
    for poll in (ranked, score):
        await polls.close_poll(client.app, {"id": poll})
    published = await (await client.get(f"/api/v1/questions/{ranked}/ballots")).json()
    assert sorted(item["ranking"] for item in published["ballots"]) == sorted([[c, a], [c, b, a], [b]])
    published = await (await client.get(f"/api/v1/questions/{score}/ballots")).json()
    assert sorted(item["scores"][str(x)] for item in published["ballots"]) == [1, 2, 3]
    assert all(set(item["scores"]) == {str(x)} for item in published["ballots"])  # no zeros
    assert await counts.mismatches(db) == []
    assert await secret_ballots.verify(db, ranked) == [] and await secret_ballots.verify(db, score) == []
    sheet = list(csv.reader(io.StringIO(await (await client.get(f"/questions/{ranked}/ballots.csv")).text())))
    assert sheet[0] == ["receipt_hash", "A", "B", "C"]
    assert sorted(row[1:] for row in sheet[1:]) == sorted([["2", "", "1"], ["3", "2", "1"], ["", "1", ""]])
    sheet = list(csv.reader(io.StringIO(await (await client.get(f"/questions/{score}/ballots.csv")).text())))
    assert sorted(row[1:] for row in sheet[1:]) == [["1", "0"], ["2", "0"], ["3", "0"]]
    page = await (await client.get(f"/questions/{score}/results")).text()
    assert f"/questions/{score}/ballots.csv" in page


async def test_invite_codes_and_link_voters_rank_too(client: Any) -> None:
    db = client.app[DB]
    qid, auth = await owner_with_invite_poll(client, method="ranked", choices=("A", "B", "C"))
    a, b, c = await choice_ids(client, qid)
    code = (await make_codes(client, qid, auth, count=1))[0]["code"]
    voted = await client.post(f"/api/v1/questions/{qid}/votes", json={"ranking": [b, a], "invite": code})
    assert voted.status == 201, await voted.text()
    again = await client.post(f"/api/v1/questions/{qid}/votes", json={"ranking": [c], "invite": code})
    assert again.status == 409

    link = await make_question(db, "Link?", ("P", "Q"), method="score", access="link")
    p, q = await choice_ids(client, link)
    page = await (await client.get(f"/questions/{link}")).text()  # no account: the browser's voter key
    cast = await client.post(
        f"/questions/{link}/vote",
        data={"csrf_token": csrf_from(page), f"score_{p}": "4", f"score_{q}": "1"},
        allow_redirects=False,
    )
    assert cast.status == 302, await cast.text()
    results = await (await client.get(f"/api/v1/questions/{link}/results")).json()
    assert [ch["total_score"] for ch in results["choices"]] == [4, 1]
    ranked = await (await client.get(f"/api/v1/questions/{qid}/results")).json()
    assert ranked["total"] == 1 and ranked["winner"] == b and ranked["rounds"][0]["tallies"][str(b)] == 1
