"""Register, log in, log out, and the user's own page."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from application.keys import DB
from application.services import accounts
from application.web.auth import authenticate, login, logout, require_user, safe_next
from application.web.csrf import csrf_token
from application.web.errors import AppError
from application.web.forms import check_login, check_registration, read_form
from application.web.i18n import N_
from application.web.rendering import redirect, render
from models import question
from models.clock import utcnow

# What application/accounts.py refuses with (it is shared with the API, which stays English):
# marked here so the registration page shows them translated.
ACCOUNT_TEXTS = (
    N_("This email address is already registered."),
    N_("This mobile number is already registered."),
    N_("This email address or mobile number is already registered."),
    N_("This email or mobile number is already registered."),
)


async def render_form(request: web.Request, template: str, context: dict[str, Any], status: int = 200) -> web.Response:
    await csrf_token(request)  # the form needs one, even for a visitor without a session yet
    return await render(request, template, context, status)


class Register(web.View):
    async def get(self) -> web.Response:
        return await render_form(self.request, "accounts/register.html", {"values": {}, "errors": {}, "message": ""})

    async def post(self) -> web.StreamResponse:
        form = await read_form(self.request)
        try:
            created = await accounts.register(self.request.app[DB], check_registration(form))
        except AppError as exc:
            values = {name: form.get(name, "") for name in ("name", "email", "phone")}
            context = {"values": values, "errors": exc.fields, "message": exc.message}
            return await render_form(self.request, "accounts/register.html", context, status=exc.status)
        await login(self.request, created)
        raise redirect(self.request, "/", "registered")


class Login(web.View):
    async def get(self) -> web.Response:
        context = {"account": "", "next": safe_next(self.request.query.get("next")), "errors": {}, "message": ""}
        return await render_form(self.request, "accounts/login.html", context)

    async def post(self) -> web.StreamResponse:
        form = await read_form(self.request)
        target = safe_next(str(form.get("next", "")))
        try:
            account, password = check_login(form)
            found = await authenticate(self.request, account, password)
        except AppError as exc:
            context = {"account": form.get("account", ""), "next": target, "errors": exc.fields, "message": exc.message}
            return await render_form(self.request, "accounts/login.html", context, status=exc.status)
        await login(self.request, found)
        raise redirect(self.request, target, "logged_in")


class Logout(web.View):
    async def post(self) -> web.StreamResponse:
        await logout(self.request)
        raise redirect(self.request, "/", "logged_out")


class Me(web.View):
    async def get(self) -> web.Response:
        me = require_user(self.request)
        db = self.request.app[DB]
        context = {
            "me": me,
            "my_questions": await question.owned_by(db, me["id"]),
            "my_votes": await question.voted_by(db, me["id"]),
            "now": utcnow(),
        }
        return await render(self.request, "accounts/me.html", context)
