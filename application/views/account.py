"""/account: the signed-in user looks after their account (details, password, API tokens,
sessions, their data, deleting it); /password/forgot and /password/reset/{token}: getting back in
by mail. The rules are in services/accounts.py and services/password_reset.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from application.services import accounts, password_reset
from application.services.refusals import (
    AccountTaken,
    InvalidAccountChange,
    ResetLinkInvalid,
    TokenNotFound,
    TooManyAttempts,
    TooManyResets,
    WrongPassword,
)
from application.views.accounts import render_form
from application.views.refusals import as_error, refusal_error
from application.web.auth import current_session_key, login, require_user
from application.web.errors import AppError
from application.web.forms import check_account, read_form, text_fields, text_problem
from application.web.i18n import N_
from application.web.jsonutil import dumps
from application.web.rendering import redirect
from application.web.security import client_ip
from application.web.urls import url

if TYPE_CHECKING:
    from models.db import Row

TOKEN_NAME_MAX = 100
# What a form of /account answers by showing the page again, its problem next to that form.
ACCOUNT_REFUSED = (AppError, InvalidAccountChange, AccountTaken, WrongPassword, TooManyAttempts, TokenNotFound)


async def account_page(
    request: web.Request,
    me: Row,
    status: int = 200,
    *,
    section: str = "",
    problem: AppError | None = None,
    **extra: Any,
) -> web.Response:
    """The settings page; after a refused form, that form (``section``) shows the problem."""
    app = request.app
    context = {
        "me": me,
        "tokens": await accounts.tokens_of(app, me["id"]),
        "sessions": await accounts.sessions_of(app, me["id"]),
        "current_key": await current_session_key(request),
        "section": section,
        "message": problem.message if problem else "",
        "errors": problem.fields if problem else {},
        "values": {},
        "new_token": None,
        **extra,
    }
    return await render_form(request, "accounts/account.html", context, status)


async def refused_form(request: web.Request, me: Row, section: str, exc: Exception, form: Any) -> web.Response:
    error = as_error(exc)  # type: ignore[arg-type]  # one of ACCOUNT_REFUSED
    values = {name: form.get(name, "") for name in ("name", "email", "phone", "token_name")}
    return await account_page(request, me, error.status, section=section, problem=error, values=values)


class AccountHome(web.View):
    async def get(self) -> web.Response:
        return await account_page(self.request, require_user(self.request))


class AccountProfile(web.View):
    async def post(self) -> web.StreamResponse:
        me = require_user(self.request)
        form = await read_form(self.request)
        try:
            fields = accounts.check_profile(form)
            await accounts.check_password(self.request.app, me, current_password(form), client_ip(self.request))
            await accounts.change_profile(self.request.app, me, fields)
        except ACCOUNT_REFUSED as exc:
            return await refused_form(self.request, me, "profile", exc, form)
        raise redirect(self.request, url(self.request, "account"), "account_saved")


class AccountPassword(web.View):
    async def post(self) -> web.StreamResponse:
        me = require_user(self.request)
        form = await read_form(self.request)
        try:
            password = accounts.check_new_password(form)
            await accounts.check_password(self.request.app, me, current_password(form), client_ip(self.request))
            await accounts.change_password(self.request.app, me, password)
        except ACCOUNT_REFUSED as exc:
            return await refused_form(self.request, me, "password", exc, form)
        await signed_in_again(self.request, me)
        raise redirect(self.request, url(self.request, "account"), "password_changed")


class AccountTokens(web.View):
    async def post(self) -> web.StreamResponse:
        """A new API token: its secret is on this answer only (not a redirect, so it is never kept)."""
        me = require_user(self.request)
        form = await read_form(self.request)
        values, errors = text_fields(form, ("token_name",))
        if "token_name" in values and (problem := text_problem(values["token_name"], TOKEN_NAME_MAX)):
            errors["token_name"] = problem
        if errors:
            return await refused_form(
                self.request, me, "tokens", AppError(400, errors["token_name"], fields=errors), form
            )
        token_id, secret = await accounts.create_token(self.request.app, me["id"], values["token_name"])
        new_token = {"id": token_id, "name": values["token_name"], "secret": secret}
        response = await account_page(self.request, me, 201, new_token=new_token)
        response.headers["Cache-Control"] = "no-store"
        return response


class AccountTokenRevoke(web.View):
    async def post(self) -> web.StreamResponse:
        me = require_user(self.request)
        token_id = int(self.request.match_info["token_id"])
        try:
            await accounts.revoke_token(self.request.app, token_id, me["id"])
        except TokenNotFound as exc:
            return await account_page(self.request, me, 404, section="tokens", problem=refusal_error(exc))
        raise redirect(self.request, url(self.request, "account"), "token_revoked")


class AccountSessionsEnd(web.View):
    async def post(self) -> web.StreamResponse:
        """Sign out everywhere: every session of the account ends, this one included."""
        me = require_user(self.request)
        await accounts.end_sessions(self.request.app, me["id"])
        raise redirect(self.request, url(self.request, "login"), "signed_out_everywhere")


class AccountData(web.View):
    async def get(self) -> web.Response:
        """Everything kept about the account, as a JSON file to save."""
        me = require_user(self.request)
        data = await accounts.data_of(self.request.app, me)
        return web.Response(
            text=dumps(data),
            content_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="vote-my-data.json"', "Cache-Control": "no-store"},
        )


class AccountDelete(web.View):
    async def post(self) -> web.StreamResponse:
        me = require_user(self.request)
        form = await read_form(self.request)
        try:
            await accounts.check_password(self.request.app, me, current_password(form), client_ip(self.request))
        except ACCOUNT_REFUSED as exc:
            return await refused_form(self.request, me, "delete", exc, form)
        await accounts.delete_account(self.request.app, me)
        raise redirect(self.request, url(self.request, "index"), "account_deleted")


def current_password(form: Any) -> str:
    value = form.get("current_password")
    if not isinstance(value, str) or not value:
        problem = N_("This field is required.")
        raise AppError(400, problem, fields={"current_password": problem})
    return value


async def signed_in_again(request: web.Request, me: Row) -> None:
    """After every session ended, this browser goes on in a new one."""
    fresh = await accounts.fresh(request.app, me["id"])
    if fresh is not None:
        await login(request, fresh)


# --- Getting back in by mail ----------------------------------------------------------------


class PasswordForgot(web.View):
    async def get(self) -> web.Response:
        return await forgot_page(self.request, {})

    async def post(self) -> web.StreamResponse:
        form = await read_form(self.request)
        values, errors = text_fields(form, ("account",))
        try:
            if errors:
                raise AppError(400, errors["account"], fields=errors)
            account = check_account(values["account"])
            await password_reset.request_link(self.request.app, account, client_ip(self.request))
        except (AppError, TooManyResets) as exc:
            error = as_error(exc)
            context = {"account": form.get("account", ""), "errors": error.fields, "message": error.message}
            return await forgot_page(self.request, context, error.status)
        return await forgot_page(self.request, {"sent": True})


async def forgot_page(request: web.Request, context: dict[str, Any], status: int = 200) -> web.Response:
    page = {"account": "", "errors": {}, "message": "", "sent": False, **context}
    return await render_form(request, "accounts/forgot.html", page, status)


class PasswordReset(web.View):
    async def get(self) -> web.Response:
        token = self.request.match_info["token"]
        try:
            await password_reset.check_link(self.request.app, token)
        except ResetLinkInvalid as exc:
            return await reset_page(self.request, token, refusal_error(exc), valid=False)
        return await reset_page(self.request, token)

    async def post(self) -> web.StreamResponse:
        token = self.request.match_info["token"]
        form = await read_form(self.request)
        try:
            link = await password_reset.check_link(self.request.app, token)  # a dead link says so first
            password = accounts.check_new_password(form)
            await password_reset.reset_password(self.request.app, link, password)
        except ResetLinkInvalid as exc:
            return await reset_page(self.request, token, refusal_error(exc), valid=False)
        except (AppError, InvalidAccountChange) as exc:
            return await reset_page(self.request, token, as_error(exc))
        raise redirect(self.request, url(self.request, "login"), "password_reset")


async def reset_page(
    request: web.Request, token: str, problem: AppError | None = None, valid: bool = True
) -> web.Response:
    context = {
        "token": token,
        "valid": valid,
        "errors": problem.fields if problem else {},
        "message": problem.message if problem else "",
    }
    response = await render_form(request, "accounts/reset.html", context, problem.status if problem else 200)
    # The token is in the address: keep it out of caches and of the Referer sent to other sites
    # ("no-referrer" would also make the browser send "Origin: null" with the form, refused as cross-site).
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "same-origin"
    return response
