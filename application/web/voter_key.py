"""The voter key of link polls: a random key in a long-lived, HttpOnly, SameSite=Lax cookie,
signed with ``VOTE_SECRET_KEY`` so that nobody can make up one (one ballot per key and poll).

It proves one browser, not one person: clearing cookies gives a new key (docs/security.md says
what bounds that: the per-address cap of ``VOTE_LINK_VOTES_PER_IP``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from aiohttp import web

from application.keys import SETTINGS

COOKIE_NAME = "voter"
MAX_AGE = 400 * 24 * 3600  # browsers cap cookie lifetimes near 400 days
KEY_BYTES = 16  # 32 hex digits: the ballot.link_key column


def _signature(secret: str, key: str) -> str:
    digest = hmac.new(secret.encode(), b"voter-key:" + key.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def voter_key(request: web.Request) -> str | None:
    """The key of this browser's valid cookie, or None."""
    key, _, signature = request.cookies.get(COOKIE_NAME, "").partition(".")
    if len(key) != 2 * KEY_BYTES or not all(char in "0123456789abcdef" for char in key):
        return None
    expected = _signature(request.app[SETTINGS].secret_key, key)
    return key if hmac.compare_digest(signature.encode(), expected.encode()) else None


def new_voter_key() -> str:
    return secrets.token_hex(KEY_BYTES)


def give_voter_key(request: web.Request, response: web.StreamResponse, key: str) -> None:
    """Hand the browser its cookie for ``key``."""
    settings = request.app[SETTINGS]
    response.set_cookie(
        COOKIE_NAME,
        f"{key}.{_signature(settings.secret_key, key)}",
        max_age=MAX_AGE,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=settings.cookie_secure,
    )
