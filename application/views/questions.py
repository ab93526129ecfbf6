"""Poll pages: the index, a poll, voting, results, and the owner's create/edit/close/delete."""

from __future__ import annotations

from math import ceil
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from application.cluster.poll_cache import INDEX, reading_counts
from application.keys import DB, POLL_CACHE, SETTINGS
from application.services import polls
from application.web import timezones
from application.web.auth import USER, login_url, require_user
from application.web.csrf import csrf_token
from application.web.csv_export import csv_response
from application.web.errors import AppError, ErrorCode, not_found
from application.web.forms import PAGE_MAX, query_number, read_form
from application.web.i18n import N_
from application.web.jsonutil import json_response
from application.web.rendering import Shared, redirect, render
from models import choice, question
from models.clock import utcnow

PAGE_SIZE = 20
# A signed-out visitor's ticked choices, kept while they log in (``QuestionVote._to_login``).
PICKED_COOKIE = "picked"
PICKED_MAX_AGE = 30 * 60
# Refused votes answered with the poll's page and the reason (the others: the error page).
SHOWN_ON_POLL = frozenset({400, 403, 409})
SEED_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
MORE_BOXES = 4  # empty choice boxes "More choices" adds without JavaScript (with it, one per click)


class QuestionIndex(web.View):
    async def get(self) -> web.Response:
        page = query_number(self.request, "page", 1, PAGE_MAX)
        cache = self.request.app[POLL_CACHE]
        generation = cache.generation(INDEX)
        now = utcnow()
        listing = cache.listing(page)
        if listing is None:
            db = self.request.app[DB]

            async def fetch() -> tuple[int, list[dict[str, Any]]]:
                async with reading_counts(self.request.app, INDEX):
                    loaded = (
                        await question.count_published(db, now),
                        await question.list_published(db, now, PAGE_SIZE, (page - 1) * PAGE_SIZE),
                    )
                cache.put_listing(page, generation, loaded)
                return loaded

            listing = await cache.once(("index", page, generation), fetch)
        total, items = listing
        pages = max(1, ceil(total / PAGE_SIZE))
        if page > pages:
            raise not_found()
        context = {"questions": items, "page": page, "pages": pages, "total": total, "now": now}
        closing = [left for item in items if (left := polls.seconds_left(item, now)) is not None]
        shared = Shared(INDEX, generation, min(closing, default=None))
        return await render(self.request, "questions/index.html", context, shared=shared)


async def render_detail(
    request: web.Request, poll: dict[str, Any], message: str = "", status: int = 200, chosen: list[int] | None = None
) -> web.Response:
    """The poll page; after a refused vote, with its ``message`` and the ``chosen`` choices ticked again."""
    view = await polls.poll_view(request, poll)
    if view.is_open and request[USER] is not None:
        await csrf_token(request)
    share_url = f"{request.url.origin()}/questions/{poll['id']}"
    now = utcnow()
    from_login = polls.picked_choices(poll, picked_before_login(request))
    context = {
        "view": view,
        "poll": poll,
        "message": message,
        "now": now,
        "share_url": share_url,
        "picked": chosen if chosen is not None else from_login,
    }
    shared = Shared(poll["id"], poll["cache_generation"], polls.seconds_left(poll, now))
    response = await render(request, "questions/detail.html", context, status, shared)
    if from_login:
        response.del_cookie(PICKED_COOKIE, path=f"/questions/{poll['id']}")  # ticked once
    return response


def picked_before_login(request: web.Request) -> list[str]:
    """The choices a signed-out visitor ticked before being sent to log in (``QuestionVote``).
    Only a signed-in user's page shows them: an anonymous page is shared between visitors."""
    raw = request.cookies.get(PICKED_COOKIE, "")
    return raw.split(",") if raw and request[USER] is not None else []


class QuestionDetail(web.View):
    async def get(self) -> web.Response:
        return await render_detail(self.request, await polls.visible_poll(self.request))


class QuestionVote(web.View):
    # An anonymous visitor's form carries a visitor token (application/csrf.py): they are sent to
    # log in, and back to the poll with their choice ticked.
    accepts_visitor_token = True

    async def post(self) -> web.StreamResponse:
        poll = await polls.votable_poll(self.request)
        form = await read_form(self.request)
        if self.request[USER] is None:
            raise self._to_login(poll, polls.picked_choices(poll, form.getall("choice", [])))
        choice_ids: list[int] = []
        try:
            choice_ids = polls.parse_choice_ids(form.getall("choice", []), "choice")
            await polls.cast_vote(self.request, poll, choice_ids)
        except AppError as exc:
            if exc.status not in SHOWN_ON_POLL:
                raise
            current = await polls.visible_poll(self.request)  # the page again, with today's counts
            return await render_detail(self.request, current, exc.message, status=exc.status, chosen=choice_ids)
        raise redirect(self.request, f"/questions/{poll['id']}/results", "vote_counted")

    def _to_login(self, poll: dict[str, Any], picked: list[int]) -> web.HTTPFound:
        """To the log-in page and back to the poll; the ticked choices wait in a cookie of that
        poll's pages, so that ``next`` stays the poll's plain address."""
        path = f"/questions/{poll['id']}"
        response = redirect(self.request, login_url(path))
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
        poll = await polls.visible_poll(self.request)
        view = await polls.poll_view(self.request, poll)
        now = utcnow()
        context = {"view": view, "poll": poll, "results": view.results() if view.results_visible else None, "now": now}
        status = 200 if view.results_visible else 403
        shared = Shared(poll["id"], poll["cache_generation"], polls.seconds_left(poll, now))
        return await render(self.request, "questions/results.html", context, status, shared)


class QuestionResultsCsv(web.View):
    async def get(self) -> web.Response:
        poll = await polls.managed_poll(self.request)
        results = choice.tally(poll["id"], poll["choices"])
        rows = [(row["choice_text"], row["votes"], row["percent"]) for row in results["choices"]]  # type: ignore[attr-defined]
        return csv_response(f"question-{poll['id']}-results.csv", ("choice", "votes", "percent"), rows)


def poll_form_values(source: Any, choices: list[str], boxes: int = 0, focus: int = 0) -> dict[str, Any]:
    """What the create/edit form shows: ``choices`` and empty boxes, at least four (or ``boxes``) and
    one spare; ``focus`` numbers the box that takes the focus, from 1 (0: none)."""
    boxes = min(polls.MAX_CHOICES, max(4, len(choices) + 1, boxes))
    return {
        "focus": focus,
        "question_text": source.get("question_text", ""),
        "choices": choices + [""] * max(0, boxes - len(choices)),
        "pub_date": source.get("pub_date", ""),
        "closes_at": source.get("closes_at", ""),
        "max_choices": source.get("max_choices", 1),
        "results_visibility": source.get("results_visibility", "always"),
    }


async def render_poll_form(
    request: web.Request,
    action: str,
    values: dict[str, Any],
    zone: ZoneInfo,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    """The poll form, its times in ``zone`` (named on it, and sent back in a hidden field)."""
    await csrf_token(request)
    context = {
        "action": action,
        "values": values,
        "form_zone": zone,
        "errors": errors or {},
        "visibilities": polls.VISIBILITIES,
        "choice_limit": polls.MAX_CHOICES,
    }
    return await render(request, "questions/form.html", context, status)


async def read_poll_form(request: web.Request, action: str) -> tuple[polls.PollFields | None, web.Response | None]:
    """The submitted poll's checked fields, or the form shown again: with its errors (400), or with
    more empty choice boxes when "More choices" was pressed (how it works without JavaScript)."""
    form = await read_form(request)
    choices = [str(item) for item in form.getall("choice", [])]
    zone = timezones.form_zone(request, form)
    if "add_choice" in form:
        texts = [text for text in choices if text.strip()]
        values = poll_form_values(form, texts, boxes=len(choices) + MORE_BOXES, focus=len(texts) + 1)
        return None, await render_poll_form(request, action, values, zone)
    try:
        return polls.check_poll(form, choices, utcnow(), zone), None
    except AppError as exc:
        values = poll_form_values(form, [text for text in choices if text.strip()])
        return None, await render_poll_form(request, action, values, zone, exc.fields, exc.status)


class QuestionNew(web.View):
    async def get(self) -> web.Response:
        require_user(self.request)
        zone = timezones.visitor_zone(self.request)
        return await render_poll_form(self.request, "/questions/new", poll_form_values({}, []), zone)

    async def post(self) -> web.StreamResponse:
        me = require_user(self.request)
        fields, invalid = await read_poll_form(self.request, "/questions/new")
        if fields is None:
            assert invalid is not None
            return invalid
        question_id = await polls.create_poll(self.request.app, me["id"], fields)
        flash = "poll_scheduled" if fields.pub_date > utcnow() else "poll_created"
        raise redirect(self.request, f"/questions/{question_id}", flash)


class QuestionEdit(web.View):
    async def _owned_poll(self) -> dict[str, Any]:
        me = require_user(self.request)
        poll = await polls.visible_poll(self.request)
        if poll["user_id"] != me["id"]:
            raise AppError(403, N_("Only the poll's owner may edit it."))
        return poll

    async def get(self) -> web.Response:
        poll = await self._owned_poll()
        try:
            await polls.check_editable(self.request.app, poll)
        except AppError as exc:  # votes are in: the poll's page says so, instead of a form that cannot be saved
            return await render_detail(self.request, poll, exc.message, status=exc.status)
        texts = [item["choice_text"] for item in poll["choices"]]
        zone = timezones.visitor_zone(self.request)
        source = {
            **poll,
            "pub_date": timezones.form_value(poll["pub_date"], zone),
            "closes_at": timezones.form_value(poll["closes_at"], zone),
        }
        values = poll_form_values(source, texts)
        return await render_poll_form(self.request, f"/questions/{poll['id']}/edit", values, zone)

    async def post(self) -> web.StreamResponse:
        poll = await self._owned_poll()
        try:
            await polls.check_editable(self.request.app, poll)
            fields, invalid = await read_poll_form(self.request, f"/questions/{poll['id']}/edit")
            if fields is None:
                assert invalid is not None
                return invalid
            await polls.edit_poll(self.request.app, poll, fields)
        except AppError as exc:
            if exc.status != 409:
                raise
            return await render_detail(self.request, await polls.visible_poll(self.request), exc.message, exc.status)
        raise redirect(self.request, f"/questions/{poll['id']}", "poll_edited")


class QuestionClose(web.View):
    async def post(self) -> web.StreamResponse:
        poll = await polls.managed_poll(self.request)
        await polls.close_poll(self.request.app, poll)
        raise redirect(self.request, f"/questions/{poll['id']}", "poll_closed")


class QuestionDelete(web.View):
    async def post(self) -> web.StreamResponse:
        poll = await polls.managed_poll(self.request)
        await polls.set_poll_deleted(self.request.app, poll["id"], True)
        raise redirect(self.request, "/", "poll_deleted")


class QuestionChoices(web.View):
    """The seed's JSON for old consumers; times in its "YYYY-MM-DD HH:MM:SS" (UTC) form."""

    json_errors = True

    async def get(self) -> web.Response:
        poll = await polls.visible_poll(self.request)
        view = await polls.poll_view(self.request, poll)
        if not view.results_visible:
            raise AppError(403, "The results of this poll are hidden for now.", ErrorCode.RESULTS_HIDDEN)
        items = []
        for item in view.choices:
            items.append({**item, "create_time": item["create_time"].strftime(SEED_TIME_FORMAT)})
        return json_response(items)
