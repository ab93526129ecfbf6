"""Times are stored as naive UTC with whole seconds, the same on both dialects; zones go by IANA name."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo, available_timezones


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())  # reads the zone files once (a fifth of a second)


def zone_named(name: str) -> ZoneInfo | None:
    """The IANA zone called ``name`` (e.g. ``Asia/Shanghai``), or None: the name may come from a
    cookie, so only the zones the system lists are looked up, never a path built from input."""
    return ZoneInfo(name) if name in _zone_names() else None
