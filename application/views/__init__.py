"""Thin class-based views, one module per concern: a request in, the rules called, an answer out."""

from __future__ import annotations

from aiohttp import web

from application.services.viewer import Viewer
from application.web.auth import USER
from application.web.security import client_ip
from application.web.voter_key import invites_voted, voter_key


def viewer_of(request: web.Request) -> Viewer:
    """Who is asking, as the rules know them: the signed-in user (session or bearer token), or
    nobody; with their browser's voter key for link polls and the invite codes it voted with
    (never for the API, whose link votes need an account and which names codes itself), and
    their address."""
    if request.path.startswith("/api/"):
        return Viewer(user=request[USER], address=client_ip(request))
    return Viewer(
        user=request[USER], link_key=voter_key(request), voted_with=invites_voted(request), address=client_ip(request)
    )
