-- Who may vote (#17), second part: the ballot's voter kinds. Kept in lockstep with
-- sql/mysql/0008_ballot_voter_kinds.sql (which explains them). After 0007, which rebuilt ballot.
-- SQLite cannot change a CHECK constraint in place: ballot is rebuilt again (SQLite's documented
-- procedure: foreign keys off, copy, swap, check, foreign keys on).
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE ballot_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    question_id INTEGER NOT NULL REFERENCES question (id),
    user_id INTEGER NULL REFERENCES user (id),
    wechat_openid VARCHAR(64) NULL,
    create_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    voter_deleted INTEGER NOT NULL DEFAULT 0,
    link_key CHAR(32) NULL,
    invite_id INTEGER NULL REFERENCES invite (id),
    CONSTRAINT uq_ballot_user UNIQUE (question_id, user_id),
    CONSTRAINT uq_ballot_wechat UNIQUE (question_id, wechat_openid),
    CONSTRAINT uq_ballot_link UNIQUE (question_id, link_key),
    CONSTRAINT uq_ballot_invite UNIQUE (question_id, invite_id),
    CONSTRAINT ck_ballot_voter CHECK (
        (voter_deleted = 0
         AND (user_id IS NOT NULL) + (wechat_openid IS NOT NULL) + (link_key IS NOT NULL) + (invite_id IS NOT NULL) = 1)
        OR (voter_deleted = 1 AND user_id IS NULL AND wechat_openid IS NULL AND link_key IS NULL AND invite_id IS NULL)
    )
);
INSERT INTO ballot_new (id, question_id, user_id, wechat_openid, create_time, voter_deleted)
    SELECT id, question_id, user_id, wechat_openid, create_time, voter_deleted FROM ballot;
DROP TABLE ballot;
ALTER TABLE ballot_new RENAME TO ballot;
CREATE INDEX ix_ballot_user ON ballot (user_id);
PRAGMA foreign_key_check;
COMMIT;
PRAGMA foreign_keys = ON;
