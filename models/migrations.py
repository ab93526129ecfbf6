"""Ordered schema migrations from sql/<dialect>/NNNN_name.sql, applied once each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from models.db import Database

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

_BOOKKEEPING = """
CREATE TABLE schema_migrations (
    version VARCHAR(100) NOT NULL PRIMARY KEY,
    applied_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
)
"""


@dataclass(frozen=True)
class Migration:
    version: str
    path: Path


def available(dialect: str) -> list[Migration]:
    return [Migration(path.stem, path) for path in sorted((SQL_DIR / dialect).glob("[0-9]*.sql"))]


async def pending(db: Database) -> list[Migration]:
    if not await db.table_exists("schema_migrations"):
        await db.execute(_BOOKKEEPING)
    done = {row["version"] for row in await db.fetch_all("SELECT version FROM schema_migrations")}
    return [migration for migration in available(db.dialect) if migration.version not in done]


async def migrate(db: Database) -> list[str]:
    """Apply what is pending, in order; returns the versions applied (none when up to date)."""
    applied = []
    for migration in await pending(db):
        await db.run_script(migration.path.read_text(encoding="utf-8"))
        await db.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (migration.version,))
        applied.append(migration.version)
    return applied
