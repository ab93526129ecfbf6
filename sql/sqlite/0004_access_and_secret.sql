-- Who may vote, secret ballots, invite codes. Kept in lockstep with
-- sql/mysql/0004_access_and_secret.sql (which explains the tables).
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

-- SQLite cannot change a CHECK constraint in place: ballot is rebuilt (SQLite's documented
-- procedure: foreign keys off, copy, swap, check, foreign keys on).
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE ballot_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    question_id INTEGER NOT NULL REFERENCES question (id),
    user_id INTEGER NULL REFERENCES user (id),
    wechat_openid VARCHAR(64) NULL,
    create_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    link_key CHAR(32) NULL,
    invite_id INTEGER NULL REFERENCES invite (id),
    CONSTRAINT uq_ballot_user UNIQUE (question_id, user_id),
    CONSTRAINT uq_ballot_wechat UNIQUE (question_id, wechat_openid),
    CONSTRAINT uq_ballot_link UNIQUE (question_id, link_key),
    CONSTRAINT uq_ballot_invite UNIQUE (question_id, invite_id),
    CHECK ((user_id IS NOT NULL) + (wechat_openid IS NOT NULL) + (link_key IS NOT NULL) + (invite_id IS NOT NULL) = 1)
);
INSERT INTO ballot_new (id, question_id, user_id, wechat_openid, create_time)
    SELECT id, question_id, user_id, wechat_openid, create_time FROM ballot;
DROP TABLE ballot;
ALTER TABLE ballot_new RENAME TO ballot;
CREATE INDEX ix_ballot_user ON ballot (user_id);
PRAGMA foreign_key_check;
COMMIT;
PRAGMA foreign_keys = ON;

CREATE TABLE secret_ballot (
    id INTEGER PRIMARY KEY,  -- random, never sequential (no AUTOINCREMENT)
    question_id INTEGER NOT NULL REFERENCES question (id),
    cast_on DATE NOT NULL,  -- the day only, never the time
    receipt_hash CHAR(64) NOT NULL,
    content TEXT NOT NULL,
    CONSTRAINT uq_secret_ballot_receipt UNIQUE (receipt_hash)
);
CREATE INDEX ix_secret_ballot_question ON secret_ballot (question_id);
