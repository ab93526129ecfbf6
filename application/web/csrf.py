"""CSRF protection: a per-session token on every unsafe request, and Origin checked when sent.

The token lives in the session, so any process sharing the session store accepts
it. Requests authenticated by a bearer token carry no ambient credentials and are
exempt; so are views marked ``csrf_exempt`` (signed WeChat callbacks).

A visitor without a session gets a visitor token instead (``visitor_token``): signed with
``VOTE_SECRET_KEY``, carrying its issue time, the same for every such visitor, so the pages that
carry it stay shareable between anonymous visitors and viewing them creates no session. It is
accepted only from requests whose session holds no token, and only by views marked
``accepts_visitor_token``. What it does and does not protect: docs/security.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from aiohttp import web
from aiohttp_session import SESSION_KEY, get_session

from application.keys import SETTINGS, Handler
from application.web.auth import BY_TOKEN, SESSION_CSRF, USER, is_api
from application.web.errors import AppError, ErrorCode
from application.web.forms import read_form
from application.web.i18n import N_
from application.web.security import same_origin

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# A visitor token stays valid this long: a tab left open for days still submits.
VISITOR_TOKEN_SECONDS = 7 * 24 * 3600
# Tokens issued by another process whose clock runs this far ahead are still accepted.
CLOCK_SKEW_SECONDS = 300


async def csrf_token(request: web.Request) -> str:
    """The session's token, creating session and token when a form needs one."""
    session = await get_session(request)
    if SESSION_CSRF not in session:
        session[SESSION_CSRF] = secrets.token_urlsafe(32)
    return str(session[SESSION_CSRF])


def _visitor_signature(secret: str, issued: str) -> str:
    digest = hmac.new(secret.encode(), b"csrf-visitor:" + issued.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def visitor_token(secret: str, now: float | None = None) -> str:
    """A token for visitors without a session: ``<issue time>.<HMAC-SHA256 of it>``."""
    issued = str(int(time.time() if now is None else now))
    return f"{issued}.{_visitor_signature(secret, issued)}"


def valid_visitor_token(secret: str, token: str, now: float | None = None) -> bool:
    """Signed with ``secret`` and issued less than ``VISITOR_TOKEN_SECONDS`` ago."""
    issued, _, signature = token.partition(".")
    if not (issued.isascii() and issued.isdigit() and len(issued) <= 12 and signature.isascii()):
        return False
    age = (time.time() if now is None else now) - int(issued)
    if not -CLOCK_SKEW_SECONDS <= age <= VISITOR_TOKEN_SECONDS:
        return False
    return hmac.compare_digest(signature.encode(), _visitor_signature(secret, issued).encode())


async def page_csrf_token(request: web.Request) -> str:
    """The token a page's forms carry: the session's when this request loaded a session that is
    signed in or holds one, else a visitor token. Never creates a session for an anonymous
    visitor (a refused anonymous vote's page loaded an empty one to check its form) nor does any
    I/O of its own."""
    session = request.get(SESSION_KEY)
    if session is None or (request.get(USER) is None and SESSION_CSRF not in session):
        return visitor_token(request.app[SETTINGS].secret_key)
    return await csrf_token(request)


def _refuse(message: str) -> AppError:
    return AppError(403, message, ErrorCode.CSRF_FAILED)


def _check_origin(request: web.Request) -> None:
    origin = request.headers.get("Origin")
    if origin is None:
        return
    if origin == "null" or not same_origin(request, origin):
        raise _refuse(N_("Cross-site request refused."))


async def _submitted_token(request: web.Request) -> str:
    """The header's token; or for a page's form, its ``csrf_token`` field (API calls send the header)."""
    token = request.headers.get("X-CSRF-Token")
    if token is None and request.content_type in FORM_TYPES and not is_api(request):
        token = (await read_form(request)).get("csrf_token")
    return str(token or "")


def _routed(request: web.Request) -> bool:
    """False when the answer will be 404 or 405 anyway: those come first."""
    handler = request.match_info.handler
    if request.match_info.http_exception is not None:
        return False
    return not (isinstance(handler, type) and issubclass(handler, web.View)) or hasattr(handler, request.method.lower())


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    needs_check = (
        request.method in UNSAFE_METHODS
        and _routed(request)
        and not request[BY_TOKEN]
        and not getattr(request.match_info.handler, "csrf_exempt", False)
        # An API call without any credentials is not riding on a cookie; the view answers 401.
        and not (is_api(request) and request[USER] is None)
    )
    if needs_check:
        _check_origin(request)
        if not await _token_accepted(request, await _submitted_token(request)):
            raise _refuse(N_("The form has expired or its security token is missing. Please reload and try again."))
    return await handler(request)


async def _token_accepted(request: web.Request, submitted: str) -> bool:
    expected = str((await get_session(request)).get(SESSION_CSRF, ""))
    if expected:
        return hmac.compare_digest(expected.encode(), submitted.encode())
    # No session token: a visitor without a session, on a view that serves such visitors.
    return getattr(request.match_info.handler, "accepts_visitor_token", False) and valid_visitor_token(
        request.app[SETTINGS].secret_key, submitted
    )
