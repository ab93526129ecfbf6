"""SQL for web_session: browser sessions kept in the database when no Redis is configured."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from models.db import Database, placeholders, retry_conflicts


async def load(db: Database, session_id: str, now: datetime) -> str | None:
    row = await db.fetch_one("SELECT data FROM web_session WHERE id = %s AND expires_at > %s", (session_id, now))
    return row["data"] if row else None


async def existing(db: Database, session_ids: Sequence[str], now: datetime) -> set[str]:
    """Those of these (at least one) sessions that exist and have not expired."""
    rows = await db.fetch_all(
        "SELECT id FROM web_session WHERE id IN (" + placeholders(len(session_ids)) + ") AND expires_at > %s",
        [*session_ids, now],
    )
    return {row["id"] for row in rows}


async def save(db: Database, session_id: str, data: str, expires_at: datetime) -> None:
    async def replace() -> None:
        async with db.transaction() as tx:
            await tx.execute("DELETE FROM web_session WHERE id = %s", (session_id,))
            await tx.execute(
                "INSERT INTO web_session (id, data, expires_at) VALUES (%s, %s, %s)", (session_id, data, expires_at)
            )

    await retry_conflicts(replace)


async def delete(db: Database, session_id: str) -> None:
    await db.execute("DELETE FROM web_session WHERE id = %s", (session_id,))


async def purge_expired(db: Database, now: datetime) -> int:
    result = await db.execute("DELETE FROM web_session WHERE expires_at <= %s", (now,))
    return result.rowcount
