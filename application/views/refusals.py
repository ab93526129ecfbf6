"""What the site and the API answer each refusal of the rules with: one table.

Every refusal (``services/refusals.py``) has its status, its message (English, the API's
language; pages show it translated) and its error code here. The error middleware answers a
refusal no view caught through ``refusal_error`` (the factory registers it); views that answer
differently, such as the vote form showing the poll again, take the message from here too.
"""

from __future__ import annotations

from dataclasses import dataclass

from application.services.refusals import (
    AccountDisabled,
    AccountTaken,
    AlreadyVoted,
    BadCredentials,
    BallotsNotPublished,
    InvalidAccountChange,
    InvalidChoice,
    InvalidInvites,
    InvalidPoll,
    InvalidRegistration,
    InviteNotFound,
    InviteNotValid,
    InviteRequired,
    InviteUsed,
    JoinCodeClosed,
    JoinCodeUnknown,
    JoinCodeUnreadable,
    NoChoice,
    NotOnReveal,
    NotPollManager,
    NotPollOwner,
    NotSignedIn,
    OwnAccount,
    OwnerDeleted,
    PollClosed,
    PollHasVotes,
    PollNotFound,
    RankUsedTwice,
    ReceiptNotFound,
    Refused,
    ResetLinkInvalid,
    ResultsHidden,
    ScoredTwice,
    ScoreOutOfRange,
    TokenNotFound,
    TooManyAttempts,
    TooManyChoices,
    TooManyLinkVotes,
    TooManyResets,
    UserNotFound,
    WrongBallot,
    WrongPassword,
)
from application.web.errors import AppError, ErrorCode
from application.web.i18n import N_


@dataclass(frozen=True)
class Answer:
    status: int
    message: str
    code: ErrorCode


REFUSALS: dict[type[Refused], Answer] = {
    # A vote.
    NoChoice: Answer(400, N_("You didn't select a choice."), ErrorCode.INVALID_INPUT),
    InvalidChoice: Answer(400, N_("That choice does not belong to this poll."), ErrorCode.INVALID_INPUT),
    TooManyChoices: Answer(400, N_("You selected more choices than this poll allows."), ErrorCode.INVALID_INPUT),
    RankUsedTwice: Answer(
        400, N_("Each rank may be used only once, and each choice ranked only once."), ErrorCode.INVALID_INPUT
    ),
    ScoredTwice: Answer(400, N_("Each choice may be given stars only once."), ErrorCode.INVALID_INPUT),
    ScoreOutOfRange: Answer(400, N_("Give each choice from 0 to 5 stars."), ErrorCode.INVALID_INPUT),
    WrongBallot: Answer(400, N_("This poll takes another kind of ballot: see its method."), ErrorCode.INVALID_INPUT),
    PollClosed: Answer(403, N_("This poll is closed."), ErrorCode.POLL_CLOSED),
    AlreadyVoted: Answer(409, N_("You have already voted in this poll."), ErrorCode.ALREADY_VOTED),
    NotSignedIn: Answer(401, N_("Log in to vote."), ErrorCode.AUTH_REQUIRED),
    InviteRequired: Answer(403, N_("This poll takes votes by invite code only."), ErrorCode.FORBIDDEN),
    InviteNotValid: Answer(
        403, N_("This invite code is not valid: check it, or ask the poll's owner for a new one."), ErrorCode.FORBIDDEN
    ),
    InviteNotFound: Answer(404, N_("No such invite code of this poll."), ErrorCode.NOT_FOUND),
    InviteUsed: Answer(409, N_("This invite code has already been used to vote."), ErrorCode.ALREADY_VOTED),
    TooManyLinkVotes: Answer(
        429, N_("Too many votes from your network on this poll. Please try again in an hour."), ErrorCode.RATE_LIMITED
    ),
    ReceiptNotFound: Answer(404, N_("No ballot of this poll has that receipt."), ErrorCode.NOT_FOUND),
    BallotsNotPublished: Answer(
        409, N_("A secret poll's ballots are published once it closes."), ErrorCode.POLL_STILL_OPEN
    ),
    # Polls.
    PollNotFound: Answer(404, N_("Poll not found."), ErrorCode.NOT_FOUND),
    NotPollManager: Answer(403, N_("Only the poll's owner or an administrator may do this."), ErrorCode.FORBIDDEN),
    NotPollOwner: Answer(403, N_("Only the poll's owner may edit it."), ErrorCode.FORBIDDEN),
    PollHasVotes: Answer(
        409, N_("This poll has votes already, so it can no longer be edited."), ErrorCode.ALREADY_VOTED
    ),
    OwnerDeleted: Answer(
        409, N_("This poll cannot be restored: its owner deleted their account."), ErrorCode.FORBIDDEN
    ),
    # A page's form, not the API's: no error code is documented for it, the input is what is wrong.
    NotOnReveal: Answer(
        409, N_("Only a poll whose results wait for the presenter can be revealed."), ErrorCode.INVALID_INPUT
    ),
    ResultsHidden: Answer(403, N_("The results of this poll are hidden for now."), ErrorCode.RESULTS_HIDDEN),
    InvalidPoll: Answer(400, N_("The poll could not be saved: please correct the fields."), ErrorCode.INVALID_INPUT),
    InvalidInvites: Answer(400, N_("No codes were made: please correct the fields."), ErrorCode.INVALID_INPUT),
    # Joining by code.
    JoinCodeUnreadable: Answer(400, N_("A join code has six digits, e.g. 123 456."), ErrorCode.INVALID_INPUT),
    JoinCodeUnknown: Answer(
        404, N_("No open poll has this code. Check the code on the screen and try again."), ErrorCode.NOT_FOUND
    ),
    JoinCodeClosed: Answer(
        403, N_("The poll with this code has ended: it takes no more votes."), ErrorCode.POLL_CLOSED
    ),
    # Accounts.
    InvalidRegistration: Answer(
        400, N_("Registration failed: please correct the fields."), ErrorCode.REGISTRATION_FAILED
    ),
    AccountTaken: Answer(409, N_("This email or mobile number is already registered."), ErrorCode.ACCOUNT_TAKEN),
    TooManyAttempts: Answer(
        429, N_("Too many failed attempts. Please wait 15 minutes and try again."), ErrorCode.RATE_LIMITED
    ),
    BadCredentials: Answer(400, N_("The account or password is incorrect."), ErrorCode.BAD_CREDENTIALS),
    AccountDisabled: Answer(403, N_("This account has been disabled."), ErrorCode.FORBIDDEN),
    OwnAccount: Answer(400, N_("You cannot disable your own account."), ErrorCode.INVALID_INPUT),
    UserNotFound: Answer(404, N_("User not found."), ErrorCode.NOT_FOUND),
    TokenNotFound: Answer(404, N_("Token not found."), ErrorCode.NOT_FOUND),
    TooManyResets: Answer(
        429, N_("Too many reset requests from here. Please wait an hour and try again."), ErrorCode.RATE_LIMITED
    ),
    ResetLinkInvalid: Answer(
        410,
        N_("This reset link has expired or was used already. Ask for a new one."),
        ErrorCode.INVALID_INPUT,
    ),
    WrongPassword: Answer(400, N_("Your current password is not correct."), ErrorCode.BAD_CREDENTIALS),
    InvalidAccountChange: Answer(
        400, N_("The changes could not be saved: please correct the fields."), ErrorCode.INVALID_INPUT
    ),
}


def refusal_error(refusal: Refused) -> AppError:
    """The refusal as the error the site and the API answer with (its ``fields`` included)."""
    answer = next(REFUSALS[kind] for kind in type(refusal).__mro__ if kind in REFUSALS)
    return AppError(answer.status, answer.message, answer.code, refusal.fields)


def as_error(problem: AppError | Refused) -> AppError:
    """What a view that shows a form or page again says: an input error as it is, a refusal as the table says."""
    return problem if isinstance(problem, AppError) else refusal_error(problem)
