"""Jinja2 set-up (autoescaped templates from template/) and the one way views render a page."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from application.auth import USER
from application.csrf import existing_csrf_token

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "template"


def _static_url(app: web.Application) -> Any:
    @cache
    def static(filename: str) -> str:
        # Versioned URLs (?v=hash) so browsers and nginx may cache them for long. aiohttp reads
        # and hashes the file on every call; the files only change with a deploy, which restarts.
        return str(app.router["static"].url_for(filename=filename))

    return static


def setup_templates(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,  # templates change only with a deploy; no stat() per render
    )
    env.globals["static"] = _static_url(app)


async def render(request: web.Request, template: str, context: dict[str, Any], status: int = 200) -> web.Response:
    """Render with what every page needs: who is logged in and the session's CSRF token."""
    page = {"current_user": request.get(USER), "csrf_token": await existing_csrf_token(request), **context}
    return aiohttp_jinja2.render_template(template, request, page, status=status)
