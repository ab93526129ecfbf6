-- Presenter mode (#19), as sql/mysql/0006_presenter.sql: join_code, revealed_at, 'on_reveal'.
--
-- SQLite cannot alter a CHECK constraint. Widening one changes no stored row, so instead of
-- rebuilding the table (which would have to name every column other migrations add) the
-- constraint's text is edited in place, SQLite's documented procedure for such changes
-- (https://www.sqlite.org/lang_altertable.html, "otheralter"); RESET makes this connection read
-- the schema again, and the ALTERs after it bump the schema version for every other one.
PRAGMA writable_schema = ON;
UPDATE sqlite_master
   SET sql = replace(sql, '''after_close'')', '''after_close'', ''on_reveal'')')
 WHERE type = 'table' AND name = 'question';
PRAGMA writable_schema = RESET;

ALTER TABLE question ADD COLUMN join_code CHAR(6) NULL;
ALTER TABLE question ADD COLUMN revealed_at DATETIME NULL;
CREATE UNIQUE INDEX uq_question_join_code ON question (join_code);
