"""SQL for the user table."""

from __future__ import annotations

from collections.abc import Sequence

from models.db import Database, Row, Session, contains, placeholders

# Who is asking: what requests carry around (and the token cache keeps) has no password hash.
COLUMNS = ("id", "name", "phone", "email", "is_admin", "is_active", "create_time")
_SELECT = "SELECT " + ", ".join(COLUMNS) + " FROM user"


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
    return (await get_many(db, [user_id]))[0]


async def get_many(db: Database, user_ids: Sequence[int]) -> list[Row | None]:
    """Each user (None when deleted or unknown), in one query for them all."""
    wanted = sorted(set(user_ids))
    rows = await db.fetch_all(_SELECT + " WHERE id IN (" + placeholders(len(wanted)) + ") AND delete_flag = 0", wanted)
    found = {row["id"]: row for row in rows}
    return [found.get(user_id) for user_id in user_ids]


async def by_account(db: Database, account: str) -> Row | None:
    """The user whose email or phone is ``account``, with the password hash to check at login."""
    return await db.fetch_one(
        "SELECT " + ", ".join(COLUMNS) + ", password FROM user WHERE (email = %s OR phone = %s) AND delete_flag = 0",
        (account.lower(), account),
    )


# Users whose name, email or phone contains the searched text.
_MATCHING = (
    " WHERE delete_flag = 0 AND (name LIKE %s ESCAPE '!' OR email LIKE %s ESCAPE '!' OR phone LIKE %s ESCAPE '!')"
)


async def count_matching(db: Database, text: str) -> int:
    row = await db.fetch_one("SELECT COUNT(*) AS n FROM user" + _MATCHING, (contains(text),) * 3)
    return int(row["n"]) if row else 0


async def list_matching(db: Database, text: str, limit: int, offset: int) -> list[Row]:
    """Oldest first, as administrators page through them; ``text`` "" matches everyone."""
    return await db.fetch_all(
        _SELECT + _MATCHING + " ORDER BY id LIMIT %s OFFSET %s", (*(contains(text),) * 3, limit, offset)
    )


async def set_active(db: Database, user_id: int, active: bool) -> bool:
    result = await db.execute(
        "UPDATE user SET is_active = %s WHERE id = %s AND delete_flag = 0", (int(active), user_id)
    )
    return result.rowcount == 1
