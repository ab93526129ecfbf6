"""SQL for password_reset: links that set a new password, kept as a hash of their token."""

from __future__ import annotations

from datetime import datetime, timedelta

from models.db import Database, Row, Session

KEPT_AFTER_EXPIRY = timedelta(days=1)


async def create(db: Database, user_id: int, token_hash: str, expires_at: datetime, now: datetime) -> None:
    """A new link; the links that expired a day ago or more go (kept that long to tell what happened)."""
    await db.execute("DELETE FROM password_reset WHERE expires_at < %s", (now - KEPT_AFTER_EXPIRY,))
    await db.execute(
        "INSERT INTO password_reset (user_id, token_hash, expires_at) VALUES (%s, %s, %s)",
        (user_id, token_hash, expires_at),
    )


async def usable(db: Database, token_hash: str, now: datetime) -> Row | None:
    """The unused, unexpired reset with this token hash: its id and user_id."""
    return await db.fetch_one(
        "SELECT id, user_id FROM password_reset WHERE token_hash = %s AND used_at IS NULL AND expires_at > %s",
        (token_hash, now),
    )


async def use(db: Database | Session, reset_id: int, now: datetime) -> bool:
    """Mark it used; False when another request used it first."""
    result = await db.execute(
        "UPDATE password_reset SET used_at = %s WHERE id = %s AND used_at IS NULL", (now, reset_id)
    )
    return result.rowcount == 1


async def use_all_of(db: Database | Session, user_id: int, now: datetime) -> None:
    """The account's links not used yet stop working: its password or email changed."""
    await db.execute("UPDATE password_reset SET used_at = %s WHERE user_id = %s AND used_at IS NULL", (now, user_id))


async def delete_all_of(db: Database | Session, user_id: int) -> None:
    await db.execute("DELETE FROM password_reset WHERE user_id = %s", (user_id,))
