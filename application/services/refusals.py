"""Every refusal of the product's rules, in one list: services raise these, never HTTP statuses.

Each is a ``Refused`` (``models/refusal.py``); a vote's own refusals come from the ballot box,
which the database backs (``models/ballot.py``). The web layer answers a refusal through one
table (``views/refusals.py``: its status, message and error code); WeChat says it in its own
words (``wechat/conversation.py``).
"""

from __future__ import annotations

from models.ballot import (
    AlreadyVoted,
    InvalidChoice,
    InviteNotValid,
    NoChoice,
    PollClosed,
    RankUsedTwice,
    ScoredTwice,
    ScoreOutOfRange,
    TooManyChoices,
    VoteRefused,
    WrongBallot,
)
from models.refusal import PollNotFound, Refused

__all__ = [
    "AccountDisabled",
    "AccountTaken",
    "AlreadyVoted",
    "BadCredentials",
    "BallotsNotPublished",
    "InvalidAccountChange",
    "InvalidChoice",
    "InvalidInvites",
    "InvalidPoll",
    "InvalidRegistration",
    "InviteNotFound",
    "InviteNotValid",
    "InviteRequired",
    "InviteUsed",
    "JoinCodeClosed",
    "JoinCodeUnknown",
    "JoinCodeUnreadable",
    "NoChoice",
    "NotOnReveal",
    "NotPollManager",
    "NotPollOwner",
    "NotSignedIn",
    "OwnAccount",
    "OwnerDeleted",
    "PollClosed",
    "PollHasVotes",
    "PollNotFound",
    "RankUsedTwice",
    "ReceiptNotFound",
    "Refused",
    "ResetLinkInvalid",
    "ResultsHidden",
    "ScoreOutOfRange",
    "ScoredTwice",
    "TokenNotFound",
    "TooManyAttempts",
    "TooManyChoices",
    "TooManyLinkVotes",
    "TooManyResets",
    "UserNotFound",
    "VoteRefused",
    "WrongBallot",
    "WrongPassword",
]


# --- Polls -----------------------------------------------------------------------------


class InvalidPoll(Refused):
    """A new or edited poll's fields break the rules; ``fields`` says how."""


class NotPollManager(Refused):
    """Only the poll's owner or an administrator may do this."""


class NotPollOwner(Refused):
    """Only the poll's owner may edit it."""


class OwnerDeleted(Refused):
    """The poll's owner deleted their account, and their polls with it: it cannot be restored."""


class PollHasVotes(Refused):
    """The poll has votes, whose ballots name its choices: it can no longer be edited."""


class NotOnReveal(Refused):
    """Only a poll whose results wait for the presenter (``on_reveal``) can be revealed: a reveal
    of another would wait in it unseen, and show its results at once if an edit made it one."""


class ResultsHidden(Refused):
    """The poll's results are hidden from this viewer for now."""


class JoinCodeUnreadable(Refused):
    """What was typed is not a join code (six digits)."""


class JoinCodeUnknown(Refused):
    """No open poll holds this join code."""


class JoinCodeClosed(Refused):
    """This join code's poll has closed or was deleted."""


class NotSignedIn(Refused):
    """A vote needs a voter: a signed-in user or a WeChat follower."""


# --- Who may vote: links, invite codes, secret ballots -------------------------------------


class InviteRequired(Refused):
    """An invite poll counts only its invite codes, and none came with this vote."""


class InviteNotFound(Refused):
    """No such invite code of this poll (its owner asked to revoke it)."""


class InviteUsed(AlreadyVoted):
    """This invite code has voted already."""


class TooManyLinkVotes(Refused):
    """This address cast more votes on this link poll this hour than ``VOTE_LINK_VOTES_PER_IP``."""


class InvalidInvites(Refused):
    """New invite codes asked for wrongly (a count out of range, too many labels); ``fields`` says how."""


class ReceiptNotFound(Refused):
    """No ballot of this poll was cast with that receipt."""


class BallotsNotPublished(Refused):
    """A secret poll's ballots are published once it closes; other polls publish none."""


# --- Accounts ----------------------------------------------------------------------------


class InvalidRegistration(Refused):
    """Registration fields break the rules; ``fields`` says how."""


class AccountTaken(Refused):
    """The email or the phone number is someone's already; ``fields`` says which."""


class TooManyAttempts(Refused):
    """Too many failed logins for this account from this address: wait for the window to pass."""


class BadCredentials(Refused):
    """No such account, or not its password (the two are never told apart)."""


class AccountDisabled(Refused):
    """The account exists and the password is right, but an administrator disabled it."""


class OwnAccount(Refused):
    """An administrator may not disable their own account."""


class UserNotFound(Refused):
    pass


class TokenNotFound(Refused):
    """No such token of this account (already revoked, or someone else's)."""


class TooManyResets(Refused):
    """Too many password reset mails asked for from this address: wait for the hour to pass."""


class ResetLinkInvalid(Refused):
    """The reset link is unknown, expired (30 minutes) or used already (it works once)."""


class WrongPassword(Refused):
    """The current password given to change the account is not its password."""


class InvalidAccountChange(Refused):
    """New account details or a new password break the rules; ``fields`` says how."""
