"""A per-process cache of polls, the index listing and anonymous visitors' pages.

Every change to a poll is announced (``changes``: kind POLL for create, close, edit and delete,
VOTES for votes) and reaches every process holding a copy; each drops what it holds of that
poll, and the index listing, at once. Votes change only counts, so the poll's rules (open,
choices, limits, visibility) stay for the vote path, which needs no counts, and a process hears
a poll's votes only while it holds the poll's counts (``holds_counts``). A short lifetime bounds
staleness should an announcement be lost (Redis down) or time alone change a page (a poll's
closing time passing). A read that started before a change never stores its older result:
generation numbers tell.

The rules read through ``cached_poll`` and ``cached_listing`` (``services/polls.py``); a page
rendered from what they read is kept in its ``PageSlot``, which rendering sees only as a
``web.rendering.PageCache``.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from application.cluster.single_flight import SingleFlight
from application.cluster.vote_channels import ALL_POLLS, hear_votes
from application.keys import POLL_CACHE
from models.db import Row

LIFETIME_SECONDS = 2.0
INDEX = ALL_POLLS  # the key of the index listing and its pages: it shows every poll's votes

Listing = TypeVar("Listing")


class PollCache(SingleFlight):
    def __init__(self, lifetime: float = LIFETIME_SECONDS) -> None:
        super().__init__()
        self.lifetime = lifetime
        self.polls: dict[int, tuple[float, Row]] = {}
        self.rules: dict[int, tuple[float, Row]] = {}  # the last row read of each poll, kept through votes
        self.listings: dict[int, tuple[float, Any]] = {}
        self.pages: dict[int, dict[str, tuple[float, str]]] = {}
        self.generations: dict[int, int] = {}
        self.readers: Counter[int] = Counter()  # reads of counts under way, per poll (or INDEX)

    def generation(self, question_id: int) -> int:
        return self.generations.get(question_id, 0)

    def deadline(self, seconds_left: float | None = None) -> float:
        """When an entry made now expires: after the lifetime, or sooner if the page changes by
        itself sooner (``seconds_left``: until a poll on it closes)."""
        return time.monotonic() + min(self.lifetime, self.lifetime if seconds_left is None else seconds_left)

    def get(self, question_id: int) -> Row | None:
        entry = self.polls.get(question_id)
        if entry is None or entry[0] < time.monotonic():
            return None
        return dict(entry[1])  # a copy: callers may add keys

    def put(self, question_id: int, generation: int, row: Row, counts: bool = True) -> None:
        """Keep a poll read under ``generation``; with ``counts`` False only its rules (the
        process was not listening to its votes)."""
        if generation == self.generation(question_id):
            self.rules[question_id] = (self.deadline(), row)
            if counts:
                self.polls[question_id] = self.rules[question_id]

    def rules_of(self, question_id: int) -> Row | None:
        """The poll as last read: its rules are current, its counts may predate the last votes."""
        entry = self.rules.get(question_id)
        return dict(entry[1]) if entry is not None and entry[0] >= time.monotonic() else None

    def listing(self, page: int) -> Any:
        entry = self.listings.get(page)
        return entry[1] if entry is not None and entry[0] >= time.monotonic() else None

    def put_listing(self, page: int, generation: int, value: Any) -> None:
        if generation == self.generation(INDEX):
            self.listings[page] = (self.deadline(), value)

    def page(self, question_id: int, key: str) -> str | None:
        entry = self.pages.get(question_id, {}).get(key)
        return entry[1] if entry is not None and entry[0] >= time.monotonic() else None

    def put_page(self, question_id: int, generation: int, key: str, html: str, until: float) -> None:
        if generation == self.generation(question_id):
            self.pages.setdefault(question_id, {})[key] = (until, html)

    def drop(self, question_id: int, votes_only: bool = False) -> None:
        """This poll changed (only its counts, with ``votes_only``); the index may show it, so it goes too."""
        if not votes_only:
            self.rules.pop(question_id, None)
        self.forget_counts(question_id)
        self.forget_counts(INDEX)

    @contextmanager
    def reading(self, key: int) -> Iterator[None]:
        """Around a read of counts meant to be kept: they are held from the start."""
        self.readers[key] += 1
        try:
            yield
        finally:
            self.readers[key] -= 1
            if not self.readers[key]:
                del self.readers[key]

    def holds_counts(self, key: int) -> bool:
        """Whether anything kept, or being read, shows this poll's (or for INDEX, any poll's) counts."""
        return key in self.readers or key in self.polls or key in self.pages or (key == INDEX and bool(self.listings))

    def purge(self) -> None:
        """Forget what has expired."""
        now = time.monotonic()
        for entries in (self.polls, self.rules, self.listings):
            for key in [key for key, (until, _) in entries.items() if until < now]:
                del entries[key]
        for key, pages in list(self.pages.items()):
            for page in [page for page, (until, _) in pages.items() if until < now]:
                del pages[page]
            if not pages:
                del self.pages[key]

    def forget_counts(self, key: int) -> None:
        """Drop what shows ``key``'s counts, and refuse to keep reads of them under way."""
        self.polls.pop(key, None)
        self.pages.pop(key, None)
        if key == INDEX:
            self.listings.clear()
        self.generations[key] = self.generation(key) + 1

    def clear(self) -> None:
        for question_id in {*self.polls, *self.rules, *self.pages, INDEX}:
            self.drop(question_id)

    def slot(self, key: int, generation: int, seconds_left: float | None) -> PageSlot:
        """Where pages rendered from ``key``'s data read under ``generation`` are kept, until it
        changes or, at the latest, ``seconds_left`` from now (when a poll on them closes)."""
        return PageSlot(self, key, generation, seconds_left)


@dataclass(frozen=True)
class PageSlot:
    """A ``web.rendering.PageCache``: the pages of one poll (or of the index), by their key."""

    cache: PollCache
    key: int  # a poll id, or INDEX
    generation: int
    seconds_left: float | None

    def get(self, page_key: str) -> str | None:
        return self.cache.page(self.key, page_key)

    def put(self, page_key: str, html: str) -> None:
        self.cache.put_page(self.key, self.generation, page_key, html, self.cache.deadline(self.seconds_left))


@asynccontextmanager
async def reading_counts(app: web.Application, key: int) -> AsyncIterator[None]:
    """Around a read of counts to keep: a vote committed after it starts will be heard."""
    with app[POLL_CACHE].reading(key):
        await hear_votes(app, key)
        yield


async def cached_poll(
    app: web.Application, question_id: int, load: Callable[[], Awaitable[Row | None]], counts: bool = True
) -> tuple[Row | None, int]:
    """The poll ``load`` reads, from this process's cache when it has a current copy, and the
    generation it was read under. Without ``counts`` (the vote path) only its rules must be
    current: its counts may predate the last votes."""
    cache = app[POLL_CACHE]
    generation = cache.generation(question_id)
    found = cache.get(question_id) if counts else cache.rules_of(question_id)
    if found is None:

        async def fetch() -> Row | None:
            async with reading_counts(app, question_id) if counts else contextlib.nullcontext():
                row = await load()
            if row is not None:
                cache.put(question_id, generation, row, counts)
            return row

        loaded = await cache.once((counts, question_id, generation), fetch)
        found = dict(loaded) if loaded is not None else None  # shared by every waiter: copy
    return found, generation


async def cached_listing(
    app: web.Application, page: int, load: Callable[[], Awaitable[Listing]]
) -> tuple[Listing, int]:
    """One page of the index as ``load`` reads it, from this process's cache when it has a
    current copy, and the generation of the index it was read under."""
    cache = app[POLL_CACHE]
    generation = cache.generation(INDEX)
    listing = cache.listing(page)
    if listing is None:

        async def fetch() -> Listing:
            async with reading_counts(app, INDEX):
                loaded = await load()
            cache.put_listing(page, generation, loaded)
            return loaded

        listing = await cache.once(("index", page, generation), fetch)
    return listing, generation
