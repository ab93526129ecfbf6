"""The one vote path of the site, the API and WeChat."""

from __future__ import annotations

from aiohttp import web

from application.keys import BALLOTS
from application.services.refusals import NotSignedIn
from application.services.viewer import Viewer
from models.clock import utcnow
from models.db import Row
from models.metrics import VOTES_REFUSED
from models.refusal import Refused


async def cast(app: web.Application, poll: Row, choice_ids: list[int], viewer: Viewer) -> list[Row]:
    """Count the viewer's ballot: the poll's choices with their counts, this vote included, or a
    ``VoteRefused`` (``refusals.py``) with nothing changed. Every process holding the poll's
    counts hears of it (``changes.votes_counted``)."""
    try:
        voter = viewer.voter
        if voter is None:
            raise NotSignedIn
        return await app[BALLOTS].cast(poll, choice_ids, voter, utcnow())
    except Refused as refusal:
        VOTES_REFUSED.labels(type(refusal).__name__).inc()
        raise
