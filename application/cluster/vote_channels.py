"""The vote channels: a poll's votes reach only the processes that show its counts.

Votes are the frequent change and matter only to a process holding counts, so they go on each
poll's own channel (``votes:12``), and on ``votes:all`` for the index, which shows many polls'
totals. A process listens on a poll's channel only while it holds that poll's counts (its row
or pages in the poll cache) or has live sockets on it, and on ``votes:all`` while it holds the
index: a process that only takes votes hears none. Before reading counts it means to keep, a
process subscribes and waits for Redis to confirm (``hear_votes``): a vote committed after that
read is then always heard. Every second or so the listener (``changes``) leaves the channels
nobody needs any more (``sweep``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiohttp import web
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from application.keys import HUB, POLL_CACHE, REDIS, VOTE_CHANNELS

ALL_POLLS = -1  # the key of ``votes:all``, which carries every poll's votes

# One round trip for a batch of votes, however many polls it touched: ARGV is the channel prefix,
# the sender, then the poll ids. Each message is ``<sender> <change>`` as ``changes.Change``
# encodes a change of kind VOTES.
PUBLISH_VOTES = """
local prefix, sender = ARGV[1], ARGV[2]
for i = 3, #ARGV do
    redis.call('PUBLISH', prefix .. ARGV[i], sender .. ' votes ' .. ARGV[i])
end
redis.call('PUBLISH', prefix .. 'all', sender .. ' votes ' .. table.concat(ARGV, ',', 3))
"""


class VoteChannels:
    """The vote channels this process listens on, on the listener's one subscription."""

    def __init__(self, redis: Redis, prefix: str, confirm_seconds: float) -> None:
        self.prefix = prefix + "votes:"
        self.confirm_seconds = confirm_seconds
        self.publish_script = redis.register_script(PUBLISH_VOTES)
        self.pubsub: PubSub | None = None  # while the listener holds a confirmed subscription
        self.heard: set[int] = set()  # keys whose subscription Redis confirmed
        self.asked: dict[int, asyncio.Future[bool]] = {}
        self.rejoining: set[int] = set()

    def channel(self, key: int) -> str:
        return self.prefix + ("all" if key == ALL_POLLS else str(key))

    def key(self, channel: bytes) -> int | None:
        name = channel.decode("ascii", "replace")
        if not name.startswith(self.prefix):
            return None
        suffix = name[len(self.prefix) :]
        return ALL_POLLS if suffix == "all" else int(suffix) if suffix.isdigit() else None

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


async def hear_votes(app: web.Application, key: int) -> bool:
    """Listen to the votes of ``key`` (a poll id, or ``ALL_POLLS``) from now on. Without Redis
    there is one process, which applies its own changes; when Redis does not confirm, False, and
    reads of those counts under way will not be kept."""
    if app[REDIS] is None or await app[VOTE_CHANNELS].follow(key):
        return True
    app[POLL_CACHE].forget_counts(key)
    return False


async def sweep(app: web.Application) -> None:
    """Leave the vote channels of what this process no longer holds or watches."""
    cache, channels, hub = app[POLL_CACHE], app[VOTE_CHANNELS], app[HUB]
    cache.purge()
    idle = [key for key in channels.heard if not cache.holds_counts(key) and key not in hub.watchers]
    for key in idle:
        cache.forget_counts(key)  # a page rendered from counts that just expired is not kept unheard
    if idle:
        await channels.leave(idle)
