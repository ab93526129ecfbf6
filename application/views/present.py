"""Presenter mode: a poll on the big screen (``/questions/{id}/present``), the hall joining it by
code (``/join``, ``/j/{join_code}``) and the presenter revealing its results."""

from __future__ import annotations

import segno
from aiohttp import web
from markupsafe import Markup

from application.services import polls
from application.services.refusals import JoinCodeClosed, JoinCodeUnknown, JoinCodeUnreadable, Refused
from application.views import viewer_of
from application.views.questions import question_id
from application.views.refusals import refusal_error
from application.web.auth import require_user
from application.web.csrf import csrf_token
from application.web.rendering import redirect, render
from application.web.urls import absolute_url, url

THEMES = ("light", "dark")
JOIN_REFUSALS = (JoinCodeUnreadable, JoinCodeUnknown, JoinCodeClosed)


def qr_svg(address: str) -> Markup:
    """``address`` as a QR code, inline SVG that scales to its box (segno's own markup: no text of
    ours goes into it but the address, which segno encodes as modules)."""
    code = segno.make(address, error="m", micro=False)
    return Markup(code.svg_inline(omitsize=True, border=2, dark="#000", light="#fff", svgclass="qr-code"))


class Present(web.View):
    async def get(self) -> web.Response:
        require_user(self.request)
        app, viewer = self.request.app, viewer_of(self.request)
        poll = (await polls.presented_poll(app, question_id(self.request), viewer)).poll
        view = await polls.poll_view(app, poll, viewer)
        await csrf_token(self.request)
        theme = self.request.query.get("theme", "dark")
        code = poll["join_code"]
        join_url = absolute_url(self.request, "join_code", join_code=code) if code else None
        context = {
            "poll": poll,
            "view": view,
            "results": view.results(),
            "theme": theme if theme in THEMES else "dark",
            "join_code": code,
            "join_url": join_url,
            "join_page": absolute_url(self.request, "join"),
            "qr": qr_svg(join_url) if join_url else None,
            "awaiting_reveal": poll["results_visibility"] == "on_reveal" and poll["revealed_at"] is None,
        }
        return await render(self.request, "questions/present.html", context)


class Reveal(web.View):
    async def post(self) -> web.StreamResponse:
        require_user(self.request)
        poll = await polls.managed_poll(self.request.app, question_id(self.request), viewer_of(self.request))
        await polls.reveal_results(self.request.app, poll)
        raise redirect(self.request, url(self.request, "question_present", question_id=poll["id"]), "results_revealed")


async def _join_page(request: web.Request, typed: str = "", refusal: Refused | None = None) -> web.Response:
    """The one box for a code; after a refused code, with why."""
    error = refusal_error(refusal) if refusal is not None else None
    context = {"typed": typed, "message": error.message if error else ""}
    return await render(request, "questions/join.html", context, error.status if error else 200)


async def _to_poll(request: web.Request, typed: str) -> web.Response:
    """Straight to the vote form of the poll the code names, or the box again saying why not."""
    try:
        poll_id = await polls.joined_poll(request.app, typed)
    except JOIN_REFUSALS as refusal:
        return await _join_page(request, typed, refusal)
    raise redirect(request, url(request, "question", question_id=poll_id))


class Join(web.View):
    """``/join``: the box; ``/join?code=123456`` (the box sent, no JavaScript needed) goes on."""

    async def get(self) -> web.Response:
        typed = self.request.query.get("code")
        if typed is None:
            return await _join_page(self.request)
        return await _to_poll(self.request, typed[:64])


class JoinCode(web.View):
    """``/j/123456``: what the QR code and the screen's short address open."""

    async def get(self) -> web.Response:
        return await _to_poll(self.request, self.request.match_info["join_code"])
