"""SQL for the user table."""

from __future__ import annotations

from collections.abc import Sequence

from models.db import Database, Row, Session, contains, placeholders

# Who is asking: what requests carry around (and the token cache keeps) has no password hash.
# language: the one the user last chose (their mails use it); session_generation: a session signed
# in with an older one has ended (web/auth.py).
COLUMNS = ("id", "name", "phone", "email", "is_admin", "is_active", "create_time", "language", "session_generation")
_SELECT = "SELECT " + ", ".join(COLUMNS) + " FROM user"


async def create(
    db: Database | Session,
    *,
    name: str,
    phone: str | None,
    email: str,
    password_hash: str,
    is_admin: bool = False,
    language: str = "en",
) -> int:
    """``phone`` in E.164 form, or None."""
    result = await db.execute(
        "INSERT INTO user (name, phone, email, password, is_admin, language) VALUES (%s, %s, %s, %s, %s, %s)",
        (name, phone, email.lower(), password_hash, int(is_admin), language),
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
    """The user whose email or phone (E.164) is ``account``, with the password hash to check at login."""
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


async def password_of(db: Database, user_id: int) -> str | None:
    row = await db.fetch_one("SELECT password FROM user WHERE id = %s AND delete_flag = 0", (user_id,))
    return row["password"] if row else None


async def set_language(db: Database, user_id: int, language: str) -> None:
    await db.execute("UPDATE user SET language = %s WHERE id = %s AND language <> %s", (language, user_id, language))


async def update_profile(db: Database | Session, user_id: int, *, name: str, email: str, phone: str | None) -> None:
    """Raises IntegrityError when the email or phone is another account's."""
    await db.execute(
        "UPDATE user SET name = %s, email = %s, phone = %s WHERE id = %s AND delete_flag = 0",
        (name, email.lower(), phone, user_id),
    )


async def set_password(db: Database | Session, user_id: int, password_hash: str) -> None:
    await db.execute("UPDATE user SET password = %s WHERE id = %s", (password_hash, user_id))


async def next_session_generation(db: Database | Session, user_id: int) -> None:
    """End every session signed in before: they carry the generation before this one."""
    await db.execute("UPDATE user SET session_generation = session_generation + 1 WHERE id = %s", (user_id,))


async def erase(db: Session, user_id: int) -> None:
    """What stays of a deleted account: its id (nothing points to it any more) and nothing personal.
    The email becomes a placeholder no address can equal, so it can be registered again."""
    await db.execute(
        "UPDATE user SET delete_flag = 1, is_active = 0, name = '', phone = NULL, email = %s, password = '!',"
        " session_generation = session_generation + 1 WHERE id = %s",
        (f"deleted-{user_id}", user_id),
    )
