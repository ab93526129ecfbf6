"""Poll rules shared by the pages, the API, live updates and WeChat.

Who may see a poll and its results, checking a new poll's fields, reading polls through the
per-process cache, and the one way to vote, create, edit, close or delete: each change is
announced (``cluster/changes.py``: kinds VOTES and POLL) to every process
holding a copy, which drops it and updates live sockets. A refused vote becomes the right HTTP
answer here too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from aiohttp import web

from application.cluster.changes import Change, Kind
from application.cluster.poll_cache import reading_counts
from application.keys import BALLOTS, CHANGES, DB, POLL_CACHE
from application.web.auth import USER, require_user
from application.web.errors import AppError, ErrorCode, not_found
from application.web.forms import text_problem, whole_number
from application.web.i18n import N_
from models import ballot, choice, question
from models.clock import utcnow
from models.db import IntegrityError, Row

TEXT_MAX = 200
MIN_CHOICES = 2
MAX_CHOICES = 20
VISIBILITIES = ("always", "after_vote", "after_close")
# Times a poll may name, in UTC: within what both databases store, and a day inside what a
# datetime holds, so that every zone can show them.
EARLIEST = datetime(1970, 1, 1)
LATEST = datetime(9999, 12, 30, 23, 59, 59)
MAX_ID = 2**31 - 1  # the id columns are INT; larger numbers would overflow SQLite's binding

VOTE_REFUSALS: dict[type[ballot.VoteRefused], tuple[int, str, ErrorCode]] = {
    ballot.NoChoice: (400, N_("You didn't select a choice."), ErrorCode.INVALID_INPUT),
    ballot.InvalidChoice: (400, N_("That choice does not belong to this poll."), ErrorCode.INVALID_INPUT),
    ballot.TooManyChoices: (400, N_("You selected more choices than this poll allows."), ErrorCode.INVALID_INPUT),
    ballot.PollClosed: (403, N_("This poll is closed."), ErrorCode.POLL_CLOSED),
    ballot.AlreadyVoted: (409, N_("You have already voted in this poll."), ErrorCode.ALREADY_VOTED),
    ballot.PollNotFound: (404, N_("Poll not found."), ErrorCode.NOT_FOUND),
}


def privileged(request: web.Request, poll: Row) -> bool:
    """The owner and administrators see scheduled polls and hidden results."""
    current = request[USER]
    return current is not None and (current["is_admin"] or current["id"] == poll["user_id"])


async def managed_poll(request: web.Request) -> Row:
    """The poll in the URL, for its owner or an administrator to manage; 403 for anyone else."""
    require_user(request)
    poll = await visible_poll(request)
    if not privileged(request, poll):
        raise AppError(403, N_("Only the poll's owner or an administrator may do this."))
    return poll


async def cached_poll(app: web.Application, question_id: int, counts: bool = True) -> Row | None:
    """A poll with its choices, from this process's cache when it has a current copy. Without
    ``counts`` (the vote path) only its rules must be current: its counts may predate the last votes."""
    cache = app[POLL_CACHE]
    generation = cache.generation(question_id)
    found = cache.get(question_id) if counts else cache.rules_of(question_id)
    if found is None:

        async def fetch() -> Row | None:
            async with reading_counts(app, question_id) if counts else contextlib.nullcontext():
                row = await question.get_with_choices(app[DB], question_id)
            if row is not None:
                cache.put(question_id, generation, row, counts)
            return row

        loaded = await cache.once((counts, question_id, generation), fetch)
        found = dict(loaded) if loaded is not None else None  # shared by every waiter: copy
    if found is not None:
        found["cache_generation"] = generation  # what pages rendered from it may be shared under
    return found


def seconds_left(poll: Row, now: datetime) -> float | None:
    """Seconds until the poll closes by itself, when that is still to come."""
    closes_at = poll["closes_at"]
    return (closes_at - now).total_seconds() if closes_at is not None and closes_at > now else None


async def visible_poll(request: web.Request) -> Row:
    """The poll in the URL, with its choices: 404 when unknown, deleted, or scheduled and not ours."""
    return _visible(request, await cached_poll(request.app, int(request.match_info["question_id"])))


async def votable_poll(request: web.Request) -> Row:
    """The poll in the URL with the rules a vote is checked against; its counts may be old."""
    return _visible(request, await cached_poll(request.app, int(request.match_info["question_id"]), counts=False))


def _visible(request: web.Request, found: Row | None) -> Row:
    if found is None or not (question.is_published(found, utcnow()) or privileged(request, found)):
        raise not_found(N_("Poll not found."))
    return found


def voter_of(request: web.Request) -> ballot.Voter | None:
    current = request[USER]
    return ballot.Voter(user_id=current["id"]) if current is not None else None


@dataclass(frozen=True)
class PollView:
    """Everything a page or API answer says about one poll, for one viewer."""

    poll: Row
    choices: list[Row]
    my_vote: list[int] | None
    is_open: bool
    results_visible: bool

    def results(self) -> dict[str, Any]:
        return choice.tally(self.poll["id"], self.choices)


async def poll_view(request: web.Request, poll: Row) -> PollView:
    """``poll`` as ``visible_poll`` returns it, with its choices."""
    now = utcnow()
    voter = voter_of(request)
    my_vote = await ballot.choices_of(request.app[DB], poll["id"], voter) if voter else None
    visible = question.results_visible(poll, now, my_vote is not None, privileged(request, poll))
    return PollView(poll, poll["choices"], my_vote, question.is_open(poll, now), visible)


async def record_vote(app: web.Application, poll: Row, choice_ids: list[int], voter: ballot.Voter) -> list[Row]:
    """The one vote path of the site, the API and WeChat: the poll's choices with their counts,
    this vote included, or ``ballot.VoteRefused``. Every process holding the poll's counts hears of
    it (``changes.votes_counted``)."""
    return await app[BALLOTS].cast(poll, choice_ids, voter, utcnow())


async def cast_vote(request: web.Request, poll: Row, choice_ids: list[int]) -> list[Row]:
    voter = voter_of(request)
    assert voter is not None
    try:
        return await record_vote(request.app, poll, choice_ids, voter)
    except ballot.VoteRefused as exc:
        raise AppError(*VOTE_REFUSALS[type(exc)]) from None


def parse_time(value: Any, field: str, errors: dict[str, str], zone: tzinfo = UTC) -> datetime | None:
    """ISO 8601 to naive UTC. An offset in the value is honoured; without one the time is in
    ``zone`` (a form's: the visitor's; the API's: UTC). A local time a daylight-saving change
    makes ambiguous or skips reads with the offset in force before the change (PEP 495's fold=0):
    01:30 on a night that repeats it is its first occurrence, 02:30 on a night that skips it is
    03:30 after the change."""
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(str(value).strip())
    except ValueError:
        errors[field] = N_("Use an ISO 8601 date and time, e.g. 2026-12-31T18:00.")
        return None
    utc = _in_utc(parsed if parsed.tzinfo else parsed.replace(tzinfo=zone))
    if utc is None:
        errors[field] = N_(
            "Use a time between %(earliest)s and %(latest)s.",
            earliest=f"{EARLIEST:%Y-%m-%d}",
            latest=f"{LATEST:%Y-%m-%d}",
        )
        return None
    return utc


def _in_utc(moment: datetime) -> datetime | None:
    """An aware time as naive UTC in whole seconds, or None outside EARLIEST..LATEST."""
    try:
        utc = moment.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    except OverflowError:  # the offset took it before year 1 or after 9999
        return None
    return utc if EARLIEST <= utc <= LATEST else None


def parse_choice_ids(raw: Any, field: str) -> list[int]:
    """Choice ids from a form or JSON; anything that is not a whole number is refused (400 naming
    ``field``, the request's name for them)."""
    ids = []
    for value in raw if isinstance(raw, list) else [raw]:
        choice_id = whole_number(value)
        if choice_id is None:
            raise AppError(400, N_("Choices are identified by whole numbers."), fields={field: N_("Not a choice id.")})
        ids.append(choice_id)
    if any(not 0 < choice_id <= MAX_ID for choice_id in ids):
        raise AppError(400, N_("That choice does not belong to this poll."), fields={field: N_("Unknown choice.")})
    return ids


def picked_choices(poll: Row, raw: list[str]) -> list[int]:
    """The poll's choices named in ``raw`` (form or query values; anything else is ignored), at
    most as many as a voter may pick."""
    named = set(raw)
    return [item["id"] for item in poll["choices"] if str(item["id"]) in named][: poll["max_choices"]]


@dataclass(frozen=True)
class PollFields:
    question_text: str
    choices: list[str]
    pub_date: datetime
    closes_at: datetime | None
    max_choices: int
    results_visibility: str


def _check_text(value: Any, field: str, errors: dict[str, str]) -> str:
    if not isinstance(value, str) or not value.strip():
        errors[field] = N_("This field is required.") if value in (None, "") else N_("This field must be text.")
        return ""
    if problem := text_problem(value.strip(), TEXT_MAX):
        errors[field] = problem
    return value.strip()


def _check_choices(raw: Any, field: str, errors: dict[str, str]) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        errors[field] = N_("Give the choices as a list of texts.")
        return []
    texts = [item.strip() for item in raw if item.strip()]  # blank ones are ignored
    lowered = [text.casefold() for text in texts]
    problems = [problem for text in texts if (problem := text_problem(text, TEXT_MAX))]
    if not MIN_CHOICES <= len(texts) <= MAX_CHOICES:
        errors[field] = N_("Give between %(low)s and %(high)s choices.", low=MIN_CHOICES, high=MAX_CHOICES)
    elif any(len(text) > TEXT_MAX for text in texts):
        errors[field] = N_("Each choice may have at most %(count)s characters.", count=TEXT_MAX)
    elif problems:
        errors[field] = problems[0]
    elif len(set(lowered)) != len(lowered):
        errors[field] = N_("Each choice must be different.")
    return texts


def _check_max_choices(raw: Any, count: int, errors: dict[str, str]) -> int:
    if raw in (None, ""):
        return 1
    value = whole_number(raw)
    if value is None:
        errors["max_choices"] = N_("Enter a whole number.")
        return 1
    if not 1 <= value <= max(count, 1):
        errors["max_choices"] = N_("Between 1 and the number of choices.")
    return value


def check_poll(
    data: Mapping[str, Any], choices: Any, now: datetime, zone: tzinfo = UTC, choices_field: str = "choice"
) -> PollFields:
    """A new or edited poll's fields, or 400 with a message per bad field; times without an
    offset are in ``zone``; ``choices_field`` is the request's name for the choices (the form's
    repeated ``choice``, the API's ``choices``)."""
    errors: dict[str, str] = {}
    text = _check_text(data.get("question_text"), "question_text", errors)
    texts = _check_choices(choices, choices_field, errors)
    pub_date = parse_time(data.get("pub_date"), "pub_date", errors, zone) or now
    closes_at = parse_time(data.get("closes_at"), "closes_at", errors, zone)
    if closes_at is not None and "closes_at" not in errors and closes_at <= max(pub_date, now):
        errors["closes_at"] = N_("The closing time must be in the future and after the publication time.")
    visibility = data.get("results_visibility")
    if visibility in (None, ""):
        visibility = "always"
    elif visibility not in VISIBILITIES:
        errors["results_visibility"] = N_("Choose always, after_vote or after_close.")
    max_choices = _check_max_choices(data.get("max_choices"), len(texts), errors)
    if errors:
        raise AppError(400, N_("The poll could not be saved: please correct the fields."), fields=errors)
    return PollFields(text, texts, pub_date, closes_at, max_choices, str(visibility))


async def poll_changed(app: web.Application, question_id: int) -> None:
    """Every process drops its copies of the poll (and the index) and checks its live sockets."""
    await app[CHANGES].announce(Change(Kind.POLL, (question_id,)))


async def create_poll(app: web.Application, owner_id: int, fields: PollFields) -> int:
    async with app[DB].transaction() as tx:
        question_id = await question.create(
            tx,
            user_id=owner_id,
            question_text=fields.question_text,
            pub_date=fields.pub_date,
            closes_at=fields.closes_at,
            max_choices=fields.max_choices,
            results_visibility=fields.results_visibility,
        )
        for text in fields.choices:
            await choice.create(tx, question_id=question_id, choice_text=text)
    await poll_changed(app, question_id)  # the index lists it now
    return question_id


def _already_voted() -> AppError:
    return AppError(409, N_("This poll has votes already, so it can no longer be edited."), ErrorCode.ALREADY_VOTED)


async def check_editable(app: web.Application, poll: Row) -> None:
    """409 once the poll has a vote: its ballots name its choices."""
    if await ballot.count_for(app[DB], poll["id"]):
        raise _already_voted()


async def close_poll(app: web.Application, poll: Row) -> None:
    await question.close(app[DB], poll["id"], utcnow())
    await poll_changed(app, poll["id"])


async def set_poll_deleted(app: web.Application, question_id: int, deleted: bool) -> bool:
    """Soft delete or restore; False when there is no such question."""
    found = await question.set_deleted(app[DB], question_id, deleted)
    await poll_changed(app, question_id)
    return found


async def edit_poll(app: web.Application, poll: Row, fields: PollFields) -> None:
    """Rewrite a poll nobody voted on; 409 once the first vote is in."""
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
            )
            await choice.replace_all(tx, poll["id"], fields.choices)
    except IntegrityError:  # a vote arrived meanwhile: its ballot holds the old choices
        raise _already_voted() from None
    await poll_changed(app, poll["id"])
