"""SQL for api_token: bearer tokens, kept only as SHA-256 hashes of their secret."""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from datetime import datetime

from models import user
from models.db import Database, Row, Session, placeholders
from models.passwords import hash_token

TOKEN_PREFIX = "vote_"


async def create(db: Database, user_id: int, name: str) -> tuple[int, str]:
    """A new token's id and its secret, which is never stored and cannot be shown again."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    result = await db.execute(
        "INSERT INTO api_token (user_id, name, token_hash) VALUES (%s, %s, %s)", (user_id, name, hash_token(token))
    )
    assert result.last_id is not None
    return result.last_id, token


async def for_user(db: Database, user_id: int) -> list[Row]:
    return await db.fetch_all(
        "SELECT id, name, create_time, last_used_at FROM api_token WHERE user_id = %s ORDER BY id", (user_id,)
    )


async def delete(db: Database, token_id: int, user_id: int) -> bool:
    result = await db.execute("DELETE FROM api_token WHERE id = %s AND user_id = %s", (token_id, user_id))
    return result.rowcount == 1


# A token's owner: the same row as any signed-in user (``user.COLUMNS``), with the token's id.
_OWNERS = (
    "SELECT t.id AS token_id, t.token_hash, "
    + ", ".join("u." + column for column in user.COLUMNS)
    + " FROM api_token t JOIN user u ON u.id = t.user_id WHERE u.delete_flag = 0"
)


async def owners_of(db: Database, tokens: Sequence[str]) -> list[Row | None]:
    """The user each token belongs to, in one query for them all (``Batcher`` hands in the
    tokens of concurrent requests)."""
    hashes = [hash_token(token) for token in tokens]
    wanted = sorted(set(hashes))
    rows = await db.fetch_all(_OWNERS + " AND t.token_hash IN (" + placeholders(len(wanted)) + ")", wanted)
    found = {row["token_hash"]: row for row in rows}
    return [found.get(token_hash) for token_hash in hashes]


async def note_use(db: Database, token_ids: Collection[int], when: datetime) -> None:
    """Record when these tokens were last used (written in bulk, every few seconds)."""
    ids = sorted(token_ids)
    await db.execute(
        "UPDATE api_token SET last_used_at = %s WHERE id IN (" + placeholders(len(ids)) + ")", (when, *ids)
    )


async def delete_all_of(db: Database | Session, user_id: int) -> None:
    await db.execute("DELETE FROM api_token WHERE user_id = %s", (user_id,))
