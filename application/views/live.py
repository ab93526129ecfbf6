"""GET /questions/{id}/live: a WebSocket sending the poll's results now and after every change."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import WSCloseCode, web
from aiohttp_session import get_session

from application.cluster.live import ANONYMOUS, CLOSE_NOT_VISIBLE, Viewer, Watcher, results_message
from application.cluster.vote_channels import hear_votes
from application.keys import HUB
from application.services import polls
from application.web.auth import USER, session_deadline
from application.web.errors import AppError
from application.web.security import same_origin
from application.web.sessions import session_key
from models.clock import utcnow
from models.db import Row

HEARTBEAT_SECONDS = 30


async def viewer_of(request: web.Request, poll: Row) -> Viewer:
    """Who is watching, with what decides later whether they may go on."""
    current = request[USER]
    if current is None:
        return ANONYMOUS
    session = await get_session(request)  # the only way a page request is signed in
    view = await polls.poll_view(request, poll)
    return Viewer(
        user_id=current["id"],
        privileged=polls.privileged(request, poll),
        voted=view.my_vote is not None,
        session_id=str(session.identity),
        session_key=session_key(str(session.identity)),
        session_deadline=session_deadline(request, session),
    )


class LiveResults(web.View):
    async def get(self) -> web.StreamResponse:
        origin = self.request.headers.get("Origin")
        if origin is not None and not same_origin(self.request, origin):
            raise AppError(403, "Cross-site WebSocket refused.")
        hub = self.request.app[HUB]
        changes = hub.changes
        poll = await polls.visible_poll(self.request)  # 404 before any upgrade
        viewer = await viewer_of(self.request, poll)
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS)
        try:
            await ws.prepare(self.request)
        except ValueError:  # aiohttp's handshake decodes Sec-WebSocket-Key without checking it is ASCII
            raise AppError(400, "Invalid WebSocket handshake.") from None
        refusal = viewer.refusal(poll, utcnow())
        if refusal is not None:
            await ws.close(code=CLOSE_NOT_VISIBLE, message=refusal)
            return ws

        watcher = Watcher(ws, viewer)
        hub.add(poll["id"], watcher)
        if hub.changes != changes:  # something changed while this socket opened: check it again
            hub.recheck(poll["id"])
        sender = asyncio.create_task(watcher.run())
        try:
            # Listening first: a vote counted after the first read is always sent.
            await hear_votes(self.request.app, poll["id"])
            watcher.offer(await results_message(self.request.app, poll["id"]))
            async for _ in ws:  # the client has nothing to say; reading notices its close
                pass
        finally:
            hub.remove(poll["id"], watcher)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await sender
            if not ws.closed:
                await ws.close(code=WSCloseCode.GOING_AWAY)
        return ws
