"""A poll's results document, for every method: the pages, the API, CSV, live updates and WeChat.

A choice poll's results are its choices' counts. A ranked or score poll's come from its ballots,
grouped in SQL (each distinct ballot once, with its number of voters: ``ballot.grouped``) and
counted by ``tallies``; ``load`` reads them with the poll, so that what the poll cache keeps holds
them until the next vote, and their tallies once counted (``Ballots``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from application.keys import DB
from application.services import tallies
from models import ballot, choice, question
from models.db import Database, Row

BALLOTS = "grouped_ballots"  # the key ``load`` adds to a ranked or score poll


@dataclass
class Ballots:
    """A ranked or score poll's grouped ballots, and their results once counted. Every copy of the
    poll that the poll cache hands out until the next vote shares this one object, so a poll with
    many distinct ballots is counted once per vote, not once per page."""

    grouped: ballot.GroupedMarks
    counted: dict[str, Any] | None = None


async def load(db: Database, question_id: int) -> Row | None:
    """The poll with its choices and counts, and a ranked or score poll's grouped ballots."""
    poll = await question.get_with_choices(db, question_id)
    if poll is not None and poll["method"] != "choice":
        # A secret poll's ballots are counted from their sealed contents, never linked to a voter.
        read = ballot.grouped_secret if poll["secret"] else ballot.grouped
        poll[BALLOTS] = Ballots(await read(db, question_id))
    return poll


def rankings(choice_ids: list[int], grouped: ballot.GroupedMarks) -> dict[tallies.Ranking, int]:
    """Each distinct ranking with its voters: choices by place, those no longer in the poll left out."""
    known, counted = set(choice_ids), Counter[tallies.Ranking]()
    for marks, voters in grouped.items():
        counted[tuple(c for c, _ in sorted(marks, key=lambda mark: mark[1]) if c in known)] += voters
    return dict(counted)


def score_ballots(choice_ids: list[int], grouped: ballot.GroupedMarks) -> dict[tallies.Scores, int]:
    """Each distinct score ballot with its voters, as stars in the poll's choice order (0 unscored)."""
    counted = Counter[tallies.Scores]()
    for marks, voters in grouped.items():
        stars = dict(marks)
        counted[tuple(stars.get(choice_id, 0) for choice_id in choice_ids)] += voters
    return dict(counted)


def document(poll: Row, choices: list[Row] | None = None) -> dict[str, Any]:
    """The results of ``poll`` as the API publishes them (SPEC sections 6 and 12); ``choices``:
    counts newer than the poll's own, when a choice poll's vote just returned them."""
    method = poll["method"]
    if method == "choice":
        return {"method": method, **choice.tally(poll["id"], choices or poll["choices"])}
    held: Ballots = poll.get(BALLOTS) or Ballots({})
    if held.counted is None:
        held.counted = _counted(poll, held.grouped)
    return dict(held.counted)


def _counted(poll: Row, grouped: ballot.GroupedMarks) -> dict[str, Any]:
    """A ranked or score poll's results document, from its grouped ballots."""
    method = poll["method"]
    voters = sum(grouped.values())
    counts = choice.tally(poll["id"], poll["choices"])
    for item in counts["choices"]:  # the share of the ballots that mark each choice
        item["percent"] = round(100 * item["votes"] / voters, 1) if voters else 0.0
    found = {**counts, "method": method, "total": voters}
    ids = [item["id"] for item in poll["choices"]]
    if method == "ranked":
        return {**found, **tallies.tally_ranked(ids, rankings(ids, grouped)).to_json()}
    texts = {item["id"]: item["choice_text"] for item in poll["choices"]}
    scored = tallies.tally_score(ids, score_ballots(ids, grouped)).to_json(texts)
    by_id = {item["id"]: item for item in scored["choices"]}
    return {**found, **scored, "choices": [{**item, **by_id[item["id"]]} for item in counts["choices"]]}


async def now(app: web.Application, question_id: int) -> dict[str, Any] | None:
    """The poll's results read now, past every cache (the live hub's read); None when it is gone."""
    poll = await load(app[DB], question_id)
    return None if poll is None else document(poll)
