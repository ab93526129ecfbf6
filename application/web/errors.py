"""Error codes of the JSON API and the one exception views raise to refuse a request."""

from __future__ import annotations

from enum import IntEnum

from application.web.i18n import N_


class ErrorCode(IntEnum):
    # The seed's codes keep their meaning.
    ACCOUNT_TAKEN = 20001
    REGISTRATION_FAILED = 20002
    ACCOUNT_MALFORMED = 20003
    BAD_CREDENTIALS = 20004
    # Ours.
    INVALID_INPUT = 20005
    NOT_FOUND = 20006
    AUTH_REQUIRED = 20007
    FORBIDDEN = 20008
    ALREADY_VOTED = 20009
    POLL_CLOSED = 20010
    RESULTS_HIDDEN = 20011
    RATE_LIMITED = 20012
    CSRF_FAILED = 20013
    UNSUPPORTED_MEDIA_TYPE = 20014
    PAYLOAD_TOO_LARGE = 20015
    METHOD_NOT_ALLOWED = 20016
    SERVICE_UNAVAILABLE = 20017
    INTERNAL_ERROR = 20018
    POLL_STILL_OPEN = 20019


# The code for an HTTP error raised without one (aiohttp's own 404, 405, 413...).
CODE_FOR_STATUS = {
    400: ErrorCode.INVALID_INPUT,
    401: ErrorCode.AUTH_REQUIRED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    409: ErrorCode.ALREADY_VOTED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    429: ErrorCode.RATE_LIMITED,
    503: ErrorCode.SERVICE_UNAVAILABLE,
}


class AppError(Exception):
    """Refuse the request: rendered as a page or as ``{"error_code", "error_msg"}``.

    ``message`` and ``fields`` are English (the API's language); texts marked with ``N_()`` are
    shown translated on pages.
    """

    def __init__(
        self, status: int, message: str, code: ErrorCode | None = None, fields: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or CODE_FOR_STATUS.get(status, ErrorCode.INTERNAL_ERROR)
        self.fields = fields or {}


def not_found(message: str = N_("Page not found.")) -> AppError:
    return AppError(404, message)
