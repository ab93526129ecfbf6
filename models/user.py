"""SQL for the user table."""

from __future__ import annotations

from models.db import Database, Row, Session

_SELECT = "SELECT id, name, phone, email, password, is_admin, is_active, create_time FROM user"


async def create(
    db: Database | Session, *, name: str, phone: str, email: str, password_hash: str, is_admin: bool = False
) -> int:
    result = await db.execute(
        "INSERT INTO user (name, phone, email, password, is_admin) VALUES (%s, %s, %s, %s, %s)",
        (name, phone, email.lower(), password_hash, int(is_admin)),
    )
    assert result.last_id is not None
    return result.last_id


async def get(db: Database, user_id: int) -> Row | None:
    return await db.fetch_one(_SELECT + " WHERE id = %s AND delete_flag = 0", (user_id,))


async def by_account(db: Database, account: str) -> Row | None:
    """The user whose email or phone is ``account``."""
    return await db.fetch_one(
        _SELECT + " WHERE (email = %s OR phone = %s) AND delete_flag = 0",
        (account.lower(), account),
    )


async def list_all(db: Database) -> list[Row]:
    return await db.fetch_all(_SELECT + " WHERE delete_flag = 0 ORDER BY id")


async def set_active(db: Database, user_id: int, active: bool) -> bool:
    result = await db.execute(
        "UPDATE user SET is_active = %s WHERE id = %s AND delete_flag = 0", (int(active), user_id)
    )
    return result.rowcount == 1
