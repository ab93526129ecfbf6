"""Six-digit join codes: how a hall reaches a poll from the big screen (``/j/123456``, ``/join``).

A code is unique among open polls. Every new poll takes one; a code whose poll has closed or been
deleted is free again, and the next poll to draw it takes it from the old one (whose ``/j/`` link
then stops answering for it). The database's UNIQUE key on the column settles two polls drawing
the same code at once: the later one draws again.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from application.services.refusals import JoinCodeClosed, JoinCodeUnknown, JoinCodeUnreadable
from models import question
from models.db import Database, IntegrityError, Row, Session

DIGITS = 6
DRAWS = 20  # with a million codes and at most thousands open, one draw nearly always suffices
_TYPED = re.compile(r"[\s\-.]")  # what people type between digits: "123 456", "123-456"


def draw() -> str:
    return f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}"


@dataclass(frozen=True)
class Claim:
    code: str | None  # None in the unlikely case every draw hit an open poll's code
    taken_from: int | None = None  # the closed or deleted poll that held it until now


async def claim(tx: Session, now: datetime) -> Claim:
    """A code no open poll holds, taken from a closed or deleted poll if need be (the caller
    announces that poll's change)."""
    for _ in range(DRAWS):
        code = draw()
        holder = await question.by_join_code(tx, code)
        if holder is None:
            return Claim(code)
        if not question.holds_code(holder, now):
            await question.release_join_code(tx, code)
            return Claim(code, int(holder["id"]))
    return Claim(None)


async def ensure(db: Database, poll: Row, now: datetime) -> Claim:
    """Give the poll a code if it has none (polls older than codes) and is still open."""
    if poll["join_code"] is not None or not question.holds_code({**poll, "delete_flag": 0}, now):
        return Claim(None)
    for _ in range(DRAWS):
        try:
            async with db.transaction() as tx:
                claimed = await claim(tx, now)
                if claimed.code is not None:
                    await question.set_join_code(tx, poll["id"], claimed.code)
        except IntegrityError:  # drawn by another poll meanwhile: draw again
            continue
        return claimed
    return Claim(None)


def read(typed: str) -> str:
    """A typed code as stored: six digits once spaces and dashes are gone; ``JoinCodeUnreadable`` else."""
    code = _TYPED.sub("", typed)
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        raise JoinCodeUnreadable
    return code


async def poll_of(db: Database, code: str, now: datetime) -> int:
    """The id of the open poll holding ``code``: ``JoinCodeUnknown`` when none does (or it is not
    published yet), ``JoinCodeClosed`` when its poll has closed or been deleted."""
    holder = await question.by_join_code(db, code)
    if holder is None or not question.is_published(holder, now):
        raise JoinCodeUnknown
    if not question.holds_code(holder, now):
        raise JoinCodeClosed
    return int(holder["id"])
