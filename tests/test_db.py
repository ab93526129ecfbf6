"""The data layer behaves the same on SQLite and MariaDB, and never swallows an error."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from config import Settings
from models import api_token, choice, migrations, question, user
from models.db import (
    Conflict,
    Database,
    DatabaseUnavailable,
    IntegrityError,
    open_database,
    placeholders,
    retry_conflicts,
    statements,
)


async def make_user(db: Database, n: int = 1) -> int:
    return await user.create(
        db, name=f"user{n}", phone=f"1380000000{n}", email=f"User{n}@Example.com", password_hash="x" * 97
    )


async def test_insert_returns_id_and_rows_read_back(db: Database) -> None:
    user_id = await make_user(db)
    row = await user.get(db, user_id)
    assert row is not None
    assert row["email"] == "user1@example.com"  # stored lower-case
    assert isinstance(row["create_time"], datetime)
    assert "password" not in row  # who is asking carries no password hash around
    login_row = await user.by_account(db, "USER1@example.com")
    assert login_row is not None and login_row["password"] == "x" * 97
    assert {key: value for key, value in login_row.items() if key != "password"} == row
    assert await user.by_account(db, "13800000001") == login_row
    assert await user.by_account(db, "nobody@example.com") is None


async def test_execute_reports_rowcount(db: Database) -> None:
    await make_user(db, 1)
    await make_user(db, 2)
    result = await db.execute("UPDATE user SET name = %s WHERE phone LIKE %s", ("renamed", "1380000000%"))
    assert result.rowcount == 2
    rows = await db.fetch_all("SELECT name FROM user ORDER BY id")
    assert [r["name"] for r in rows] == ["renamed", "renamed"]


async def test_unique_email_and_phone_are_enforced(db: Database) -> None:
    await make_user(db, 1)
    with pytest.raises(IntegrityError):
        await user.create(db, name="x", phone="13999999999", email="user1@example.com", password_hash="h")
    with pytest.raises(IntegrityError):
        await user.create(db, name="x", phone="13800000001", email="other@example.com", password_hash="h")
    assert len(await db.fetch_all("SELECT id FROM user")) == 1


async def test_transaction_commits_or_rolls_back_as_a_whole(db: Database) -> None:
    owner = await make_user(db)
    async with db.transaction() as tx:
        qid = await question.create(tx, user_id=owner, question_text="Kept?", pub_date=datetime(2024, 1, 1))
        await choice.create(tx, question_id=qid, choice_text="yes")
    with pytest.raises(IntegrityError):
        async with db.transaction() as tx:
            await question.create(tx, user_id=owner, question_text="Lost?", pub_date=datetime(2024, 1, 1))
            await question.create(tx, user_id=999_999, question_text="bad owner", pub_date=datetime(2024, 1, 1))
    texts = [row["question_text"] for row in await db.fetch_all("SELECT question_text FROM question")]
    assert texts == ["Kept?"]


async def test_errors_propagate(db: Database) -> None:
    with pytest.raises(Exception, match=r"(?i)syntax|no such|doesn.t exist"):
        await db.fetch_all("SELECT * FROM no_such_table")
    with pytest.raises(Exception):  # noqa: B017 - each dialect raises its own driver error
        await db.execute("INSERT INTO choice (choice_text) VALUES (%s)", ("no question",))


async def test_in_lists_unicode_and_times_round_trip(db: Database) -> None:
    owner = await make_user(db)
    when = datetime(2030, 5, 17, 8, 30, 15)
    qid = await question.create(db, user_id=owner, question_text="最喜欢的 emoji? 🗳️", pub_date=when)
    ids = [await choice.create(db, question_id=qid, choice_text=text) for text in ["😀", "ü", "<b>"]]
    rows = await db.fetch_all(
        "SELECT choice_text FROM choice WHERE id IN (" + placeholders(2) + ") ORDER BY id", ids[:2]
    )
    assert [r["choice_text"] for r in rows] == ["😀", "ü"]
    found = await question.get_with_choices(db, qid)
    assert found is not None
    assert found["question_text"] == "最喜欢的 emoji? 🗳️"
    assert found["pub_date"] == when
    assert found["closes_at"] is None
    assert found["total_votes"] == 0


async def test_migrations_are_idempotent(db: Database) -> None:
    assert await migrations.pending(db) == []
    assert await migrations.migrate(db) == []
    tables = {"user", "question", "choice", "ballot", "ballot_choice", "api_token", "wechat_message", "web_session"}
    for table in tables:
        await db.fetch_all("SELECT * FROM " + table + " WHERE 1 = 0")


def test_scripts_split_on_semicolons_or_on_the_delimiter_a_line_sets() -> None:
    script = (
        "CREATE TABLE a (id INT);\n"
        "-- a routine holds ';' in its body\n"
        "DELIMITER //\n"
        "CREATE PROCEDURE p()\nBEGIN\n    SELECT 1;\n    SELECT 2;\nEND //\n"
        "DELIMITER ;\n"
        "INSERT INTO a VALUES (1);\n"
    )
    assert statements(script) == [
        "CREATE TABLE a (id INT)",
        "-- a routine holds ';' in its body\nCREATE PROCEDURE p()\nBEGIN\n    SELECT 1;\n    SELECT 2;\nEND ",
        "INSERT INTO a VALUES (1)",
    ]


async def two_polls(db: Database) -> list[int]:
    owner = await make_user(db)
    return [
        await question.create(db, user_id=owner, question_text=text, pub_date=datetime(2024, 1, 1))
        for text in ("first", "second")
    ]


async def test_a_deadlock_is_a_conflict_and_leaves_the_connections_usable(mysql_settings: Settings) -> None:
    db = await open_database(mysql_settings)
    try:
        first, second = await two_polls(db)
        both_locked_one = asyncio.Barrier(2)

        async def lock(one: int, then: int) -> None:
            async with db.transaction() as tx:
                await tx.execute("UPDATE question SET question_text = 'x' WHERE id = %s", (one,))
                await both_locked_one.wait()
                await tx.execute("UPDATE question SET question_text = 'y' WHERE id = %s", (then,))

        outcomes = await asyncio.gather(lock(first, second), lock(second, first), return_exceptions=True)
        assert sum(isinstance(outcome, Conflict) for outcome in outcomes) == 1
        assert outcomes.count(None) == 1
        rows = await db.fetch_all("SELECT question_text FROM question WHERE id IN (%s, %s)", (first, second))
        assert sorted(row["question_text"] for row in rows) == ["x", "y"]  # the survivor's writes, whole
        assert db.pool.size - db.pool.freesize == 0 and db.pool.size >= 2  # none was closed or leaked
    finally:
        await db.close()


async def test_a_transaction_rolled_back_as_a_conflict_runs_again_and_both_sides_get_through(
    mysql_settings: Settings,
) -> None:
    """What Galera answers when a write set loses certification is the deadlock's error: here a
    real deadlock stands in for it. The loser runs again and its writes land; nothing is lost."""
    db = await open_database(mysql_settings)
    try:
        first, second = await two_polls(db)
        both_locked_one = asyncio.Barrier(2)
        runs: list[int] = []

        async def lock(one: int, then: int) -> None:
            runs.append(one)
            async with db.transaction() as tx:
                await tx.execute("UPDATE question SET max_choices = max_choices + 1 WHERE id = %s", (one,))
                if runs.count(one) == 1:  # only the first runs meet; a retry goes straight through
                    await both_locked_one.wait()
                await tx.execute("UPDATE question SET max_choices = max_choices + 1 WHERE id = %s", (then,))

        await asyncio.gather(retry_conflicts(lambda: lock(first, second)), retry_conflicts(lambda: lock(second, first)))
        assert len(runs) == 3  # one side was rolled back once and ran again
        rows = await db.fetch_all("SELECT max_choices FROM question WHERE id IN (%s, %s)", (first, second))
        assert [row["max_choices"] for row in rows] == [3, 3]  # each transaction counted exactly once
    finally:
        await db.close()


async def test_a_conflict_that_keeps_coming_is_reported_as_unavailable() -> None:
    async def always() -> None:
        raise Conflict("Deadlock found when trying to get lock")

    with pytest.raises(DatabaseUnavailable):
        await retry_conflicts(always)


async def test_tokens_are_looked_up_together_each_to_its_owner(db: Database) -> None:
    alice, bob = await make_user(db, 1), await make_user(db, 2)
    _, alice_token = await api_token.create(db, alice, "laptop")
    bob_id, bob_token = await api_token.create(db, bob, "script")
    owners = await api_token.owners_of(db, [bob_token, "vote_unknown", alice_token, bob_token])
    assert [owner["id"] if owner else None for owner in owners] == [bob, None, alice, bob]
    await api_token.note_use(db, [bob_id], datetime(2026, 1, 2, 3, 4, 5))
    used = await db.fetch_all("SELECT user_id, last_used_at FROM api_token ORDER BY user_id")
    assert [row["last_used_at"] for row in used] == [None, datetime(2026, 1, 2, 3, 4, 5)]
    await db.execute("UPDATE user SET delete_flag = 1 WHERE id = %s", (bob,))
    assert await api_token.owners_of(db, [bob_token]) == [None]  # a deleted account's tokens stop


async def test_users_are_read_together_in_the_order_asked(db: Database) -> None:
    first, second = await make_user(db, 1), await make_user(db, 2)
    found = await user.get_many(db, [second, 999_999, first, second])
    assert [row["id"] if row else None for row in found] == [second, None, first, second]
