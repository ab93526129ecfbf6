"""SQL for secret ballots: what was chosen, never by whom (sql/mysql/0004, docs/secret-ballots.md).

Rows are written by the ballot box (models/ballot.py). Read back, they come in the order of their
random ids, which is no voter's order.
"""

from __future__ import annotations

import json
from typing import Any

from models.db import Database, Row


def content(row: Row) -> dict[str, Any]:
    """The ballot as published: ``{"choice_ids": [...]}``, ``{"ranking": [...]}`` or ``{"scores": {...}}``."""
    return dict(json.loads(row["content"]))


async def by_receipt(db: Database, question_id: int, receipt_hash: str) -> Row | None:
    return await db.fetch_one(
        "SELECT receipt_hash, content, cast_on FROM secret_ballot WHERE question_id = %s AND receipt_hash = %s",
        (question_id, receipt_hash),
    )


async def for_question(db: Database, question_id: int) -> list[Row]:
    """Every ballot of the poll, in the order of their random ids."""
    return await db.fetch_all(
        "SELECT receipt_hash, content FROM secret_ballot WHERE question_id = %s ORDER BY id", (question_id,)
    )
