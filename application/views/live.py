"""GET /questions/{id}/live: a WebSocket sending the poll's results now and after every change."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import WSCloseCode, web

from application import polls
from application.announcements import follow_votes
from application.errors import AppError
from application.live import HUB, Watcher, results_message
from application.security import same_origin

HEARTBEAT_SECONDS = 30
# Application close code (4000-4999): results are hidden for this viewer.
CLOSE_RESULTS_HIDDEN = 4403


class LiveResults(web.View):
    async def get(self) -> web.StreamResponse:
        origin = self.request.headers.get("Origin")
        if origin is not None and not same_origin(self.request, origin):
            raise AppError(403, "Cross-site WebSocket refused.")
        poll = await polls.visible_poll(self.request)  # 404 before any upgrade
        view = await polls.poll_view(self.request, poll)
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS)
        try:
            await ws.prepare(self.request)
        except ValueError:  # aiohttp's handshake decodes Sec-WebSocket-Key without checking it is ASCII
            raise AppError(400, "Invalid WebSocket handshake.") from None
        if not view.results_visible:
            await ws.close(code=CLOSE_RESULTS_HIDDEN, message=b"The results of this poll are hidden for now.")
            return ws

        hub = self.request.app[HUB]
        watcher = Watcher(ws)
        hub.add(poll["id"], watcher)
        sender = asyncio.create_task(watcher.run())
        try:
            # Listening first: a vote counted after the first read is always sent.
            await follow_votes(self.request.app, poll["id"])
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
