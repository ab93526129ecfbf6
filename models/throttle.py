"""Counting failures in a fixed window: in Redis so every process shares them, else in memory."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod

from redis.asyncio import Redis


class FailureCounter(ABC):
    def __init__(self, limit: int, window_seconds: int) -> None:
        self.limit = limit
        self.window = window_seconds

    @abstractmethod
    async def count(self, key: str) -> int: ...

    @abstractmethod
    async def add(self, key: str) -> None: ...

    @abstractmethod
    async def reset(self, key: str) -> None: ...

    async def blocked(self, key: str) -> bool:
        return await self.count(key) >= self.limit


class RedisFailureCounter(FailureCounter):
    def __init__(self, redis: Redis, limit: int, window_seconds: int, prefix: str) -> None:
        super().__init__(limit, window_seconds)
        self.redis = redis
        self.prefix = prefix

    async def count(self, key: str) -> int:
        value = await self.redis.get(self.prefix + key)
        return int(value) if value is not None else 0

    async def add(self, key: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(self.prefix + key)
            # NX: the window starts at the first failure and is not extended by later ones.
            pipe.expire(self.prefix + key, self.window, nx=True)
            await pipe.execute()

    async def reset(self, key: str) -> None:
        await self.redis.delete(self.prefix + key)


class MemoryFailureCounter(FailureCounter):
    """For the embedded default: one process, so a dict is the shared state."""

    def __init__(self, limit: int, window_seconds: int) -> None:
        super().__init__(limit, window_seconds)
        self.entries: dict[str, tuple[int, float]] = {}

    def _live(self, key: str) -> tuple[int, float]:
        count, expires = self.entries.get(key, (0, 0.0))
        if expires <= time.monotonic():
            self.entries.pop(key, None)
            return 0, time.monotonic() + self.window
        return count, expires

    async def count(self, key: str) -> int:
        return self._live(key)[0]

    async def add(self, key: str) -> None:
        count, expires = self._live(key)
        self.entries[key] = (count + 1, expires)
        if len(self.entries) > 100_000:  # bound memory under a flood of distinct keys
            now = time.monotonic()
            self.entries = {k: v for k, v in self.entries.items() if v[1] > now}

    async def reset(self, key: str) -> None:
        self.entries.pop(key, None)
