"""Each choice's stored count (``choice.votes``) against the ballots, its source of truth.

A vote raises the counts in the transaction that writes its ballot, so the two always agree,
unless something wrote one without the other (a hand-made repair, a restore from mismatched
backups, a bug). ``mismatches`` finds where they disagree and ``repair`` recomputes those counts.

``choice.votes`` is the number of accepted ballots that mark the choice, whatever the poll's
method (docs/deploy.md). ``MARKS`` lists, for each way a ballot is stored, a query with one row
(``choice_id``) per ballot that marks a choice; a new kind of ballot adds its query there. A
secret poll's ballots are ``secret_ballot`` rows whose JSON content names the choices, read with
each dialect's JSON functions.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.db import Database, Row, placeholders, retry_conflicts

MARKS: dict[str, tuple[str, ...]] = {
    "mysql": (
        "SELECT choice_id FROM ballot_choice",
        "SELECT j.choice_id FROM secret_ballot s, JSON_TABLE(s.content, '$.choice_ids[*]'"
        " COLUMNS (choice_id INT PATH '$')) AS j",
        # A ranked ballot marks the choices it ranks; a score ballot those it gives 1 star or more,
        # the only ones its content names (models/ballot.py, published).
        "SELECT j.choice_id FROM secret_ballot s, JSON_TABLE(s.content, '$.ranking[*]'"
        " COLUMNS (choice_id INT PATH '$')) AS j",
        "SELECT j.choice_id FROM secret_ballot s, JSON_TABLE(JSON_KEYS(s.content, '$.scores'), '$[*]'"
        " COLUMNS (choice_id INT PATH '$')) AS j",
    ),
    "sqlite": (
        "SELECT choice_id FROM ballot_choice",
        "SELECT j.value AS choice_id FROM secret_ballot s, json_each(s.content, '$.choice_ids') AS j",
        "SELECT j.value AS choice_id FROM secret_ballot s, json_each(s.content, '$.ranking') AS j",
        "SELECT CAST(j.key AS INTEGER) AS choice_id FROM secret_ballot s, json_each(s.content, '$.scores') AS j",
    ),
}


@dataclass(frozen=True)
class Mismatch:
    question_id: int
    choice_id: int
    stored: int
    counted: int


def _counted(dialect: str, where: str = "", having: str = "") -> str:
    """Each choice with its stored count and its ballots' count."""
    return (
        "SELECT c.id, c.question_id, c.votes, COUNT(m.choice_id) AS counted FROM choice c"
        " LEFT JOIN ("
        + " UNION ALL ".join(MARKS[dialect])
        + ") m ON m.choice_id = c.id"
        + where
        + " GROUP BY c.id, c.question_id, c.votes"
        + having
        + " ORDER BY c.question_id, c.id"
    )


async def mismatches(db: Database) -> list[Mismatch]:
    """Every choice (of any poll, removed ones too) whose stored count is not its ballots' count."""
    rows = await db.fetch_all(_counted(db.dialect, having=" HAVING c.votes <> COUNT(m.choice_id)"))
    return [_mismatch(row) for row in rows]


def _mismatch(row: Row) -> Mismatch:
    return Mismatch(int(row["question_id"]), int(row["id"]), int(row["votes"]), int(row["counted"]))


async def repair(db: Database, found: list[Mismatch]) -> list[Mismatch]:
    """Set those choices' counts to their ballots' count, as it is when the choices are locked
    (not as ``found`` says: a vote committed since is neither lost nor counted twice); returns
    what was changed."""
    ids = sorted({item.choice_id for item in found})
    if not ids:
        return []
    in_ids = " WHERE c.id IN (" + placeholders(len(ids)) + ")"

    async def recount() -> list[Mismatch]:
        async with db.transaction() as tx:
            if db.dialect == "mysql":  # SQLite's BEGIN IMMEDIATE already keeps every writer out
                # Locked in id order, as cast_ballots does; no vote for them commits until we do,
                # and the count that follows (the transaction's first plain read) sees every one
                # committed before.
                await tx.fetch_all("SELECT id FROM choice c" + in_ids + " ORDER BY id FOR UPDATE", ids)
            changed = [_mismatch(row) for row in await tx.fetch_all(_counted(db.dialect, where=in_ids), ids)]
            changed = [item for item in changed if item.stored != item.counted]
            for item in changed:
                await tx.execute("UPDATE choice SET votes = %s WHERE id = %s", (item.counted, item.choice_id))
        return changed

    return await retry_conflicts(recount)
