"""Jinja2 set-up (autoescaped templates from template/) and the one way views render a page."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Protocol

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import SESSION_KEY

from application.keys import SETTINGS
from application.web import i18n, timezones, urls
from application.web.auth import USER, safe_next
from application.web.csrf import page_csrf_token
from application.web.i18n import N_
from application.web.security import split_url

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "template"

# Flash messages travel in a short-lived cookie holding one of these codes (never free text), so
# showing one needs no session: an anonymous visitor's pages stay session-free.
FLASH_COOKIE = "flash"
FLASH_MAX_AGE = 60
FLASHES = {
    "registered": N_("Welcome! Your account is ready and you are logged in."),
    "logged_in": N_("You are logged in."),
    "logged_out": N_("You are logged out. See you soon!"),
    "poll_created": N_("Your poll is published. Share its link to collect votes."),
    "poll_scheduled": N_("Your poll is saved. It will be published at the time you chose."),
    "invite_poll_created": N_(
        "Your poll is saved. Only invite codes vote on it: make them with Invite codes below, then print or send them."
    ),
    "poll_edited": N_("Your changes are saved."),
    "poll_closed": N_("You closed the poll. Its results stay available."),
    "results_revealed": N_("The results are revealed: every phone shows them now."),
    "poll_deleted": N_("The poll was deleted."),
    "vote_counted": N_("Thank you: your vote was counted."),
    "invites_created": N_("The new invite codes are ready: print them or download the CSV."),
    "invite_revoked": N_("The code is revoked: it can no longer vote."),
    "user_enabled": N_("The account is enabled again."),
    "user_disabled": N_("The account is disabled; its sessions and tokens stopped working."),
    "question_deleted": N_("The poll is deleted; it can be restored below."),
    "question_restored": N_("The poll is restored and visible again."),
    "account_saved": N_("Your account details are saved."),
    "password_changed": N_("Your password is changed. Your other sessions were signed out."),
    "token_revoked": N_("The token is revoked; it no longer works."),
    "signed_out_everywhere": N_("You are signed out everywhere, on every device."),
    "account_deleted": N_("Your account is deleted. Your votes stay counted, without your name."),
    "password_reset": N_("Your new password is set and every session was signed out. Log in with it."),
}


def _static_url(app: web.Application) -> Any:
    @cache
    def static(filename: str) -> str:
        # Versioned URLs (?v=hash) so browsers and nginx may cache them for long. aiohttp reads
        # and hashes the file on every call; the files only change with a deploy, which restarts.
        return str(app.router["static"].url_for(filename=filename))

    return static


def setup_templates(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,  # templates change only with a deploy; no stat() per render
    )
    env.globals["static"] = _static_url(app)
    urls.install(env, app)
    i18n.install(env)
    i18n.load_catalogues()
    timezones.install(env)


def redirect(request: web.Request, location: str, flash: str | None = None) -> web.HTTPFound:
    """A 302 after an action; ``flash`` names the message the next page shows."""
    response = web.HTTPFound(location)
    if flash is not None:
        assert flash in FLASHES, flash
        secure = request.app[SETTINGS].cookie_secure
        response.set_cookie(
            FLASH_COOKIE, flash, max_age=FLASH_MAX_AGE, path="/", httponly=True, samesite="Lax", secure=secure
        )
    return response


def _this_page(request: web.Request) -> str:
    """Where the language switch comes back to: this page, or for a form's answer, the form."""
    if request.method == "GET":
        return request.path_qs
    referer = split_url(request.headers.get("Referer", ""))
    if referer is None or referer.netloc.lower() != request.host.lower():
        return "/"
    return safe_next(referer.path + (f"?{referer.query}" if referer.query else ""))


class PageCache(Protocol):
    """Where a page that every anonymous visitor may share is kept, by a key naming its language,
    time zone, status and address; the rules hand one out with what they read (the poll cache's
    ``PageSlot``), for as long as that stays current."""

    def get(self, page_key: str) -> str | None: ...

    def put(self, page_key: str, html: str) -> None: ...


async def render(
    request: web.Request,
    template: str,
    context: dict[str, Any],
    status: int = 200,
    cache: PageCache | None = None,
) -> web.Response:
    """Render with what every page needs: who is logged in, the CSRF token, language, time zone,
    flash message.

    With ``cache``, anonymous visitors without a message to show get the same HTML, rendered
    once per language, time zone and change of what it shows (rendering is most of such a
    request's cost).
    """
    flash = request.cookies.get(FLASH_COOKIE)
    language = i18n.language(request)
    zone = timezones.visitor_zone(request)
    shared = cache if flash is None and request.get(USER) is None and SESSION_KEY not in request else None
    key = f"{language.code} {zone.key} {status} {request.host} {request.path_qs}"
    html = shared.get(key) if shared is not None else None
    if html is None:
        page = {
            "current_user": request.get(USER),
            "csrf_token": await page_csrf_token(request),
            "lang": language,
            "timezone": zone,
            "path": request.path,
            "this_page": _this_page(request),
            "flash": FLASHES.get(flash or ""),
            **context,
        }
        html = aiohttp_jinja2.render_string(template, request, page)
        if shared is not None:
            shared.put(key, html)
    response = web.Response(text=html, status=status, content_type="text/html")
    response.headers["Vary"] = "Accept-Language, Cookie"  # the language and login state come from them
    response.headers["Content-Language"] = language.code
    if flash is not None:
        response.del_cookie(FLASH_COOKIE, path="/")  # shown once
    return response
