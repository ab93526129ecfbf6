"""Secret ballots with receipts (SPEC section 11): no link between who voted and what, on SQLite
and on MariaDB + Redis; the published ballots recount to the stored totals."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from aiohttp.test_utils import TestClient

from application.keys import DB
from application.services import polls
from config import Settings
from models import counts
from models.clock import utcnow
from models.db import Database
from tests.browser import register
from tests.factories import make_question, make_user
from tests.test_access import make_codes, owner_with_invite_poll, vote_form
from tests.test_api_polls import choice_ids, token_for
from tests.test_cli import run

RECEIPT = re.compile(r"<code>([0-9A-Z]{5}(?:-[0-9A-Z]{5}){3})</code>")


def receipt_hash(code: str) -> str:
    """What a voter computes from the receipt they were given, exactly as given."""
    return hashlib.sha256(code.encode()).hexdigest()


async def close(client: TestClient, qid: int) -> None:
    """Close the poll through the rule, so every cached copy hears of it."""
    await polls.close_poll(client.app, {"id": qid})


async def test_a_voter_is_shown_a_receipt_once_and_it_finds_their_ballot(client: TestClient) -> None:
    db = client.app[DB]
    qid = await make_question(db, secret=True, choices=("red", "green", "blue"), max_choices=2)
    _, green, blue = await choice_ids(db, qid)
    assert (await register(client, 1)).status == 302
    voted = await vote_form(client, f"/questions/{qid}", green, blue)
    assert voted.status == 200
    code = RECEIPT.search(await voted.text())
    assert code, "no receipt on the page"
    assert code.group(1) not in await (await client.get(f"/questions/{qid}")).text()  # shown once
    detail = await (await client.get(f"/api/v1/questions/{qid}")).json()
    assert (detail["has_voted"], detail["my_vote"]) == (True, None)
    page = await (await client.get(f"/questions/{qid}")).text()
    assert "Your ballot is secret" in page and "Your vote" not in page
    for typed in (code.group(1).lower(), code.group(1).replace("-", " "), code.group(1).replace("-", "")):
        shown = await client.get(f"/questions/{qid}/receipt", params={"code": typed})
        text = await shown.text()
        assert shown.status == 200 and "green" in text and "blue" in text and "red" not in text, typed

    box_path = f"/questions/{qid}/receipt"
    assert f'href="{box_path}"' in page  # the way to it for a receipt written on paper
    box = await client.get(box_path)
    assert box.status == 200 and 'name="code"' in await box.text()
    for wrong in ("AAAAA-AAAAA-AAAAA-AAAAA", "x" * 65):
        refused = await client.get(box_path, params={"code": wrong})
        text = await refused.text()
        assert refused.status == 404 and "No ballot of this poll has that receipt" in text and 'name="code"' in text
        assert f'value="{wrong[:64]}"' in text and 'aria-invalid="true"' in text
    plain = await make_question(db)
    assert (await client.get(f"/questions/{plain}/receipt")).status == 404  # not a secret poll


async def test_the_api_answers_a_secret_vote_with_its_receipt_and_never_my_vote(client: TestClient) -> None:
    db = client.app[DB]
    qid = await make_question(db, secret=True)
    first, _ = await choice_ids(db, qid)
    _, auth = await token_for(db)
    voted = await client.post(f"/api/v1/questions/{qid}/votes", json={"choice_ids": [first]}, headers=auth)
    body = await voted.json()
    assert voted.status == 201 and set(body) == {"question_id", "receipt"}
    detail = await (await client.get(f"/api/v1/questions/{qid}", headers=auth)).json()
    assert (detail["has_voted"], detail["my_vote"], detail["secret"]) == (True, None, True)
    again = await client.post(f"/api/v1/questions/{qid}/votes", json={"choice_ids": [first]}, headers=auth)
    assert again.status == 409


async def test_ballots_are_published_after_close_and_recount_to_the_totals(
    client: TestClient, settings: Settings
) -> None:
    db = client.app[DB]
    qid = await make_question(db, secret=True)
    first, second = await choice_ids(db, qid)
    receipts = {}
    for chosen in (first, second, second):
        _, auth = await token_for(db)
        answer = await client.post(f"/api/v1/questions/{qid}/votes", json={"choice_ids": [chosen]}, headers=auth)
        receipts[(await answer.json())["receipt"]] = chosen
    early = await client.get(f"/api/v1/questions/{qid}/ballots")
    assert early.status == 409 and (await early.json())["error_code"] == 20019
    await close(client, qid)
    published = await client.get(f"/api/v1/questions/{qid}/ballots")
    assert published.status == 200, await published.text()
    ballots = (await published.json())["ballots"]
    assert sorted((b["receipt_hash"], b["choice_ids"]) for b in ballots) == sorted(
        (receipt_hash(code), [chosen]) for code, chosen in receipts.items()
    )
    not_secret = await make_question(db)
    assert (await client.get(f"/api/v1/questions/{not_secret}/ballots")).status == 409
    if settings.database.dialect == "sqlite":
        env = {"VOTE_DATABASE_URL": settings.database_url, "VOTE_SECRET_KEY": "x"}
        checked = run("verify", str(qid), env=env)
        assert checked.returncode == 0 and "recount to the stored totals" in checked.stdout, checked.stderr
        await db.execute("UPDATE choice SET votes = votes + 1 WHERE id = %s", (first,))
        tampered = run("verify", str(qid), env=env)
        assert tampered.returncode == 1 and f"choice {first}" in tampered.stderr and "recounted 1" in tampered.stderr


async def every_row(db: Database) -> dict[str, list[dict[str, Any]]]:
    if db.dialect == "sqlite":
        names = [r["name"] for r in await db.fetch_all("SELECT name FROM sqlite_master WHERE type = 'table'")]
    else:
        names = [
            r["n"]
            for r in await db.fetch_all(
                "SELECT table_name AS n FROM information_schema.tables WHERE table_schema = DATABASE()"
            )
        ]
    return {name: await db.fetch_all(f"SELECT * FROM {name}") for name in names if not name.startswith("sqlite_")}


async def test_no_row_and_no_pair_of_rows_ties_a_voter_to_a_choice(client: TestClient) -> None:
    """Every table read whole, as a database reader would: the voters (accounts, link keys, invite
    codes) appear only in rows that say nothing of what they chose, and no such row shares a value
    with a secret ballot but the poll's id; the ballot ids do not follow the voters' order."""
    db = client.app[DB]
    qid, auth = await owner_with_invite_poll(client, secret=True, choices=("yes", "no"))
    yes, no = await choice_ids(db, qid)
    codes = [item["code"] for item in await make_codes(client, qid, auth, count=12)]
    receipts = []
    for n, code in enumerate(codes):  # one after another: each its own batch, in a known order
        answer = await client.post(
            f"/api/v1/questions/{qid}/votes", json={"choice_ids": [yes if n % 3 else no], "invite": code}
        )
        receipts.append((await answer.json())["receipt"])
    tables = await every_row(db)
    assert not [row for row in tables["ballot_choice"] if row["choice_id"] in (yes, no)]
    secret = tables["secret_ballot"]
    assert len(secret) == 12 and set(secret[0]) == {"id", "question_id", "cast_on", "receipt_hash", "content"}
    assert all(str(row["cast_on"]) == str(utcnow().date()) for row in secret)
    chosen = {json.dumps(sorted([c])) for c in (yes, no)}
    secret_values = {value for row in secret for key, value in row.items() if key != "question_id"}
    for table, rows in tables.items():
        if table == "secret_ballot":
            continue
        for row in rows:
            values = set(map(str, row.values()))
            assert not values & set(map(str, secret_values)), (table, row)
            assert not any(text in str(row.values()) for text in chosen if table != "choice"), (table, row)
    by_hash = {row["receipt_hash"]: row["id"] for row in secret}
    ids_in_voting_order = [by_hash[receipt_hash(code)] for code in receipts]
    assert ids_in_voting_order != sorted(ids_in_voting_order)
    assert [row["id"] for row in secret] != ids_in_voting_order  # nor does a plain read give them in that order
    ballot_ids = sorted(row["id"] for row in tables["ballot"])
    assert not set(ballot_ids) & set(by_hash.values())


async def test_the_owner_sees_turnout_and_totals_never_choices(client: TestClient) -> None:
    db = client.app[DB]
    owner = await make_user(db)
    qid = await make_question(db, owner=owner, secret=True)
    first, _ = await choice_ids(db, qid)
    _, auth = await token_for(db)
    await client.post(f"/api/v1/questions/{qid}/votes", json={"choice_ids": [first]}, headers=auth)
    results = await (await client.get(f"/api/v1/questions/{qid}/results")).json()
    assert results["total"] == 1


async def test_check_counts_counts_secret_ballots_from_their_content(client: TestClient) -> None:
    db = client.app[DB]
    qid = await make_question(db, secret=True, choices=("a", "b", "c"), max_choices=2)
    a, b, _ = await choice_ids(db, qid)
    for chosen in ([a], [a, b], [b]):
        _, auth = await token_for(db)
        assert (await client.post(f"/api/v1/questions/{qid}/votes", json={"choice_ids": chosen}, headers=auth)).ok
    assert await counts.mismatches(db) == []  # no ballot_choice rows, yet every count agrees
    await db.execute("UPDATE choice SET votes = 0 WHERE id = %s", (b,))
    found = await counts.mismatches(db)
    assert [(item.choice_id, item.stored, item.counted) for item in found] == [(b, 0, 2)]
    await counts.repair(db, found)
    assert await counts.mismatches(db) == []
