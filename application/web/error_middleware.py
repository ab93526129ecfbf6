"""The one error path: every refusal and failure becomes a styled page or a JSON error.

A rule's refusal (``Refused``) that no view answered itself is answered through the table the
factory registered (``keys.REFUSALS``: ``views/refusals.py``), so that this layer knows no rules.
"""

from __future__ import annotations

import logging
import secrets

from aiohttp import web

from application.keys import REFUSALS, Handler
from application.web.errors import CODE_FOR_STATUS, AppError, ErrorCode
from application.web.i18n import N_
from application.web.jsonutil import json_response
from application.web.rendering import render
from application.web.security import add_security_headers
from models.db import DatabaseUnavailable
from models.redis_client import REDIS_UNAVAILABLE
from models.refusal import Refused

log = logging.getLogger(__name__)

REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id")
CLIENT_CLOSED_REQUEST = 499  # nginx's status for it, in the access log

TITLES = {
    400: N_("Bad request"),
    401: N_("Please log in"),
    403: N_("Forbidden"),
    404: N_("Page not found"),
    405: N_("Method not allowed"),
    409: N_("Conflict"),
    413: N_("Request too large"),
    415: N_("Unsupported media type"),
    429: N_("Too many attempts"),
    500: N_("Something went wrong"),
    503: N_("Service unavailable"),
}
# What an error page says when aiohttp itself refused (no route, wrong method, body too big...).
PAGE_MESSAGES = {
    400: N_("The request could not be understood."),
    404: N_("There is no page at this address. It may have been moved or deleted."),
    405: N_("This address does not accept that kind of request."),
    413: N_("The request is too large: the limit is 1 MiB."),
}


def wants_json(request: web.Request) -> bool:
    """API paths, and views that speak JSON (class attribute ``json_errors``), get JSON errors."""
    handler = request.match_info.handler
    return request.path.startswith("/api/") or getattr(handler, "json_errors", False)


async def error_response(request: web.Request, error: AppError) -> web.StreamResponse:
    if wants_json(request):
        body: dict[str, object] = {"error_code": int(error.code), "error_msg": error.message}
        if error.fields:
            body["fields"] = error.fields
        return json_response(body, status=error.status)
    context = {
        "status": error.status,
        "title": TITLES.get(error.status, N_("Error")),
        "message": error.message,
        "request_id": request.get(REQUEST_ID, ""),
    }
    try:
        return await render(request, "error.html", context, status=error.status)
    except Exception:  # a broken template must not hide the original error
        log.exception("error page failed to render")
        return web.Response(status=error.status, text=f"{error.status} {error.message}")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = secrets.token_hex(8)
    request[REQUEST_ID] = request_id
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            exc.headers["X-Request-ID"] = request_id
            add_security_headers(exc)
            raise
        message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else f"{exc.reason}."
        if not wants_json(request):
            message = PAGE_MESSAGES.get(exc.status, message)
        error = AppError(exc.status, message, CODE_FOR_STATUS.get(exc.status))
        response = await error_response(request, error)
        if exc.status == 405:
            response.headers["Allow"] = exc.headers.get("Allow", "")
    except AppError as exc:
        response = await error_response(request, exc)
    except Refused as exc:
        response = await error_response(request, request.app[REFUSALS](exc))
    except web.RequestPayloadError:  # a body its own headers cannot decode (Content-Encoding: gzip, not gzip)
        response = await error_response(request, AppError(400, N_("The request body could not be read.")))
    except (DatabaseUnavailable, *REDIS_UNAVAILABLE) as exc:
        log.warning("service unavailable [request %s]: %s", request_id, exc)
        error = AppError(503, N_("The service is temporarily unavailable. Please try again shortly."))
        response = await error_response(request, error)
        response.headers["Retry-After"] = "5"
    except Exception as exc:
        if isinstance(exc, ConnectionResetError) and request.transport is None:
            # The client went away before its whole request arrived (a closed tab, a load
            # generator stopping): nobody is left to answer, and nothing went wrong here.
            log.info("client disconnected [request %s] %s %s", request_id, request.method, request.path)
            return web.Response(status=CLIENT_CLOSED_REQUEST)
        log.exception("unhandled error [request %s] %s %s", request_id, request.method, request.path)
        error = AppError(500, N_("An unexpected error occurred."), ErrorCode.INTERNAL_ERROR)
        response = await error_response(request, error)
    response.headers["X-Request-ID"] = request_id
    add_security_headers(response)
    return response
