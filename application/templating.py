"""Jinja2 set-up: autoescaped templates from template/, with a few globals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "template"


def _static_url(app: web.Application) -> Any:
    def static(filename: str) -> str:
        # Versioned URLs (?v=hash) so browsers and nginx may cache them for long.
        return str(app.router["static"].url_for(filename=filename))

    return static


def setup_templates(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        context_processors=[aiohttp_jinja2.request_processor],
    )
    env.globals["static"] = _static_url(app)
