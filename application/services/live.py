"""Live results: who may go on watching a poll's results as they change, and watching them.

The live hub (``cluster/live.py``) keeps the sockets and sends each change; these rules decide
who may watch, when a socket opens and again after every change that could hide it.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from aiohttp import web

from application.cluster.live import Watcher, Watching
from application.keys import HUB
from application.services.polls import visible_to
from application.services.refusals import PollNotFound, Refused, ResultsHidden
from models import question
from models.db import Row

__all__ = ["Watching", "changes_seen", "refusal", "watch"]


def refusal(watching: Watching, poll: Row | None, now: datetime) -> Refused | None:
    """Why ``watching`` may not watch the poll's results (``poll`` None: it is gone); None while they may."""
    if poll is None or not visible_to(poll, now, watching.privileged):
        return PollNotFound()
    if question.awaiting_reveal(poll):
        return None  # the hall waits on its socket: the reveal reaches it there (cluster/live.py)
    if not question.results_visible(poll, now, watching.voted, watching.privileged):
        return ResultsHidden()
    return None


def changes_seen(app: web.Application) -> int:
    """Taken before the poll is read: a change since then that could close sockets has theirs
    checked again once it is open."""
    return app[HUB].changes


async def watch(
    app: web.Application,
    poll: Row,
    ws: web.WebSocketResponse,
    transport: asyncio.Transport | None,
    watching: Watching,
    seen: int,
) -> None:
    """Send the poll's results on ``ws`` (written to ``transport``, its connection) now and after
    every change, until it closes; close it at once (code 4403) when ``refusal`` says they may not watch."""
    await app[HUB].watch(poll, Watcher(ws, transport, watching), seen)
