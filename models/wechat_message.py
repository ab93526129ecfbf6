"""SQL for wechat_message: WeChat retries are answered once, and a signed query serves one body.

Two kinds of rows share the table (and its pruning). A delivery key (``msg:``, ``evt:``)
is recorded before the message is acted on, so a retry that arrives while the first
attempt is still running (or after it failed) never acts again; ``reply`` then holds
the first attempt's reply. A signed-query key (``qry:``) is recorded with the digest
of the body it first came with, in ``reply``, in the same statement: of two bodies
racing on one query, only one can insert it.
"""

from __future__ import annotations

from datetime import datetime

from models.db import Database, IntegrityError


async def claim(db: Database, dedup_key: str, now: datetime) -> bool:
    """True for the first delivery of this key, False for a retry."""
    try:
        await db.execute("INSERT INTO wechat_message (dedup_key, create_time) VALUES (%s, %s)", (dedup_key, now))
    except IntegrityError:
        return False
    return True


async def bind_once(db: Database, query_key: str, body_digest: str, now: datetime) -> bool:
    """True when the query is new (now bound to this body) or was bound to this same body before."""
    try:
        await db.execute(
            "INSERT INTO wechat_message (dedup_key, reply, create_time) VALUES (%s, %s, %s)",
            (query_key, body_digest, now),
        )
    except IntegrityError:
        return await stored_reply(db, query_key) == body_digest
    return True


async def save_reply(db: Database, dedup_key: str, reply: str) -> None:
    await db.execute("UPDATE wechat_message SET reply = %s WHERE dedup_key = %s", (reply, dedup_key))


async def stored_reply(db: Database, dedup_key: str) -> str | None:
    """The first attempt's reply (a query's body digest); None while it is still running or if it failed."""
    row = await db.fetch_one("SELECT reply FROM wechat_message WHERE dedup_key = %s", (dedup_key,))
    return row["reply"] if row else None


async def prune(db: Database, before: datetime) -> int:
    """Forget keys recorded before ``before``; the platform stops retrying after seconds."""
    result = await db.execute("DELETE FROM wechat_message WHERE create_time < %s", (before,))
    return result.rowcount
