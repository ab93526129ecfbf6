"""Live results: votes anywhere reach every WebSocket watching that poll, in every process.

Every change to a poll, made here or heard from another process (``changes``), marks
the poll dirty in this process's ``LiveHub``; the process listens to the votes of the polls
its sockets watch, with one Redis subscription for all of them (not one per socket).

The hub coalesces: a dirty poll is read from the database once per window, and the same frame
goes to all its sockets. The window is ``MIN_INTERVAL`` (10 messages a second) while a fan-out
is quick and widens with its cost under load (``LOAD_FACTOR`` times the last fan-out's duration,
never beyond ``MAX_INTERVAL``, SPEC 7), so that a poll watched by 20,000 sockets is sent about
once a second and the loop keeps time for votes and pages.

A hall is what this is built for (docs/performance.md): each update is encoded once per poll,
as the bytes of a finished WebSocket frame, and written to every socket's transport in one
loop, in slices of ``SLICE`` sockets with the loop's other work in between; no task, event or
compression per socket. A socket whose transport still holds more than ``BEHIND_BYTES`` unsent
(a slow or stalled reader) is skipped and keeps only the newest frame, retried every
``RETRY_BEHIND`` seconds: it can neither delay the others nor make memory grow.

Each socket remembers who watches it (``Watching``). A socket is closed with code 4403 as soon as
what it shows stops being visible to its viewer: when its poll changes (deleted, edited, closed)
the hub checks every socket on it again (the poll's visibility, as the rules say through the
``CloseReason`` the factory wires in, and that its viewer is still signed in and active); when
an account changes, its sockets are checked; when a session ends (logout, login again, lifetime
over), the sockets opened with it close at once. Votes only change counts, never who may watch,
so they cost no check.

A poll whose results wait for the presenter (``on_reveal``) keeps its audience's sockets open:
they are sent ``{"question_id", "results_hidden": true}`` instead of the results until the reveal,
a change like any other, after which they get the results; its owner and administrators get the
results throughout.
"""

from __future__ import annotations

import asyncio
import logging
import math
import struct
import time
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from aiohttp import WSCloseCode, web

from application.cluster.single_flight import SingleFlight
from application.cluster.vote_channels import hear_votes
from application.keys import DB, HUB, SESSION_STORAGE, USERS
from application.web.jsonutil import dumps
from models import question
from models.clock import utcnow
from models.db import Row
from models.metrics import LIVE_SOCKETS

log = logging.getLogger(__name__)

MIN_INTERVAL = 0.1  # at most ~10 messages a second per poll
MAX_INTERVAL = 1.0  # SPEC 7: the window may widen under load, never beyond a second
LOAD_FACTOR = 4.0  # a poll's next fan-out waits at least this many times its last one took
SLICE = 1000  # sockets written between two turns of the loop's other work
BEHIND_BYTES = 64 * 1024  # more than this unsent on a socket: it is behind, and skipped
RETRY_BEHIND = 0.5  # seconds between two tries of the sockets that were behind
# Application close code (4000-4999): what the socket shows is no longer visible to its viewer.
CLOSE_NOT_VISIBLE = 4403
SIGNED_OUT = b"Your session has ended."
ACCOUNT_DISABLED = b"Your account has been disabled."
CHECK_FAILED = b"Could not check what you may see; try again later."

Key = TypeVar("Key", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Watching:
    """Who watches a socket, as they were when it opened; checked again on every change.

    ``voted`` stays as it was at that moment. A vote cast later never hides results, and a poll
    with votes can no longer be edited, so a later vote could only ever have kept a socket open.
    """

    user_id: int | None = None
    privileged: bool = False  # the poll's owner or an administrator
    voted: bool = False
    session_id: str | None = None  # the session a signed-in viewer opened the socket with
    session_key: str | None = None  # its hash, as changes name it (``sessions.session_key``)
    session_deadline: float = math.inf  # when that session's absolute lifetime ends (epoch seconds)


NOBODY = Watching()  # an anonymous visitor

# The results document of a poll (the API's), or None when it is gone. The rules' (services/results.py).
ReadResults = Callable[[int], Awaitable[dict[str, Any] | None]]

# Why ``Watching`` may not watch the poll (None when it is deleted) at this time, in the words
# its socket closes with; None while they may. The rules' answer (views/live.py).
CloseReason = Callable[[Watching, Row | None, datetime], bytes | None]


class Watcher:
    """One socket: its transport, who watches it, and the newest frame it could not take yet."""

    __slots__ = ("pending", "transport", "watching", "ws")

    def __init__(
        self, ws: web.WebSocketResponse, transport: asyncio.Transport | None, watching: Watching = NOBODY
    ) -> None:
        self.ws = ws
        self.transport = transport
        self.watching = watching
        self.pending: bytes | None = None

    def offer(self, frame: bytes) -> bool:
        """Write ``frame`` now; False when the socket is behind and keeps it for later instead
        (an older frame kept is simply replaced)."""
        transport = self.transport
        if self.ws.closed or transport is None or transport.is_closing():
            self.pending = None  # closing: nothing more is shown
            return True
        if transport.get_write_buffer_size() > BEHIND_BYTES:
            self.pending = frame
            return False
        self.pending = None
        transport.write(frame)  # a whole frame per write: aiohttp's own pings never split it
        return True


def text_frame(message: str) -> bytes:
    """``message`` as a finished WebSocket text frame, as a server sends it (final, unmasked,
    uncompressed; the live socket negotiates no compression): built once, written to all."""
    payload = message.encode()
    size = len(payload)
    if size < 126:
        return struct.pack("!BB", 0x81, size) + payload
    if size < 65536:
        return struct.pack("!BBH", 0x81, 126, size) + payload
    return struct.pack("!BBQ", 0x81, 127, size) + payload


def _index(index: dict[Key, set[Watcher]], key: Key, watcher: Watcher) -> None:
    index.setdefault(key, set()).add(watcher)


def _unindex(index: dict[Key, set[Watcher]], key: Key, watcher: Watcher) -> bool:
    """Forget ``watcher`` under ``key``; True when nobody is left there."""
    group = index.get(key)
    if group is None:
        return False
    group.discard(watcher)
    if group:
        return False
    del index[key]
    return True


class LiveHub:
    def __init__(self, app: web.Application, close_reason: CloseReason, read_results: ReadResults) -> None:
        self.app = app
        self.close_reason = close_reason
        self.read_results = read_results
        self.watchers: dict[int, set[Watcher]] = {}
        self.by_user: dict[int, set[Watcher]] = {}
        self.by_session: dict[str, set[Watcher]] = {}
        self.last_flush: dict[int, float] = {}
        self.interval: dict[int, float] = {}  # the poll's coalescing window now
        self.last_message: dict[int, str] = {}
        self.fan_outs: dict[int, int] = {}  # counts a poll's fan-outs: an older one stops for a newer
        self.behind: set[Watcher] = set()
        self.openings = SingleFlight()  # the first reads of sockets opening together
        self.retrying = False
        self.scheduled: set[int] = set()
        self.recheck_due: set[int] = set()
        self.withheld: set[int] = set()  # polls whose results wait for the presenter's reveal
        self.resend: set[int] = set()  # polls whose next flush goes to all, counts changed or not
        self.tasks: set[asyncio.Task[None]] = set()
        # Counts the changes that may close sockets: one opening meanwhile is checked again.
        self.changes = 0
        self.closed = False  # shutting down: a socket that opens now is closed at once

    def add(self, question_id: int, watcher: Watcher) -> None:
        _index(self.watchers, question_id, watcher)
        watching = watcher.watching
        if watching.user_id is not None:
            _index(self.by_user, watching.user_id, watcher)
        if watching.session_key is not None:
            _index(self.by_session, watching.session_key, watcher)

    def remove(self, question_id: int, watcher: Watcher) -> None:
        watching = watcher.watching
        if watching.user_id is not None:
            _unindex(self.by_user, watching.user_id, watcher)
        if watching.session_key is not None:
            _unindex(self.by_session, watching.session_key, watcher)
        if _unindex(self.watchers, question_id, watcher):
            self.last_flush.pop(question_id, None)
            self.interval.pop(question_id, None)
            self.last_message.pop(question_id, None)
            self.fan_outs.pop(question_id, None)
            self.withheld.discard(question_id)
            self.resend.discard(question_id)

    def _note(self, poll: Row) -> None:
        """Remember whether the poll's results wait for the reveal, as just read."""
        if question.awaiting_reveal(poll):
            self.withheld.add(poll["id"])
        else:
            self.withheld.discard(poll["id"])

    def _message_for(self, watcher: Watcher, question_id: int, results: str) -> str:
        if question_id in self.withheld and not watcher.watching.privileged:
            return hidden_message(question_id)
        return results

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def mark_dirty(self, question_id: int) -> None:
        if question_id not in self.watchers or question_id in self.scheduled:
            return
        self.scheduled.add(question_id)
        window = self.interval.get(question_id, MIN_INTERVAL)
        delay = max(0.0, self.last_flush.get(question_id, 0.0) + window - time.monotonic())
        self._spawn(self._flush(question_id, delay))

    def poll_changed(self, question_id: int) -> None:
        """Its rules changed (created, edited, closed, deleted, restored): check who may still
        watch it, then send it afresh."""
        self.changes += 1
        self.recheck(question_id)

    def account_changed(self, user_id: int) -> None:
        """Disabled, enabled, deleted or a token revoked: its sockets close unless it is still active."""
        self.changes += 1
        watching = list(self.by_user.get(user_id, ()))
        if watching:
            self._spawn(self._close_refused(watching, self._signed_out(watching)))

    def session_ended(self, session_key: str) -> None:
        """The session with this hash ended: the sockets opened with it close at once."""
        self.changes += 1
        for watcher in list(self.by_session.get(session_key, ())):
            self._shut(watcher, CLOSE_NOT_VISIBLE, SIGNED_OUT)

    def recheck(self, question_id: int) -> None:
        """Check soon that each socket on the poll may still watch it; sockets that open before
        the check starts are included, so a burst of reasons costs one check."""
        if question_id in self.watchers and question_id not in self.recheck_due:
            self.recheck_due.add(question_id)
            self._spawn(self._recheck(question_id))

    def recheck_all(self) -> None:
        for question_id in list(self.watchers):
            self.recheck(question_id)

    async def _recheck(self, question_id: int) -> None:
        self.recheck_due.discard(question_id)
        watching = list(self.watchers.get(question_id, ()))
        await self._close_refused(watching, self._poll_refusals(question_id, watching))
        # Sent afresh even if the counts are the same: a reveal changes who is sent what.
        self.resend.add(question_id)
        self.mark_dirty(question_id)

    async def _poll_refusals(self, question_id: int, watching: list[Watcher]) -> dict[Watcher, bytes]:
        poll = await question.get_with_choices(self.app[DB], question_id)
        if poll is not None:
            self._note(poll)
        now = utcnow()
        refused = {
            watcher: reason for watcher in watching if (reason := self.close_reason(watcher.watching, poll, now))
        }
        signed_in = [watcher for watcher in watching if watcher.watching.user_id is not None and watcher not in refused]
        return refused | await self._signed_out(signed_in)

    async def _signed_out(self, watching: list[Watcher]) -> dict[Watcher, bytes]:
        """Those of these signed-in viewers whose session has ended (by logout, or by expiring since
        the socket opened) or whose account is disabled or gone."""
        if not watching:
            return {}
        now = time.time()
        sessions = {
            w.watching.session_id for w in watching if w.watching.session_id and w.watching.session_deadline > now
        }
        alive = await self.app[SESSION_STORAGE].alive(sessions)
        users = {w.watching.user_id for w in watching if w.watching.user_id is not None}
        found = await asyncio.gather(*(self.app[USERS].submit(user_id) for user_id in users))
        active = {row["id"] for row in found if row is not None and row["is_active"]}
        refused = {w: ACCOUNT_DISABLED for w in watching if w.watching.user_id not in active}
        return {w: SIGNED_OUT for w in watching if w.watching.session_id not in alive} | refused

    async def _close_refused(self, watching: list[Watcher], refusals: Awaitable[dict[Watcher, bytes]]) -> None:
        try:
            refused = await refusals
        except Exception:
            # Unable to tell who may still watch: close them all, and let the clients reconnect.
            log.exception("live sockets could not be checked again")
            for watcher in watching:
                self._shut(watcher, WSCloseCode.TRY_AGAIN_LATER, CHECK_FAILED)
            return
        for watcher, reason in refused.items():
            self._shut(watcher, CLOSE_NOT_VISIBLE, reason)

    def _shut(self, watcher: Watcher, code: int, reason: bytes) -> None:
        if not watcher.ws.closed:
            self._spawn(_close(watcher.ws, code, reason))

    async def _flush(self, question_id: int, delay: float) -> None:
        await asyncio.sleep(delay)
        # Unscheduled before the read: a vote arriving during it schedules the next flush.
        self.scheduled.discard(question_id)
        self.last_flush[question_id] = time.monotonic()
        try:
            message = await self.results_message(question_id)
        except Exception:
            log.exception("live update of question %s failed", question_id)
            return
        if message is None or (message == self.last_message.get(question_id) and question_id not in self.resend):
            return  # e.g. a flush scheduled by a vote the previous read already counted
        self.resend.discard(question_id)
        self.last_message[question_id] = message
        started = time.monotonic()
        await self._fan_out(question_id, message)
        # The fan-out's wall time, the other work it let through included: it grows with the
        # sockets and with how busy the machine is (nginx relays each write on the same cores).
        took = time.monotonic() - started
        self.interval[question_id] = min(MAX_INTERVAL, max(MIN_INTERVAL, LOAD_FACTOR * took))

    async def _fan_out(self, question_id: int, message: str) -> None:
        """Write the message to every socket of the poll, in slices; stop when a newer one starts
        (it goes to everyone), so that no socket is left with an older state."""
        this = self.fan_outs[question_id] = self.fan_outs.get(question_id, 0) + 1
        results = text_frame(message)
        hidden = text_frame(hidden_message(question_id)) if question_id in self.withheld else results
        targets = list(self.watchers.get(question_id, ()))
        for start in range(0, len(targets), SLICE):
            if start:
                await asyncio.sleep(0)  # votes and pages are answered during a long fan-out
                if self.fan_outs.get(question_id) != this:
                    return
            for watcher in targets[start : start + SLICE]:
                if not watcher.offer(results if watcher.watching.privileged else hidden):
                    self._behind(watcher)

    def _behind(self, watcher: Watcher) -> None:
        self.behind.add(watcher)
        if not self.retrying:
            self.retrying = True
            self._spawn(self._retry_behind())

    async def _retry_behind(self) -> None:
        """Give the sockets that were behind their newest frame once they have room again."""
        try:
            while self.behind:
                await asyncio.sleep(RETRY_BEHIND)
                waiting, self.behind = self.behind, set()
                for watcher in waiting:
                    frame = watcher.pending
                    if frame is not None and not watcher.offer(frame):
                        self.behind.add(watcher)
        finally:
            self.retrying = False

    async def watch(self, poll: Row, watcher: Watcher, changes_seen: int) -> None:
        """Send the poll's results to ``watcher`` now and after every change, until its socket
        closes (at once, when its viewer may not watch it). ``changes_seen``: ``changes`` before
        the poll was read (a change since then has it checked again)."""
        if self.closed:  # else it would hold the shutdown up until the client leaves
            await watcher.ws.close(code=WSCloseCode.GOING_AWAY, message=b"Server shutting down")
            return
        reason = self.close_reason(watcher.watching, poll, utcnow())
        if reason is not None:
            await watcher.ws.close(code=CLOSE_NOT_VISIBLE, message=reason)
            return
        question_id = poll["id"]
        self.add(question_id, watcher)
        LIVE_SOCKETS.inc()
        self._note(poll)
        if self.changes != changes_seen:
            self.recheck(question_id)
        try:
            # Listening first: a vote counted after the first read is always sent.
            await hear_votes(self.app, question_id)
            await self._first(question_id, watcher)
            async for _ in watcher.ws:  # the client has nothing to say; reading notices its close
                pass
        finally:
            self.remove(question_id, watcher)
            LIVE_SOCKETS.dec()
            self.behind.discard(watcher)
            if not watcher.ws.closed:
                await watcher.ws.close(code=WSCloseCode.GOING_AWAY)

    async def results_message(self, question_id: int) -> str | None:
        """The results document of the API, as the JSON text every socket of the poll receives
        (None: the poll is gone, and its sockets are about to close)."""
        results = await self.read_results(question_id)
        return None if results is None else dumps(results)

    async def _first(self, question_id: int, watcher: Watcher) -> None:
        """The poll's results to a socket that just opened: what its sockets were last sent, while
        it has some (a change since is on its way to this one too, already listed), else one read
        shared by every socket opening meanwhile: a hall opening at once costs one read (then one
        per change), not one per phone. A fan-out during the read has reached this socket already:
        the read, perhaps older, is then not sent."""
        message = self.last_message.get(question_id)
        if message is None:
            fan_outs = self.fan_outs.get(question_id, 0)
            message = await self.openings.once(question_id, lambda: self.results_message(question_id))
            if message is None or self.fan_outs.get(question_id, 0) != fan_outs:
                return
            # Kept for the next sockets to open. The reads are one at a time, so this is the
            # oldest any socket holds: a change since makes the next flush differ, and go to all.
            self.last_message.setdefault(question_id, message)
        if not watcher.offer(text_frame(self._message_for(watcher, question_id, message))):
            self._behind(watcher)

    async def close(self) -> None:
        self.closed = True
        for task in list(self.tasks):
            task.cancel()
        for group in list(self.watchers.values()):
            for watcher in list(group):
                await watcher.ws.close(code=1001, message=b"Server shutting down")
        self.watchers.clear()


async def _close(ws: web.WebSocketResponse, code: int, reason: bytes) -> None:
    """In a task of its own: closing waits for the client's answer."""
    await ws.close(code=code, message=reason)


def hidden_message(question_id: int) -> str:
    """What an audience socket shows while the poll's results wait for the reveal."""
    return dumps({"question_id": question_id, "results_hidden": True})


async def close_sockets(app: web.Application) -> None:
    """On shutdown, before waiting for handlers: sockets would otherwise hold it up."""
    await app[HUB].close()
