"""Who is asking, wherever they ask from: the rules are given a ``Viewer``, never a request."""

from __future__ import annotations

from dataclasses import dataclass

from models.ballot import Voter
from models.db import Row


@dataclass(frozen=True)
class Viewer:
    """A signed-in site user (their row; the pages and the API), a WeChat follower (their
    openid), or nobody; and what a poll that needs no account may count them as: the voter key
    of their browser's signed cookie (link polls), the invite code they came with (invite polls),
    or one their browser voted with (``voted_with``: (poll id, invite id) pairs from a signed
    cookie, so that results shown after voting show). ``address`` is where they asked from, for
    the per-address cap of link polls."""

    user: Row | None = None
    openid: str | None = None
    link_key: str | None = None
    invite: Row | None = None
    voted_with: tuple[tuple[int, int], ...] = ()
    address: str = ""

    @property
    def voter(self) -> Voter | None:
        """Who their ballots are cast as on a poll for accounts; None for nobody in particular."""
        if self.user is not None:
            return Voter(user_id=self.user["id"])
        if self.openid is not None:
            return Voter(openid=self.openid)
        return None

    def voter_for(self, poll: Row) -> Voter | None:
        """Who their ballot on ``poll`` is cast as, by the poll's ``access``: an invite poll counts
        only its codes; a link poll an account first, else the browser's voter key."""
        if poll["access"] == "invite":
            return self._invited(poll["id"])
        if poll["access"] == "link" and self.voter is None and self.link_key is not None:
            return Voter(link_key=self.link_key)
        return self.voter

    def _invited(self, poll_id: int) -> Voter | None:
        if self.invite is not None and self.invite["question_id"] == poll_id:
            return Voter(invite_id=self.invite["id"])
        used = next((code for poll, code in self.voted_with if poll == poll_id), None)
        return Voter(invite_id=used) if used is not None else None

    def manages(self, poll: Row) -> bool:
        """The poll's owner and administrators see it before it is published, and its hidden results."""
        return self.user is not None and bool(self.user["is_admin"] or self.user["id"] == poll["user_id"])


ANONYMOUS = Viewer()
