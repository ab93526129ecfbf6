"""Voting: one ballot per voter per question, counted atomically, written in batches.

A ballot row and its choices' ``votes`` are written in one transaction; the UNIQUE keys on
ballot make a second ballot by the same voter impossible, however many requests race.
``BallotBox`` writes the ballots that arrive together in one transaction (group commit), so that
a refused ballot leaves the others of its batch counted. On MySQL the whole batch is one call of
the ``cast_ballots`` procedure (sql/mysql/0009: one check of the batch, then each choice counted
once); on SQLite each ballot goes under its own savepoint, in lockstep.

A secret poll's ballot is sealed (``Sealed``): its ballot row names the voter and nothing they
chose, and what they chose goes to ``secret_ballot`` under a random id, with the day only and the
hash of the receipt the voter is shown once (docs/secret-ballots.md).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
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


class InviteNotValid(VoteRefused):
    """No such invite code for this poll, or its owner revoked it."""


class WrongBallot(VoteRefused):
    """Choices sent to a ranked poll, a ranking to a score poll...: not this poll's kind of ballot."""


class RankUsedTwice(VoteRefused):
    pass


class ScoredTwice(VoteRefused):
    """A score ballot gives one choice stars twice (its id written two ways, "27" and "027")."""


class ScoreOutOfRange(VoteRefused):
    pass


# The letters cast_ballots answers with, one per ballot.
OUTCOMES: dict[str, type[Refused] | None] = {
    "V": None,
    "A": AlreadyVoted,
    "C": PollClosed,
    "N": PollNotFound,  # deleted since the voter saw it
    "I": InvalidChoice,
    "R": InviteNotValid,  # an unknown or revoked code (a used one: A)
}


@dataclass(frozen=True)
class Voter:
    """Exactly one of: a site user, a WeChat follower (by openid), a link poll's voter key, an
    invite code (by its row id)."""

    user_id: int | None = None
    openid: str | None = None
    link_key: str | None = None
    invite_id: int | None = None


# A receipt: 20 Crockford base32 characters (100 random bits), grouped by five for copying.
RECEIPT_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RECEIPT_LENGTH = 20
RECEIPT_GROUP = 5  # characters between dashes, for reading aloud
SECRET_ID_BITS = 62  # random ballot ids: positive, within a signed BIGINT


@dataclass(frozen=True)
class Sealed:
    """A secret ballot's own row: a random id, the receipt's hash and what was chosen."""

    secret_id: int
    receipt_hash: str
    content: str  # JSON in the shape the ballots API publishes: {"choice_ids": [...]}


def receipt_hash(code: str) -> str:
    """SHA-256 hex of a receipt code as the voter was shown it, ``7KQ2M-9XMV4-...``: what anyone
    hashing the receipt they were given finds among the published ballots. The code may be typed
    in any case, with or without dashes and spaces."""
    return hashlib.sha256(shown_receipt(code).encode()).hexdigest()


def normal_receipt(code: str) -> str:
    return "".join(code.split()).replace("-", "").upper()


def shown_receipt(code: str) -> str:
    """The receipt as it is shown: upper case, in groups of five joined by dashes."""
    raw = normal_receipt(code)
    return "-".join(raw[start : start + RECEIPT_GROUP] for start in range(0, len(raw), RECEIPT_GROUP))


def seal(content: Mapping[str, object]) -> tuple[Sealed, str]:
    """A secret ballot of ``content`` (as the ballots API publishes it: ``{"choice_ids": [...]}``,
    and for other methods their ``ranking`` or ``scores``) and the receipt code to show its
    voter, once."""
    code = shown_receipt("".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(RECEIPT_LENGTH)))
    return Sealed(secrets.randbits(SECRET_ID_BITS) + 1, receipt_hash(code), json.dumps(dict(content))), code


MAX_STARS = 5


@dataclass(frozen=True)
class Choices:
    """A ``choice`` poll's ballot: the choices picked."""

    ids: tuple[int, ...]


@dataclass(frozen=True)
class Ranking:
    """A ``ranked`` poll's ballot: choice ids, first preference first; the others unranked."""

    ids: tuple[int, ...]


@dataclass(frozen=True)
class Scores:
    """A ``score`` poll's ballot: stars by choice id; a choice left out has 0."""

    stars: tuple[tuple[int, int], ...]


Content = Choices | Ranking | Scores
METHODS: dict[type[Content], str] = {Choices: "choice", Ranking: "ranked", Scores: "score"}

# One ballot_choice row: the choice, its place (ranked) and its stars (score); None where the
# method has none.
Mark = tuple[int, int | None, int | None]


def published(content: Content) -> dict[str, object]:
    """The ballot as GET .../ballots publishes it, and a secret poll stores it: ``choice_ids``
    ascending, the ``ranking`` in order, or the ``scores`` of 1 star or more by choice id (an
    unscored choice counts 0), so that identical ballots have identical texts."""
    if isinstance(content, Choices):
        return {"choice_ids": sorted(set(content.ids))}
    if isinstance(content, Ranking):
        return {"ranking": list(content.ids)}
    return {"scores": {str(choice_id): stars for choice_id, stars in sorted(content.stars) if stars}}


@dataclass(frozen=True)
class Ballot:
    question_id: int
    marks: tuple[Mark, ...]  # the choices it counts a vote for, ascending by id
    voter: Voter
    sealed: Sealed | None = None  # a secret poll's ballot

    @property
    def choice_ids(self) -> tuple[int, ...]:
        return tuple(mark[0] for mark in self.marks)

    @property
    def key(self) -> str | None:
        """A ranked or score ballot's marks as one text, "choice:place" or "choice:stars" by choice
        id ('' for none), stored with it (ballot_marks) so that ``grouped`` counts identical ballots
        by an index; None for a choice ballot, and for a secret one (its content is counted)."""
        if self.sealed or (self.marks and self.marks[0][1:] == (None, None)):
            return None
        return ",".join(f"{choice_id}:{place or stars}" for choice_id, place, stars in self.marks)


def _marks(content: Content) -> tuple[Mark, ...]:
    """The rows a ballot writes; a score of 0 writes none (docs/voting-methods.md)."""
    if isinstance(content, Choices):
        return tuple((choice_id, None, None) for choice_id in sorted(set(content.ids)))
    if isinstance(content, Ranking):
        return tuple(sorted((choice_id, place, None) for place, choice_id in enumerate(content.ids, 1)))
    return tuple(sorted((choice_id, None, stars) for choice_id, stars in content.stars if stars))


def _named(content: Content) -> list[int]:
    if isinstance(content, Scores):
        return [choice_id for choice_id, _ in content.stars]
    return list(content.ids)


def _check_content(poll: Row, content: Content) -> None:
    if METHODS[type(content)] != poll["method"]:
        raise WrongBallot
    named = _named(content)
    if not named:
        raise NoChoice
    if len(set(named)) != len(named):  # said in the ballot's own terms: stars are not ranks
        raise ScoredTwice if isinstance(content, Scores) else RankUsedTwice
    if isinstance(content, Choices) and len(named) > poll["max_choices"]:
        raise TooManyChoices
    if isinstance(content, Scores) and not all(0 <= stars <= MAX_STARS for _, stars in content.stars):
        raise ScoreOutOfRange


def check(poll: Row, content: Content, voter: Voter, now: datetime, sealed: Sealed | None = None) -> Ballot:
    """The ballot for ``content``, checked against the poll's rules as the caller read them.
    The database checks again as it writes: the poll may have changed since."""
    if isinstance(content, Choices):  # the same choice ticked twice is one choice
        content = Choices(tuple(sorted(set(content.ids))))
    _check_content(poll, content)
    if not question.is_open(poll, now):
        raise PollClosed
    if not set(_named(content)) <= {item["id"] for item in poll["choices"]}:
        raise InvalidChoice
    return Ballot(poll["id"], _marks(content), voter, sealed)


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
        sealed = [b.sealed for b, letter in zip(ballots, letters, strict=True) if b.sealed and letter == "V"]
        await _write_sealed(tx, ballots, sealed, now)
    return letters, await choice.for_questions(db, polls)


def _procedure_input(ballots: Sequence[Ballot]) -> str:
    """cast_ballots' argument: [[question_id, user_id, openid, link_key, invite_id, "choice_id,choice_id",
    n, secret_id, receipt_hash, content, marks, key], ...] (sql/mysql/0009)."""
    return json.dumps(
        [
            [
                *_voter_row(b),
                ",".join(map(str, b.choice_ids)),
                len(b.choice_ids),
                *_sealed_row(b),
                json.dumps(b.marks),
                b.key,
            ]
            for b in ballots
        ]
    )


def _voter_row(b: Ballot) -> tuple[int, int | None, str | None, str | None, int | None]:
    return (b.question_id, b.voter.user_id, b.voter.openid, b.voter.link_key, b.voter.invite_id)


def _sealed_row(b: Ballot) -> tuple[int | None, str | None, str | None]:
    return (b.sealed.secret_id, b.sealed.receipt_hash, b.sealed.content) if b.sealed else (None, None, None)


async def _write_sealed(tx: Session, ballots: Sequence[Ballot], sealed: list[Sealed], now: datetime) -> None:
    """The batch's secret ballots, in the order of their random ids (never the voters')."""
    question_of = {b.sealed.secret_id: b.question_id for b in ballots if b.sealed}
    for item in sorted(sealed, key=lambda one: one.secret_id):
        await tx.execute(
            "INSERT INTO secret_ballot (id, question_id, cast_on, receipt_hash, content) VALUES (%s, %s, %s, %s, %s)",
            (item.secret_id, question_of[item.secret_id], now.date(), item.receipt_hash, item.content),
        )


async def _use_invite(tx: Session, ballot: Ballot) -> str:
    """Mark the ballot's invite code used: V, or A when it was, R when unknown or revoked."""
    used = await tx.execute(
        "UPDATE invite SET used = 1 WHERE id = %s AND question_id = %s AND used = 0 AND revoked = 0",
        (ballot.voter.invite_id, ballot.question_id),
    )
    if used.rowcount == 1:
        return "V"
    row = await tx.fetch_one("SELECT used FROM invite WHERE id = %s", (ballot.voter.invite_id,))
    return "A" if row is not None and row["used"] else "R"


async def write_in(tx: Session, question_id: int, content: Content, voter: Voter, now: datetime) -> str:
    """One ballot written inside the caller's transaction (the sample data's), as a vote writes
    it, counts included; its ``OUTCOMES`` letter. Not for secret polls."""
    return await _write_one(tx, Ballot(question_id, _marks(content), voter), now)


async def _write_one(tx: Session, ballot: Ballot, now: datetime) -> str:
    """What cast_ballots does for one ballot, for SQLite (its secret ballots: ``_write_sealed``)."""
    poll = await tx.fetch_one(
        "SELECT pub_date, closes_at FROM question WHERE id = %s AND delete_flag = 0", (ballot.question_id,)
    )
    if poll is None:
        return "N"
    if not question.is_open(poll, now):
        return "C"
    await tx.execute("SAVEPOINT one_ballot")
    letter = await _use_invite(tx, ballot) if ballot.voter.invite_id is not None else "V"
    if letter != "V":
        await tx.execute("ROLLBACK TO SAVEPOINT one_ballot")
        return letter
    try:
        result = await tx.execute(
            "INSERT INTO ballot (question_id, user_id, wechat_openid, link_key, invite_id) VALUES (%s, %s, %s, %s, %s)",
            _voter_row(ballot),
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
    if ballot.key is not None:
        await tx.execute(
            "INSERT INTO ballot_marks (ballot_id, question_id, marks) VALUES (%s, %s, %s)",
            (result.last_id, ballot.question_id, ballot.key),
        )
    for choice_id, place, score in () if ballot.sealed else ballot.marks:
        await tx.execute(
            "INSERT INTO ballot_choice (ballot_id, choice_id, place, score) VALUES (%s, %s, %s, %s)",
            (result.last_id, choice_id, place, score),
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

    async def cast(
        self, poll: Row, content: Content, voter: Voter, now: datetime, sealed: Sealed | None = None
    ) -> list[Row]:
        """Count one ballot (``sealed`` on a secret poll) and return the poll's choices with their
        votes, this one included; or raise a ``VoteRefused`` having changed nothing."""
        return await self.batcher.submit(check(poll, content, voter, now, sealed))

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


def _voter_column(voter: Voter) -> tuple[str, int | str | None]:
    """The ballot column naming this voter, and its value."""
    for column, value in (
        ("user_id", voter.user_id),
        ("wechat_openid", voter.openid),
        ("link_key", voter.link_key),
        ("invite_id", voter.invite_id),
    ):
        if value is not None:
            return column, value
    raise ValueError("a voter without any identity")


async def marks_of(db: Database, question_id: int, voter: Voter) -> dict[int, int | None] | None:
    """The choices this voter marked, in order (a ranking: first preference first), each with its
    place or stars (None on a choice ballot); none on a secret poll. None when they have not voted."""
    column, value = _voter_column(voter)
    rows = await db.fetch_all(
        "SELECT b.id, bc.choice_id, COALESCE(bc.place, bc.score) AS mark FROM ballot b"
        " LEFT JOIN ballot_choice bc ON bc.ballot_id = b.id"
        " WHERE b.question_id = %s AND b." + column + " = %s ORDER BY bc.place, bc.choice_id",
        (question_id, value),
    )
    return {row["choice_id"]: row["mark"] for row in rows if row["choice_id"] is not None} if rows else None


GroupedMarks = dict[tuple[tuple[int, int], ...], int]  # (choice id, place or stars) by choice id -> voters


async def grouped(db: Database, question_id: int) -> GroupedMarks:
    """Every distinct ballot of a ranked or score poll once, with the number of voters who cast it:
    identical ballots have the same key (``Ballot.key``), and an index on it counts them."""
    rows = await db.fetch_all(
        "SELECT marks, COUNT(*) AS n FROM ballot_marks WHERE question_id = %s GROUP BY marks", (question_id,)
    )
    counted: GroupedMarks = {}
    for row in rows:
        pairs = (item.split(":") for item in (row["marks"] or "").split(",") if item)
        counted[tuple((int(choice_id), int(mark)) for choice_id, mark in pairs)] = int(row["n"])
    return counted


async def grouped_secret(db: Database, question_id: int) -> GroupedMarks:
    """The same for a secret ranked or score poll, from its sealed ballots' published contents
    (identical ballots have identical texts: ``published``)."""
    rows = await db.fetch_all(
        "SELECT content, COUNT(*) AS n FROM secret_ballot WHERE question_id = %s GROUP BY content", (question_id,)
    )
    counted: GroupedMarks = {}
    for row in rows:
        content = json.loads(row["content"])
        if "ranking" in content:
            marks = tuple(sorted((int(c), place) for place, c in enumerate(content["ranking"], 1)))
        else:
            marks = tuple(sorted((int(c), int(stars)) for c, stars in content.get("scores", {}).items() if stars))
        counted[marks] = counted.get(marks, 0) + int(row["n"])
    return counted


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
