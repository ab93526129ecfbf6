"""The Redis client: bounded timeouts, one quick retry for a connection dropped by a restart.

Behind Sentinel (``redis+sentinel://``), every new connection asks the Sentinels for the current
primary: while they elect a new one, commands fail fast (503); afterwards the same client object
reaches the promoted server, pub/sub included.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from config import Settings
from models.metrics import REDIS_RECONNECTS

# Errors meaning "Redis is down or slow": answered with 503, never a traceback.
# (Sentinel's "no primary known right now", MasterNotFoundError, is a ConnectionError.)
REDIS_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)


class SentinelManagedRedis(Redis):
    """The primary Sentinel names; closing it also closes the connections to the Sentinels."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        await self.connection_pool.sentinel_manager.aclose()


async def _connected(connection: AbstractConnection) -> None:
    """redis-py's own set-up of a new connection, counting those that were connected before."""
    if getattr(connection, "_vote_connected_before", False):
        REDIS_RECONNECTS.inc()
    connection._vote_connected_before = True  # type: ignore[attr-defined]
    await connection.on_connect()


def open_redis(settings: Settings) -> Redis:
    timeouts = {"socket_connect_timeout": settings.redis_timeout, "socket_timeout": settings.redis_timeout}
    # decode_responses stays False: sessions (web/sessions.py) and change messages are read as
    # bytes and decoded where they are used.
    options: dict[str, Any] = {
        **timeouts,
        "decode_responses": False,
        "health_check_interval": 15,
        "retry": Retry(NoBackoff(), retries=1),
        "retry_on_error": [RedisConnectionError],
        "redis_connect_func": _connected,
    }
    target = settings.redis_sentinel
    if target is None:
        return Redis.from_url(settings.redis_url, **options)
    sentinel = Sentinel(target.sentinels, sentinel_kwargs=timeouts)
    return sentinel.master_for(
        target.service,
        redis_class=SentinelManagedRedis,
        db=target.db,
        username=target.username or None,
        password=target.password or None,
        **options,
    )
