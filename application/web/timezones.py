"""The visitor's time zone, in which pages show times and forms take them.

It is the browser's, which static/js/app.js remembers in the cookie ``tz`` (an IANA name), else
``default_timezone``. A cookie naming no known zone is ignored. Times stay naive UTC everywhere
else (models/clock.py); they are converted only on their way to and from a page.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web

from application.keys import SETTINGS
from models.clock import zone_named

COOKIE_NAME = "tz"
FORM_FIELD = "timezone"  # hidden field: the zone a form was shown in
FORM_TIME_FORMAT = "%Y-%m-%dT%H:%M"  # the value of an <input type="datetime-local">

ZONE: web.RequestKey[ZoneInfo] = web.RequestKey("timezone")


def default_zone(app: web.Application) -> ZoneInfo:
    """``default_timezone``: for visitors whose browser has not said theirs, and WeChat followers."""
    return ZoneInfo(app[SETTINGS].default_timezone)  # a known zone: checked at start-up


def visitor_zone(request: web.Request) -> ZoneInfo:
    """This request's zone, worked out once: the cookie's, else the configured default."""
    zone = request.get(ZONE)
    if zone is None:
        zone = zone_named(request.cookies.get(COOKIE_NAME, "")) or default_zone(request.app)
        request[ZONE] = zone
    return zone


def form_zone(request: web.Request, form: Mapping[str, Any]) -> ZoneInfo:
    """The zone a submitted form's times are in: the one the form named to its user, even if the
    browser has since told another (the cookie changes when a laptop travels), else the visitor's."""
    named = form.get(FORM_FIELD)
    return (zone_named(named) if isinstance(named, str) else None) or visitor_zone(request)


def local(moment: datetime, zone: tzinfo) -> datetime:
    """A stored (naive UTC) time in ``zone``; left in UTC if ``zone`` would take it past what a
    datetime holds (a row written before times were range-checked)."""
    aware = moment.replace(tzinfo=UTC)
    try:
        return aware.astimezone(zone)
    except OverflowError:
        return aware


def form_value(moment: datetime | None, zone: tzinfo) -> str:
    """A stored time as a datetime-local field shows it in ``zone``; empty for none."""
    return local(moment, zone).strftime(FORM_TIME_FORMAT) if moment is not None else ""


def install(env: jinja2.Environment) -> None:
    """``{{ moment|in_zone(timezone) }}``: the aware local time; ``_macros.html:local_time`` shows it."""
    env.filters["in_zone"] = local
