"""Votes are written in batches (group commit): many ballots, one transaction, each with its own outcome."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

from application import init
from application.keys import BALLOTS, DB
from application.services import polls, voting
from application.services.viewer import ANONYMOUS, Viewer
from config import Settings
from models import api_token, ballot, question, user
from models.batching import Batcher
from models.clock import utcnow
from models.db import Conflict, Database, DatabaseUnavailable, open_database
from tests.conftest import mysql_connect
from tests.factories import make_question, make_user


async def choice_ids(db: Database, qid: int) -> list[int]:
    rows = await db.fetch_all("SELECT id FROM choice WHERE question_id = %s ORDER BY id", (qid,))
    return [row["id"] for row in rows]


async def votes_of(db: Database, qid: int) -> list[int]:
    rows = await db.fetch_all("SELECT votes FROM choice WHERE question_id = %s ORDER BY id", (qid,))
    return [row["votes"] for row in rows]


def marked(*choice_ids: int) -> tuple[ballot.Mark, ...]:
    """A choice ballot's rows: the choices, with neither place nor stars."""
    return tuple((choice_id, None, None) for choice_id in choice_ids)


def count_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of each batch sent to the database from now on (retries included)."""
    sizes: list[int] = []
    real_cast_many = ballot.cast_many

    async def counting_cast_many(db: Database, ballots: list[ballot.Ballot], now: Any) -> Any:
        sizes.append(len(ballots))
        return await real_cast_many(db, ballots, now)

    monkeypatch.setattr(ballot, "cast_many", counting_cast_many)
    return sizes


# --- the batcher ---------------------------------------------------------------------------


async def test_a_lone_item_goes_at_once_and_later_ones_wait_for_the_next_batch() -> None:
    batches: list[list[int]] = []
    release = asyncio.Event()

    async def run(items: list[int]) -> list[int | Exception]:
        batches.append(items)
        await release.wait()
        return [item * 10 for item in items]

    batcher: Batcher[int, int] = Batcher(run, max_size=3)
    first = asyncio.ensure_future(batcher.submit(1))
    await asyncio.sleep(0.01)
    assert batches == [[1]]  # nothing was waited for
    rest = [asyncio.ensure_future(batcher.submit(n)) for n in range(2, 7)]
    await asyncio.sleep(0.01)
    assert batches == [[1]]
    release.set()
    assert await asyncio.gather(first, *rest) == [10, 20, 30, 40, 50, 60]
    assert batches == [[1], [2, 3, 4], [5, 6]]  # queued while the first was out, at most max_size each
    assert batcher.worker is None


async def test_while_busy_a_batch_lingers_for_more_to_join() -> None:
    batches: list[list[int]] = []

    async def run(items: list[int]) -> list[int | Exception]:
        batches.append(items)
        await asyncio.sleep(0.02)
        return items

    batcher: Batcher[int, int] = Batcher(run, max_size=10, linger=0.1)
    started = asyncio.get_running_loop().time()
    first = asyncio.ensure_future(batcher.submit(1))
    await asyncio.sleep(0.005)
    second = asyncio.ensure_future(batcher.submit(2))  # waits for the first batch
    await asyncio.sleep(0.05)  # the first batch is back; the second lingers
    third = asyncio.ensure_future(batcher.submit(3))
    assert await asyncio.gather(first, second, third) == [1, 2, 3]
    assert batches == [[1], [2, 3]]
    assert await batcher.submit(4) == 4 and batches[-1] == [4]  # quiet again: no lingering
    assert asyncio.get_running_loop().time() - started < 0.3


async def test_each_item_gets_its_own_error_and_a_failed_batch_fails_all_of_it() -> None:
    async def run(items: list[int]) -> list[int | Exception]:
        if 0 in items:
            raise DatabaseUnavailable("down")
        return [ValueError(item) if item % 2 else item for item in items]

    batcher: Batcher[int, int] = Batcher(run, max_size=10)
    outcomes = await asyncio.gather(*(batcher.submit(n) for n in (2, 3, 4)), return_exceptions=True)
    assert outcomes[0] == 2 and outcomes[2] == 4
    assert isinstance(outcomes[1], ValueError)
    outcomes = await asyncio.gather(*(batcher.submit(n) for n in (0, 2)), return_exceptions=True)
    assert all(isinstance(outcome, DatabaseUnavailable) for outcome in outcomes)
    assert await batcher.submit(8) == 8  # and the next batch goes on


async def test_a_caller_that_gives_up_does_not_cancel_the_batch_of_others() -> None:
    written: list[int] = []

    async def run(items: list[int]) -> list[int | Exception]:
        await asyncio.sleep(0.05)
        written.extend(items)
        return items

    batcher: Batcher[int, int] = Batcher(run, max_size=10)
    impatient = asyncio.ensure_future(batcher.submit(1))
    patient = asyncio.ensure_future(batcher.submit(2))
    await asyncio.sleep(0.01)
    impatient.cancel()
    assert await patient == 2
    assert written == [1, 2]


# --- ballots on both databases ---------------------------------------------------------------


async def test_one_batch_counts_some_and_refuses_others_each_for_its_reason(db: Database) -> None:
    open_poll = await make_question(db, choices=("a", "b", "c"))
    closed_poll = await make_question(db, closes_in=timedelta(minutes=-1))
    gone_poll = await make_question(db)
    await question.set_deleted(db, gone_poll, True)
    a, b, c = await choice_ids(db, open_poll)
    [other, _] = await choice_ids(db, closed_poll)
    voters = [ballot.Voter(user_id=await make_user(db)) for _ in range(3)]
    follower = ballot.Voter(openid="o-follower")

    outcomes, counts = await ballot.cast_many(
        db,
        [
            ballot.Ballot(open_poll, marked(a), voters[0]),
            ballot.Ballot(open_poll, marked(b), voters[0]),  # the same voter again, in the same batch
            ballot.Ballot(open_poll, marked(a, other), voters[1]),  # a choice of another poll
            ballot.Ballot(closed_poll, marked(other), voters[1]),
            ballot.Ballot(gone_poll, marked(1), voters[1]),
            ballot.Ballot(open_poll, marked(b, c), voters[2]),
            ballot.Ballot(open_poll, marked(c), follower),
        ],
        utcnow(),
    )

    assert outcomes == ["V", "A", "I", "C", "N", "V", "V"]
    assert await votes_of(db, open_poll) == [1, 1, 2]  # the refused ones left nothing behind
    assert await votes_of(db, closed_poll) == [0, 0]
    assert [row["votes"] for row in counts[open_poll]] == [1, 1, 2]
    ballots = await db.fetch_all("SELECT user_id, wechat_openid FROM ballot WHERE question_id = %s", (open_poll,))
    assert len(ballots) == 3
    picked = await db.fetch_all(
        "SELECT bc.choice_id FROM ballot_choice bc JOIN ballot b ON b.id = bc.ballot_id"
        " WHERE b.question_id = %s ORDER BY bc.choice_id",
        (open_poll,),
    )
    assert [row["choice_id"] for row in picked] == [a, b, c, c]


async def test_concurrent_votes_share_commits_and_each_is_counted_once(
    settings: Settings, aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await aiohttp_client(init(settings))
    db = client.app[DB]
    qid = await make_question(db, choices=("yes", "no"))
    yes, no = await choice_ids(db, qid)
    poll = await question.get_with_choices(db, qid)
    voters = [ballot.Voter(user_id=await make_user(db)) for _ in range(40)]
    batches = count_batches(monkeypatch)
    box = client.app[BALLOTS]
    attempts = [(voter, yes if n % 4 else no) for n, voter in enumerate(voters)] + [(voters[0], yes)] * 5
    outcomes = await asyncio.gather(
        *(box.cast(poll, ballot.Choices((choice,)), voter, utcnow()) for voter, choice in attempts),
        return_exceptions=True,
    )

    refused = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    assert len(refused) == 5 and all(isinstance(outcome, ballot.AlreadyVoted) for outcome in refused)
    counted = await votes_of(db, qid)
    assert sum(counted) == 40 and counted[1] in (9, 10)  # voter 0's "no" or one of their five "yes"
    assert sum(batches) == len(attempts) and len(batches) < len(attempts) / 4  # grouped, not one commit each
    last = outcomes[len(voters) - 1]
    assert isinstance(last, list) and sum(row["votes"] for row in last) >= 1  # counts after the commit


async def test_the_database_refuses_what_the_cached_rules_no_longer_allow(
    settings: Settings, aiohttp_client: Any
) -> None:
    """The vote path checks a poll's rules as this process last read them; the database checks
    again as it writes, so a close or delete that was not announced still takes effect."""
    client = await aiohttp_client(init(settings))
    db = client.app[DB]
    qid = await make_question(db)
    first, _ = await choice_ids(db, qid)
    tokens = [(await api_token.create(db, await make_user(db), "t"))[1] for _ in range(3)]

    async def vote(token: str) -> tuple[int, Any]:
        response = await client.post(
            f"/api/v1/questions/{qid}/votes", json={"choice_ids": [first]}, headers={"Authorization": f"Bearer {token}"}
        )
        return response.status, await response.json()

    assert (await vote(tokens[0]))[0] == 201  # the process now holds the poll's rules
    await db.execute("UPDATE question SET closes_at = %s WHERE id = %s", (utcnow() - timedelta(seconds=1), qid))
    status, body = await vote(tokens[1])
    assert status == 403 and body["error_code"] == 20010
    await db.execute("UPDATE question SET closes_at = NULL, delete_flag = 1 WHERE id = %s", (qid,))
    status, body = await vote(tokens[2])
    assert status == 404
    assert await votes_of(db, qid) == [1, 0]


async def test_a_deadlock_is_retried_and_then_reported_as_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts = 0

    async def deadlocking(db: Any, ballots: Any, now: Any) -> Any:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise Conflict("Deadlock found when trying to get lock")
        return ["V"], {7: [{"id": 1, "votes": 1}]}

    announced: list[set[int]] = []

    async def counted(question_ids: set[int]) -> None:
        announced.append(question_ids)

    monkeypatch.setattr(ballot, "cast_many", deadlocking)
    box = ballot.BallotBox(db=None, counted=counted)  # type: ignore[arg-type]
    poll = {
        "id": 7,
        "pub_date": utcnow(),
        "closes_at": None,
        "max_choices": 1,
        "method": "choice",
        "choices": [{"id": 1}],
    }
    assert await box.cast(poll, ballot.Choices((1,)), ballot.Voter(user_id=1), utcnow()) == [{"id": 1, "votes": 1}]
    assert attempts == 3 and announced == [{7}]

    attempts = -10  # never gets through
    with pytest.raises(DatabaseUnavailable):
        await box.cast(poll, ballot.Choices((1,)), ballot.Voter(user_id=2), utcnow())
    assert announced == [{7}]


async def test_a_vote_for_a_choice_replaced_meanwhile_is_refused(db: Database) -> None:
    """The rules the vote was checked against named a choice the poll no longer has."""
    qid = await make_question(db)
    poll = await question.get_with_choices(db, qid)
    assert poll is not None
    old = poll["choices"][0]["id"]
    await db.execute("UPDATE choice SET delete_flag = 1 WHERE id = %s", (old,))
    box = ballot.BallotBox(db, counted=lambda ids: asyncio.sleep(0))
    with pytest.raises(ballot.InvalidChoice):
        await box.cast(poll, ballot.Choices((old,)), ballot.Voter(user_id=await make_user(db)), utcnow())
    assert await db.fetch_all("SELECT id FROM ballot WHERE question_id = %s", (qid,)) == []


async def test_a_choice_removed_while_the_batch_waits_for_it_sends_the_batch_round_again(
    mysql_settings: Settings, clean_mysql: str
) -> None:
    """MariaDB checks a batch against its snapshot, then counts each choice. Here the choice is
    removed by a transaction that commits while the batch waits for its row: the count finds no
    row, the whole batch is rolled back and run again, and the second run refuses the ballot."""
    db = await open_database(mysql_settings)
    blocker = mysql_connect(urlsplit(clean_mysql).path.lstrip("/"))
    blocker.autocommit(False)
    try:
        qid = await make_question(db)
        poll = await question.get_with_choices(db, qid)
        assert poll is not None
        removed, kept = (item["id"] for item in poll["choices"])
        box = ballot.BallotBox(db, counted=lambda ids: asyncio.sleep(0))
        with blocker.cursor() as cursor:
            cursor.execute("UPDATE choice SET delete_flag = 1 WHERE id = %s", (removed,))
        with pytest.MonkeyPatch.context() as patch:
            attempts = count_batches(patch)
            voting = asyncio.gather(
                box.cast(poll, ballot.Choices((removed,)), ballot.Voter(user_id=await make_user(db)), utcnow()),
                box.cast(poll, ballot.Choices((kept,)), ballot.Voter(user_id=await make_user(db)), utcnow()),
                return_exceptions=True,
            )
            await asyncio.sleep(0.5)  # the batch now waits for the removed choice's row
            blocker.commit()
            refused, counted = await voting

        assert isinstance(refused, ballot.InvalidChoice)
        assert isinstance(counted, list) and [row["id"] for row in counted] == [kept]
        assert len(attempts) >= 2  # the first run was rolled back
        assert await votes_of(db, qid) == [0, 1]
        assert len(await db.fetch_all("SELECT id FROM ballot WHERE question_id = %s", (qid,))) == 1
    finally:
        blocker.close()
        await db.close()


async def test_the_vote_answer_carries_the_counts_of_its_own_commit(settings: Settings, aiohttp_client: Any) -> None:
    client = await aiohttp_client(init(settings))
    db = client.app[DB]
    qid = await make_question(db, votes=(4, 2))
    first, second = await choice_ids(db, qid)
    poll = (await polls.visible_poll(client.app, qid, ANONYMOUS)).poll
    voter = Viewer(user=await user.get(db, await make_user(db)))
    counts = (await voting.cast(client.app, poll, voting.Choices((second,)), voter)).counts
    assert [(row["id"], row["votes"]) for row in counts] == [(first, 4), (second, 3)]
