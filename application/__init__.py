"""HTTP: the app factory wires settings, database, Redis, sessions, templates and routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp_session
from aiohttp import web

from application.keys import DB, REDIS, SETTINGS
from application.middlewares import error_middleware
from application.routes import setup_routes
from application.sessions import DatabaseSessionStorage, RedisSessionStorage
from application.templating import setup_templates
from config import Settings, load_settings
from models import migrations, seed
from models.db import open_database
from models.redis_client import open_redis

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024


class PendingMigrations(Exception):
    """The MySQL schema is behind the code; the process must not serve."""


async def _database(app: web.Application) -> AsyncIterator[None]:
    db = await open_database(app[SETTINGS])
    try:
        todo = await migrations.pending(db)
        if todo and db.dialect == "sqlite":
            # The embedded default sets itself up; a brand-new database gets the sample polls.
            applied = await migrations.migrate(db)
            if applied[0] == migrations.available(db.dialect)[0].version:
                await seed.load_sample_data(db)
                log.info("created %s with the sample data", app[SETTINGS].database.path)
        elif todo:
            names = ", ".join(migration.version for migration in todo)
            raise PendingMigrations(f"pending migrations ({names}): run `python main.py migrate` first")
        app[DB] = db
        yield
    finally:
        await db.close()


async def _redis(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[REDIS] = open_redis(settings) if settings.redis_url else None
    try:
        yield
    finally:
        redis = app[REDIS]
        if redis is not None:
            await redis.aclose()


def init(settings: Settings | None = None) -> web.Application:
    """Build the application; connections open on start-up and close on cleanup."""
    settings = settings or load_settings()
    app = web.Application(middlewares=[error_middleware], client_max_size=MAX_BODY)
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_redis)
    storage = RedisSessionStorage(app) if settings.redis_url else DatabaseSessionStorage(app)
    aiohttp_session.setup(app, storage)
    setup_templates(app)
    setup_routes(app)
    return app
