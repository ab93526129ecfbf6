"""Live results: votes anywhere reach every WebSocket watching that poll, in every process.

Every change to a poll, made here or heard from another process (``announcements``), marks
the poll dirty in this process's ``LiveHub``; the process listens to the votes of the polls
its sockets watch, with one Redis subscription for all of them (not one per socket).

The hub coalesces: a dirty poll is read from the database once, at most every
``MIN_INTERVAL`` seconds, and the same JSON goes to all its sockets. Each socket
keeps only the latest message not yet sent, so a slow or dead reader can neither
delay the others nor make memory grow.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web

from application.jsonutil import dumps
from application.keys import DB
from models import choice

log = logging.getLogger(__name__)

MIN_INTERVAL = 0.1  # at most ~10 messages a second per poll


class Watcher:
    """One socket's mailbox: the newest unsent message, and a wake-up for its sender."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.pending: str | None = None
        self.wake = asyncio.Event()

    def offer(self, message: str) -> None:
        self.pending = message  # an older unsent message is simply replaced
        self.wake.set()

    async def run(self) -> None:
        """Send whatever is newest until the socket closes."""
        while not self.ws.closed:
            await self.wake.wait()
            self.wake.clear()
            message, self.pending = self.pending, None
            if message is not None:
                await self.ws.send_str(message)


class LiveHub:
    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.watchers: dict[int, set[Watcher]] = {}
        self.last_flush: dict[int, float] = {}
        self.last_message: dict[int, str] = {}
        self.scheduled: set[int] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    def add(self, question_id: int, watcher: Watcher) -> None:
        self.watchers.setdefault(question_id, set()).add(watcher)

    def remove(self, question_id: int, watcher: Watcher) -> None:
        group = self.watchers.get(question_id)
        if group is not None:
            group.discard(watcher)
            if not group:
                del self.watchers[question_id]
                self.last_flush.pop(question_id, None)
                self.last_message.pop(question_id, None)

    def mark_dirty(self, question_id: int) -> None:
        if question_id not in self.watchers or question_id in self.scheduled:
            return
        self.scheduled.add(question_id)
        delay = max(0.0, self.last_flush.get(question_id, 0.0) + MIN_INTERVAL - time.monotonic())
        task = asyncio.get_running_loop().create_task(self._flush(question_id, delay))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def mark_all_dirty(self) -> None:
        for question_id in list(self.watchers):
            self.mark_dirty(question_id)

    async def _flush(self, question_id: int, delay: float) -> None:
        await asyncio.sleep(delay)
        # Unscheduled before the read: a vote arriving during it schedules the next flush.
        self.scheduled.discard(question_id)
        self.last_flush[question_id] = time.monotonic()
        try:
            message = await results_message(self.app, question_id)
        except Exception:
            log.exception("live update of question %s failed", question_id)
            return
        if message == self.last_message.get(question_id):
            return  # e.g. a flush scheduled by a vote the previous read already counted
        self.last_message[question_id] = message
        for watcher in self.watchers.get(question_id, ()):
            watcher.offer(message)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        for group in list(self.watchers.values()):
            for watcher in list(group):
                await watcher.ws.close(code=1001, message=b"Server shutting down")
        self.watchers.clear()


HUB: web.AppKey[LiveHub] = web.AppKey("live_hub")


async def results_message(app: web.Application, question_id: int) -> str:
    """The results document of the API, as the JSON text every socket of the poll receives."""
    return dumps(choice.tally(question_id, await choice.for_question(app[DB], question_id)))


async def close_sockets(app: web.Application) -> None:
    """On shutdown, before waiting for handlers: sockets would otherwise hold it up."""
    await app[HUB].close()
