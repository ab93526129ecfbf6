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


async def replace_all(db: Session, question_id: int, texts: list[str]) -> None:
    """New choices for a question nobody voted on; a ballot's foreign key refuses otherwise."""
    await db.execute("DELETE FROM choice WHERE question_id = %s", (question_id,))
    for text in texts:
        await create(db, question_id=question_id, choice_text=text)


def tally(question_id: int, choices: list[Row]) -> dict[str, object]:
    """The results document shared by the page, the API, CSV, live updates and WeChat."""
    total = sum(int(item["votes"]) for item in choices)
    return {
        "question_id": question_id,
        "total": total,
        "choices": [
            {
                "id": item["id"],
                "choice_text": item["choice_text"],
                "votes": int(item["votes"]),
                "percent": round(100 * int(item["votes"]) / total, 1) if total else 0.0,
            }
            for item in choices
        ],
    }
