"""Poll rules shared by the pages, the API, live results and WeChat; they never see a request.

Who may see a poll and its results (given a ``Viewer``), the one status of a poll, reading polls
through this process's cache, and the one way to create, edit, close or delete one: each change
is announced (``cluster/changes.py``, kind POLL) to every process holding a copy, which drops it
and checks its live sockets. A rule that says no raises a refusal (``refusals.py``).

Reads come with a ``PageCache`` (``Found.pages``, ``PublishedPage.pages``): where a page rendered
from them may be shared with other anonymous visitors while what they read is current.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from aiohttp import web

from application.cluster.changes import Change, Kind
from application.cluster.poll_cache import INDEX, cached_listing, cached_poll
from application.keys import CHANGES, DB, POLL_CACHE
from application.services import join_codes
from application.services import results as results_of
from application.services.poll_fields import PollFields
from application.services.refusals import (
    NotOnReveal,
    NotPollManager,
    NotPollOwner,
    OwnerDeleted,
    PollHasVotes,
    PollNotFound,
    ResultsHidden,
)
from application.services.viewer import Viewer
from application.web.rendering import PageCache
from models import ballot, choice, question
from models.clock import utcnow
from models.db import MAX_ID, IntegrityError, Row

CREATE_ATTEMPTS = 3


class Status(StrEnum):
    SCHEDULED = "scheduled"  # not published yet: only its owner and administrators see it
    OPEN = "open"
    CLOSED = "closed"


def status(poll: Row, now: datetime) -> Status:
    """The one status of a poll: pages, the API (``is_open``) and WeChat all say this one."""
    if not question.is_published(poll, now):
        return Status.SCHEDULED
    return Status.OPEN if question.is_open(poll, now) else Status.CLOSED


def results_visible(poll: Row, viewer: Viewer, voted: bool, now: datetime | None = None) -> bool:
    """Owners and administrators always see results; others per the poll's results_visibility."""
    return question.results_visible(poll, now or utcnow(), voted, viewer.manages(poll))


def results(poll: Row, choices: list[Row] | None = None) -> dict[str, Any]:
    """The results document shared by the pages, the API, CSV, live updates and WeChat
    (``results.document``); ``choices``: a choice poll's counts newer than the poll's."""
    return results_of.document(poll, choices)


def _seconds_left(poll: Row, now: datetime) -> float | None:
    """Seconds until the poll closes by itself, when that is still to come."""
    closes_at = poll["closes_at"]
    return (closes_at - now).total_seconds() if closes_at is not None and closes_at > now else None


@dataclass(frozen=True)
class Found:
    """A poll with its choices, and where pages shown from it may be shared."""

    poll: Row
    pages: PageCache


async def _cached(app: web.Application, question_id: int, counts: bool) -> tuple[Row | None, int]:
    if not 0 < question_id <= MAX_ID:  # no such id: nothing to look up
        return None, 0
    db = app[DB]
    # Counts are kept until the next vote: a ranked or score poll's with its grouped ballots.
    load = (
        (lambda: results_of.load(db, question_id)) if counts else (lambda: question.get_with_choices(db, question_id))
    )
    return await cached_poll(app, question_id, load, counts)


def visible_to(poll: Row, now: datetime, manages: bool) -> bool:
    """Everyone sees a published poll; its owner and administrators see it before, too."""
    return question.is_published(poll, now) or manages


def _visible(found: Row | None, viewer: Viewer, now: datetime) -> Row:
    if found is None or not visible_to(found, now, viewer.manages(found)):
        raise PollNotFound
    return found


async def visible_poll(app: web.Application, question_id: int, viewer: Viewer) -> Found:
    """The poll with its choices and current counts; ``PollNotFound`` when unknown, deleted, or
    not published yet and not theirs to manage."""
    now = utcnow()
    found, generation = await _cached(app, question_id, counts=True)
    poll = _visible(found, viewer, now)
    return Found(poll, app[POLL_CACHE].slot(question_id, generation, _seconds_left(poll, now)))


async def votable_poll(app: web.Application, question_id: int, viewer: Viewer) -> Row:
    """The poll with the rules a vote is checked against; its counts may be old."""
    found, _ = await _cached(app, question_id, counts=False)
    return _visible(found, viewer, utcnow())


async def managed_poll(app: web.Application, question_id: int, viewer: Viewer) -> Row:
    """The poll, for its owner or an administrator to manage; ``NotPollManager`` for anyone else."""
    poll = (await visible_poll(app, question_id, viewer)).poll
    if not viewer.manages(poll):
        raise NotPollManager
    return poll


async def owned_poll(app: web.Application, question_id: int, viewer: Viewer) -> Found:
    """The poll, for its owner to edit; ``NotPollOwner`` for anyone else."""
    found = await visible_poll(app, question_id, viewer)
    if viewer.user is None or found.poll["user_id"] != viewer.user["id"]:
        raise NotPollOwner
    return found


@dataclass(frozen=True)
class PollView:
    """Everything a page, an API answer or a WeChat reply says about one poll, for one viewer."""

    poll: Row
    choices: list[Row]
    my_vote: list[int] | None  # the choice ids they voted for; None when they have not, or the poll is secret or invite
    status: Status
    results_visible: bool
    voted: bool = False  # on a secret or invite poll too, where ``my_vote`` stays None
    my_stars: dict[int, int] = field(default_factory=dict)  # a score poll's: the stars they gave, by choice

    def results(self) -> dict[str, Any]:
        return results(self.poll)

    def shown_results(self) -> dict[str, Any] | None:
        """The results when this viewer may see them; asked by the page as it renders, so that a
        page shared from the cache counts nothing."""
        return self.results() if self.results_visible else None


async def poll_view(app: web.Application, poll: Row, viewer: Viewer) -> PollView:
    """``poll`` as the reads above return it, as ``viewer`` sees it."""
    now = utcnow()
    voter = viewer.voter_for(poll)
    marks = await ballot.marks_of(app[DB], poll["id"], voter) if voter is not None else None
    # How a ballot voted is shown back to nobody on a secret poll, nor on an invite poll: whoever
    # holds a code is not necessarily its voter (the owner holds them all), SPEC section 11.
    untold = poll["secret"] or poll["access"] == "invite"
    my_vote = None if marks is None or untold else list(marks)
    scored = {} if untold or poll["method"] != "score" else (marks or {})
    stars = {choice_id: int(mark) for choice_id, mark in scored.items() if mark}
    visible = results_visible(poll, viewer, marks is not None, now)
    return PollView(poll, poll["choices"], my_vote, status(poll, now), visible, marks is not None, stars)


async def results_view(app: web.Application, poll: Row, viewer: Viewer) -> PollView:
    """``poll_view``, or ``ResultsHidden`` while the poll's results are hidden from ``viewer``."""
    view = await poll_view(app, poll, viewer)
    if not view.results_visible:
        raise ResultsHidden
    return view


@dataclass(frozen=True)
class Listed:
    """A poll in a list, with its status."""

    poll: Row
    status: Status


def _listed(polls: list[Row], now: datetime) -> list[Listed]:
    return [Listed(poll, status(poll, now)) for poll in polls]


@dataclass(frozen=True)
class PublishedPage:
    """One page of the index: the published polls, newest first, and how many there are."""

    total: int
    polls: list[Listed]
    pages: PageCache


async def published_page(app: web.Application, page: int, size: int) -> PublishedPage:
    """Page ``page`` (from 1) of ``size`` polls, as this process's cache holds it."""
    db, now = app[DB], utcnow()

    async def load() -> tuple[int, list[Row]]:
        return await question.count_published(db, now), await question.list_published(db, now, size, (page - 1) * size)

    (total, polls), generation = await cached_listing(app, page, load)
    closing = [left for poll in polls if (left := _seconds_left(poll, now)) is not None]
    return PublishedPage(
        total, _listed(polls, now), app[POLL_CACHE].slot(INDEX, generation, min(closing, default=None))
    )


async def published(app: web.Application, limit: int, offset: int) -> tuple[int, list[Listed]]:
    """How many polls are published, and ``limit`` of them from ``offset``, newest first, read now."""
    db, now = app[DB], utcnow()
    total = await question.count_published(db, now)
    return total, _listed(await question.list_published(db, now, limit, offset), now)


async def open_polls(app: web.Application, limit: int) -> list[Row]:
    """Published polls still taking votes, newest first."""
    return await question.list_open(app[DB], utcnow(), limit)


async def owned_by(app: web.Application, user_id: int) -> list[Listed]:
    """Every poll the user created, scheduled ones included, newest first."""
    return _listed(await question.owned_by(app[DB], user_id), utcnow())


async def voted_by(app: web.Application, user_id: int) -> list[Listed]:
    """The polls the user voted in, most recent ballot first."""
    return _listed(await question.voted_by(app[DB], user_id), utcnow())


async def count_matching(app: web.Application, text: str) -> int:
    """Polls whose text contains ``text``, deleted ones too, for moderation."""
    return await question.count_matching(app[DB], text)


async def list_matching(app: web.Application, text: str, limit: int, offset: int) -> list[Row]:
    return await question.list_matching(app[DB], text, limit, offset)


async def _changed(app: web.Application, question_id: int) -> None:
    """Every process drops its copies of the poll (and the index) and checks its live sockets."""
    await app[CHANGES].announce(Change(Kind.POLL, (question_id,)))


async def create_poll(app: web.Application, owner_id: int, fields: PollFields) -> int:
    for attempt in range(CREATE_ATTEMPTS):
        try:
            question_id, claimed = await _insert_poll(app, owner_id, fields)
            break
        except IntegrityError:  # another poll drew the same join code at the same moment
            if attempt == CREATE_ATTEMPTS - 1:
                raise
    await _code_taken(app, claimed)
    await _changed(app, question_id)  # the index lists it now
    return question_id


async def _code_taken(app: web.Application, claimed: join_codes.Claim) -> None:
    """The ended poll whose code was just taken no longer shows it."""
    if claimed.taken_from is not None:
        await _changed(app, claimed.taken_from)


async def _insert_poll(app: web.Application, owner_id: int, fields: PollFields) -> tuple[int, join_codes.Claim]:
    async with app[DB].transaction() as tx:
        claimed = await join_codes.claim(tx, utcnow())
        question_id = await question.create(
            tx,
            user_id=owner_id,
            question_text=fields.question_text,
            pub_date=fields.pub_date,
            closes_at=fields.closes_at,
            max_choices=fields.max_choices,
            results_visibility=fields.results_visibility,
            method=fields.method,
            access=fields.access,
            secret=fields.secret,
            join_code=claimed.code,
        )
        for text in fields.choices:
            await choice.create(tx, question_id=question_id, choice_text=text)
    return question_id, claimed


async def check_editable(app: web.Application, poll: Row) -> None:
    """``PollHasVotes`` once the poll has a vote: its ballots name its choices."""
    if await ballot.count_for(app[DB], poll["id"]):
        raise PollHasVotes


async def presented_poll(app: web.Application, question_id: int, viewer: Viewer) -> Found:
    """The poll for its owner or an administrator to put on the big screen, with a join code
    while it is open (``NotPollManager`` for anyone else)."""
    found = await visible_poll(app, question_id, viewer)
    if not viewer.manages(found.poll):
        raise NotPollManager
    if found.poll["join_code"] is None:
        claimed = await join_codes.ensure(app[DB], found.poll, utcnow())
        if claimed.code is not None:
            await _code_taken(app, claimed)
            await _changed(app, question_id)
            found = await visible_poll(app, question_id, viewer)
    return found


async def joined_poll(app: web.Application, typed: str) -> int:
    """The id of the open poll a typed join code names (``join_codes`` says why not)."""
    return await join_codes.poll_of(app[DB], join_codes.read(typed), utcnow())


async def reveal_results(app: web.Application, poll: Row) -> None:
    """Show an ``on_reveal`` poll's results to everyone, on every page and live socket at once;
    ``NotOnReveal`` for any other poll."""
    if poll["results_visibility"] != "on_reveal":
        raise NotOnReveal
    await question.reveal(app[DB], poll["id"], utcnow())
    await _changed(app, poll["id"])


async def close_poll(app: web.Application, poll: Row) -> None:
    await question.close(app[DB], poll["id"], utcnow())
    await _changed(app, poll["id"])


async def set_poll_deleted(app: web.Application, question_id: int, deleted: bool) -> None:
    """Soft delete or restore; ``PollNotFound`` when there is no such poll, ``OwnerDeleted`` to
    restore a poll whose owner deleted their account (SPEC 14: their polls are deleted)."""
    found = await question.set_deleted(app[DB], question_id, deleted)
    await _changed(app, question_id)
    if not found:
        if not deleted and await question.owner_deleted(app[DB], question_id):
            raise OwnerDeleted
        raise PollNotFound


async def edit_poll(app: web.Application, poll: Row, fields: PollFields) -> None:
    """Rewrite a poll nobody voted on; ``PollHasVotes`` once the first vote is in."""
    db = app[DB]
    await check_editable(app, poll)
    try:
        async with db.transaction() as tx:
            await question.update(
                tx,
                poll["id"],
                question_text=fields.question_text,
                pub_date=fields.pub_date,
                closes_at=fields.closes_at,
                max_choices=fields.max_choices,
                results_visibility=fields.results_visibility,
                method=fields.method,
            )
            await choice.replace_all(tx, poll["id"], fields.choices)
    except IntegrityError:  # a vote arrived meanwhile: its ballot holds the old choices
        raise PollHasVotes from None
    await _changed(app, poll["id"])
