"""Register, log in, log out, and the user's own page."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from application.keys import DB
from application.services import accounts, polls
from application.services.refusals import (
    AccountDisabled,
    AccountTaken,
    BadCredentials,
    InvalidRegistration,
    TooManyAttempts,
)
from application.views.refusals import as_error, refusal_error
from application.web.auth import login, logout, require_user, safe_next
from application.web.csrf import csrf_token
from application.web.errors import AppError
from application.web.forms import check_login, read_form
from application.web.i18n import language
from application.web.rendering import redirect, render
from application.web.security import client_ip
from application.web.urls import url

# What the log-in form answers by showing itself again, with the reason.
LOGIN_REFUSED = (BadCredentials, TooManyAttempts, AccountDisabled)


async def render_form(request: web.Request, template: str, context: dict[str, Any], status: int = 200) -> web.Response:
    await csrf_token(request)  # the form needs one, even for a visitor without a session yet
    return await render(request, template, context, status)


class Register(web.View):
    async def get(self) -> web.Response:
        return await render_form(self.request, "accounts/register.html", {"values": {}, "errors": {}, "message": ""})

    async def post(self) -> web.StreamResponse:
        form = await read_form(self.request)
        try:
            fields = accounts.check_registration(form)
            created = await accounts.register(self.request.app[DB], fields, language=language(self.request).code)
        except (InvalidRegistration, AccountTaken) as refusal:
            error = refusal_error(refusal)
            values = {name: form.get(name, "") for name in ("name", "email", "phone")}
            context = {"values": values, "errors": error.fields, "message": error.message}
            return await render_form(self.request, "accounts/register.html", context, status=error.status)
        await login(self.request, created)
        raise redirect(self.request, url(self.request, "index"), "registered")


class Login(web.View):
    async def get(self) -> web.Response:
        context = {"account": "", "next": safe_next(self.request.query.get("next")), "errors": {}, "message": ""}
        return await render_form(self.request, "accounts/login.html", context)

    async def post(self) -> web.StreamResponse:
        form = await read_form(self.request)
        target = safe_next(str(form.get("next", "")))
        try:
            account, password = check_login(form)
            found = await accounts.authenticate(self.request.app, account, password, client_ip(self.request))
        except (AppError, *LOGIN_REFUSED) as exc:
            error = as_error(exc)
            context = {
                "account": form.get("account", ""),
                "next": target,
                "errors": error.fields,
                "message": error.message,
            }
            return await render_form(self.request, "accounts/login.html", context, status=error.status)
        await login(self.request, found)
        await accounts.remember_language(self.request.app, found["id"], language(self.request).code)
        raise redirect(self.request, target, "logged_in")


class Logout(web.View):
    async def post(self) -> web.StreamResponse:
        await logout(self.request)
        raise redirect(self.request, url(self.request, "index"), "logged_out")


class Me(web.View):
    async def get(self) -> web.Response:
        me = require_user(self.request)
        context = {
            "me": me,
            "my_questions": await polls.owned_by(self.request.app, me["id"]),
            "my_votes": await polls.voted_by(self.request.app, me["id"]),
        }
        return await render(self.request, "accounts/me.html", context)
