"""Who is asking: the current user, loaded per request onto the request (never onto the app).

A request is authenticated by ``Authorization: Bearer <token>`` on API paths, or
by the session cookie. Sessions expire after an idle period (the storage's TTL,
refreshed while in use) and after an absolute lifetime counted from login.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from aiohttp import web
from aiohttp_session import Session, get_session, new_session

from application.keys import DB, IDENTITIES, SESSION_STORAGE, SETTINGS, USERS, Handler
from application.web.devices import describe
from application.web.errors import AppError, ErrorCode
from application.web.i18n import N_
from application.web.security import client_ip
from application.web.sessions import COOKIE_NAME, session_key
from application.web.urls import url
from models import account_session
from models.clock import utcnow
from models.db import Row

USER: web.RequestKey[Row | None] = web.RequestKey("user")
BY_TOKEN: web.RequestKey[bool] = web.RequestKey("by_token")

SESSION_USER = "user_id"
SESSION_AUTH_TIME = "auth_time"
SESSION_SEEN = "seen"
SESSION_CSRF = "csrf"
# The account's session generation at sign-in: once the account's moves on, the session has ended.
SESSION_GENERATION = "generation"
# Touch the session at most this often, so its idle expiry moves without a write per request.
SEEN_REFRESH_SECONDS = 300


@dataclass(frozen=True)
class Identities:
    """Who owns a bearer token, and whom to tell that a signed-in session ended: the factory wires
    them to the token cache and the change bus (``application/__init__.py``)."""

    token_owner: Callable[[str], Awaitable[Row | None]]
    session_ended: Callable[[str], Awaitable[None]]


def is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


def unauthorized(message: str) -> AppError:
    return AppError(401, message, ErrorCode.AUTH_REQUIRED)


async def _token_user(request: web.Request, header: str) -> Row:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or not token.isascii():  # tokens are ASCII
        raise unauthorized("Use the header Authorization: Bearer <token>.")
    found = await request.app[IDENTITIES].token_owner(token.strip())
    if found is None or not found["is_active"]:
        raise unauthorized("The token is invalid, revoked, or its account is disabled.")
    return found


async def _session_user(request: web.Request, session: Session) -> Row | None:
    user_id = session.get(SESSION_USER)
    if user_id is None:
        return None
    now = int(time.time())
    if now > session_deadline(request, session):
        await end_session(request, session)
        return None
    found = await request.app[USERS].submit(user_id)
    if found is None or not found["is_active"]:
        await end_session(request, session)  # a disabled account's sessions end at once
        return None
    if session.get(SESSION_GENERATION, 0) != found["session_generation"]:
        await end_session(request, session)  # signed out everywhere, or the password changed
        return None
    if now - session.get(SESSION_SEEN, 0) > SEEN_REFRESH_SECONDS:
        session[SESSION_SEEN] = now
        await account_session.seen(request.app[DB], session_key(str(session.identity)), client_ip(request), utcnow())
    return found


def session_deadline(request: web.Request, session: Session) -> int:
    """When a signed-in session's absolute lifetime runs out (epoch seconds)."""
    return int(session.get(SESSION_AUTH_TIME, 0)) + request.app[SETTINGS].session_absolute_seconds


async def end_session(request: web.Request, session: Session) -> None:
    """Delete the session (when the answer is sent) and, in every process, close the live
    sockets opened with it."""
    if session.identity:
        await request.app[IDENTITIES].session_ended(str(session.identity))
        await account_session.end(request.app[DB], session_key(str(session.identity)))
    session.invalidate()


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request[USER] = None
    request[BY_TOKEN] = False
    header = request.headers.get("Authorization")
    if header is not None and is_api(request):
        request[USER] = await _token_user(request, header)
        request[BY_TOKEN] = True
    elif COOKIE_NAME in request.cookies:
        request[USER] = await _session_user(request, await get_session(request))
    return await handler(request)


def login_url(request: web.Request, next_path: str | None = None) -> str:
    """The log-in page, which brings the user back to ``next_path`` (a path on this site) after."""
    page = url(request, "login")
    return f"{page}?next={quote(next_path, safe='/')}" if next_path else page


def login_redirect(request: web.Request) -> web.HTTPFound:
    return web.HTTPFound(login_url(request, request.path_qs if request.method == "GET" else None))


def require_user(request: web.Request) -> Row:
    """The logged-in user; anonymous visitors are sent to log in (401 on the API)."""
    current = request[USER]
    if current is None:
        if is_api(request):
            raise unauthorized("Log in or send a bearer token.")
        raise login_redirect(request)
    return current


def require_admin(request: web.Request) -> Row:
    current = require_user(request)
    if not current["is_admin"]:
        raise AppError(403, N_("Only administrators may do this."))
    return current


def safe_next(target: str | None) -> str:
    """``next`` only to a path on this site; anything else goes home. Browsers drop tabs and line
    breaks from a URL (``/<tab>/evil.example`` would leave the site), so a target holding them goes home."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or not target.isprintable():
        return "/"
    return target


async def login(request: web.Request, account_user: Row) -> None:
    """Start a fresh session: a new id, the old one deleted, a new CSRF token."""
    old = await get_session(request)
    if old.identity:
        await request.app[SESSION_STORAGE].delete(str(old.identity))
        if old.get(SESSION_USER) is not None:
            await request.app[IDENTITIES].session_ended(str(old.identity))
            await account_session.end(request.app[DB], session_key(str(old.identity)))
    session = await new_session(request)
    now = int(time.time())
    session.update(
        {
            SESSION_USER: account_user["id"],
            SESSION_AUTH_TIME: now,
            SESSION_SEEN: now,
            SESSION_CSRF: secrets.token_urlsafe(32),
            SESSION_GENERATION: account_user["session_generation"],
        }
    )
    device = describe(request.headers.get("User-Agent", ""))
    key = session_key(str(session.identity))
    now, idle = utcnow(), timedelta(seconds=request.app[SETTINGS].session_idle_seconds)
    await account_session.start(request.app[DB], key, account_user["id"], device, client_ip(request), now, now - idle)
    request[USER] = account_user


async def current_session_key(request: web.Request) -> str | None:
    """How the signed-in session is named in the sessions list (a hash of its id)."""
    session = await get_session(request)
    return session_key(str(session.identity)) if session.identity else None


async def logout(request: web.Request) -> None:
    await end_session(request, await get_session(request))
    request[USER] = None
