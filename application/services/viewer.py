"""Who is asking, wherever they ask from: the rules are given a ``Viewer``, never a request."""

from __future__ import annotations

from dataclasses import dataclass

from models.ballot import Voter
from models.db import Row


@dataclass(frozen=True)
class Viewer:
    """A signed-in site user (their row; the pages and the API), a WeChat follower (their
    openid), or nobody. Link polls' voter keys and invite codes will be two more such fields."""

    user: Row | None = None
    openid: str | None = None

    @property
    def voter(self) -> Voter | None:
        """Who their ballots are cast as; None for nobody in particular."""
        if self.user is not None:
            return Voter(user_id=self.user["id"])
        if self.openid is not None:
            return Voter(openid=self.openid)
        return None

    def manages(self, poll: Row) -> bool:
        """The poll's owner and administrators see it before it is published, and its hidden results."""
        return self.user is not None and bool(self.user["is_admin"] or self.user["id"] == poll["user_id"])


ANONYMOUS = Viewer()
