"""Thin class-based views, one module per concern: a request in, the rules called, an answer out."""

from __future__ import annotations

from aiohttp import web

from application.services.viewer import Viewer
from application.web.auth import USER


def viewer_of(request: web.Request) -> Viewer:
    """Who is asking, as the rules know them: the signed-in user (session or bearer token), or nobody."""
    return Viewer(user=request[USER])
