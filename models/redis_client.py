"""The Redis client: bounded timeouts, one quick retry for a connection dropped by a restart."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from config import Settings

# Errors meaning "Redis is down or slow": answered with 503, never a traceback.
REDIS_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)


def open_redis(settings: Settings) -> Redis:
    # decode_responses stays False: aiohttp-session's RedisStorage expects bytes.
    return Redis.from_url(
        settings.redis_url,
        decode_responses=False,
        socket_connect_timeout=settings.redis_timeout,
        socket_timeout=settings.redis_timeout,
        health_check_interval=15,
        retry=Retry(NoBackoff(), retries=1),
        retry_on_error=[RedisConnectionError],
    )
