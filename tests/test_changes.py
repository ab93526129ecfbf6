"""The change bus's own logic: a change reads back as it was written, and each subscriber hears
the kinds it subscribed to, from this process at once and from the others once."""

from __future__ import annotations

import pytest
from aiohttp import web

from application.cluster.changes import Change, ChangeBus, Kind

SESSION_HASH = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


@pytest.mark.parametrize(
    ("change", "wire"),
    [
        (Change(Kind.POLL, (12,)), "poll 12"),
        (Change(Kind.VOTES, (12, 31)), "votes 12,31"),  # as the vote channels' Lua script writes it
        (Change(Kind.ACCOUNT, (7,)), "account 7"),
        (Change(Kind.SESSION, (SESSION_HASH,)), f"session {SESSION_HASH}"),
    ],
)
def test_a_change_reads_back_as_it_was_written(change: Change, wire: str) -> None:
    assert change.encode() == wire
    assert Change.decode(wire) == change


@pytest.mark.parametrize(
    "wire", ["poll", "poll ", "poll 1,", "poll x", "votes 1,,2", "session ", "session a,,b", "gossip 3", ""]
)
def test_anything_else_is_refused(wire: str) -> None:
    with pytest.raises(ValueError):
        Change.decode(wire)


def recording_bus() -> tuple[ChangeBus, list[tuple[str, object]]]:
    bus, heard = ChangeBus(web.Application()), []
    bus.subscribe(Kind.POLL, lambda subject: heard.append(("cache: poll", subject)))
    bus.subscribe(Kind.POLL, lambda subject: heard.append(("hub: poll", subject)))
    bus.subscribe(Kind.VOTES, lambda subject: heard.append(("hub: votes", subject)))
    bus.subscribe(Kind.SESSION, lambda subject: heard.append(("hub: session", subject)))
    return bus, heard


def test_subscribers_hear_their_kinds_id_by_id_in_the_order_they_subscribed() -> None:
    bus, heard = recording_bus()
    bus.apply(Change(Kind.POLL, (3, 4)))
    bus.apply(Change(Kind.VOTES, (5,)))
    bus.apply(Change(Kind.ACCOUNT, (6,)))  # nobody subscribed to accounts
    assert heard == [("cache: poll", 3), ("hub: poll", 3), ("cache: poll", 4), ("hub: poll", 4), ("hub: votes", 5)]


def test_a_change_heard_from_another_process_is_applied_and_an_own_one_is_not() -> None:
    bus, heard = recording_bus()
    bus.received(f"{bus.sender} poll 3".encode())  # this process applied it when it announced it
    bus.received(b"0123456789abcdef session " + SESSION_HASH.encode())
    bus.received(b"0123456789abcdef poll three")  # unreadable: ignored, nothing breaks
    assert heard == [("hub: session", SESSION_HASH)]
