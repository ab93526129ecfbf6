"""Live results: votes anywhere reach every WebSocket watching that poll, in every process.

Each batch of votes calls ``votes_counted``, any other change ``results_changed``: the
process marks the polls dirty in its ``LiveHub`` and, with Redis, publishes their ids on one
channel. Each process holds a single subscription (not one per socket) and marks the polls
of other processes' messages dirty in its own hub.

The hub coalesces: a dirty poll is read from the database once, at most every
``MIN_INTERVAL`` seconds, and the same JSON goes to all its sockets. Each socket
keeps only the latest message not yet sent, so a slow or dead reader can neither
delay the others nor make memory grow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator

from aiohttp import web

from application.jsonutil import dumps
from application.keys import DB, REDIS, SETTINGS
from application.poll_cache import PollCache
from application.token_cache import TOKEN_CACHE
from models import choice
from models.redis_client import REDIS_UNAVAILABLE

log = logging.getLogger(__name__)

MIN_INTERVAL = 0.1  # at most ~10 messages a second per poll
RESUBSCRIBE_DELAY = 0.5
STOP_CHECK_SECONDS = 0.25


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
POLLS: web.AppKey[PollCache] = web.AppKey("poll_cache")


async def results_message(app: web.Application, question_id: int) -> str:
    """The results document of the API, as the JSON text every socket of the poll receives."""
    return dumps(choice.tally(question_id, await choice.for_question(app[DB], question_id)))


def _channel(app: web.Application) -> str:
    return app[SETTINGS].redis_prefix + "results"


# A message on the channel is "<sender> <change>", the change one of "poll 12" (created, closed,
# edited or deleted), "votes 12,31" (those polls gained votes) and "account 7" (a token of
# account 7 revoked, or the account disabled or enabled). The sender applies its own changes
# at once and skips its own messages.
SENDER: web.AppKey[str] = web.AppKey("live_sender")


async def results_changed(app: web.Application, question_id: int) -> None:
    """Tell every process that a poll was created, closed, edited or deleted."""
    await _announce(app, f"poll {question_id}")


async def votes_counted(app: web.Application, question_ids: set[int]) -> None:
    """Tell every process that these polls gained votes: counts change, the polls' rules do not."""
    if question_ids:
        await _announce(app, "votes " + ",".join(map(str, sorted(question_ids))))


async def account_changed(app: web.Application, user_id: int) -> None:
    """Tell every process to forget the tokens it remembers of this account (``token_cache``)."""
    await _announce(app, f"account {user_id}")


async def _announce(app: web.Application, change: str) -> None:
    """The change is already committed, so a Redis outage only costs this announcement: cached
    copies expire within seconds and listeners re-read everything when Redis returns."""
    _apply(app, change)  # this process at once, before the answer goes out
    redis = app[REDIS]
    if redis is None:
        return
    try:
        await redis.publish(_channel(app), f"{app[SENDER]} {change}")
    except REDIS_UNAVAILABLE as exc:
        log.warning("change %r not announced: %s", change, exc)


def _apply(app: web.Application, change: str) -> None:
    kind, _, numbers = change.partition(" ")
    ids = [int(number) for number in numbers.split(",")]
    for changed in ids:
        if kind == "account":
            app[TOKEN_CACHE].drop_account(changed)
        else:
            app[POLLS].drop(changed, votes_only=kind == "votes")
            app[HUB].mark_dirty(changed)


def _received(app: web.Application, data: bytes) -> None:
    sender, _, change = data.decode("ascii", "replace").partition(" ")
    if sender != app[SENDER]:
        with contextlib.suppress(ValueError):
            _apply(app, change)


async def _listen(app: web.Application, stop: asyncio.Event) -> None:
    """The process's one subscription; after a Redis outage it re-subscribes and re-sends all.

    It stops on ``stop`` rather than on cancellation: redis-py's get_message can swallow a
    cancel, so the loop checks the event every STOP_CHECK_SECONDS.
    """
    redis = app[REDIS]
    assert redis is not None
    hub = app[HUB]
    while not stop.is_set():
        try:
            async with redis.pubsub() as pubsub:
                await pubsub.subscribe(_channel(app))
                while not stop.is_set():
                    message = await pubsub.get_message(timeout=STOP_CHECK_SECONDS)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        # First subscription, or redis-py re-subscribed after a reconnect:
                        # whatever changed meanwhile was not announced, so forget and re-send it all.
                        app[POLLS].clear()
                        app[TOKEN_CACHE].clear()
                        hub.mark_all_dirty()
                    elif message["type"] == "message":
                        _received(app, message["data"])
        except REDIS_UNAVAILABLE as exc:
            log.warning("live updates: Redis subscription lost (%s); retrying", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RESUBSCRIBE_DELAY)


async def live_context(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: the hub, the poll cache and, with Redis, the listener."""
    app[HUB] = LiveHub(app)
    app[POLLS] = PollCache()
    app[SENDER] = secrets.token_hex(8)
    stop = asyncio.Event()
    listener = asyncio.create_task(_listen(app, stop)) if app[REDIS] is not None else None
    yield
    if listener is not None:
        stop.set()
        await listener


async def close_sockets(app: web.Application) -> None:
    """On shutdown, before waiting for handlers: sockets would otherwise hold it up."""
    await app[HUB].close()
