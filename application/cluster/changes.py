"""Announcements: a change made by one process reaches every process holding a copy of it.

Processes share only the database and Redis. After a change commits, the process applies it to
itself at once (before answering) and publishes it; each other process drops what it cached of
it (``poll_cache``, ``token_cache``) and updates its live sockets (``live.LiveHub``).

A message is ``<sender> <change>``, the change one of "poll 12" (created, closed, edited or
deleted), "votes 12,31" (those polls gained votes), "account 7" (a token of account 7 revoked,
or the account disabled or enabled) and "session <sha256 of its id>" (a signed-in session ended:
its live sockets close). Poll, account and session changes go on one channel every process
always listens to: every process keeps polls' rules and tokens, and may hold anyone's sockets.
Votes are the frequent change and matter only to a process holding counts, so they go on each
poll's own channel (``votes:12``), and on ``votes:all`` for the index, which shows many polls'
totals (``VoteChannels``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from aiohttp import web
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from application.cluster.live import HUB
from application.cluster.poll_cache import INDEX, POLLS
from application.cluster.token_cache import TOKEN_CACHE
from application.keys import REDIS, SETTINGS
from application.web.sessions import session_key

log = logging.getLogger(__name__)

RESUBSCRIBE_DELAY = 0.5
STOP_CHECK_SECONDS = 0.25
SWEEP_SECONDS = 1.0

SENDER: web.AppKey[str] = web.AppKey("announcement_sender")

# One round trip for a batch of votes, however many polls it touched: ARGV is the channel prefix,
# the sender, then the poll ids.
PUBLISH_VOTES = """
local prefix, sender = ARGV[1], ARGV[2]
for i = 3, #ARGV do
    redis.call('PUBLISH', prefix .. ARGV[i], sender .. ' votes ' .. ARGV[i])
end
redis.call('PUBLISH', prefix .. 'all', sender .. ' votes ' .. table.concat(ARGV, ',', 3))
"""


class Restart(Exception):
    """redis-py re-subscribed on a new connection by itself: start over on a fresh one."""


class VoteChannels:
    """The vote channels this process listens on.

    A process listens on a poll's channel only while it holds that poll's counts (its row or
    pages in the poll cache) or has live sockets on it, and on ``votes:all`` while it holds the
    index (key ``poll_cache.INDEX``): a process that only takes votes hears none. Before reading
    counts it means to keep, a process subscribes and waits for Redis to confirm (``follow``): a
    vote committed after that read is then always heard. Every ``SWEEP_SECONDS`` the listener
    leaves the channels nobody needs any more.
    """

    def __init__(self, redis: Redis, prefix: str, confirm_seconds: float) -> None:
        self.prefix = prefix + "votes:"
        self.confirm_seconds = confirm_seconds
        self.publish_script = redis.register_script(PUBLISH_VOTES)
        self.pubsub: PubSub | None = None  # while the listener holds a confirmed subscription
        self.heard: set[int] = set()  # keys whose subscription Redis confirmed
        self.asked: dict[int, asyncio.Future[bool]] = {}
        self.rejoining: set[int] = set()

    def channel(self, key: int) -> str:
        return self.prefix + ("all" if key == INDEX else str(key))

    def key(self, channel: bytes) -> int | None:
        name = channel.decode("ascii", "replace")
        if not name.startswith(self.prefix):
            return None
        suffix = name[len(self.prefix) :]
        return INDEX if suffix == "all" else int(suffix) if suffix.isdigit() else None

    async def follow(self, key: int) -> bool:
        """True once every vote announced on ``key`` from now on will reach this process; False
        when Redis does not confirm in time (what is read then must not be kept)."""
        if key in self.heard:
            return True
        if self.pubsub is None:
            return False
        answer = self.asked.get(key)
        if answer is None:
            answer = self.asked[key] = asyncio.get_running_loop().create_future()
            sent = False
            try:
                await self.pubsub.subscribe(self.channel(key))
                sent = True
            except RedisError:
                pass  # not heard: what the caller reads is served, not kept
            finally:
                if not sent:
                    self._answer(key, False)
        try:
            async with asyncio.timeout(self.confirm_seconds):
                return await asyncio.shield(answer)
        except TimeoutError:
            self._answer(key, False)  # the next reader asks again
            return False

    def confirmed(self, channel: bytes) -> int | None:
        """Redis confirmed a subscription: the key, when it is one ``attach`` joined again."""
        key = self.key(channel)
        if key is None:
            return None
        self.heard.add(key)
        self._answer(key, True)
        if key in self.rejoining:
            self.rejoining.discard(key)
            return key
        return None

    def _answer(self, key: int, heard: bool) -> None:
        answer = self.asked.pop(key, None)
        if answer is not None and not answer.done():
            answer.set_result(heard)

    async def attach(self, pubsub: PubSub, keys: Iterable[int]) -> None:
        """Subscribed anew: readers may follow, and ``keys`` are heard again (not waited for)."""
        self.pubsub = pubsub
        self.rejoining = set(keys)
        if self.rejoining:
            await pubsub.subscribe(*(self.channel(key) for key in self.rejoining))

    def detach(self) -> None:
        """The subscription is gone: nothing is heard any more, and nobody waits for it."""
        self.pubsub = None
        self.heard.clear()
        for key in list(self.asked):
            self._answer(key, False)

    async def publish(self, sender: str, question_ids: list[int]) -> None:
        await self.publish_script(args=[self.prefix, sender, *question_ids])

    async def leave(self, keys: list[int]) -> None:
        self.heard.difference_update(keys)  # before the await: a follower now subscribes anew
        if self.pubsub is not None:
            await self.pubsub.unsubscribe(*(self.channel(key) for key in keys))


CHANNELS: web.AppKey[VoteChannels] = web.AppKey("vote_channels")


async def follow_votes(app: web.Application, key: int) -> bool:
    """Listen to the votes of ``key`` (a poll id, or ``INDEX``) from now on. Without Redis there
    is one process, which applies its own changes; when Redis does not confirm, False, and reads
    of those counts under way will not be kept."""
    if app[REDIS] is None or await app[CHANNELS].follow(key):
        return True
    app[POLLS].forget_counts(key)
    return False


@contextlib.asynccontextmanager
async def reading_counts(app: web.Application, key: int) -> AsyncIterator[None]:
    """Around a read of counts to keep: a vote committed after it starts will be heard."""
    with app[POLLS].reading(key):
        await follow_votes(app, key)
        yield


def _global_channel(app: web.Application) -> str:
    return app[SETTINGS].redis_prefix + "results"


async def results_changed(app: web.Application, question_id: int) -> None:
    """Tell every process that a poll was created, closed, edited or deleted."""
    await _announce(app, f"poll {question_id}")


async def account_changed(app: web.Application, user_id: int) -> None:
    """Tell every process to forget the tokens it remembers of this account (``token_cache``) and
    to check its live sockets (closed once it is disabled)."""
    await _announce(app, f"account {user_id}")


async def session_ended(app: web.Application, session_id: str) -> None:
    """Tell every process to close the live sockets opened with this session; only its hash
    goes on the wire."""
    await _announce(app, f"session {session_key(session_id)}")


async def _announce(app: web.Application, change: str) -> None:
    _apply(app, change)  # this process at once, before the answer goes out
    redis = app[REDIS]
    if redis is not None:
        with _lost_if_redis_fails(change):
            await redis.publish(_global_channel(app), f"{app[SENDER]} {change}")


async def votes_counted(app: web.Application, question_ids: set[int]) -> None:
    """Tell the processes holding these polls' counts that they gained votes (rules unchanged)."""
    if not question_ids:
        return
    ordered = sorted(question_ids)
    change = "votes " + ",".join(map(str, ordered))
    _apply(app, change)
    if app[REDIS] is not None:
        with _lost_if_redis_fails(change):
            await app[CHANNELS].publish(app[SENDER], ordered)


@contextlib.contextmanager
def _lost_if_redis_fails(change: str) -> Iterator[None]:
    """The change is already committed, so whatever Redis answers (down, out of memory, a
    permission refused) costs only its announcement, never the change's answer: cached copies
    expire within seconds and listeners re-read everything when they subscribe anew."""
    try:
        yield
    except RedisError as exc:
        log.warning("change %r not announced: %s", change, exc)


def _apply(app: web.Application, change: str) -> None:
    kind, _, subject = change.partition(" ")
    hub = app[HUB]
    if kind == "session":
        hub.session_ended(subject)
        return
    for changed in map(int, subject.split(",")):
        if kind == "account":
            app[TOKEN_CACHE].drop_account(changed)
            hub.account_changed(changed)
        elif kind == "votes":
            app[POLLS].drop(changed, votes_only=True)
            hub.mark_dirty(changed)
        else:
            app[POLLS].drop(changed)
            hub.poll_changed(changed)


def _received(app: web.Application, data: bytes) -> None:
    sender, _, change = data.decode("ascii", "replace").partition(" ")
    if sender != app[SENDER]:
        with contextlib.suppress(ValueError):
            _apply(app, change)


async def _sweep(app: web.Application) -> None:
    """Leave the vote channels of what this process no longer holds or watches."""
    cache, channels, hub = app[POLLS], app[CHANNELS], app[HUB]
    cache.purge()
    idle = [key for key in channels.heard if not cache.holds_counts(key) and key not in hub.watchers]
    for key in idle:
        cache.forget_counts(key)  # a page rendered from counts that just expired is not kept unheard
    if idle:
        await channels.leave(idle)


async def _listen(app: web.Application, stop: asyncio.Event) -> None:
    """The process's one subscribing connection; after a Redis outage it starts over.

    It stops on ``stop`` rather than on cancellation: redis-py's get_message can swallow a
    cancel, so the loop checks the event every STOP_CHECK_SECONDS.
    """
    redis = app[REDIS]
    assert redis is not None
    channels = app[CHANNELS]
    while not stop.is_set():
        try:
            async with redis.pubsub() as pubsub:
                try:
                    await pubsub.subscribe(_global_channel(app))
                    await _hear(app, pubsub, stop)
                finally:
                    # Before the connection closes, so that no reader subscribes on it any more.
                    channels.detach()
                    _forget_all(app)  # what this process holds could now change unheard
        except (Restart, RedisError) as exc:
            log.warning("announcements: Redis subscription lost (%r); subscribing again", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RESUBSCRIBE_DELAY)


async def _hear(app: web.Application, pubsub: PubSub, stop: asyncio.Event) -> None:
    next_sweep = time.monotonic() + SWEEP_SECONDS
    while not stop.is_set():
        message = await pubsub.get_message(timeout=STOP_CHECK_SECONDS)
        if message is not None:
            await _handle(app, pubsub, message)
        if time.monotonic() >= next_sweep:
            await _sweep(app)
            next_sweep = time.monotonic() + SWEEP_SECONDS


async def _handle(app: web.Application, pubsub: PubSub, message: dict[str, Any]) -> None:
    kind, channel, channels, hub = message["type"], message["channel"], app[CHANNELS], app[HUB]
    if kind == "message":
        _received(app, message["data"])
    elif kind == "subscribe" and channel != _global_channel(app).encode():
        rejoined = channels.confirmed(channel)
        if rejoined is not None:  # votes may have gone unheard meanwhile: re-send the poll
            hub.mark_dirty(rejoined)
    elif kind == "subscribe":
        if channels.pubsub is not None:
            raise Restart("re-subscribed on a new connection")
        # Subscribed: whatever changed before was not heard, so forget it, check the live
        # sockets again, and hear the polls they watch again.
        _forget_all(app)
        hub.recheck_all()
        await channels.attach(pubsub, list(hub.watchers))


def _forget_all(app: web.Application) -> None:
    app[POLLS].clear()
    app[TOKEN_CACHE].clear()


async def announcements_context(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: with Redis, the vote channels and the listener."""
    app[SENDER] = secrets.token_hex(8)
    redis = app[REDIS]
    if redis is None:
        yield
        return
    settings = app[SETTINGS]
    app[CHANNELS] = VoteChannels(redis, settings.redis_prefix, settings.redis_timeout)
    stop = asyncio.Event()
    listener = asyncio.create_task(_listen(app, stop))
    yield
    stop.set()
    await listener
