"""SQL for the question table. "Published" means pub_date has passed and it is not deleted."""

from __future__ import annotations

from datetime import datetime

from models.db import Database, Row, Session, contains

# A choice poll's votes are its choices' (a ballot with two choices ticked counts two); a ranked
# or score ballot marks several choices, so those polls count their ballots.
_SUMMARY = """
SELECT q.id, q.question_text, q.pub_date, q.closes_at, q.max_choices, q.results_visibility, q.method,
       q.access, q.secret, q.user_id, q.create_time, q.join_code, q.revealed_at,
       CASE WHEN q.method = 'choice'
            THEN (SELECT COALESCE(SUM(c.votes), 0) FROM choice c WHERE c.question_id = q.id AND c.delete_flag = 0)
            ELSE (SELECT COUNT(*) FROM ballot b WHERE b.question_id = q.id)
       END AS total_votes
  FROM question q
"""


async def create(
    db: Database | Session,
    *,
    user_id: int,
    question_text: str,
    pub_date: datetime,
    closes_at: datetime | None = None,
    max_choices: int = 1,
    results_visibility: str = "always",
    method: str = "choice",
    access: str = "account",
    secret: bool = False,
    join_code: str | None = None,
) -> int:
    result = await db.execute(
        "INSERT INTO question (user_id, question_text, pub_date, closes_at, max_choices, results_visibility,"
        " method, access, secret, join_code) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            user_id,
            question_text,
            pub_date,
            closes_at,
            max_choices,
            results_visibility,
            method,
            access,
            int(secret),
            join_code,
        ),
    )
    assert result.last_id is not None
    return result.last_id


_QUESTION_FIELDS = (
    "id",
    "question_text",
    "pub_date",
    "closes_at",
    "max_choices",
    "results_visibility",
    "method",
    "access",
    "secret",
    "user_id",
    "create_time",
    "join_code",
    "revealed_at",
)


async def get_with_choices(db: Database, question_id: int) -> Row | None:
    """A question that is not deleted, with its choices, in one round trip (the hot read path)."""
    rows = await db.fetch_all(
        "SELECT q.id, q.question_text, q.pub_date, q.closes_at, q.max_choices, q.results_visibility, q.method,"
        " q.access, q.secret, q.user_id, q.create_time, q.join_code, q.revealed_at,"
        " c.id AS choice_id, c.choice_text, c.votes, c.create_time AS choice_create_time,"
        " CASE WHEN q.method = 'choice' THEN NULL"
        " ELSE (SELECT COUNT(*) FROM ballot b WHERE b.question_id = q.id) END AS ballots"
        " FROM question q LEFT JOIN choice c ON c.question_id = q.id AND c.delete_flag = 0"
        " WHERE q.id = %s AND q.delete_flag = 0 ORDER BY c.id",
        (question_id,),
    )
    if not rows:
        return None
    found = {key: rows[0][key] for key in _QUESTION_FIELDS}
    found["secret"] = bool(found["secret"])
    found["choices"] = [
        {
            "id": row["choice_id"],
            "choice_text": row["choice_text"],
            "votes": int(row["votes"]),
            "question_id": question_id,
            "create_time": row["choice_create_time"],
        }
        for row in rows
        if row["choice_id"] is not None
    ]
    ballots = rows[0]["ballots"]
    found["total_votes"] = sum(item["votes"] for item in found["choices"]) if ballots is None else int(ballots)
    return found


async def list_published(db: Database, now: datetime, limit: int, offset: int) -> list[Row]:
    """Newest first, as the index shows them."""
    return await db.fetch_all(
        _SUMMARY + " WHERE q.delete_flag = 0 AND q.pub_date <= %s ORDER BY q.pub_date DESC, q.id DESC"
        " LIMIT %s OFFSET %s",
        (now, limit, offset),
    )


async def list_open(db: Database, now: datetime, limit: int) -> list[Row]:
    """Published polls still taking votes, newest first."""
    return await db.fetch_all(
        _SUMMARY + " WHERE q.delete_flag = 0 AND q.pub_date <= %s AND (q.closes_at IS NULL OR q.closes_at > %s)"
        " ORDER BY q.pub_date DESC, q.id DESC LIMIT %s",
        (now, now, limit),
    )


async def count_published(db: Database, now: datetime) -> int:
    row = await db.fetch_one("SELECT COUNT(*) AS n FROM question WHERE delete_flag = 0 AND pub_date <= %s", (now,))
    return int(row["n"]) if row else 0


def is_published(question: Row, now: datetime) -> bool:
    return question["pub_date"] <= now


def is_open(question: Row, now: datetime) -> bool:
    return is_published(question, now) and (question["closes_at"] is None or question["closes_at"] > now)


async def owned_by(db: Database, user_id: int) -> list[Row]:
    """Everything the user created, scheduled polls included."""
    return await db.fetch_all(_SUMMARY + " WHERE q.user_id = %s AND q.delete_flag = 0 ORDER BY q.id DESC", (user_id,))


async def voted_by(db: Database, user_id: int) -> list[Row]:
    """The polls the user voted in, most recent ballot first."""
    return await db.fetch_all(
        _SUMMARY + " JOIN ballot b ON b.question_id = q.id"
        " WHERE b.user_id = %s AND q.delete_flag = 0 ORDER BY b.create_time DESC, b.id DESC",
        (user_id,),
    )


def results_visible(question: Row, now: datetime, voted: bool, privileged: bool) -> bool:
    """Owners and admins always see results; others per the question's results_visibility."""
    if privileged or question["results_visibility"] == "always":
        return True
    if question["results_visibility"] == "on_reveal":
        return question["revealed_at"] is not None
    closed = not is_open(question, now) and is_published(question, now)
    if question["results_visibility"] == "after_vote":
        return voted or closed
    return closed


async def update(
    db: Session,
    question_id: int,
    *,
    question_text: str,
    pub_date: datetime,
    closes_at: datetime | None,
    max_choices: int,
    results_visibility: str,
    method: str,
) -> None:
    # Another results_visibility forgets any reveal: a reveal belongs to the on_reveal poll it
    # showed, never to one an edit makes on_reveal later. revealed_at is set first, so that it
    # compares the old results_visibility in MySQL too (SET assigns left to right there).
    await db.execute(
        "UPDATE question SET revealed_at = CASE WHEN results_visibility = %s THEN revealed_at END,"
        " question_text = %s, pub_date = %s, closes_at = %s, max_choices = %s,"
        " results_visibility = %s, method = %s WHERE id = %s",
        (results_visibility, question_text, pub_date, closes_at, max_choices, results_visibility, method, question_id),
    )


async def close(db: Database, question_id: int, now: datetime) -> None:
    """Close now, unless it already closed earlier."""
    await db.execute(
        "UPDATE question SET closes_at = %s WHERE id = %s AND (closes_at IS NULL OR closes_at > %s)",
        (now, question_id, now),
    )


async def set_deleted(db: Database, question_id: int, deleted: bool) -> bool:
    """False when there is no such poll, or (to restore) its owner deleted their account: their
    polls went with it and stay gone (checked in the same statement as the change)."""
    sql = "UPDATE question SET delete_flag = %s WHERE id = %s"
    if not deleted:
        sql += " AND user_id IN (SELECT id FROM user WHERE delete_flag = 0)"
    result = await db.execute(sql, (int(deleted), question_id))
    return result.rowcount == 1


async def owner_deleted(db: Database, question_id: int) -> bool:
    """Whether the poll's owner deleted their account."""
    row = await db.fetch_one(
        "SELECT u.delete_flag FROM question q JOIN user u ON u.id = q.user_id WHERE q.id = %s", (question_id,)
    )
    return row is not None and bool(row["delete_flag"])


async def count_matching(db: Database, text: str) -> int:
    """Questions whose text contains ``text``, deleted ones too, for moderation."""
    row = await db.fetch_one(
        "SELECT COUNT(*) AS n FROM question WHERE question_text LIKE %s ESCAPE '!'", (contains(text),)
    )
    return int(row["n"]) if row else 0


async def list_matching(db: Database, text: str, limit: int, offset: int) -> list[Row]:
    """Newest first, deleted ones too; ``text`` "" matches every question."""
    return await db.fetch_all(
        "SELECT q.id, q.question_text, q.pub_date, q.delete_flag, u.name AS owner_name,"
        " u.delete_flag AS owner_deleted"
        " FROM question q JOIN user u ON u.id = q.user_id WHERE q.question_text LIKE %s ESCAPE '!'"
        " ORDER BY q.id DESC LIMIT %s OFFSET %s",
        (contains(text), limit, offset),
    )


async def delete_all_of(db: Session, user_id: int) -> list[int]:
    """Delete (softly) every poll of this owner; the ids of those deleted."""
    rows = await db.fetch_all("SELECT id FROM question WHERE user_id = %s AND delete_flag = 0", (user_id,))
    await db.execute("UPDATE question SET delete_flag = 1 WHERE user_id = %s", (user_id,))
    return [row["id"] for row in rows]


def awaiting_reveal(question: Row) -> bool:
    """Its results wait for the presenter to reveal them (to all but its owner and admins)."""
    return question["results_visibility"] == "on_reveal" and question["revealed_at"] is None


async def reveal(db: Database, question_id: int, now: datetime) -> None:
    """Show an ``on_reveal`` question's results to everyone from now on (once: a second reveal
    changes nothing; nor does one of a question that is not, or no longer, ``on_reveal``)."""
    await db.execute(
        "UPDATE question SET revealed_at = %s"
        " WHERE id = %s AND revealed_at IS NULL AND results_visibility = 'on_reveal'",
        (now, question_id),
    )


def holds_code(question: Row, now: datetime) -> bool:
    """Whether the question keeps its join code: until it closes or is deleted."""
    return not question["delete_flag"] and (question["closes_at"] is None or question["closes_at"] > now)


async def by_join_code(db: Database | Session, code: str) -> Row | None:
    """The question holding ``code`` (deleted or closed ones too: they keep it until it is taken)."""
    return await db.fetch_one(
        "SELECT id, pub_date, closes_at, delete_flag, join_code FROM question WHERE join_code = %s", (code,)
    )


async def set_join_code(db: Database | Session, question_id: int, code: str) -> None:
    await db.execute("UPDATE question SET join_code = %s WHERE id = %s AND join_code IS NULL", (code, question_id))


async def release_join_code(db: Session, code: str) -> None:
    """Take ``code`` from the (closed or deleted) question holding it, for another to use."""
    await db.execute("UPDATE question SET join_code = NULL WHERE join_code = %s", (code,))
