"""The rules' own logic, without a request: a poll's one status, who manages a poll, and that every
refusal the rules can raise has its answer in the one table."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from application.services import refusals
from application.services.polls import Status, status
from application.services.viewer import ANONYMOUS, Viewer
from application.views.refusals import refusal_error
from application.web.errors import ErrorCode

NOW = datetime(2026, 6, 1, 12, 0)
HOUR = timedelta(hours=1)


def poll(pub_date: datetime = NOW - HOUR, closes_at: datetime | None = None, owner: int = 1) -> dict[str, object]:
    return {"id": 9, "pub_date": pub_date, "closes_at": closes_at, "user_id": owner}


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (poll(), Status.OPEN),
        (poll(closes_at=NOW + HOUR), Status.OPEN),
        (poll(closes_at=NOW), Status.CLOSED),  # closing time reached
        (poll(closes_at=NOW - HOUR), Status.CLOSED),
        (poll(pub_date=NOW + HOUR), Status.SCHEDULED),
        (poll(pub_date=NOW + HOUR, closes_at=NOW), Status.SCHEDULED),  # closed before it was published
    ],
)
def test_a_poll_has_one_status(row: dict[str, object], expected: Status) -> None:
    assert status(row, NOW) is expected


def user(user_id: int, is_admin: int = 0) -> dict[str, object]:
    return {"id": user_id, "is_admin": is_admin}


def test_the_owner_and_administrators_manage_a_poll_and_nobody_else_does() -> None:
    assert Viewer(user=user(1)).manages(poll(owner=1))
    assert Viewer(user=user(2, is_admin=1)).manages(poll(owner=1))
    assert not Viewer(user=user(2)).manages(poll(owner=1))
    assert not ANONYMOUS.manages(poll(owner=1))
    assert not Viewer(openid="o-follower").manages(poll(owner=1))


def test_a_viewer_votes_as_their_account_else_as_their_openid() -> None:
    assert Viewer(user=user(3), openid="o-follower").voter.user_id == 3  # type: ignore[union-attr]
    assert Viewer(openid="o-follower").voter.openid == "o-follower"  # type: ignore[union-attr]
    assert ANONYMOUS.voter is None


ABSTRACT = {refusals.Refused, refusals.VoteRefused}
EVERY_REFUSAL = [
    kind
    for name in refusals.__all__
    if isinstance(kind := getattr(refusals, name), type) and issubclass(kind, refusals.Refused) and kind not in ABSTRACT
]


@pytest.mark.parametrize("kind", EVERY_REFUSAL, ids=lambda kind: kind.__name__)
def test_every_refusal_has_its_answer(kind: type[refusals.Refused]) -> None:
    error = refusal_error(kind({"field": "Why."}))
    assert 400 <= error.status < 500 and error.message and error.code is not ErrorCode.INTERNAL_ERROR
    assert error.fields == {"field": "Why."}


def test_the_table_says_what_the_api_has_always_said() -> None:
    assert (refusal_error(refusals.AlreadyVoted()).status, refusal_error(refusals.AlreadyVoted()).code) == (
        409,
        ErrorCode.ALREADY_VOTED,
    )
    taken = refusal_error(refusals.AccountTaken({"email": "taken"}))
    assert (taken.status, int(taken.code), taken.fields) == (409, 20001, {"email": "taken"})
    assert refusal_error(refusals.PollNotFound()).message == "Poll not found."
