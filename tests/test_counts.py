"""`python main.py check-counts [--fix]`: each choice's votes recomputed from the ballots."""

from __future__ import annotations

import asyncio
from typing import Any

from config import Settings
from models import ballot, counts, question
from models.clock import utcnow
from models.db import Database
from tests.factories import make_question, make_user
from tests.test_cli import run


def database_url(settings: Settings) -> str:
    target = settings.database
    if target.dialect == "sqlite":
        return f"sqlite:///{target.path}"
    return f"mysql://{target.user}@{target.host}:{target.port}/{target.name}"


async def voted_poll(db: Database, votes: list[list[int]]) -> tuple[int, list[int]]:
    """A poll with three choices and one real ballot per entry of ``votes`` (choice positions)."""
    qid = await make_question(db, choices=("red", "green", "blue"))
    poll: Any = await question.get_with_choices(db, qid)
    poll["max_choices"] = 3
    ids = [item["id"] for item in poll["choices"]]
    box = ballot.BallotBox(db, counted=lambda polls: asyncio.sleep(0))
    for marks in votes:
        voter = ballot.Voter(user_id=await make_user(db))
        await box.cast(poll, ballot.Choices(tuple(ids[n] for n in marks)), voter, utcnow())
    return qid, ids


async def stored(db: Database, ids: list[int]) -> list[int]:
    rows = await db.fetch_all("SELECT id, votes FROM choice WHERE id IN (%s, %s, %s) ORDER BY id", ids)
    return [row["votes"] for row in rows]


async def test_check_counts_reports_mismatches_and_fix_repairs_them(db: Database, settings: Settings) -> None:
    qid, ids = await voted_poll(db, [[0], [0, 1], [2]])
    assert await stored(db, ids) == [2, 1, 1]
    env = {"VOTE_DATABASE_URL": database_url(settings), "VOTE_SECRET_KEY": "x"}
    result = run("check-counts", env=env)
    assert (result.returncode, result.stdout) == (0, "every choice's votes match its ballots\n")

    # Counts written without their ballots (a hand-made edit, a partial restore).
    await db.execute("UPDATE choice SET votes = votes + 3 WHERE id = %s", (ids[0],))
    await db.execute("UPDATE choice SET votes = 0 WHERE id = %s", (ids[2],))
    result = run("check-counts", env=env)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"poll {qid}, choice {ids[0]}: votes 5, ballots 2",
        f"poll {qid}, choice {ids[2]}: votes 0, ballots 1",
    ]
    assert "2 mismatched" in result.stderr
    assert await stored(db, ids) == [5, 1, 0]  # reported, not touched

    result = run("check-counts", "--fix", env=env)
    assert result.returncode == 0 and result.stdout.endswith("repaired 2\n")
    assert await stored(db, ids) == [2, 1, 1]
    assert run("check-counts", env=env).returncode == 0


async def test_a_repair_counts_the_votes_committed_after_the_check(db: Database) -> None:
    qid, ids = await voted_poll(db, [[0]])
    await db.execute("UPDATE choice SET votes = 7 WHERE id = %s", (ids[0],))
    found = await counts.mismatches(db)
    assert found == [counts.Mismatch(qid, ids[0], stored=7, counted=1)]

    poll: Any = await question.get_with_choices(db, qid)
    box = ballot.BallotBox(db, counted=lambda polls: asyncio.sleep(0))
    await box.cast(poll, ballot.Choices((ids[0],)), ballot.Voter(user_id=await make_user(db)), utcnow())  # 8 stored now

    assert await counts.repair(db, found) == [counts.Mismatch(qid, ids[0], stored=8, counted=2)]
    assert await stored(db, ids) == [2, 0, 0]
    assert await counts.mismatches(db) == []


def test_check_counts_on_a_database_not_yet_migrated_says_so(tmp_path: Any) -> None:
    result = run("check-counts", env={"VOTE_DATABASE_URL": f"sqlite:///{tmp_path}/new.sqlite3", "VOTE_SECRET_KEY": "x"})
    assert result.returncode == 1 and "pending migrations" in result.stderr
