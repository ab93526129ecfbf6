"""Server-side session storage for aiohttp-session: Redis in production, the database otherwise.

Both keep the data on the server under a random 256-bit id sent in an HttpOnly,
SameSite=Lax cookie, expire it after the idle lifetime, and delete it for real
when the session is invalidated.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from abc import abstractmethod
from collections.abc import Collection
from datetime import datetime, timedelta

from aiohttp import web
from aiohttp_session import AbstractStorage, Session
from redis.asyncio import Redis

from application.keys import DB, REDIS, SETTINGS
from models import web_session
from models.clock import utcnow
from models.db import Database

COOKIE_NAME = "vote_session"
SESSION_ID_BYTES = 32
# What new_session_id() makes; any other cookie value is not ours and is never looked up.
SESSION_ID_RE = re.compile(r"[A-Za-z0-9_-]{43}")
ALIVE_BATCH = 100  # sessions looked up per query


def new_session_id() -> str:
    return secrets.token_urlsafe(SESSION_ID_BYTES)


def session_key(session_id: str) -> str:
    """How a session is named outside its store (the change bus): a hash, never the id itself."""
    return hashlib.sha256(session_id.encode()).hexdigest()


class ServerSideStorage(AbstractStorage):
    """Reads the app's connections lazily: they open after the storage is configured."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        settings = app[SETTINGS]
        super().__init__(
            cookie_name=COOKIE_NAME,
            max_age=settings.session_idle_seconds,
            secure=settings.cookie_secure,
            httponly=True,
            samesite="Lax",
            encoder=json.dumps,
            decoder=json.loads,
        )

    @abstractmethod
    async def read(self, session_id: str) -> str | None: ...

    @abstractmethod
    async def write(self, session_id: str, data: str, max_age: int) -> None: ...

    @abstractmethod
    async def delete(self, session_id: str) -> None: ...

    @abstractmethod
    async def alive(self, session_ids: Collection[str]) -> set[str]:
        """Those of these sessions that still exist: neither ended nor expired."""

    async def new_session(self) -> Session:
        """A session whose id is known before it is saved, so a sign-in can record it at once."""
        return Session(new_session_id(), data=None, new=True, max_age=self.max_age)

    async def load_session(self, request: web.Request) -> Session:
        session_id = self.load_cookie(request)
        if session_id is not None and not SESSION_ID_RE.fullmatch(session_id):
            session_id = None
        data = await self.read(session_id) if session_id else None
        if session_id and data is not None:
            try:
                return Session(session_id, data=self._decoder(data), new=False, max_age=self.max_age)
            except ValueError:
                pass
        return Session(None, data=None, new=True, max_age=self.max_age)

    async def save_session(self, request: web.Request, response: web.StreamResponse, session: Session) -> None:
        session_id = session.identity
        if session.empty:
            if session_id:
                await self.delete(str(session_id))
            self.save_cookie(response, "", max_age=session.max_age)
            return
        session_id = str(session_id) if session_id else new_session_id()
        max_age = session.max_age or self.max_age or 0
        await self.write(session_id, self._encoder(self._get_session_data(session)), max_age)
        self.save_cookie(response, session_id, max_age=max_age)


class RedisSessionStorage(ServerSideStorage):
    @property
    def redis(self) -> Redis:
        redis = self.app[REDIS]
        assert redis is not None
        return redis

    def _key(self, session_id: str) -> str:
        return f"{self.app[SETTINGS].redis_prefix}session:{session_id}"

    async def read(self, session_id: str) -> str | None:
        raw = await self.redis.get(self._key(session_id))
        return raw.decode("utf-8") if raw is not None else None

    async def write(self, session_id: str, data: str, max_age: int) -> None:
        await self.redis.set(self._key(session_id), data, ex=max_age)

    async def delete(self, session_id: str) -> None:
        await self.redis.delete(self._key(session_id))

    async def alive(self, session_ids: Collection[str]) -> set[str]:
        ordered = list(session_ids)
        if not ordered:
            return set()
        async with self.redis.pipeline(transaction=False) as pipe:
            for session_id in ordered:
                pipe.exists(self._key(session_id))
            found = await pipe.execute()
        return {session_id for session_id, exists in zip(ordered, found, strict=True) if exists}


class DatabaseSessionStorage(ServerSideStorage):
    """Expired rows are deleted as sessions are written, at most once an hour per process
    (Redis expires its keys by itself)."""

    PURGE_EVERY = timedelta(hours=1)

    def __init__(self, app: web.Application) -> None:
        super().__init__(app)
        self.next_purge = datetime.min

    @property
    def db(self) -> Database:
        return self.app[DB]

    async def read(self, session_id: str) -> str | None:
        return await web_session.load(self.db, session_id, utcnow())

    async def write(self, session_id: str, data: str, max_age: int) -> None:
        now = utcnow()
        await web_session.save(self.db, session_id, data, now + timedelta(seconds=max_age))
        if now >= self.next_purge:
            self.next_purge = now + self.PURGE_EVERY
            await web_session.purge_expired(self.db, now)

    async def delete(self, session_id: str) -> None:
        await web_session.delete(self.db, session_id)

    async def alive(self, session_ids: Collection[str]) -> set[str]:
        ordered, now, found = sorted(session_ids), utcnow(), set()
        for start in range(0, len(ordered), ALIVE_BATCH):
            found |= await web_session.existing(self.db, ordered[start : start + ALIVE_BATCH], now)
        return found
