"""HTTP: the app factory wires settings, database, Redis, sessions, templates and routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp_session

# Not `from aiohttp import web`: that name is this package's subpackage application/web/.
from aiohttp.web import Application

from application.cluster.changes import announcements_context, votes_counted
from application.cluster.live import HUB, LiveHub, close_sockets
from application.cluster.poll_cache import POLLS, PollCache
from application.cluster.token_cache import token_cache_context
from application.keys import (
    BALLOTS,
    DB,
    FAILED_LOGINS,
    REDIS,
    SAMPLE_DATA_CREATED,
    SESSION_STORAGE,
    SETTINGS,
    TOKEN_OWNERS,
    USERS,
)
from application.routes import setup_routes
from application.web.auth import auth_middleware
from application.web.csrf import csrf_middleware
from application.web.error_middleware import error_middleware
from application.web.rendering import setup_templates
from application.web.sessions import DatabaseSessionStorage, RedisSessionStorage
from config import Settings, load_settings
from models import api_token, migrations, seed, user
from models.ballot import BallotBox
from models.batching import Batcher
from models.db import open_database
from models.redis_client import open_redis
from models.throttle import MemoryFailureCounter, RedisFailureCounter

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
LOGIN_WINDOW_SECONDS = 15 * 60
LOOKUP_BATCH = 100


class PendingMigrations(Exception):
    """The MySQL schema is behind the code; the process must not serve."""


async def _database(app: Application) -> AsyncIterator[None]:
    db = await open_database(app[SETTINGS])
    app[SAMPLE_DATA_CREATED] = False
    try:
        todo = await migrations.pending(db)
        if todo and db.dialect == "sqlite":
            # The embedded default sets itself up; a brand-new database gets the sample polls.
            applied = await migrations.migrate(db)
            if applied[0] == migrations.available(db.dialect)[0].version:
                app[SAMPLE_DATA_CREATED] = await seed.load_sample_data(db)
                log.info("created %s with the sample data", app[SETTINGS].database.path)
        elif todo:
            names = ", ".join(migration.version for migration in todo)
            raise PendingMigrations(f"pending migrations ({names}): run `./vote migrate` first")
        app[DB] = db
        app[BALLOTS] = BallotBox(db, lambda question_ids: votes_counted(app, question_ids))
        app[TOKEN_OWNERS] = Batcher(lambda tokens: api_token.owners_of(db, tokens), LOOKUP_BATCH)
        app[USERS] = Batcher(lambda user_ids: user.get_many(db, user_ids), LOOKUP_BATCH)
        yield
    finally:
        await db.close()


async def _redis(app: Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    redis = app[REDIS] = open_redis(settings) if settings.redis_url else None
    if redis is not None:
        prefix = settings.redis_prefix + "failed-login:"
        app[FAILED_LOGINS] = RedisFailureCounter(redis, settings.login_rate, LOGIN_WINDOW_SECONDS, prefix)
    else:
        app[FAILED_LOGINS] = MemoryFailureCounter(settings.login_rate, LOGIN_WINDOW_SECONDS)
    try:
        yield
    finally:
        if redis is not None:
            await redis.aclose()


def init(settings: Settings | None = None) -> Application:
    """Build the application; connections open on start-up and close on cleanup."""
    settings = settings or load_settings()
    app = Application(client_max_size=MAX_BODY)
    app[SETTINGS] = settings
    app[POLLS] = PollCache()
    app[HUB] = LiveHub(app)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_redis)
    app.cleanup_ctx.append(token_cache_context)
    app.cleanup_ctx.append(announcements_context)
    app.on_shutdown.append(close_sockets)
    storage = app[SESSION_STORAGE] = RedisSessionStorage(app) if settings.redis_url else DatabaseSessionStorage(app)
    # Outermost first: errors wrap everything, then sessions, who is asking, and CSRF.
    app.middlewares.extend(
        [error_middleware, aiohttp_session.session_middleware(storage), auth_middleware, csrf_middleware]
    )
    setup_templates(app)
    setup_routes(app)
    return app
