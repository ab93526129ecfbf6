"""Voting: one ballot per voter per question, counted atomically.

The ballot row and ``choice.votes = votes + 1`` are written in one transaction;
the UNIQUE keys on ballot make a second ballot by the same voter impossible,
however many requests race.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from models import question
from models.db import Database, IntegrityError, Row, placeholders


class VoteRefused(Exception):
    """The vote was not counted; nothing changed."""


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


@dataclass(frozen=True)
class Voter:
    """A site user or a WeChat follower (by openid)."""

    user_id: int | None = None
    openid: str | None = None


async def cast(db: Database, poll: Row, choice_ids: Sequence[int], voter: Voter, now: datetime) -> None:
    """Count one ballot for ``choice_ids``, or raise a ``VoteRefused`` having changed nothing."""
    chosen = sorted(set(choice_ids))
    if not chosen:
        raise NoChoice
    if not question.is_open(poll, now):
        raise PollClosed
    if len(chosen) > poll["max_choices"]:
        raise TooManyChoices
    async with db.transaction() as tx:
        try:
            result = await tx.execute(
                "INSERT INTO ballot (question_id, user_id, wechat_openid) VALUES (%s, %s, %s)",
                (poll["id"], voter.user_id, voter.openid),
            )
        except IntegrityError:
            raise AlreadyVoted from None
        # Count first: the UPDATE takes the choice rows' exclusive locks before the
        # ballot_choice foreign keys would take shared ones, which deadlocks under load.
        counted = await tx.execute(
            "UPDATE choice SET votes = votes + 1 WHERE question_id = %s AND delete_flag = 0"
            " AND id IN (" + placeholders(len(chosen)) + ")",
            (poll["id"], *chosen),
        )
        if counted.rowcount != len(chosen):
            raise InvalidChoice  # rolls the ballot back
        for choice_id in chosen:
            await tx.execute(
                "INSERT INTO ballot_choice (ballot_id, choice_id) VALUES (%s, %s)", (result.last_id, choice_id)
            )


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
