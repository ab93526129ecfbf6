"""SQL for account_session: the signed-in sessions an account lists, named by the hash of their id."""

from __future__ import annotations

from datetime import datetime

from models.db import Database, Row, Session


async def start(
    db: Database, key: str, user_id: int, device: str, address: str, now: datetime, idle_before: datetime
) -> None:
    """Record a sign-in; the account's sessions idle since before ``idle_before`` (expired) are forgotten."""
    await db.execute("DELETE FROM account_session WHERE user_id = %s AND last_seen < %s", (user_id, idle_before))
    await db.execute(
        "INSERT INTO account_session (session_key, user_id, device, address, create_time, last_seen)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (key, user_id, device, address, now, now),
    )


async def seen(db: Database, key: str, address: str, now: datetime) -> None:
    await db.execute(
        "UPDATE account_session SET last_seen = %s, address = %s WHERE session_key = %s", (now, address, key)
    )


async def end(db: Database, key: str) -> None:
    await db.execute("DELETE FROM account_session WHERE session_key = %s", (key,))


async def of_user(db: Database, user_id: int, seen_since: datetime, started_since: datetime) -> list[Row]:
    """The account's sessions that can still be alive, most recently seen first."""
    return await db.fetch_all(
        "SELECT session_key, device, address, create_time, last_seen FROM account_session"
        " WHERE user_id = %s AND last_seen > %s AND create_time > %s ORDER BY last_seen DESC, create_time DESC",
        (user_id, seen_since, started_since),
    )


async def end_all(db: Database | Session, user_id: int) -> list[str]:
    """Forget the account's sessions; the keys of those forgotten."""
    rows = await db.fetch_all("SELECT session_key FROM account_session WHERE user_id = %s", (user_id,))
    await db.execute("DELETE FROM account_session WHERE user_id = %s", (user_id,))
    return [row["session_key"] for row in rows]
