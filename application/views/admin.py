"""Administration: find, enable and disable accounts; find, delete and restore polls."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from math import ceil
from typing import TYPE_CHECKING

from aiohttp import web

from application.services import accounts, polls
from application.views import viewer_of
from application.web.auth import require_admin, safe_next
from application.web.errors import AppError, not_found
from application.web.forms import PAGE_MAX, query_number, read_form
from application.web.i18n import N_
from application.web.rendering import redirect, render
from application.web.urls import url

if TYPE_CHECKING:
    from models.db import Row

PAGE_SIZE = 50
SEARCH_MAX = 200


@dataclass(frozen=True)
class Listing:
    """One page of a table on /admin."""

    rows: list[Row]
    total: int
    page: int
    pages: int


async def _listing(
    app: web.Application,
    text: str,
    page: int,
    count: Callable[[web.Application, str], Awaitable[int]],
    fetch: Callable[[web.Application, str, int, int], Awaitable[list[Row]]],
) -> Listing:
    total = await count(app, text)
    pages = max(1, ceil(total / PAGE_SIZE))
    if page > pages:
        raise not_found()
    return Listing(await fetch(app, text, PAGE_SIZE, (page - 1) * PAGE_SIZE), total, page, pages)


def _search_text(request: web.Request) -> str:
    text = request.query.get("q", "").strip()
    if len(text) > SEARCH_MAX:
        raise AppError(400, N_("Use at most %(count)s characters.", count=SEARCH_MAX))
    return text


class AdminHome(web.View):
    """Users and polls, 50 a page each (``users_page``, ``polls_page``), filtered by ``q``: a
    user's name, email or phone, a poll's text."""

    async def get(self) -> web.Response:
        admin = require_admin(self.request)
        app = self.request.app
        text = _search_text(self.request)
        users_page = query_number(self.request, "users_page", 1, PAGE_MAX)
        polls_page = query_number(self.request, "polls_page", 1, PAGE_MAX)
        users = await _listing(app, text, users_page, accounts.count_matching, accounts.list_matching)
        questions = await _listing(app, text, polls_page, polls.count_matching, polls.list_matching)
        context = {"me": admin, "search": text, "users": users, "questions": questions}
        return await render(self.request, "admin/index.html", context)


async def _back_to_the_list(request: web.Request) -> str:
    """Where an action returns to: the page of /admin it was taken on."""
    target, admin = safe_next(str((await read_form(request)).get("next", ""))), url(request, "admin")
    return target if target == admin or target.startswith(admin + "?") else admin


class AdminUserActive(web.View):
    """POST /admin/users/{id}/disable or /enable. A disabled user's sessions and tokens stop at once."""

    async def post(self) -> web.StreamResponse:
        require_admin(self.request)
        user_id = int(self.request.match_info["user_id"])
        active = self.request.match_info["action"] == "enable"
        await accounts.set_active(self.request.app, user_id, active, by=viewer_of(self.request))
        raise redirect(
            self.request, await _back_to_the_list(self.request), "user_enabled" if active else "user_disabled"
        )


class AdminQuestionDeleted(web.View):
    """POST /admin/questions/{id}/delete or /restore: soft delete, reversible."""

    async def post(self) -> web.StreamResponse:
        require_admin(self.request)
        question_id = int(self.request.match_info["question_id"])
        deleted = self.request.match_info["action"] == "delete"
        await polls.set_poll_deleted(self.request.app, question_id, deleted)
        flash = "question_deleted" if deleted else "question_restored"
        raise redirect(self.request, await _back_to_the_list(self.request), flash)
