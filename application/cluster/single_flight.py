"""Single flight: concurrent requests for the same thing share one fetch (the caches' misses)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class SingleFlight:
    def __init__(self) -> None:
        self.loading: dict[Hashable, asyncio.Task[Any]] = {}

    async def once(self, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
        """Concurrent misses of one key share a single fetch, instead of a stampede of them.
        Put a generation in ``key`` where changes happen: a request that arrives after a change
        must not be given a fetch that started before it."""
        task = self.loading.get(key)
        if task is None:
            task = self.loading[key] = asyncio.ensure_future(fetch())
            task.add_done_callback(lambda done: self._loaded(key, done))
        return await asyncio.shield(task)  # one impatient client must not cancel it for all

    def _loaded(self, key: Hashable, task: asyncio.Task[Any]) -> None:
        self.loading.pop(key, None)
        if not task.cancelled():
            task.exception()  # seen, even if every waiter went away
