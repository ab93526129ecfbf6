"""The app factory: the one place that wires the layers together (docs/architecture.md).

It opens the database and Redis, says which cache and which live sockets hear which change,
which identity loaders the auth middleware calls, which table answers the rules' refusals and
who decides when a live socket closes, and sets up sessions, templates and routes.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from functools import partial

import aiohttp_session

# Not `from aiohttp import web`: that name is this package's subpackage application/web/.
from aiohttp.web import Application

from application.cluster import token_cache
from application.cluster.changes import Change, ChangeBus, Kind, changes_context, votes_counted
from application.cluster.live import LiveHub, close_sockets
from application.cluster.poll_cache import PollCache
from application.cluster.token_cache import TokenCache, token_uses_context
from application.keys import (
    BALLOTS,
    CHANGES,
    DB,
    DUMMY_HASH,
    FAILED_LOGINS,
    HUB,
    IDENTITIES,
    INVITES,
    LINK_VOTES,
    MAILER,
    POLL_CACHE,
    REDIS,
    REFUSALS,
    RESETS_BY_ACCOUNT,
    RESETS_BY_ADDRESS,
    SAMPLE_DATA_CREATED,
    SESSION_STORAGE,
    SETTINGS,
    TOKEN_CACHE,
    TOKEN_OWNERS,
    USERS,
    WECHAT_PRUNING,
)
from application.routes import setup_routes
from application.services.accounts import DummyHash
from application.services.results import now as results_now
from application.views.live import close_reason
from application.views.refusals import refusal_error
from application.web.auth import Identities, auth_middleware
from application.web.csrf import csrf_middleware
from application.web.error_middleware import error_middleware
from application.web.metrics import metrics_context, metrics_middleware
from application.web.rendering import setup_templates
from application.web.sessions import DatabaseSessionStorage, RedisSessionStorage, session_key
from application.wechat.callback import Pruning
from config import Settings, load_settings
from models import api_token, invite, migrations, seed, user
from models.ballot import BallotBox
from models.batching import Batcher
from models.db import open_database
from models.mailer import Mailer
from models.redis_client import open_redis
from models.throttle import MemoryFailureCounter, RedisFailureCounter

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
LOGIN_WINDOW_SECONDS = 15 * 60
LINK_VOTES_WINDOW_SECONDS = 3600
RESET_WINDOW_SECONDS = 60 * 60
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
        app[BALLOTS] = BallotBox(db, partial(votes_counted, app))
        app[TOKEN_OWNERS] = Batcher(lambda tokens: api_token.owners_of(db, tokens), LOOKUP_BATCH)
        app[USERS] = Batcher(lambda user_ids: user.get_many(db, user_ids), LOOKUP_BATCH)
        app[INVITES] = Batcher(lambda codes: invite.each_by_code(db, codes), LOOKUP_BATCH)
        yield
    finally:
        await db.close()


async def _redis(app: Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    redis = app[REDIS] = open_redis(settings) if settings.redis_url else None
    counters = [
        (FAILED_LOGINS, "failed-login:", settings.login_rate, LOGIN_WINDOW_SECONDS),
        (RESETS_BY_ACCOUNT, "reset-account:", settings.reset_rate_account, RESET_WINDOW_SECONDS),
        (RESETS_BY_ADDRESS, "reset-address:", settings.reset_rate_address, RESET_WINDOW_SECONDS),
        (LINK_VOTES, "link-votes:", settings.link_votes_per_ip, LINK_VOTES_WINDOW_SECONDS),
    ]
    for key, prefix, limit, window in counters:
        if redis is not None:
            app[key] = RedisFailureCounter(redis, limit, window, settings.redis_prefix + prefix)
        else:
            app[key] = MemoryFailureCounter(limit, window)
    try:
        yield
    finally:
        if redis is not None:
            await redis.aclose()


async def _mailer(app: Application) -> AsyncIterator[None]:
    """Mail goes out in the background while the app runs (models/mailer.py)."""
    mailer = app[MAILER]
    await mailer.start()
    try:
        yield
    finally:
        await mailer.stop()


def _wire_changes(app: Application) -> None:
    """Which cache and which live sockets hear which change (``cluster/changes.py``)."""
    bus, polls, tokens, hub = app[CHANGES], app[POLL_CACHE], app[TOKEN_CACHE], app[HUB]
    bus.subscribe(Kind.POLL, polls.drop, hub.poll_changed)
    bus.subscribe(Kind.VOTES, partial(polls.drop, votes_only=True), hub.mark_dirty)
    bus.subscribe(Kind.ACCOUNT, tokens.drop_account, hub.account_changed)
    bus.subscribe(Kind.SESSION, hub.session_ended)
    bus.when_unheard(polls.clear, tokens.clear)
    bus.when_heard_again(hub.recheck_all)


async def _session_ended(app: Application, session_id: str) -> None:
    """Every process closes the live sockets opened with this session; only its hash travels."""
    await app[CHANGES].announce(Change(Kind.SESSION, (session_key(session_id),)))


def init(settings: Settings | None = None) -> Application:
    """Build the application; connections open on start-up and close on cleanup."""
    settings = settings or load_settings()
    app = Application(client_max_size=MAX_BODY)
    app[SETTINGS] = settings
    app[CHANGES] = ChangeBus(app)
    app[POLL_CACHE] = PollCache()
    app[TOKEN_CACHE] = TokenCache()
    app[HUB] = LiveHub(app, close_reason, partial(results_now, app))
    _wire_changes(app)
    app[IDENTITIES] = Identities(
        token_owner=partial(token_cache.owner_of, app), session_ended=partial(_session_ended, app)
    )
    app[REFUSALS] = refusal_error
    app[DUMMY_HASH] = DummyHash()
    app[WECHAT_PRUNING] = Pruning()
    app.cleanup_ctx.append(metrics_context)
    app[MAILER] = Mailer(settings)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_redis)
    app.cleanup_ctx.append(token_uses_context)
    app.cleanup_ctx.append(changes_context)
    app.cleanup_ctx.append(_mailer)
    app.on_shutdown.append(close_sockets)
    storage = app[SESSION_STORAGE] = RedisSessionStorage(app) if settings.redis_url else DatabaseSessionStorage(app)
    # Outermost first: metrics see what the visitor gets, errors wrap everything else, then
    # sessions, who is asking, and CSRF.
    app.middlewares.extend(
        [
            metrics_middleware,
            error_middleware,
            aiohttp_session.session_middleware(storage),
            auth_middleware,
            csrf_middleware,
        ]
    )
    setup_templates(app)
    setup_routes(app)
    return app
