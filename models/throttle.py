"""Counting attempts in a fixed window: in Redis so every process shares them, else in memory.

An attempt is counted before it is checked (``attempt``), in one atomic step, so a burst of
parallel attempts gets no more through than the same attempts one after another. A counter that
limits what was done rather than what was tried (the votes of a link poll's address) gives back
(``give_back``) each attempt that did not happen: refused, or beyond the limit.
"""

from __future__ import annotations

import hashlib
import time
from abc import ABC, abstractmethod

from redis.asyncio import Redis


class FailureCounter(ABC):
    def __init__(self, limit: int, window_seconds: int) -> None:
        self.limit = limit
        self.window = window_seconds

    @staticmethod
    def slot(key: str) -> str:
        """What a counter holds for ``key``: its hash, so no address or identifier is kept as typed."""
        return hashlib.sha256(key.encode()).hexdigest()

    @abstractmethod
    async def attempt(self, key: str) -> bool:
        """Count one attempt; False when ``limit`` attempts were already counted in the window."""

    @abstractmethod
    async def give_back(self, key: str) -> None:
        """Uncount one attempt of ``key`` counted in this window (none once the window is over)."""

    @abstractmethod
    async def reset(self, key: str) -> None: ...


GIVE_BACK = "if redis.call('GET', KEYS[1]) then return redis.call('DECR', KEYS[1]) end return 0"


class RedisFailureCounter(FailureCounter):
    def __init__(self, redis: Redis, limit: int, window_seconds: int, prefix: str) -> None:
        super().__init__(limit, window_seconds)
        self.redis = redis
        self.prefix = prefix

    async def attempt(self, key: str) -> bool:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(self.prefix + self.slot(key))
            # NX: the window starts at the first attempt and is not extended by later ones.
            pipe.expire(self.prefix + self.slot(key), self.window, nx=True)
            counted, _ = await pipe.execute()
        return int(counted) <= self.limit

    async def give_back(self, key: str) -> None:
        # In one step with the check: a DECR after the window expired would make a key at -1 that
        # never expires.
        await self.redis.eval(GIVE_BACK, 1, self.prefix + self.slot(key))

    async def reset(self, key: str) -> None:
        await self.redis.delete(self.prefix + self.slot(key))


class MemoryFailureCounter(FailureCounter):
    """For the embedded default: one process, so a dict is the shared state. Nothing here awaits
    between reading a count and writing it back, so no other request runs in between."""

    def __init__(self, limit: int, window_seconds: int) -> None:
        super().__init__(limit, window_seconds)
        self.entries: dict[str, tuple[int, float]] = {}

    async def attempt(self, key: str) -> bool:
        now, key = time.monotonic(), self.slot(key)
        count, expires = self.entries.get(key, (0, 0.0))
        if expires <= now:
            count, expires = 0, now + self.window
        self.entries[key] = (count + 1, expires)
        if len(self.entries) > 100_000:  # bound memory under a flood of distinct keys
            self.entries = {k: v for k, v in self.entries.items() if v[1] > now}
        return count < self.limit

    async def give_back(self, key: str) -> None:
        key = self.slot(key)
        count, expires = self.entries.get(key, (0, 0.0))
        if count > 0 and expires > time.monotonic():
            self.entries[key] = (count - 1, expires)

    async def reset(self, key: str) -> None:
        self.entries.pop(self.slot(key), None)
