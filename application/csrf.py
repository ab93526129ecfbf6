"""CSRF protection: a per-session token on every unsafe request, and Origin checked when sent.

The token lives in the session, so any process sharing the session store accepts
it. Requests authenticated by a bearer token carry no ambient credentials and are
exempt; so are views marked ``csrf_exempt`` (signed WeChat callbacks).
"""

from __future__ import annotations

import hmac
import secrets

from aiohttp import web
from aiohttp_session import SESSION_KEY, get_session

from application.auth import BY_TOKEN, SESSION_CSRF, USER, is_api
from application.errors import AppError, ErrorCode
from application.forms import read_form
from application.i18n import N_
from application.keys import Handler
from application.security import same_origin

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def csrf_token(request: web.Request) -> str:
    """The session's token, creating session and token when a form needs one."""
    session = await get_session(request)
    if SESSION_CSRF not in session:
        session[SESSION_CSRF] = secrets.token_urlsafe(32)
    return str(session[SESSION_CSRF])


async def existing_csrf_token(request: web.Request) -> str:
    """The token for templates, when this request already loaded a session; never any I/O."""
    if request.get(SESSION_KEY) is None:
        return ""
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
        session = await get_session(request)
        expected = str(session.get(SESSION_CSRF, ""))
        submitted = await _submitted_token(request)
        if not expected or not hmac.compare_digest(expected.encode(), submitted.encode()):
            raise _refuse(N_("The form has expired or its security token is missing. Please reload and try again."))
    return await handler(request)
