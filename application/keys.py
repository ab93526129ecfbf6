"""Typed keys for what the app factory puts on the application, and the handler type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web
from redis.asyncio import Redis

from config import Settings
from models.ballot import BallotBox
from models.batching import Batcher
from models.db import Database, Row
from models.throttle import FailureCounter

if TYPE_CHECKING:
    from application.web.sessions import ServerSideStorage

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
DB: web.AppKey[Database] = web.AppKey("db")
REDIS: web.AppKey[Redis | None] = web.AppKey("redis")
SESSION_STORAGE: web.AppKey[ServerSideStorage] = web.AppKey("session_storage")
FAILED_LOGINS: web.AppKey[FailureCounter] = web.AppKey("failed_logins")
BALLOTS: web.AppKey[BallotBox] = web.AppKey("ballots")
# Lookups every signed-in request makes; concurrent requests share one query (models/batching.py).
TOKEN_OWNERS: web.AppKey[Batcher[str, Row | None]] = web.AppKey("token_owners")
USERS: web.AppKey[Batcher[int, Row | None]] = web.AppKey("users")
# True when this start created the embedded database and loaded the sample data into it.
SAMPLE_DATA_CREATED: web.AppKey[bool] = web.AppKey("sample_data_created")
