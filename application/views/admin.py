"""Administration: enable and disable accounts, delete and restore polls."""

from __future__ import annotations

from aiohttp import web

from application import announcements, polls
from application.auth import require_admin
from application.errors import AppError, not_found
from application.i18n import N_
from application.keys import DB
from application.templating import redirect, render
from models import question, user


class AdminHome(web.View):
    async def get(self) -> web.Response:
        admin = require_admin(self.request)
        db = self.request.app[DB]
        context = {"me": admin, "users": await user.list_all(db), "questions": await question.list_all(db)}
        return await render(self.request, "admin/index.html", context)


class AdminUserActive(web.View):
    """POST /admin/users/{id}/disable or /enable. A disabled user's sessions and tokens stop at once."""

    async def post(self) -> web.StreamResponse:
        admin = require_admin(self.request)
        user_id = int(self.request.match_info["user_id"])
        active = self.request.match_info["action"] == "enable"
        if user_id == admin["id"] and not active:
            raise AppError(400, N_("You cannot disable your own account."))
        if not await user.set_active(self.request.app[DB], user_id, active):
            raise not_found(N_("User not found."))
        await announcements.account_changed(self.request.app, user_id)  # its tokens, remembered by any process
        raise redirect(self.request, "/admin", "user_enabled" if active else "user_disabled")


class AdminQuestionDeleted(web.View):
    """POST /admin/questions/{id}/delete or /restore: soft delete, reversible."""

    async def post(self) -> web.StreamResponse:
        require_admin(self.request)
        question_id = int(self.request.match_info["question_id"])
        deleted = self.request.match_info["action"] == "delete"
        if not await polls.set_poll_deleted(self.request.app, question_id, deleted):
            raise not_found(N_("Poll not found."))
        raise redirect(self.request, "/admin", "question_deleted" if deleted else "question_restored")
