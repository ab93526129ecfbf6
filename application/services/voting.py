"""The one vote path of the site, the API and WeChat, for every kind of voter."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from application.keys import BALLOTS, LINK_VOTES
from application.services.refusals import AlreadyVoted, InviteRequired, InviteUsed, NotSignedIn, TooManyLinkVotes
from application.services.viewer import Viewer
from models import ballot
from models.ballot import Choices, Content, Ranking, Scores, Voter
from models.clock import utcnow
from models.db import Row
from models.metrics import VOTES_REFUSED
from models.refusal import Refused

__all__ = ["Choices", "Content", "Counted", "Ranking", "Scores", "cast"]


@dataclass(frozen=True)
class Counted:
    counts: list[Row]  # the poll's choices with their votes, this ballot included
    receipt: str | None = None  # a secret poll's receipt code: shown to its voter once, kept nowhere


async def cast(app: web.Application, poll: Row, content: Content, viewer: Viewer) -> Counted:
    """Count the viewer's ballot (``Choices``, a ``Ranking`` or ``Scores``, as the poll's method
    says) as the voter the poll's ``access`` makes them, or raise a ``VoteRefused``
    (``refusals.py``) with nothing changed. Every process holding the poll's counts hears of it
    (``changes.votes_counted``)."""
    try:
        return await _cast(app, poll, content, viewer)
    except Refused as refusal:
        VOTES_REFUSED.labels(type(refusal).__name__).inc()
        raise


async def _cast(app: web.Application, poll: Row, content: Content, viewer: Viewer) -> Counted:
    voter = viewer.voter_for(poll)
    if voter is None:
        raise InviteRequired if poll["access"] == "invite" else NotSignedIn
    if voter.link_key is not None:
        return await _capped(app, poll, content, voter, _address_key(poll, viewer))
    return await _counted(app, poll, content, voter)


async def _capped(app: web.Application, poll: Row, content: Content, voter: Voter, key: str) -> Counted:
    """A link vote, under the per-address cap on accepted votes: its slot is taken before the
    vote, atomically (a burst gets no more votes through than the cap), and given back when the
    vote is refused (a refused or repeated vote does not use up the office's allowance)."""
    cap = app[LINK_VOTES]
    if not await cap.attempt(key):
        await cap.give_back(key)
        raise TooManyLinkVotes
    try:
        return await _counted(app, poll, content, voter)
    except Refused:
        await cap.give_back(key)
        raise


async def _counted(app: web.Application, poll: Row, content: Content, voter: Voter) -> Counted:
    # A secret ballot is kept as GET .../ballots publishes it.
    sealed, receipt = ballot.seal(ballot.published(content)) if poll["secret"] else (None, None)
    try:
        counts = await app[BALLOTS].cast(poll, content, voter, utcnow(), sealed)
    except AlreadyVoted:
        if voter.invite_id is not None:
            raise InviteUsed from None
        raise
    return Counted(counts, receipt)


def _address_key(poll: Row, viewer: Viewer) -> str:
    """The per-address counter's key (the counter keeps only its hash)."""
    return f"{poll['id']}|{viewer.address}"
