"""JSON API for polls: list, create, read, vote, results, close, delete; and its OpenAPI description."""

from __future__ import annotations

from functools import cache
from math import ceil
from pathlib import Path
from typing import Any

from aiohttp import web

from application.keys import DB
from application.services import polls
from application.web.auth import require_user
from application.web.errors import AppError, ErrorCode
from application.web.forms import PAGE_MAX, query_number, read_json
from application.web.jsonutil import json_response
from models import choice, question
from models.clock import utcnow
from models.db import Row

OPENAPI_FILE = Path(__file__).resolve().parent.parent.parent / "openapi.yaml"
SUMMARY_FIELDS = ("id", "question_text", "pub_date", "closes_at", "max_choices", "results_visibility", "total_votes")
PER_PAGE_DEFAULT = 20
PER_PAGE_MAX = 100


def summary(poll: Row, now: Any) -> dict[str, Any]:
    return {**{key: poll[key] for key in SUMMARY_FIELDS}, "is_open": question.is_open(poll, now)}


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
        **summary(view.poll, utcnow()),
        "results_visible": view.results_visible,
        "choices": choices,
        "my_vote": view.my_vote,
    }


class ApiQuestions(web.View):
    async def get(self) -> web.Response:
        page = query_number(self.request, "page", 1, PAGE_MAX)
        per_page = query_number(self.request, "per_page", PER_PAGE_DEFAULT, PER_PAGE_MAX)
        db = self.request.app[DB]
        now = utcnow()
        total = await question.count_published(db, now)
        rows = await question.list_published(db, now, per_page, (page - 1) * per_page)
        items = [summary(row, now) for row in rows]
        return json_response(
            {
                "items": items,
                "page": page,
                "per_page": per_page,
                "total": total,
                "pages": max(1, ceil(total / per_page)),
            }
        )

    async def post(self) -> web.Response:
        me = require_user(self.request)
        data = await read_json(self.request)
        fields = polls.check_poll(data, data.get("choices"), utcnow(), choices_field="choices")
        question_id = await polls.create_poll(self.request.app, me["id"], fields)
        created = await question.get_with_choices(self.request.app[DB], question_id)
        assert created is not None
        return json_response(detail(await polls.poll_view(self.request, created)), status=201)


class ApiQuestion(web.View):
    async def get(self) -> web.Response:
        poll = await polls.visible_poll(self.request)
        return json_response(detail(await polls.poll_view(self.request, poll)))

    async def delete(self) -> web.Response:
        poll = await polls.managed_poll(self.request)
        await polls.set_poll_deleted(self.request.app, poll["id"], True)
        return web.Response(status=204)


class ApiVotes(web.View):
    async def post(self) -> web.Response:
        require_user(self.request)
        poll = await polls.votable_poll(self.request)
        data = await read_json(self.request)
        raw = data.get("choice_ids")
        if not isinstance(raw, list):
            raise AppError(400, "Send choice_ids as a list of choice ids.", fields={"choice_ids": "Expected a list."})
        counts = await polls.cast_vote(self.request, poll, polls.parse_choice_ids(raw, "choice_ids"))
        if not question.results_visible(poll, utcnow(), voted=True, privileged=polls.privileged(self.request, poll)):
            return json_response({"question_id": poll["id"], "results_hidden": True}, status=201)
        return json_response(choice.tally(poll["id"], counts), status=201)


class ApiResults(web.View):
    async def get(self) -> web.Response:
        poll = await polls.visible_poll(self.request)
        view = await polls.poll_view(self.request, poll)
        if not view.results_visible:
            raise AppError(403, "The results of this poll are hidden for now.", ErrorCode.RESULTS_HIDDEN)
        return json_response(view.results())


class ApiClose(web.View):
    async def post(self) -> web.Response:
        poll = await polls.managed_poll(self.request)
        await polls.close_poll(self.request.app, poll)
        closed = await question.get_with_choices(self.request.app[DB], poll["id"])
        assert closed is not None
        return json_response(detail(await polls.poll_view(self.request, closed)))


@cache
def _openapi() -> bytes:
    return OPENAPI_FILE.read_bytes()


class OpenApiSpec(web.View):
    async def get(self) -> web.Response:
        return web.Response(body=_openapi(), content_type="application/yaml", charset="utf-8")
