"""SQL for invite codes: single-use codes that let their holder vote on one invite poll.

A code is 12 Crockford base32 characters (60 random bits), shown grouped by four for reading
aloud (``7KQ2-9XMV-4DH0``) and matched whatever the case, with or without dashes (and with the
letters Crockford reads as digits: I and L as 1, O as 0). It is stored normalised, so that the
owner can print it again. ``used`` flips in the transaction of the code's ballot (models/ballot.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from models.db import Database, IntegrityError, Row, Session

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32: no I, L, O, U
CODE_LENGTH = 12
GROUP = 4
MAX_PER_CALL = 5000
ROWS_PER_INSERT = 500  # a multi-row INSERT each, in one transaction
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0"})
_FIELDS = "id, question_id, code, label, used, revoked"


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise(typed: str) -> str | None:
    """The stored form of a code as someone typed it, or None when it cannot be one."""
    code = "".join(typed.split()).replace("-", "").upper().translate(_READ_AS)
    if len(code) != CODE_LENGTH or not all(char in ALPHABET for char in code):
        return None
    return code


def grouped(code: str) -> str:
    """``7KQ29XMV4DH0`` as it is printed: ``7KQ2-9XMV-4DH0``."""
    return "-".join(code[start : start + GROUP] for start in range(0, len(code), GROUP))


async def create_many(db: Database, question_id: int, labels: Sequence[str | None]) -> list[Row]:
    """One code per label (None: no label), written in one transaction; a new code that happens
    to be taken already (1 in 2**60 per pair) makes the whole call try again with fresh codes."""
    for _ in range(3):
        rows = [{"question_id": question_id, "code": new_code(), "label": label} for label in labels]
        try:
            async with db.transaction() as tx:
                for start in range(0, len(rows), ROWS_PER_INSERT):
                    await _insert(tx, rows[start : start + ROWS_PER_INSERT])
        except IntegrityError:
            continue
        return await by_codes(db, [row["code"] for row in rows])
    raise IntegrityError("could not find unused codes")


async def _insert(tx: Session, rows: list[Row]) -> None:
    values = ", ".join(["(%s, %s, %s)"] * len(rows))
    args = [value for row in rows for value in (row["question_id"], row["code"], row["label"])]
    await tx.execute("INSERT INTO invite (question_id, code, label) VALUES " + values, args)


async def by_codes(db: Database, codes: Sequence[str]) -> list[Row]:
    """Those codes' rows, in the order given."""
    found: dict[str, Row] = {}
    for start in range(0, len(codes), ROWS_PER_INSERT):
        part = codes[start : start + ROWS_PER_INSERT]
        marks = ", ".join(["%s"] * len(part))
        for row in await db.fetch_all(f"SELECT {_FIELDS} FROM invite WHERE code IN ({marks})", part):
            found[row["code"]] = row
    return [found[code] for code in codes if code in found]


async def each_by_code(db: Database, codes: Sequence[str]) -> list[Row | None]:
    """Each code's row (None when nobody's), in one query for them all: the lookups of votes
    that arrive together share it (``Batcher``)."""
    found = {row["code"]: row for row in await by_codes(db, sorted(set(codes)))}
    return [found.get(code) for code in codes]


async def get(db: Database, question_id: int, invite_id: int) -> Row | None:
    return await db.fetch_one(
        f"SELECT {_FIELDS} FROM invite WHERE id = %s AND question_id = %s", (invite_id, question_id)
    )


async def for_question(db: Database, question_id: int) -> list[Row]:
    """Every code of the poll, revoked ones too, in the order they were made."""
    return await db.fetch_all(f"SELECT {_FIELDS} FROM invite WHERE question_id = %s ORDER BY id", (question_id,))


async def revoke(db: Database, question_id: int, invite_id: int) -> bool:
    """Revoke an unused code; False when it was used meanwhile (its ballot's UPDATE came first)."""
    result = await db.execute(
        "UPDATE invite SET revoked = 1 WHERE id = %s AND question_id = %s AND used = 0", (invite_id, question_id)
    )
    return result.rowcount == 1


async def turnout(db: Database, question_id: int) -> tuple[int, int]:
    """How many of the poll's live (not revoked) codes were used, and how many there are."""
    row = await db.fetch_one(
        "SELECT COALESCE(SUM(used), 0) AS used, COUNT(*) AS invited FROM invite WHERE question_id = %s AND revoked = 0",
        (question_id,),
    )
    return (int(row["used"]), int(row["invited"])) if row else (0, 0)
