"""JSON API of invite codes and of a secret poll's published ballots."""

from __future__ import annotations

from aiohttp import web

from application.services import invites, polls, secret_ballots
from application.views import viewer_of
from application.views.api_questions import question_id
from application.views.invites import described, invite_poll
from application.web.forms import read_json
from application.web.jsonutil import json_response


class ApiInvites(web.View):
    async def get(self) -> web.Response:
        poll = await invite_poll(self.request)
        rows = await invites.listed(self.request.app, poll)
        turnout = await invites.turnout(self.request.app, poll)
        return json_response(
            {"invites": described(self.request, rows), "voted": turnout.voted, "invited": turnout.invited}
        )

    async def post(self) -> web.Response:
        poll = await invite_poll(self.request)
        data = await read_json(self.request)
        labels = invites.check_request(data.get("count"), data.get("labels"))
        rows = await invites.create(self.request.app, poll, labels)
        return json_response({"invites": described(self.request, rows)}, status=201)


class ApiInvite(web.View):
    async def delete(self) -> web.Response:
        poll = await invite_poll(self.request)
        await invites.revoke(self.request.app, poll, int(self.request.match_info["invite_id"]))
        return web.Response(status=204)


class ApiBallots(web.View):
    async def get(self) -> web.Response:
        app = self.request.app
        found = await polls.visible_poll(app, question_id(self.request), viewer_of(self.request))
        ballots = await secret_ballots.published(app, found.poll)
        return json_response({"question_id": found.poll["id"], "ballots": ballots})
