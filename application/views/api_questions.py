"""JSON API for polls: list, create, read, vote, results, close, delete; and its OpenAPI description."""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from math import ceil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from application.services import invites, poll_fields, polls, voting
from application.services.viewer import Viewer
from application.views import viewer_of
from application.web.auth import require_user
from application.web.errors import AppError
from application.web.forms import PAGE_MAX, choice_ids, query_number, read_json, whole_number
from application.web.jsonutil import json_response

if TYPE_CHECKING:
    from models.db import Row

OPENAPI_FILE = Path(__file__).resolve().parent.parent.parent / "openapi.yaml"
SUMMARY_FIELDS = (
    "id",
    "question_text",
    "pub_date",
    "closes_at",
    "max_choices",
    "method",
    "results_visibility",
    "access",
    "total_votes",
)
# What a vote sends, by the poll's method (SPEC section 6).
BALLOT_FIELDS = {"choice": "choice_ids", "ranked": "ranking", "score": "scores"}
PER_PAGE_DEFAULT = 20
PER_PAGE_MAX = 100


def question_id(request: web.Request) -> int:
    return int(request.match_info["question_id"])


def summary(listed: polls.Listed) -> dict[str, Any]:
    return {
        **{key: listed.poll[key] for key in SUMMARY_FIELDS},
        "secret": bool(listed.poll["secret"]),
        "is_open": listed.status is polls.Status.OPEN,
    }


def detail(view: polls.PollView) -> dict[str, Any]:
    choices = [
        {
            "id": item["id"],
            "choice_text": item["choice_text"],
            **({"votes": item["votes"]} if view.results_visible else {}),
        }
        for item in view.choices
    ]
    return {
        **summary(polls.Listed(view.poll, view.status)),
        "results_visible": view.results_visible,
        "join_code": view.poll["join_code"],
        "choices": choices,
        "has_voted": view.voted,
        "my_vote": view.my_vote,
    }


async def reader(request: web.Request) -> Viewer:
    """The caller of a read; with ``?invite=CODE``, as that code's holder (what it voted, and
    results shown after voting once it has)."""
    viewer = viewer_of(request)
    code = request.query.get("invite")
    return replace(viewer, invite=await invites.held(request.app, code)) if code is not None else viewer


async def detail_now(request: web.Request, poll_id: int, status: int = 200) -> web.Response:
    """The poll as it is now (after a change), as the caller sees it."""
    viewer = await reader(request)
    found = await polls.visible_poll(request.app, poll_id, viewer)
    return json_response(detail(await polls.poll_view(request.app, found.poll, viewer)), status)


class ApiQuestions(web.View):
    async def get(self) -> web.Response:
        page = query_number(self.request, "page", 1, PAGE_MAX)
        per_page = query_number(self.request, "per_page", PER_PAGE_DEFAULT, PER_PAGE_MAX)
        total, listed = await polls.published(self.request.app, per_page, (page - 1) * per_page)
        return json_response(
            {
                "items": [summary(item) for item in listed],
                "page": page,
                "per_page": per_page,
                "total": total,
                "pages": max(1, ceil(total / per_page)),
            }
        )

    async def post(self) -> web.Response:
        me = require_user(self.request)
        data = await read_json(self.request)
        fields = poll_fields.check_poll(data, data.get("choices"), choices_field="choices")
        created = await polls.create_poll(self.request.app, me["id"], fields)
        return await detail_now(self.request, created, status=201)


class ApiQuestion(web.View):
    async def get(self) -> web.Response:
        return await detail_now(self.request, question_id(self.request))

    async def delete(self) -> web.Response:
        require_user(self.request)
        poll = await polls.managed_poll(self.request.app, question_id(self.request), viewer_of(self.request))
        await polls.set_poll_deleted(self.request.app, poll["id"], True)
        return web.Response(status=204)


class ApiVotes(web.View):
    async def post(self) -> web.Response:
        """A vote of the signed-in caller, or with ``"invite"``, of that invite code (no credentials)."""
        app, viewer = self.request.app, viewer_of(self.request)
        data = await read_json(self.request)
        code = data.get("invite")
        if code is not None:
            if not isinstance(code, str):
                raise AppError(400, "Send the invite code as text.", fields={"invite": "Expected text."})
            viewer = replace(viewer, invite=await invites.usable(app, code))
        else:
            require_user(self.request)
        poll = await polls.votable_poll(app, question_id(self.request), viewer)
        counted = await voting.cast(app, poll, ballot_from_json(poll, data), viewer)
        if counted.receipt is not None:
            return json_response({"question_id": poll["id"], "receipt": counted.receipt}, status=201)
        if not polls.results_visible(poll, viewer, voted=True):
            # SPEC's hidden-results answer names a receipt; only secret polls (above) have one.
            return json_response({"question_id": poll["id"], "receipt": None, "results_hidden": True}, status=201)
        if poll["method"] == "choice":
            return json_response(polls.results(poll, counted.counts), status=201)
        found = await polls.visible_poll(app, poll["id"], viewer)  # its ballots, this one included
        return json_response(polls.results(found.poll), status=201)


def ballot_from_json(poll: Row, data: dict[str, Any]) -> voting.Content:
    """The ballot in a vote's body: ``choice_ids``, ``ranking`` or ``scores`` as the poll's method says."""
    field = BALLOT_FIELDS[poll["method"]]
    for other in BALLOT_FIELDS.values():
        if other != field and other in data:  # a ballot of two kinds: which one was meant is unknown
            problems = {field: f"This poll takes {field}.", other: "Not this poll's kind of ballot."}
            raise AppError(400, f"This poll takes {field}, not {other}.", fields=problems)
    raw = data.get(field)
    if field == "scores":
        if not isinstance(raw, dict):
            raise AppError(400, "Send scores as an object of choice id: stars.", fields={field: "Expected an object."})
        stars = [whole_number(value) for value in raw.values()]
        if any(value is None for value in stars):
            raise AppError(400, "Give each choice from 0 to 5 stars.", fields={field: "Stars are whole numbers."})
        return voting.Scores(tuple(zip(choice_ids(list(raw), field), stars, strict=True)))  # type: ignore[arg-type]
    if not isinstance(raw, list):
        raise AppError(400, f"Send {field} as a list of choice ids.", fields={field: "Expected a list."})
    ids = tuple(choice_ids(raw, field))
    return voting.Choices(ids) if field == "choice_ids" else voting.Ranking(ids)


class ApiResults(web.View):
    async def get(self) -> web.Response:
        app, viewer = self.request.app, await reader(self.request)
        found = await polls.visible_poll(app, question_id(self.request), viewer)
        return json_response((await polls.results_view(app, found.poll, viewer)).results())


class ApiClose(web.View):
    async def post(self) -> web.Response:
        require_user(self.request)
        poll = await polls.managed_poll(self.request.app, question_id(self.request), viewer_of(self.request))
        await polls.close_poll(self.request.app, poll)
        return await detail_now(self.request, poll["id"])


@cache
def _openapi() -> bytes:
    return OPENAPI_FILE.read_bytes()


class OpenApiSpec(web.View):
    async def get(self) -> web.Response:
        return web.Response(body=_openapi(), content_type="application/yaml", charset="utf-8")
