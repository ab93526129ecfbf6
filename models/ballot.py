"""Voting: one ballot per voter per question, counted atomically, written in batches.

A ballot row and its choices' ``votes`` are written in one transaction; the UNIQUE keys on
ballot make a second ballot by the same voter impossible, however many requests race.
``BallotBox`` writes the ballots that arrive together in one transaction (group commit), so that
a refused ballot leaves the others of its batch counted. On MySQL the whole batch is one call of
the ``cast_ballots`` procedure (sql/mysql/0003: one check of the batch, then each choice counted
once); on SQLite each ballot goes under its own savepoint.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from models import choice, question
from models.batching import Batcher
from models.clock import utcnow
from models.db import Database, IntegrityError, Row, Session, placeholders, retry_conflicts
from models.metrics import VOTE_BATCH_SIZE, VOTES_COUNTED
from models.refusal import PollNotFound, Refused

MAX_BATCH = 100
# While votes keep coming, a batch waits this long for more to join it: a commit costs the
# database far more than a ballot does (docs/performance.md), and the wait is 5 ms at most.
LINGER_SECONDS = 0.005


class VoteRefused(Refused):
    """The vote was not counted; nothing changed (as when its poll is gone: ``PollNotFound``)."""


class NoChoice(VoteRefused):
    pass


class InvalidChoice(VoteRefused):
    pass


class TooManyChoices(VoteRefused):
    pass


class PollClosed(VoteRefused):
    pass


class AlreadyVoted(VoteRefused):
    pass


# The letters cast_ballots answers with, one per ballot.
OUTCOMES: dict[str, type[Refused] | None] = {
    "V": None,
    "A": AlreadyVoted,
    "C": PollClosed,
    "N": PollNotFound,  # deleted since the voter saw it
    "I": InvalidChoice,
}


@dataclass(frozen=True)
class Voter:
    """A site user or a WeChat follower (by openid)."""

    user_id: int | None = None
    openid: str | None = None


@dataclass(frozen=True)
class Ballot:
    question_id: int
    choice_ids: tuple[int, ...]  # distinct, ascending
    voter: Voter


def check(poll: Row, choice_ids: Sequence[int], voter: Voter, now: datetime) -> Ballot:
    """The ballot for ``choice_ids``, checked against the poll's rules as the caller read them.
    The database checks again as it writes: the poll may have changed since."""
    chosen = tuple(sorted(set(choice_ids)))
    if not chosen:
        raise NoChoice
    if not question.is_open(poll, now):
        raise PollClosed
    if len(chosen) > poll["max_choices"]:
        raise TooManyChoices
    if not set(chosen) <= {item["id"] for item in poll["choices"]}:
        raise InvalidChoice
    return Ballot(poll["id"], chosen, voter)


Counts = dict[int, list[Row]]  # question id -> its choices with their votes


async def cast_many(db: Database, ballots: Sequence[Ballot], now: datetime) -> tuple[list[str], Counts]:
    """Write ``ballots`` in one transaction: an ``OUTCOMES`` letter for each, and the counts of
    their polls after the commit. Raises ``Conflict`` when the server broke a deadlock (or Galera
    refused the batch's write set at COMMIT), or a choice was removed while the batch was being
    written: nothing of it was counted."""
    VOTE_BATCH_SIZE.observe(len(ballots))
    polls = {ballot.question_id for ballot in ballots}
    if db.dialect == "mysql":
        outcomes, rows = await db.fetch_sets("CALL cast_ballots(%s, %s)", (now, _procedure_input(ballots)))
        return list(outcomes[0]["outcomes"]), choice.by_question(polls, rows)
    async with db.transaction() as tx:
        letters = [await _write_one(tx, ballot, now) for ballot in ballots]
    return letters, await choice.for_questions(db, polls)


def _procedure_input(ballots: Sequence[Ballot]) -> str:
    """cast_ballots' argument: [[question_id, user_id, openid, "choice_id,choice_id", n], ...]."""
    return json.dumps(
        [
            [b.question_id, b.voter.user_id, b.voter.openid, ",".join(map(str, b.choice_ids)), len(b.choice_ids)]
            for b in ballots
        ]
    )


async def _write_one(tx: Session, ballot: Ballot, now: datetime) -> str:
    """What cast_ballots does for one ballot, for SQLite."""
    poll = await tx.fetch_one(
        "SELECT pub_date, closes_at FROM question WHERE id = %s AND delete_flag = 0", (ballot.question_id,)
    )
    if poll is None:
        return "N"
    if not question.is_open(poll, now):
        return "C"
    await tx.execute("SAVEPOINT one_ballot")
    try:
        result = await tx.execute(
            "INSERT INTO ballot (question_id, user_id, wechat_openid) VALUES (%s, %s, %s)",
            (ballot.question_id, ballot.voter.user_id, ballot.voter.openid),
        )
    except IntegrityError:
        await tx.execute("ROLLBACK TO SAVEPOINT one_ballot")
        return "A"
    counted = await tx.execute(
        "UPDATE choice SET votes = votes + 1 WHERE question_id = %s AND delete_flag = 0"
        " AND id IN (" + placeholders(len(ballot.choice_ids)) + ")",
        (ballot.question_id, *ballot.choice_ids),
    )
    if counted.rowcount != len(ballot.choice_ids):
        await tx.execute("ROLLBACK TO SAVEPOINT one_ballot")
        return "I"
    for choice_id in ballot.choice_ids:
        await tx.execute(
            "INSERT INTO ballot_choice (ballot_id, choice_id) VALUES (%s, %s)", (result.last_id, choice_id)
        )
    await tx.execute("RELEASE SAVEPOINT one_ballot")
    return "V"


class BallotBox:
    """This process's way in for votes: ballots that arrive while a batch is being written wait
    and go together in the next one (``models.batching``); a lone ballot goes at once.

    ``counted`` hears, after each commit and before any voter is answered, which polls gained
    votes: the application tells every process from there.
    """

    def __init__(self, db: Database, counted: Callable[[set[int]], Awaitable[None]]) -> None:
        self.db = db
        self.counted = counted
        self.batcher: Batcher[Ballot, list[Row]] = Batcher(self._write, MAX_BATCH, LINGER_SECONDS)

    async def cast(self, poll: Row, choice_ids: Sequence[int], voter: Voter, now: datetime) -> list[Row]:
        """Count one ballot and return the poll's choices with their votes, this one included;
        or raise a ``VoteRefused`` having changed nothing."""
        return await self.batcher.submit(check(poll, choice_ids, voter, now))

    async def _write(self, ballots: list[Ballot]) -> list[list[Row] | Exception]:
        # Concurrent batches lock choice rows in the same order: by poll, then choices.
        ordered = sorted(enumerate(ballots), key=lambda pair: (pair[1].question_id, pair[1].choice_ids))
        letters, counts = await self._commit([ballot for _, ballot in ordered])
        outcomes = list(zip(ordered, letters, strict=True))
        VOTES_COUNTED.inc(letters.count("V"))
        await self.counted({ballot.question_id for (_, ballot), letter in outcomes if letter == "V"})
        answers: list[list[Row] | Exception] = [[] for _ in ballots]
        for (n, ballot), letter in outcomes:
            refusal = OUTCOMES[letter]
            answers[n] = refusal() if refusal is not None else counts[ballot.question_id]
        return answers

    async def _commit(self, ballots: list[Ballot]) -> tuple[list[str], Counts]:
        # A conflict rolled the whole batch back: nothing of it was counted, so it goes again
        # (with a new clock: a poll may have closed meanwhile).
        return await retry_conflicts(lambda: cast_many(self.db, ballots, utcnow()))


async def choices_of(db: Database, question_id: int, voter: Voter) -> list[int] | None:
    """The choice ids this voter picked, or None when they have not voted."""
    column, value = ("user_id", voter.user_id) if voter.user_id is not None else ("wechat_openid", voter.openid)
    rows = await db.fetch_all(
        "SELECT b.id, bc.choice_id FROM ballot b LEFT JOIN ballot_choice bc ON bc.ballot_id = b.id"
        " WHERE b.question_id = %s AND b." + column + " = %s ORDER BY bc.choice_id",
        (question_id, value),
    )
    return [row["choice_id"] for row in rows if row["choice_id"] is not None] if rows else None


async def count_for(db: Database, question_id: int) -> int:
    row = await db.fetch_one("SELECT COUNT(*) AS n FROM ballot WHERE question_id = %s", (question_id,))
    return int(row["n"]) if row else 0


async def orphan_all_of(db: Session, user_id: int) -> list[int]:
    """The voter's ballots stay counted but point to nobody (the account is being deleted); the
    ids of the polls they are in."""
    rows = await db.fetch_all("SELECT DISTINCT question_id FROM ballot WHERE user_id = %s", (user_id,))
    await db.execute("UPDATE ballot SET user_id = NULL, voter_deleted = 1 WHERE user_id = %s", (user_id,))
    return [row["question_id"] for row in rows]


async def choices_by_voter(db: Database, user_id: int) -> list[Row]:
    """Every choice this user's ballots mark, with its poll: one row per choice, oldest ballot first."""
    return await db.fetch_all(
        "SELECT b.question_id, q.question_text, b.create_time, c.id AS choice_id, c.choice_text"
        " FROM ballot b JOIN question q ON q.id = b.question_id"
        " LEFT JOIN ballot_choice bc ON bc.ballot_id = b.id LEFT JOIN choice c ON c.id = bc.choice_id"
        " WHERE b.user_id = %s ORDER BY b.id, c.id",
        (user_id,),
    )
