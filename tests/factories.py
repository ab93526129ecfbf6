"""Small helpers that put rows in the database through the models layer."""

from __future__ import annotations

from datetime import datetime, timedelta

from models import choice, question, user
from models.clock import utcnow
from models.db import Database

_counter = iter(range(1, 10**6))


async def make_user(db: Database, **fields: object) -> int:
    n = next(_counter)
    values = {"name": f"user{n}", "phone": f"+86139{n:08d}", "email": f"user{n}@example.com", "password_hash": "x"}
    values.update(fields)
    return await user.create(db, **values)  # type: ignore[arg-type]


async def make_question(
    db: Database,
    text: str = "Favourite colour?",
    choices: tuple[str, ...] = ("red", "green"),
    *,
    owner: int | None = None,
    published: timedelta = timedelta(hours=1),
    closes_in: timedelta | None = None,
    votes: tuple[int, ...] | None = None,
    method: str = "choice",
    access: str = "account",
    secret: bool = False,
    max_choices: int = 1,
) -> int:
    """A question published ``published`` ago (negative: in the future)."""
    owner = owner or await make_user(db)
    now = utcnow()
    closes_at: datetime | None = now + closes_in if closes_in is not None else None
    qid = await question.create(
        db,
        user_id=owner,
        question_text=text,
        pub_date=now - published,
        closes_at=closes_at,
        method=method,
        access=access,
        secret=secret,
        max_choices=max_choices,
    )
    for index, choice_text in enumerate(choices):
        await choice.create(db, question_id=qid, choice_text=choice_text, votes=votes[index] if votes else 0)
    return qid
