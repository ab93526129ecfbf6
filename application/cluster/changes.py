"""The change bus: a change made by one process reaches every process holding a copy of it.

Processes share only the database and Redis. After a change commits, the process applies it to
itself at once (before answering) and publishes it; every other process applies it as it hears
it. What applying a change means is not decided here: at wiring (``application/__init__.py``)
each cache and the live hub subscribe to the kinds of change they care about.

A change is a ``Change(kind, ids)``; on the wire a message is ``<sender> <kind> <id>,<id>...``
(``Change.encode``), e.g. ``poll 12`` (created, closed, edited or deleted), ``votes 12,31``
(those polls gained votes), ``account 7`` (a token of account 7 revoked, or the account disabled
or enabled) and ``session <sha256 of its id>`` (a signed-in session ended). Poll, account and
session changes go on one channel every process always listens to: every process keeps polls'
rules and tokens, and may hold anyone's sockets. Votes go on the vote channels, which a process
hears only while it shows the polls' counts (``vote_channels``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiohttp import web
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from application.cluster.vote_channels import VoteChannels, sweep
from application.keys import CHANGES, HUB, REDIS, SETTINGS, VOTE_CHANNELS

log = logging.getLogger(__name__)

RESUBSCRIBE_DELAY = 0.5
STOP_CHECK_SECONDS = 0.25
SWEEP_SECONDS = 1.0


class Kind(StrEnum):
    POLL = "poll"  # created, closed, edited, deleted or restored
    VOTES = "votes"  # gained votes; their rules are unchanged
    ACCOUNT = "account"  # disabled, enabled, or one of its tokens revoked
    SESSION = "session"  # a signed-in session ended; named by its hash (``sessions.session_key``)


@dataclass(frozen=True)
class Change:
    kind: Kind
    ids: tuple[int, ...] | tuple[str, ...]  # poll or account ids; session hashes

    def encode(self) -> str:
        return f"{self.kind} {','.join(map(str, self.ids))}"

    @classmethod
    def decode(cls, text: str) -> Change:
        """The change ``encode`` wrote; ValueError for any other text."""
        name, _, listed = text.partition(" ")
        kind, parts = Kind(name), listed.split(",")
        if not all(parts):
            raise ValueError(f"no ids in {text!r}")
        return cls(kind, tuple(parts) if kind is Kind.SESSION else tuple(map(int, parts)))


# Applies one id of a change (a poll's, an account's, a session's hash) to what it keeps.
Subscriber = Callable[[Any], None]


class Restart(Exception):
    """redis-py re-subscribed on a new connection by itself: start over on a fresh one."""


class ChangeBus:
    """This process's end of the bus. Subscribers are told each change, id by id, in the order
    they subscribed; ``when_unheard`` callbacks forget everything that could have changed while
    the subscription was down; ``when_heard_again`` ones run once it is back."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.sender = secrets.token_hex(8)
        self.subscribers: dict[Kind, list[Subscriber]] = {kind: [] for kind in Kind}
        self.unheard: list[Callable[[], None]] = []
        self.heard_again: list[Callable[[], None]] = []

    def subscribe(self, kind: Kind, *subscribers: Subscriber) -> None:
        self.subscribers[kind].extend(subscribers)

    def when_unheard(self, *callbacks: Callable[[], None]) -> None:
        self.unheard.extend(callbacks)

    def when_heard_again(self, *callbacks: Callable[[], None]) -> None:
        self.heard_again.extend(callbacks)

    def apply(self, change: Change) -> None:
        for subject in change.ids:
            for subscriber in self.subscribers[change.kind]:
                subscriber(subject)

    async def announce(self, change: Change) -> None:
        """Apply a committed change here at once, then tell every other process."""
        if not change.ids:
            return
        self.apply(change)  # this process before the answer goes out
        redis = self.app[REDIS]
        if redis is None:
            return
        with _lost_if_redis_fails(change):
            if change.kind is Kind.VOTES:
                await self.app[VOTE_CHANNELS].publish(self.sender, list(change.ids))
            else:
                await redis.publish(_global_channel(self.app), f"{self.sender} {change.encode()}")

    def received(self, data: bytes) -> None:
        sender, _, change = data.decode("ascii", "replace").partition(" ")
        if sender != self.sender:
            with contextlib.suppress(ValueError):
                self.apply(Change.decode(change))

    def forget_all(self) -> None:
        for callback in self.unheard:
            callback()


async def votes_counted(app: web.Application, question_ids: set[int]) -> None:
    """Tell the processes holding these polls' counts that they gained votes (``BallotBox`` calls
    it after each commit)."""
    await app[CHANGES].announce(Change(Kind.VOTES, tuple(sorted(question_ids))))


def _global_channel(app: web.Application) -> str:
    return app[SETTINGS].redis_prefix + "results"


@contextlib.contextmanager
def _lost_if_redis_fails(change: Change) -> Iterator[None]:
    """The change is already committed, so whatever Redis answers (down, out of memory, a
    permission refused) costs only its announcement, never the change's answer: cached copies
    expire within seconds and listeners re-read everything when they subscribe anew."""
    try:
        yield
    except RedisError as exc:
        log.warning("change %r not announced: %s", change.encode(), exc)


async def _listen(app: web.Application, stop: asyncio.Event) -> None:
    """The process's one subscribing connection; after a Redis outage it starts over.

    It stops on ``stop`` rather than on cancellation: redis-py's get_message can swallow a
    cancel, so the loop checks the event every STOP_CHECK_SECONDS.
    """
    redis = app[REDIS]
    assert redis is not None
    channels = app[VOTE_CHANNELS]
    while not stop.is_set():
        try:
            async with redis.pubsub() as pubsub:
                try:
                    await pubsub.subscribe(_global_channel(app))
                    await _hear(app, pubsub, stop)
                finally:
                    # Before the connection closes, so that no reader subscribes on it any more.
                    channels.detach()
                    app[CHANGES].forget_all()  # what this process holds could now change unheard
        except (Restart, RedisError) as exc:
            log.warning("changes: Redis subscription lost (%r); subscribing again", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RESUBSCRIBE_DELAY)


async def _hear(app: web.Application, pubsub: PubSub, stop: asyncio.Event) -> None:
    next_sweep = time.monotonic() + SWEEP_SECONDS
    while not stop.is_set():
        message = await pubsub.get_message(timeout=STOP_CHECK_SECONDS)
        if message is not None:
            await _handle(app, pubsub, message)
        if time.monotonic() >= next_sweep:
            await sweep(app)
            next_sweep = time.monotonic() + SWEEP_SECONDS


async def _handle(app: web.Application, pubsub: PubSub, message: dict[str, Any]) -> None:
    kind, channel, channels, bus = message["type"], message["channel"], app[VOTE_CHANNELS], app[CHANGES]
    if kind == "message":
        bus.received(message["data"])
    elif kind == "subscribe" and channel != _global_channel(app).encode():
        rejoined = channels.confirmed(channel)
        if rejoined is not None:  # votes may have gone unheard meanwhile: as if it had some
            bus.apply(Change(Kind.VOTES, (rejoined,)))
    elif kind == "subscribe":
        if channels.pubsub is not None:
            raise Restart("re-subscribed on a new connection")
        # Subscribed: whatever changed before was not heard, so forget it, check again what
        # relies on it, and hear the polls the live sockets watch again.
        bus.forget_all()
        for callback in bus.heard_again:
            callback()
        await channels.attach(pubsub, list(app[HUB].watchers))


async def changes_context(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: with Redis, the vote channels and the listener."""
    redis = app[REDIS]
    if redis is None:
        yield
        return
    settings = app[SETTINGS]
    app[VOTE_CHANNELS] = VoteChannels(redis, settings.redis_prefix, settings.redis_timeout)
    stop = asyncio.Event()
    listener = asyncio.create_task(_listen(app, stop))
    yield
    stop.set()
    await listener
