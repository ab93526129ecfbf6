"""GET /questions/{id}/live: a WebSocket sending the poll's results now and after every change."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp_session import get_session

from application.services import live, polls
from application.services.refusals import PollNotFound, ResultsHidden
from application.views import viewer_of
from application.web.auth import session_deadline
from application.web.errors import AppError
from application.web.security import same_origin
from application.web.sessions import session_key

if TYPE_CHECKING:
    from models.db import Row

HEARTBEAT_SECONDS = 30
# What a socket closes with (code 4403) when the rules say its viewer may no longer watch.
CLOSE_REASONS = {
    PollNotFound: b"This poll is no longer available.",
    ResultsHidden: b"The results of this poll are hidden for now.",
}


def close_reason(watching: live.Watching, poll: Row | None, now: datetime) -> bytes | None:
    """The live hub's ``CloseReason`` (the factory wires it in): the rules' refusal, in words."""
    refusal = live.refusal(watching, poll, now)
    return CLOSE_REASONS[type(refusal)] if refusal is not None else None


async def watching_of(request: web.Request, poll: Row) -> live.Watching:
    """Who is watching, with what decides later whether they may go on."""
    viewer = viewer_of(request)
    if viewer.user is None:  # a link poll's voter key or a used invite code may have voted
        voted = viewer.voter_for(poll) is not None and (await polls.poll_view(request.app, poll, viewer)).voted
        return live.Watching(voted=voted)
    session = await get_session(request)  # the only way a page request is signed in
    view = await polls.poll_view(request.app, poll, viewer)
    return live.Watching(
        user_id=viewer.user["id"],
        privileged=viewer.manages(poll),
        voted=view.voted,
        session_id=str(session.identity),
        session_key=session_key(str(session.identity)),
        session_deadline=session_deadline(request, session),
    )


class LiveResults(web.View):
    async def get(self) -> web.StreamResponse:
        origin = self.request.headers.get("Origin")
        if origin is not None and not same_origin(self.request, origin):
            raise AppError(403, "Cross-site WebSocket refused.")
        app = self.request.app
        seen = live.changes_seen(app)
        question_id = int(self.request.match_info["question_id"])
        poll = (await polls.visible_poll(app, question_id, viewer_of(self.request))).poll  # 404 before any upgrade
        watching = await watching_of(self.request, poll)
        # No permessage-deflate: a results message is a few hundred bytes, and a compressor per
        # socket cost 90 KiB each and a third of the CPU per update (docs/performance.md).
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, compress=False)
        try:
            await ws.prepare(self.request)
        except ValueError:  # aiohttp's handshake decodes Sec-WebSocket-Key without checking it is ASCII
            raise AppError(400, "Invalid WebSocket handshake.") from None
        await live.watch(app, poll, ws, self.request.transport, watching, seen)
        return ws
