"""Poll pages: the index, a poll, voting, results, and the owner's create/edit/close/delete."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from math import ceil
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from aiohttp import web

from application.keys import SETTINGS
from application.services import poll_fields, polls, voting
from application.services.refusals import (
    AlreadyVoted,
    InvalidChoice,
    InvalidPoll,
    InviteNotValid,
    InviteRequired,
    NoChoice,
    PollClosed,
    PollHasVotes,
    RankUsedTwice,
    ScoreOutOfRange,
    TooManyChoices,
    TooManyLinkVotes,
    WrongBallot,
)
from application.services.viewer import Viewer
from application.views import viewer_of
from application.views.refusals import as_error, refusal_error
from application.web import timezones
from application.web.auth import USER, login_url, require_user
from application.web.csrf import csrf_token
from application.web.csv_export import csv_response
from application.web.errors import AppError, not_found
from application.web.forms import PAGE_MAX, choice_ids, query_number, read_form, whole_number
from application.web.i18n import N_
from application.web.jsonutil import json_response
from application.web.rendering import PageCache, redirect, render
from application.web.urls import absolute_url, url
from application.web.voter_key import give_voter_key, new_voter_key, remember_invite

if TYPE_CHECKING:
    from multidict import MultiDictProxy

    from models.db import Row

PAGE_SIZE = 20
# A signed-out visitor's ticked choices, kept while they log in (``QuestionVote._to_login``).
PICKED_COOKIE = "picked"
PICKED_MAX_AGE = 30 * 60
# Refused votes answered with the poll's page and the reason (the others: the error page).
SHOWN_ON_POLL = (
    NoChoice,
    InvalidChoice,
    TooManyChoices,
    RankUsedTwice,
    ScoreOutOfRange,
    WrongBallot,
    PollClosed,
    AlreadyVoted,
    TooManyLinkVotes,
    InviteNotValid,
    InviteRequired,
)
SEED_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
MORE_BOXES = 4  # empty choice boxes "More choices" adds without JavaScript (with it, one per click)


def question_id(request: web.Request) -> int:
    return int(request.match_info["question_id"])


class QuestionIndex(web.View):
    async def get(self) -> web.Response:
        page = query_number(self.request, "page", 1, PAGE_MAX)
        listing = await polls.published_page(self.request.app, page, PAGE_SIZE)
        pages = max(1, ceil(listing.total / PAGE_SIZE))
        if page > pages:
            raise not_found()
        context = {"questions": listing.polls, "page": page, "pages": pages, "total": listing.total}
        return await render(self.request, "questions/index.html", context, cache=listing.pages)


def shared_pages(found: polls.Found, viewer: Viewer) -> PageCache | None:
    """Where the poll's pages may be shared between anonymous visitors: not for a browser that
    may have voted as itself (a link poll's voter key, an invite code it voted with): its page
    says whether it voted, and may show results hidden from the others."""
    voter = viewer.voter_for(found.poll)
    return None if voter is not None and (voter.link_key or voter.invite_id) else found.pages


async def render_detail(
    request: web.Request,
    found: polls.Found,
    message: str = "",
    status: int = 200,
    chosen: list[int] | None = None,
    viewer: Viewer | None = None,
    vote_url: str = "",
    entered: dict[str, str] | None = None,
    typed_code: str = "",
) -> web.Response:
    """The poll page; after a refused vote, with its ``message``, the ``chosen`` choices ticked
    again and the ranks or stars ``entered`` (by field name) filled in again. ``viewer`` and
    ``vote_url`` for an invite code's page (``/v/{code}``: not shared); ``typed_code``: a wrong
    code typed in an invite poll's box, shown again to be corrected."""
    poll = found.poll
    viewer = viewer or viewer_of(request)
    view = await polls.poll_view(request.app, poll, viewer)
    if view.status is polls.Status.OPEN and request[USER] is not None:
        await csrf_token(request)
    share_url = absolute_url(request, "question", question_id=poll["id"])
    from_login = picked_choices(poll, picked_before_login(request))
    context = {
        "view": view,
        "poll": poll,
        "message": message,
        "share_url": share_url,
        "picked": chosen if chosen is not None else from_login,
        "entered": entered or {},
        "vote_url": vote_url or url(request, "question_vote", question_id=poll["id"]),
        "by_invite": viewer.invite is not None,
        "typed_code": typed_code,
    }
    # A refusal's page (its message, what they ticked or typed) is this visitor's own.
    pages = None if vote_url or message else shared_pages(found, viewer)
    response = await render(request, "questions/detail.html", context, status, pages)
    if from_login:
        response.del_cookie(PICKED_COOKIE, path=url(request, "question", question_id=poll["id"]))  # ticked once
    return response


def picked_choices(poll: Row, raw: list[str]) -> list[int]:
    """The poll's choices named in ``raw`` (form or cookie values; anything else is ignored), at
    most as many as a voter may pick."""
    named = set(raw)
    return [item["id"] for item in poll["choices"] if str(item["id"]) in named][: poll["max_choices"]]


def picked_before_login(request: web.Request) -> list[str]:
    """The choices a signed-out visitor ticked before being sent to log in (``QuestionVote``).
    Only a signed-in user's page shows them: an anonymous page is shared between visitors."""
    raw = request.cookies.get(PICKED_COOKIE, "")
    return raw.split(",") if raw and request[USER] is not None else []


def _marks(form: MultiDictProxy[str], prefix: str) -> dict[int, int]:
    """The form's ``<prefix><choice id>`` fields as whole numbers by choice id; blank ones left out."""
    marks = {}
    for name, raw in form.items():
        if not name.startswith(prefix) or not str(raw).strip():
            continue
        choice_id, mark = whole_number(name.removeprefix(prefix)), whole_number(raw)
        if choice_id is None:
            raise InvalidChoice
        if mark is None:
            raise AppError(400, N_("Enter a whole number."), fields={name: N_("Enter a whole number.")})
        marks[choice_id] = mark
    return marks


def ballot_from_form(poll: Row, form: MultiDictProxy[str]) -> voting.Content:
    """The ballot the vote form fills in, by the poll's method: ``choice`` (repeated), ``rank_<id>``
    (1..n, blank: unranked) or ``score_<id>`` (0..5 stars, blank: 0)."""
    if poll["method"] == "choice":
        return voting.Choices(tuple(choice_ids(form.getall("choice", []), "choice")))
    if poll["method"] == "score":
        return voting.Scores(tuple(sorted(_marks(form, "score_").items())))
    ranks = _marks(form, "rank_")
    if not all(1 <= rank <= len(poll["choices"]) for rank in ranks.values()):
        problem = N_("Ranks go from 1 to %(count)s.", count=len(poll["choices"]))
        raise AppError(400, problem, fields={"rank": problem})
    if len(set(ranks.values())) != len(ranks):
        raise RankUsedTwice
    return voting.Ranking(tuple(sorted(ranks, key=ranks.__getitem__)))


class QuestionDetail(web.View):
    async def get(self) -> web.Response:
        found = await polls.visible_poll(self.request.app, question_id(self.request), viewer_of(self.request))
        return await render_detail(self.request, found)


async def cast_from_form(
    request: web.Request, poll: Row, viewer: Viewer, vote_url: str = "", new_key: str | None = None
) -> web.StreamResponse:
    """Count the form's ballot: the results (a redirect), or for a secret poll or an invite code
    a page saying it was counted (with the receipt, shown this once); a refused vote shows the
    poll again with the reason. ``new_key``: the voter key just made for this browser, given to it
    with the answer."""
    app = request.app
    form = await read_form(request)
    chosen: list[int] = []
    try:
        content = ballot_from_form(poll, form)
        chosen = list(content.ids) if isinstance(content, voting.Choices) else []
        counted = await voting.cast(app, poll, content, viewer)
    except (AppError, *SHOWN_ON_POLL) as exc:
        error = as_error(exc)
        current = await polls.visible_poll(app, poll["id"], viewer)  # the page again, with today's counts
        entered = {name: str(value) for name, value in form.items() if name.startswith(("rank_", "score_"))}
        response = await render_detail(request, current, error.message, error.status, chosen, viewer, vote_url, entered)
        return _with_key(request, response, new_key)
    if counted.receipt is None and viewer.invite is None:
        done = redirect(request, url(request, "question_results", question_id=poll["id"]), "vote_counted")
        raise _with_key(request, done, new_key)
    response = await render(request, "questions/voted.html", {"poll": poll, "receipt": counted.receipt})
    if viewer.invite is not None:  # its results, when shown only to voters, show to this browser
        remember_invite(request, response, poll["id"], viewer.invite["id"])
    return _with_key(request, response, new_key)


Answer = TypeVar("Answer", bound=web.StreamResponse)


def _with_key(request: web.Request, response: Answer, new_key: str | None) -> Answer:
    if new_key is not None:
        give_voter_key(request, response, new_key)
    return response


class QuestionVote(web.View):
    # An anonymous visitor's form carries a visitor token (web/csrf.py): on a link poll they vote
    # as their browser's voter key; elsewhere they are sent to log in, and back to the poll with
    # their choice ticked.
    accepts_visitor_token = True

    async def post(self) -> web.StreamResponse:
        app, viewer = self.request.app, viewer_of(self.request)
        poll = await polls.votable_poll(app, question_id(self.request), viewer)
        if poll["access"] == "account" and viewer.user is None:
            form = await read_form(self.request)
            raise self._to_login(poll, picked_choices(poll, form.getall("choice", [])))
        new_key = None
        if poll["access"] == "link" and viewer.voter is None and viewer.link_key is None:
            new_key = new_voter_key()
            viewer = replace(viewer, link_key=new_key)
        return await cast_from_form(self.request, poll, viewer, new_key=new_key)

    def _to_login(self, poll: Row, picked: list[int]) -> web.HTTPFound:
        """To the log-in page and back to the poll; the ticked choices wait in a cookie of that
        poll's pages, so that ``next`` stays the poll's plain address."""
        path = url(self.request, "question", question_id=poll["id"])
        response = redirect(self.request, login_url(self.request, path))
        if picked:
            response.set_cookie(
                PICKED_COOKIE,
                ",".join(map(str, picked)),
                max_age=PICKED_MAX_AGE,
                path=path,
                httponly=True,
                samesite="Lax",
                secure=self.request.app[SETTINGS].cookie_secure,
            )
        return response


class QuestionResults(web.View):
    async def get(self) -> web.Response:
        app, viewer = self.request.app, viewer_of(self.request)
        found = await polls.visible_poll(app, question_id(self.request), viewer)
        view = await polls.poll_view(app, found.poll, viewer)
        context = {"view": view, "poll": found.poll}
        status = 200 if view.results_visible else 403
        return await render(self.request, "questions/results.html", context, status, shared_pages(found, viewer))


class QuestionResultsCsv(web.View):
    async def get(self) -> web.Response:
        require_user(self.request)
        poll = await polls.managed_poll(self.request.app, question_id(self.request), viewer_of(self.request))
        results = polls.results(poll)
        header, rows = results_table(results)
        return csv_response(f"question-{poll['id']}-results.csv", header, rows)


def results_table(results: dict[str, Any]) -> tuple[tuple[str, ...], list[tuple[object, ...]]]:
    """The CSV export's columns: ``choice,votes,percent``, then a ranked poll's Borda points and
    each instant-runoff round's tally, or a score poll's total and average stars."""
    choices = results["choices"]
    rows = [(item["choice_text"], item["votes"], item["percent"]) for item in choices]
    if results["method"] == "ranked":
        rounds = results["rounds"]
        header = ("choice", "votes", "percent", "borda", *(f"round_{n}" for n in range(1, len(rounds) + 1)))
        return header, [
            (*row, results["borda"][str(item["id"])], *(r["tallies"].get(str(item["id"]), "") for r in rounds))
            for row, item in zip(rows, choices, strict=True)
        ]
    if results["method"] == "score":
        header = ("choice", "votes", "percent", "total_score", "average")
        return header, [(*row, item["total_score"], item["average"]) for row, item in zip(rows, choices, strict=True)]
    return ("choice", "votes", "percent"), rows


def poll_form_values(source: Any, choices: list[str], boxes: int = 0, focus: int = 0) -> dict[str, Any]:
    """What the create/edit form shows: ``choices`` and empty boxes, at least four (or ``boxes``) and
    one spare; ``focus`` numbers the box that takes the focus, from 1 (0: none)."""
    boxes = min(poll_fields.MAX_CHOICES, max(4, len(choices) + 1, boxes))
    return {
        "focus": focus,
        "question_text": source.get("question_text", ""),
        "choices": choices + [""] * max(0, boxes - len(choices)),
        "pub_date": source.get("pub_date", ""),
        "closes_at": source.get("closes_at", ""),
        "max_choices": source.get("max_choices", 1),
        "results_visibility": source.get("results_visibility", "always"),
        "method": source.get("method", "choice"),
        "access": source.get("access", "account"),
        "secret": source.get("secret") in (True, "1", "on"),
    }


def form_action(request: web.Request, editing: Row | None) -> str:
    """Where the poll form is sent: the new-poll page, or the edited poll's edit page."""
    if editing is None:
        return url(request, "question_new")
    return url(request, "question_edit", question_id=editing["id"])


async def render_poll_form(
    request: web.Request,
    editing: Row | None,
    values: dict[str, Any],
    zone: ZoneInfo,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    """The form for a new poll, or for ``editing`` one; its times in ``zone`` (named on it, and
    sent back in a hidden field)."""
    await csrf_token(request)
    context = {
        "action": form_action(request, editing),
        "editing": editing,
        "values": values,
        "form_zone": zone,
        "errors": errors or {},
        "visibilities": poll_fields.VISIBILITIES,
        "methods": poll_fields.METHODS,
        "choice_limit": poll_fields.MAX_CHOICES,
    }
    return await render(request, "questions/form.html", context, status)


async def submit_poll_form(
    request: web.Request, editing: Row | None, save: Callable[[poll_fields.PollFields], Awaitable[web.HTTPFound]]
) -> web.Response:
    """Save the submitted poll (``save`` answers with where to go next), or show the form again:
    with its errors (400), or with more empty choice boxes when "More choices" was pressed (how
    it works without JavaScript)."""
    form = await read_form(request)
    choices = [str(item) for item in form.getall("choice", [])]
    zone = timezones.form_zone(request, form)
    texts = [text for text in choices if text.strip()]
    if "add_choice" in form:
        values = poll_form_values(form, texts, boxes=len(choices) + MORE_BOXES, focus=len(texts) + 1)
        return await render_poll_form(request, editing, values, zone)
    try:
        fields = poll_fields.check_poll(form, choices, zone)
    except InvalidPoll as exc:
        error = refusal_error(exc)
        return await render_poll_form(request, editing, poll_form_values(form, texts), zone, error.fields, error.status)
    raise await save(fields)


class QuestionNew(web.View):
    async def get(self) -> web.Response:
        require_user(self.request)
        zone = timezones.visitor_zone(self.request)
        return await render_poll_form(self.request, None, poll_form_values({}, []), zone)

    async def post(self) -> web.StreamResponse:
        me = require_user(self.request)

        async def create(fields: poll_fields.PollFields) -> web.HTTPFound:
            created = await polls.create_poll(self.request.app, me["id"], fields)
            # To its page, as every new poll (SPEC section 5); an invite poll's flash points to its
            # "Invite codes" button there, as nobody can vote before it has codes.
            flash = "poll_scheduled" if fields.scheduled else "poll_created"
            if fields.access == "invite":
                flash = "invite_poll_created"
            return redirect(self.request, url(self.request, "question", question_id=created), flash)

        return await submit_poll_form(self.request, None, create)


class QuestionEdit(web.View):
    async def _owned_poll(self) -> polls.Found:
        require_user(self.request)
        return await polls.owned_poll(self.request.app, question_id(self.request), viewer_of(self.request))

    async def _has_votes(self, refusal: PollHasVotes) -> web.Response:
        """The poll's page saying so, instead of a form that cannot be saved."""
        error = refusal_error(refusal)
        found = await polls.visible_poll(self.request.app, question_id(self.request), viewer_of(self.request))
        return await render_detail(self.request, found, error.message, error.status)

    async def get(self) -> web.Response:
        found = await self._owned_poll()
        poll = found.poll
        try:
            await polls.check_editable(self.request.app, poll)
        except PollHasVotes as refusal:
            return await self._has_votes(refusal)
        texts = [item["choice_text"] for item in poll["choices"]]
        zone = timezones.visitor_zone(self.request)
        source = {
            **poll,
            "pub_date": timezones.form_value(poll["pub_date"], zone),
            "closes_at": timezones.form_value(poll["closes_at"], zone),
        }
        values = poll_form_values(source, texts)
        return await render_poll_form(self.request, poll, values, zone)

    async def post(self) -> web.StreamResponse:
        poll = (await self._owned_poll()).poll

        async def edit(fields: poll_fields.PollFields) -> web.HTTPFound:
            await polls.edit_poll(self.request.app, poll, fields)
            return redirect(self.request, url(self.request, "question", question_id=poll["id"]), "poll_edited")

        try:
            await polls.check_editable(self.request.app, poll)
            return await submit_poll_form(self.request, poll, edit)
        except PollHasVotes as refusal:
            return await self._has_votes(refusal)


class QuestionClose(web.View):
    async def post(self) -> web.StreamResponse:
        require_user(self.request)
        poll = await polls.managed_poll(self.request.app, question_id(self.request), viewer_of(self.request))
        await polls.close_poll(self.request.app, poll)
        back = "question_present" if (await read_form(self.request)).get("back") == "present" else "question"
        raise redirect(self.request, url(self.request, back, question_id=poll["id"]), "poll_closed")


class QuestionDelete(web.View):
    async def post(self) -> web.StreamResponse:
        require_user(self.request)
        poll = await polls.managed_poll(self.request.app, question_id(self.request), viewer_of(self.request))
        await polls.set_poll_deleted(self.request.app, poll["id"], True)
        raise redirect(self.request, url(self.request, "index"), "poll_deleted")


class QuestionChoices(web.View):
    """The seed's JSON for old consumers; times in its "YYYY-MM-DD HH:MM:SS" (UTC) form."""

    json_errors = True

    async def get(self) -> web.Response:
        app, viewer = self.request.app, viewer_of(self.request)
        found = await polls.visible_poll(app, question_id(self.request), viewer)
        view = await polls.results_view(app, found.poll, viewer)
        items = [{**item, "create_time": item["create_time"].strftime(SEED_TIME_FORMAT)} for item in view.choices]
        return json_response(items)
