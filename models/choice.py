"""SQL for the choice table."""

from __future__ import annotations

from models.db import Database, Row, Session


async def create(db: Database | Session, *, question_id: int, choice_text: str, votes: int = 0) -> int:
    result = await db.execute(
        "INSERT INTO choice (question_id, choice_text, votes) VALUES (%s, %s, %s)",
        (question_id, choice_text, votes),
    )
    assert result.last_id is not None
    return result.last_id


async def for_question(db: Database, question_id: int) -> list[Row]:
    """The question's choices in the order they were written."""
    return await db.fetch_all(
        "SELECT id, choice_text, votes, question_id, create_time FROM choice"
        " WHERE question_id = %s AND delete_flag = 0 ORDER BY id",
        (question_id,),
    )
