"""SQL for the choice table."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from models.db import Database, Row, Session, placeholders


async def create(db: Database | Session, *, question_id: int, choice_text: str, votes: int = 0) -> int:
    result = await db.execute(
        "INSERT INTO choice (question_id, choice_text, votes) VALUES (%s, %s, %s)",
        (question_id, choice_text, votes),
    )
    assert result.last_id is not None
    return result.last_id


async def for_question(db: Database, question_id: int) -> list[Row]:
    """The question's choices in the order they were written."""
    return (await for_questions(db, [question_id]))[question_id]


async def for_questions(db: Database, question_ids: Collection[int]) -> dict[int, list[Row]]:
    """The choices of each question, in one query."""
    wanted = sorted(set(question_ids))
    rows = await db.fetch_all(
        "SELECT id, choice_text, votes, question_id, create_time FROM choice"
        " WHERE question_id IN (" + placeholders(len(wanted)) + ") AND delete_flag = 0 ORDER BY question_id, id",
        wanted,
    )
    return by_question(wanted, rows)


def by_question(question_ids: Iterable[int], rows: Iterable[Row]) -> dict[int, list[Row]]:
    """Choice rows ordered by question and id, grouped by question (an empty list for none)."""
    grouped: dict[int, list[Row]] = {question_id: [] for question_id in question_ids}
    for row in rows:
        grouped[row["question_id"]].append(row)
    return grouped


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
