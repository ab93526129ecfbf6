"""Who owns a bearer token, remembered per process for a moment.

API clients send the same token with every request; looking it up each time costs a database
round trip per request. Owners found are kept for ``LIFETIME_SECONDS``. Revoking a token or
disabling its account is announced (``changes``, kind ACCOUNT): every process drops that
account's tokens at once, and the lifetime bounds what a lost announcement (Redis down) could
leave. Concurrent requests with a token not yet known share one lookup; unknown tokens are
never remembered: each is looked up again.

Each token's last use (shown in the list of tokens) is written every ``USE_FLUSH_SECONDS`` for
all the tokens used meanwhile, in one statement, rather than by the requests themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web

from application.cluster.single_flight import SingleFlight
from application.keys import DB, TOKEN_CACHE, TOKEN_OWNERS
from models import api_token
from models.clock import utcnow
from models.db import DatabaseUnavailable, Row

LIFETIME_SECONDS = 2.0
MAX_ENTRIES = 10_000
USE_FLUSH_SECONDS = 10.0

log = logging.getLogger(__name__)


class TokenCache(SingleFlight):
    def __init__(self, lifetime: float = LIFETIME_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        super().__init__()
        self.lifetime = lifetime
        self.max_entries = max_entries
        self.owners: dict[str, tuple[float, Row]] = {}
        # Bumped by every drop: a lookup that started before it must not store its older answer.
        self.generation = 0
        self.used: set[int] = set()  # ids of the tokens used since the last write of their use

    def get(self, token: str) -> Row | None:
        entry = self.owners.get(token)
        return entry[1] if entry is not None and entry[0] >= time.monotonic() else None

    def put(self, token: str, owner: Row, generation: int) -> None:
        if generation != self.generation:
            return
        if len(self.owners) >= self.max_entries:
            del self.owners[next(iter(self.owners))]  # the oldest
        self.owners[token] = (time.monotonic() + self.lifetime, owner)

    def drop_account(self, user_id: int) -> None:
        self.generation += 1
        for token in [token for token, (_, owner) in self.owners.items() if owner["id"] == user_id]:
            del self.owners[token]

    def clear(self) -> None:
        self.generation += 1
        self.owners.clear()


async def owner_of(app: web.Application, token: str) -> Row | None:
    """The account the token belongs to, or None for a token that is unknown or revoked."""
    cache = app[TOKEN_CACHE]
    found = cache.get(token)
    if found is None:
        generation = cache.generation
        found = await cache.once((token, generation), lambda: app[TOKEN_OWNERS].submit(token))
        if found is not None:
            cache.put(token, found, generation)
    if found is not None:
        cache.used.add(found["token_id"])
    return found


async def _write_uses(app: web.Application) -> None:
    cache = app[TOKEN_CACHE]
    used, cache.used = cache.used, set()
    if used:
        try:
            await api_token.note_use(app[DB], used, utcnow())
        except DatabaseUnavailable as exc:
            cache.used |= used  # next time
            log.warning("last use of %d tokens not written: %s", len(used), exc)


async def token_uses_context(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: the task writing tokens' last use (once more at the end)."""

    async def write_every_few_seconds() -> None:
        while True:
            await asyncio.sleep(USE_FLUSH_SECONDS)
            await _write_uses(app)

    writer = asyncio.create_task(write_every_few_seconds())
    yield
    writer.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await writer
    await _write_uses(app)
