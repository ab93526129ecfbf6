"""The app's own URLs, built from the names of its routes (routes.py), in views and in templates.

Views call ``url(request, "question_results", question_id=7)``; templates ``url("question_results",
question_id=poll.id)``. Query strings are appended by the caller. A page builds the same few URLs
again and again, so each app remembers what it built (aiohttp takes a few microseconds per URL).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import jinja2
from aiohttp import web

from application.keys import SETTINGS, URLS

URLS_KEPT = 4096

Urls = Callable[..., str]


def url_builder(router: web.UrlDispatcher) -> Urls:
    """``url(name, **parts)`` for this router's named routes."""

    @lru_cache(maxsize=URLS_KEPT)
    def build(name: str, parts: tuple[tuple[str, str], ...]) -> str:
        return str(router[name].url_for(**dict(parts)))

    def url(name: str, **parts: object) -> str:
        return build(name, tuple(sorted((key, str(value)) for key, value in parts.items())))

    return url


def url(request: web.Request, name: str, **parts: object) -> str:
    """The path of the route called ``name``, its ``{parts}`` filled in."""
    return request.app[URLS](name, **parts)


def absolute_url(request: web.Request, name: str, **parts: object) -> str:
    """The route's address as visitors reach it: ``VOTE_PUBLIC_URL`` and the path, never the
    request's Host header (which a client chooses)."""
    return app_absolute_url(request.app, name, **parts)


def app_absolute_url(app: web.Application, name: str, **parts: object) -> str:
    """``absolute_url`` where there is no request: the links in mails."""
    return app[SETTINGS].public_url + app[URLS](name, **parts)


def install(env: jinja2.Environment, app: web.Application) -> None:
    """The templates' ``url(name, **parts)`` and the views' ``url`` build the same URLs."""
    app[URLS] = env.globals["url"] = url_builder(app.router)
