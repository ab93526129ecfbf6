"""Invite codes: the owner's page, CSV and printable sheet; ``/v/{code}`` for the code's holder;
a secret poll's receipt page. Their API is in ``api_invites.py``."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from math import ceil
from typing import TYPE_CHECKING

import segno
from aiohttp import web

from application.services import invites, polls, secret_ballots
from application.services.refusals import InvalidInvites, InviteNotValid, InviteUsed, PollNotFound, ReceiptNotFound
from application.services.viewer import Viewer
from application.views import viewer_of
from application.views.questions import cast_from_form, question_id, render_detail
from application.views.refusals import refusal_error
from application.web.auth import require_user
from application.web.csrf import csrf_token
from application.web.csv_export import csv_response
from application.web.errors import AppError, ErrorCode
from application.web.forms import query_number, read_form, whole_number
from application.web.i18n import N_
from application.web.rendering import redirect, render
from application.web.urls import absolute_url, url
from application.web.voter_key import remember_invite

if TYPE_CHECKING:
    from models.db import Row

QR_SCALE = 3
CODE_IN_PATH = re.compile(r"[0-9A-Za-z-]{1,40}")  # what /v/{code} takes (routes.py)
# Cards per printable page (50 A4 sheets): a QR code takes about a millisecond to draw, so even
# 5000 codes come in pages that answer within a second.
CARDS_PER_PAGE = 600
TYPED_MAX = 40  # what a wrong code's box shows again of what was typed
RECEIPT_TYPED_MAX = 64  # a receipt is 23 characters; room for spaces, none for a flood


def invite_url(request: web.Request, code: str) -> str:
    """The address printed on a code's card and in its QR code (``VOTE_PUBLIC_URL``)."""
    return absolute_url(request, "invite_vote", code=invites.grouped(code))


def described(request: web.Request, rows: list[Row]) -> list[dict[str, object]]:
    """Codes as the owner's pages, CSV and API show them: never how they voted."""
    return [
        {
            "id": row["id"],
            "label": row["label"] or "",
            "code": invites.grouped(row["code"]),
            "url": invite_url(request, row["code"]),
            "used": bool(row["used"]),
            "revoked": bool(row["revoked"]),
        }
        for row in rows
    ]


async def invite_poll(request: web.Request) -> Row:
    """The invite poll at this address, for its owner or an administrator."""
    require_user(request)
    poll = await polls.managed_poll(request.app, question_id(request), viewer_of(request))
    if poll["access"] != "invite":
        only = N_("Only a poll for invited people has invite codes.")
        raise AppError(400, only, ErrorCode.INVALID_INPUT, fields={"access": only})
    return poll


class QuestionInvites(web.View):
    async def get(self) -> web.Response:
        return await self._page(await invite_poll(self.request))

    async def post(self) -> web.StreamResponse:
        poll = await invite_poll(self.request)
        form = await read_form(self.request)
        try:
            labels = invites.check_request(form.get("count"), str(form.get("labels", "")).splitlines())
        except InvalidInvites as refusal:
            error = refusal_error(refusal)
            return await self._page(poll, error.fields, error.status, dict(form))
        await invites.create(self.request.app, poll, labels)
        raise redirect(self.request, url(self.request, "question_invites", question_id=poll["id"]), "invites_created")

    async def _page(
        self, poll: Row, errors: dict[str, str] | None = None, status: int = 200, values: dict[str, str] | None = None
    ) -> web.Response:
        await csrf_token(self.request)
        app = self.request.app
        context = {
            "poll": poll,
            "codes": described(self.request, await invites.listed(app, poll)),
            "turnout": await invites.turnout(app, poll),
            "errors": errors or {},
            "values": values or {},
            "most": invites.MAX_PER_CALL,
        }
        return await render(self.request, "questions/invites.html", context, status)


class InviteRevoke(web.View):
    async def post(self) -> web.StreamResponse:
        poll = await invite_poll(self.request)
        await invites.revoke(self.request.app, poll, int(self.request.match_info["invite_id"]))
        raise redirect(self.request, url(self.request, "question_invites", question_id=poll["id"]), "invite_revoked")


class InvitesCsv(web.View):
    async def get(self) -> web.Response:
        poll = await invite_poll(self.request)
        codes = described(self.request, await invites.listed(self.request.app, poll))
        rows = [(item["label"], item["code"], item["url"], "yes" if item["used"] else "no") for item in codes]
        return csv_response(f"question-{poll['id']}-invites.csv", ("label", "code", "url", "used"), rows)


def qr_svg(address: str) -> str:
    """The address as a QR code in inline SVG (segno; no image file, nothing from elsewhere).
    A fixed mask and error level: choosing the best of eight masks would take four times as
    long, and any mask scans."""
    code = segno.make(address, error="m", boost_error=False, mask=0)
    return code.svg_inline(scale=QR_SCALE, omitsize=True)


class InvitesPrint(web.View):
    async def get(self) -> web.Response:
        poll = await invite_poll(self.request)
        codes = described(self.request, await invites.listed(self.request.app, poll))
        usable = [item for item in codes if not item["used"] and not item["revoked"]]
        pages = max(1, ceil(len(usable) / CARDS_PER_PAGE))
        page = query_number(self.request, "page", 1, pages)
        shown = usable[(page - 1) * CARDS_PER_PAGE : page * CARDS_PER_PAGE]
        # Hundreds of QR codes take a while to draw: off the event loop.
        drawings = await asyncio.to_thread(lambda: [qr_svg(str(item["url"])) for item in shown])
        cards = [{**item, "qr": svg} for item, svg in zip(shown, drawings, strict=True)]
        context = {"poll": poll, "cards": cards, "unused": len(usable), "page": page, "pages": pages}
        return await render(self.request, "questions/invites_print.html", context)


class InviteVote(web.View):
    """``/v/{code}``: the poll's vote form for the holder of an invite code, no account needed;
    once the code has voted, a page that says so and leads to the results."""

    accepts_visitor_token = True

    async def _invited(self) -> tuple[Row, Row]:
        app = self.request.app
        found = await invites.held(app, self.request.match_info["code"])
        poll = await polls.votable_poll(app, found["question_id"], viewer_of(self.request))
        return found, poll

    async def get(self) -> web.Response:
        found, poll = await self._invited()
        if found["used"]:
            return await self._used(found, poll)
        viewer = self._viewer(found)
        current = await polls.visible_poll(self.request.app, poll["id"], viewer)
        return await render_detail(self.request, current, viewer=viewer, vote_url=self.request.path)

    async def post(self) -> web.StreamResponse:
        found, poll = await self._invited()
        try:
            if found["used"]:
                raise InviteUsed
            return await cast_from_form(self.request, poll, self._viewer(found), vote_url=self.request.path)
        except InviteUsed:  # also when another tab voted with it in the meantime
            return await self._used(found, poll)

    def _viewer(self, found: Row) -> Viewer:
        return replace(viewer_of(self.request), invite=found)

    async def _used(self, found: Row, poll: Row) -> web.Response:
        """409, with the way to the results: whoever holds the code is its voter, so this browser
        is remembered as having voted with it (results shown after voting show to it)."""
        error = refusal_error(InviteUsed())
        context = {"poll": poll, "message": error.message}
        response = await render(self.request, "questions/invite_used.html", context, error.status)
        remember_invite(self.request, response, poll["id"], found["id"])
        return response


class InviteEntry(web.View):
    """``/v?code=``: the box on an invite poll's page, for a code typed from its card. A code that
    is no invite's (unknown, revoked, mistyped) shows the poll's page (``poll``) again with the
    reason (403) and what was typed, to correct it."""

    async def get(self) -> web.StreamResponse:
        typed = "".join(self.request.query.get("code", "").split())
        try:
            if not CODE_IN_PATH.fullmatch(typed):
                raise InviteNotValid
            await invites.held(self.request.app, typed)
        except InviteNotValid as refusal:
            return await self._again(refusal, typed)
        raise web.HTTPFound(url(self.request, "invite_vote", code=typed))

    async def _again(self, refusal: InviteNotValid, typed: str) -> web.Response:
        poll_id = whole_number(self.request.query.get("poll"))
        try:
            found = await polls.visible_poll(self.request.app, poll_id or 0, viewer_of(self.request))
        except PollNotFound:
            raise refusal from None  # not from a poll's page: the error page
        error = refusal_error(refusal)
        return await render_detail(self.request, found, error.message, error.status, typed_code=typed[:TYPED_MAX])


class QuestionReceipt(web.View):
    """A secret poll's ballot, found by the receipt its voter was shown; without one (or with a
    wrong one), a box to type it in."""

    async def get(self) -> web.Response:
        app, viewer = self.request.app, viewer_of(self.request)
        poll = (await polls.visible_poll(app, question_id(self.request), viewer)).poll
        code = self.request.query.get("code", "")
        if not poll["secret"]:
            raise ReceiptNotFound
        if not code.strip():
            return await self._box(poll)
        try:
            if len(code) > RECEIPT_TYPED_MAX:
                raise ReceiptNotFound
            cast = await secret_ballots.by_receipt(app, poll, code)
        except ReceiptNotFound as refusal:
            error = refusal_error(refusal)
            return await self._box(poll, code[:RECEIPT_TYPED_MAX], error.message, error.status)
        by_id = {c["id"]: c for c in poll["choices"]}
        # In the ballot's order: a ranking first preference first, the others as the poll lists them.
        order = cast.get("ranking") or [c["id"] for c in poll["choices"]]
        marked = set(secret_ballots.marked(cast))
        chosen = [by_id[choice_id] for choice_id in order if choice_id in marked and choice_id in by_id]
        context = {"poll": poll, "chosen": chosen, "cast": cast}
        return await render(self.request, "questions/receipt.html", context)

    async def _box(self, poll: Row, typed: str = "", message: str = "", status: int = 200) -> web.Response:
        context = {"poll": poll, "typed": typed, "message": message}
        return await render(self.request, "questions/receipt_box.html", context, status)


class QuestionBallotsCsv(web.View):
    """A closed secret poll's published ballots as a spreadsheet: a row per ballot, its receipt's
    hash and a column per choice (1 when picked; a ranking's places; the stars given, 0 unscored)."""

    async def get(self) -> web.Response:
        app = self.request.app
        found = await polls.visible_poll(app, question_id(self.request), viewer_of(self.request))
        poll = found.poll
        ballots = await secret_ballots.published(app, poll)
        header = ("receipt_hash", *(choice["choice_text"] for choice in poll["choices"]))
        rows = [(item["receipt_hash"], *secret_ballots.cells(poll, item)) for item in ballots]
        return csv_response(f"question-{poll['id']}-ballots.csv", header, rows)
