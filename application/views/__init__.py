"""Thin class-based views, one module per concern: a request in, the rules called, an answer out."""

from __future__ import annotations

from aiohttp import web

from application.services.viewer import Viewer
from application.web.auth import USER
from application.web.security import client_ip
from application.web.voter_key import voter_key


def viewer_of(request: web.Request) -> Viewer:
    """Who is asking, as the rules know them: the signed-in user (session or bearer token), or
    nobody; with their browser's voter key for link polls (never for the API, whose link votes
    need an account), and their address."""
    key = None if request.path.startswith("/api/") else voter_key(request)
    return Viewer(user=request[USER], link_key=key, address=client_ip(request))
