"""Secret polls' ballots: a voter's receipt shows their ballot; once the poll closes, every
ballot is published with the hash of its receipt, so that anyone can recount (docs/secret-ballots.md)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from aiohttp import web

from application.keys import DB
from application.services.polls import Status, status
from application.services.refusals import BallotsNotPublished, ReceiptNotFound
from models import ballot, question, secret_ballot
from models.clock import utcnow
from models.db import Database, Row


async def by_receipt(app: web.Application, poll: Row, code: str) -> dict[str, Any]:
    """The ballot cast with this receipt: ``ReceiptNotFound`` when none of the poll's was."""
    found = None
    if poll["secret"] and ballot.normal_receipt(code):
        found = await secret_ballot.by_receipt(app[DB], poll["id"], ballot.receipt_hash(code))
    if found is None:
        raise ReceiptNotFound
    return {**secret_ballot.content(found), "cast_on": found["cast_on"]}


def _published(rows: list[Row]) -> list[dict[str, Any]]:
    return [{"receipt_hash": row["receipt_hash"], **secret_ballot.content(row)} for row in rows]


async def published(app: web.Application, poll: Row) -> list[dict[str, Any]]:
    """Every ballot of a closed secret poll; ``BallotsNotPublished`` before it closes, or for a
    poll that is not secret."""
    if not poll["secret"] or status(poll, utcnow()) is not Status.CLOSED:
        raise BallotsNotPublished
    return _published(await secret_ballot.for_question(app[DB], poll["id"]))


def marked(content: dict[str, Any]) -> list[int]:
    """The choices a published ballot marks: those picked, ranked, or given 1 star or more."""
    return [
        int(choice_id)
        for choice_id in content.get("choice_ids") or content.get("ranking") or content.get("scores") or []
    ]


def cells(poll: Row, content: dict[str, Any]) -> list[int | str]:
    """A published ballot as one cell per choice of the poll, in its order: 1 when picked (else
    empty), a ranking's place (empty when unranked), or the stars given (0 when unscored)."""
    ids = [choice["id"] for choice in poll["choices"]]
    if "ranking" in content:
        places = {int(choice_id): place for place, choice_id in enumerate(content["ranking"], 1)}
        return [places.get(choice_id, "") for choice_id in ids]
    if "scores" in content:
        return [int(content["scores"].get(str(choice_id), 0)) for choice_id in ids]
    picked = set(content.get("choice_ids", []))
    return [1 if choice_id in picked else "" for choice_id in ids]


def recount(ballots: list[dict[str, Any]]) -> Counter[int]:
    """Each choice's votes, from the published ballots."""
    return Counter(choice_id for item in ballots for choice_id in marked(item))


async def verify(db: Database, question_id: int) -> list[str]:
    """Recount a secret poll from its published ballots and compare with its stored totals: one
    line per difference (none when they agree), or a line saying why it cannot be checked."""
    poll = await question.get_with_choices(db, question_id)
    if poll is None or not poll["secret"]:
        return [f"poll {question_id}: no such secret poll"]
    ballots = _published(await secret_ballot.for_question(db, question_id))
    counted = recount(ballots)
    participants = await ballot.count_for(db, question_id)
    problems = [
        f"choice {item['id']} ({item['choice_text']}): stored {item['votes']}, recounted {counted[item['id']]}"
        for item in poll["choices"]
        if item["votes"] != counted[item["id"]]
    ]
    if participants != len(ballots):
        problems.append(f"{participants} voters took part, {len(ballots)} ballots are published")
    return problems
