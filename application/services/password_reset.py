"""Forgotten passwords: a link by mail (``VOTE_PUBLIC_URL`` + /password/reset/<token>), valid 30
minutes and once, that sets a new password and ends every session of the account.

The request answers the same, in about the same time, whether or not the account exists; only a
hash of the token is stored, so a copy of the database opens no account.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from datetime import timedelta

from aiohttp import web

from application.keys import DB, MAILER, RESETS_BY_ACCOUNT, RESETS_BY_ADDRESS
from application.services import accounts, mails
from application.services.refusals import ResetLinkInvalid, TooManyResets
from application.web.urls import app_absolute_url
from models import password_reset, user
from models.clock import utcnow
from models.db import Row
from models.passwords import hash_password, hash_token

log = logging.getLogger(__name__)

VALID = timedelta(minutes=30)
TOKEN_BYTES = 32
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{43}")  # what secrets.token_urlsafe(TOKEN_BYTES) makes
# Every request takes at least this long, so a known account (a row written, a mail queued) and an
# unknown one (a lookup) cannot be told apart by the time of the answer.
ANSWER_SECONDS = 0.25


async def request_link(app: web.Application, account: str, address: str) -> None:
    """Mail a reset link to the account named by ``account`` (an email or E.164 phone), if there
    is one and it has not asked too often; ``TooManyResets`` when this address has."""
    started = asyncio.get_running_loop().time()
    if not await app[RESETS_BY_ADDRESS].attempt(f"address|{address}"):
        raise TooManyResets
    try:
        await _mail_link(app, account)
    finally:
        spent = asyncio.get_running_loop().time() - started
        await asyncio.sleep(max(0.0, ANSWER_SECONDS - spent))


async def _mail_link(app: web.Application, account: str) -> None:
    found = await user.by_account(app[DB], account)
    if found is None or not found["is_active"]:
        return
    if not await app[RESETS_BY_ACCOUNT].attempt(f"user|{found['id']}"):
        log.info("password reset for user %s not mailed: asked too often", found["id"])
        return
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = utcnow()
    await password_reset.create(app[DB], found["id"], hash_token(token), now + VALID, now)
    link = app_absolute_url(app, "password_reset", token=token)
    app[MAILER].send(mails.password_reset(app, found, link, int(VALID.total_seconds() // 60)))


async def check_link(app: web.Application, token: str) -> Row:
    """The reset the link names (id, user_id) while it is unused and unexpired; ``ResetLinkInvalid`` otherwise."""
    found = await password_reset.usable(app[DB], hash_token(token), utcnow()) if TOKEN_RE.fullmatch(token) else None
    if found is None:
        raise ResetLinkInvalid
    return found


async def reset_password(app: web.Application, found: Row, password: str) -> None:
    """Set the new (checked) password through the link ``check_link`` found, which is then used up
    with every other link of the account; every session of the account ends."""
    password_hash = await hash_password(password)
    now = utcnow()
    async with app[DB].transaction() as tx:
        if not await password_reset.use(tx, found["id"], now):
            raise ResetLinkInvalid  # used by a request that got there first
        await user.set_password(tx, found["user_id"], password_hash)
        await password_reset.use_all_of(tx, found["user_id"], now)
    await accounts.end_sessions(app, found["user_id"])
