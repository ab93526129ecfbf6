"""What an anonymous voter's browser keeps, in long-lived, HttpOnly, SameSite=Lax cookies
signed with ``VOTE_SECRET_KEY`` so that nobody can make one up (no server session for them):

- the voter key of link polls: a random key (one ballot per key and poll). It proves one
  browser, not one person: clearing cookies gives a new key (docs/security.md says what bounds
  that: the per-address cap of ``VOTE_LINK_VOTES_PER_IP``);
- the invite codes it voted with (by row id, never the code), so that results shown "after
  voting" are shown to it once the code is used.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from aiohttp import web

from application.keys import SETTINGS

COOKIE_NAME = "voter"
INVITED_COOKIE = "invited"
INVITED_PURPOSE = b"invited:"
INVITED_KEPT = 20  # the polls most recently voted on by code; the cookie stays under 512 bytes
MAX_AGE = 400 * 24 * 3600  # browsers cap cookie lifetimes near 400 days
KEY_BYTES = 16  # 32 hex digits: the ballot.link_key column


def _signature(secret: str, key: str, purpose: bytes = b"voter-key:") -> str:
    """``purpose`` keeps one cookie's signature from being valid for the other's value."""
    digest = hmac.new(secret.encode(), purpose + key.encode(), hashlib.sha256).digest()
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
    _set(request, response, COOKIE_NAME, f"{key}.{_signature(request.app[SETTINGS].secret_key, key)}")


def invites_voted(request: web.Request) -> tuple[tuple[int, int], ...]:
    """The (poll id, invite id) pairs this browser's valid cookie says it voted with; () when none."""
    pairs, _, signature = request.cookies.get(INVITED_COOKIE, "").rpartition(".")
    if not pairs:  # most visitors: no cookie, nothing to check
        return ()
    expected = _signature(request.app[SETTINGS].secret_key, pairs, INVITED_PURPOSE)
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return ()
    return tuple((int(poll), int(code)) for poll, code in (pair.split("_") for pair in pairs.split("-")))


def remember_invite(request: web.Request, response: web.StreamResponse, poll_id: int, invite_id: int) -> None:
    """Add to the browser's cookie that it voted on ``poll_id`` with the code ``invite_id``."""
    kept = [pair for pair in invites_voted(request) if pair[0] != poll_id][-(INVITED_KEPT - 1) :]
    pairs = "-".join(f"{poll}_{code}" for poll, code in [*kept, (poll_id, invite_id)])
    signature = _signature(request.app[SETTINGS].secret_key, pairs, INVITED_PURPOSE)
    _set(request, response, INVITED_COOKIE, f"{pairs}.{signature}")


def _set(request: web.Request, response: web.StreamResponse, name: str, value: str) -> None:
    settings = request.app[SETTINGS]
    response.set_cookie(
        name, value, max_age=MAX_AGE, path="/", httponly=True, samesite="Lax", secure=settings.cookie_secure
    )
