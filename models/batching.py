"""Concurrent calls share one trip to the database: group commit.

While a batch is at the database, new items queue; when it returns, everything queued goes
together in the next batch. A lone item goes at once, so a quiet site waits for nothing, and a
busy one pays one round trip and one commit per batch instead of per item. While busy, a
batcher may also ``linger`` a little before each further batch, so that more items join it:
the database's commit_delay, applied where the commits are sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Answer = TypeVar("Answer")

# One answer per item, in order; an exception answers only its own item.
Run = Callable[[list[Item]], Awaitable[Sequence[Answer | Exception]]]


class Batcher(Generic[Item, Answer]):
    def __init__(self, run: Run[Item, Answer], max_size: int, linger: float = 0.0) -> None:
        self.run = run
        self.max_size = max_size
        self.linger = linger
        self.queue: list[tuple[Item, asyncio.Future[Answer]]] = []
        self.worker: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Answer:
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self.queue.append((item, future))
        if self.worker is None:
            self.worker = asyncio.create_task(self._drain())
        # A caller that gives up cancels only its own wait: the batch runs on in its own task.
        return await future

    async def _drain(self) -> None:
        batch: list[tuple[Item, asyncio.Future[Answer]]] = []
        try:
            while self.queue:
                if batch and self.linger and len(self.queue) < self.max_size:  # busy: let more join
                    await asyncio.sleep(self.linger)
                batch, self.queue = self.queue[: self.max_size], self.queue[self.max_size :]
                try:
                    answers = await self.run([item for item, _ in batch])
                except Exception as exc:  # the whole batch failed: every item gets the error
                    answers = [exc] * len(batch)
                for (_, future), answer in zip(batch, answers, strict=True):
                    if future.done():
                        continue
                    if isinstance(answer, Exception):
                        future.set_exception(answer)
                    else:
                        future.set_result(answer)
        finally:
            self.worker = None
            for _, future in (*batch, *self.queue):  # only when this task itself was cancelled
                future.cancel()
