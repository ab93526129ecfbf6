"""Every typed key of what the app factory puts on the application, and the handler type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web
from redis.asyncio import Redis

from config import Settings
from models.ballot import BallotBox
from models.batching import Batcher
from models.db import Database, Row
from models.mailer import Mailer
from models.refusal import Refused
from models.throttle import FailureCounter

if TYPE_CHECKING:
    from application.cluster.changes import ChangeBus
    from application.cluster.live import LiveHub
    from application.cluster.poll_cache import PollCache
    from application.cluster.token_cache import TokenCache
    from application.cluster.vote_channels import VoteChannels
    from application.services.accounts import DummyHash
    from application.web.auth import Identities
    from application.web.errors import AppError
    from application.web.sessions import ServerSideStorage
    from application.web.urls import Urls
    from application.wechat.callback import Pruning

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
DB: web.AppKey[Database] = web.AppKey("db")
REDIS: web.AppKey[Redis | None] = web.AppKey("redis")
SESSION_STORAGE: web.AppKey[ServerSideStorage] = web.AppKey("session_storage")
FAILED_LOGINS: web.AppKey[FailureCounter] = web.AppKey("failed_logins")
LINK_VOTES: web.AppKey[FailureCounter] = web.AppKey("link_votes")  # per link poll and address, per hour
# Password reset mails asked for, per account and per client address (services/password_reset.py).
RESETS_BY_ACCOUNT: web.AppKey[FailureCounter] = web.AppKey("resets_by_account")
RESETS_BY_ADDRESS: web.AppKey[FailureCounter] = web.AppKey("resets_by_address")
MAILER: web.AppKey[Mailer] = web.AppKey("mailer")
BALLOTS: web.AppKey[BallotBox] = web.AppKey("ballots")
# Lookups every signed-in request makes; concurrent requests share one query (models/batching.py).
TOKEN_OWNERS: web.AppKey[Batcher[str, Row | None]] = web.AppKey("token_owners")
USERS: web.AppKey[Batcher[int, Row | None]] = web.AppKey("users")
INVITES: web.AppKey[Batcher[str, Row | None]] = web.AppKey("invites")  # by code
IDENTITIES: web.AppKey[Identities] = web.AppKey("identities")
# How the error middleware answers a refusal no view answered itself (views/refusals.py).
REFUSALS: web.AppKey[Callable[[Refused], AppError]] = web.AppKey("refusals")
DUMMY_HASH: web.AppKey[DummyHash] = web.AppKey("dummy_hash")
WECHAT_PRUNING: web.AppKey[Pruning] = web.AppKey("wechat_pruning")
URLS: web.AppKey[Urls] = web.AppKey("urls")  # the routes' URLs by name (web/urls.py)
# True when this start created the embedded database and loaded the sample data into it.
SAMPLE_DATA_CREATED: web.AppKey[bool] = web.AppKey("sample_data_created")

# cluster/: N processes acting as one.
CHANGES: web.AppKey[ChangeBus] = web.AppKey("changes")
VOTE_CHANNELS: web.AppKey[VoteChannels] = web.AppKey("vote_channels")  # only with Redis
POLL_CACHE: web.AppKey[PollCache] = web.AppKey("poll_cache")
TOKEN_CACHE: web.AppKey[TokenCache] = web.AppKey("token_cache")
HUB: web.AppKey[LiveHub] = web.AppKey("live_hub")
