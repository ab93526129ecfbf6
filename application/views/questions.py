"""Reading polls: the index, a poll's page and the seed's JSON list of choices."""

from __future__ import annotations

from math import ceil

from aiohttp import web

from application.errors import AppError, not_found
from application.jsonutil import json_response
from application.keys import DB
from application.templating import render
from models import choice, question
from models.clock import utcnow
from models.db import Row

PAGE_SIZE = 20
SEED_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def page_number(request: web.Request) -> int:
    raw = request.query.get("page", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise AppError(400, "page must be a positive whole number.", fields={"page": "Not a page number."})
    return int(raw)


async def published_question(request: web.Request) -> Row:
    """The question named in the URL, or 404 when it is unknown, deleted or not yet published."""
    found = await question.get(request.app[DB], int(request.match_info["question_id"]))
    if found is None or not question.is_published(found, utcnow()):
        raise not_found("Question")
    return found


class QuestionIndex(web.View):
    async def get(self) -> web.Response:
        db = self.request.app[DB]
        page = page_number(self.request)
        now = utcnow()
        total = await question.count_published(db, now)
        pages = max(1, ceil(total / PAGE_SIZE))
        if page > pages:
            raise not_found("Page")
        items = await question.list_published(db, now, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        for item in items:
            item["is_open"] = question.is_open(item, now)
        context = {"questions": items, "page": page, "pages": pages, "total": total}
        return await render(self.request, "questions/index.html", context)


class QuestionDetail(web.View):
    async def get(self) -> web.Response:
        found = await published_question(self.request)
        choices = await choice.for_question(self.request.app[DB], found["id"])
        context = {"question": found, "choices": choices, "is_open": question.is_open(found, utcnow())}
        return await render(self.request, "questions/detail.html", context)


class QuestionChoices(web.View):
    """The seed's JSON for old consumers; times in its "YYYY-MM-DD HH:MM:SS" (UTC) form."""

    json_errors = True

    async def get(self) -> web.Response:
        found = await published_question(self.request)
        choices = await choice.for_question(self.request.app[DB], found["id"])
        for item in choices:
            item["create_time"] = item["create_time"].strftime(SEED_TIME_FORMAT)
        return json_response(choices)
