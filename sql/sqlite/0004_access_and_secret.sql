-- Who may vote, secret ballots, invite codes. Kept in lockstep with
-- sql/mysql/0004_access_and_secret.sql (which explains the tables); the ballot's new voter kinds
-- are 0008.
ALTER TABLE question ADD COLUMN access VARCHAR(8) NOT NULL DEFAULT 'account'
    CHECK (access IN ('account', 'link', 'invite'));
ALTER TABLE question ADD COLUMN secret INTEGER NOT NULL DEFAULT 0;

CREATE TABLE invite (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    question_id INTEGER NOT NULL REFERENCES question (id),
    code CHAR(12) NOT NULL,
    label VARCHAR(200) NULL,
    used INTEGER NOT NULL DEFAULT 0,
    revoked INTEGER NOT NULL DEFAULT 0,
    create_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT uq_invite_code UNIQUE (code),
    CHECK (NOT (used = 1 AND revoked = 1))
);
CREATE INDEX ix_invite_question ON invite (question_id);

CREATE TABLE secret_ballot (
    id INTEGER PRIMARY KEY,  -- random, never sequential (no AUTOINCREMENT)
    question_id INTEGER NOT NULL REFERENCES question (id),
    cast_on DATE NOT NULL,  -- the day only, never the time
    receipt_hash CHAR(64) NOT NULL,
    content TEXT NOT NULL,
    CONSTRAINT uq_secret_ballot_receipt UNIQUE (receipt_hash)
);
CREATE INDEX ix_secret_ballot_question ON secret_ballot (question_id);
