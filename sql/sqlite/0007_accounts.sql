-- Accounts people look after themselves (issue #20). Kept in lockstep with sql/mysql/0007_accounts.sql.
-- SQLite cannot change a column or a CHECK in place: user and ballot are rebuilt (foreign keys
-- are off meanwhile, so the tables that reference them keep pointing at the new ones).
PRAGMA foreign_keys = OFF;
BEGIN;

-- The phone is optional and international: E.164, NULL when not given; old rows gain their +86.
-- language: the one the user last chose (their mails are written in it). session_generation:
-- raising it ends every other session of the account.
CREATE TABLE user_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delete_flag INTEGER NOT NULL DEFAULT 0,
    name VARCHAR(40) NOT NULL,
    phone VARCHAR(16) NULL,
    email VARCHAR(254) NOT NULL COLLATE NOCASE,
    password VARCHAR(255) NOT NULL,
    is_admin INTEGER NOT NULL DEFAULT 0,
    is_active INTEGER NOT NULL DEFAULT 1,
    create_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    language VARCHAR(8) NOT NULL DEFAULT 'en',
    session_generation INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT uq_user_email UNIQUE (email),
    CONSTRAINT uq_user_phone UNIQUE (phone)
);
INSERT INTO user_new (id, delete_flag, name, phone, email, password, is_admin, is_active, create_time)
    SELECT id, delete_flag, name, CASE WHEN phone LIKE '+%' THEN phone ELSE '+86' || phone END,
           email, password, is_admin, is_active, create_time
    FROM user;
DROP TABLE user;
ALTER TABLE user_new RENAME TO user;

-- A deleted account's ballots stay counted and point to nobody: user_id NULL, voter_deleted 1.
CREATE TABLE ballot_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    question_id INTEGER NOT NULL REFERENCES question (id),
    user_id INTEGER NULL REFERENCES user (id),
    wechat_openid VARCHAR(64) NULL,
    create_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    voter_deleted INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT uq_ballot_user UNIQUE (question_id, user_id),
    CONSTRAINT uq_ballot_wechat UNIQUE (question_id, wechat_openid),
    CONSTRAINT ck_ballot_voter CHECK (
        (voter_deleted = 0 AND (user_id IS NULL) <> (wechat_openid IS NULL))
        OR (voter_deleted = 1 AND user_id IS NULL AND wechat_openid IS NULL)
    )
);
INSERT INTO ballot_new (id, question_id, user_id, wechat_openid, create_time)
    SELECT id, question_id, user_id, wechat_openid, create_time FROM ballot;
DROP TABLE ballot;
ALTER TABLE ballot_new RENAME TO ballot;
CREATE INDEX ix_ballot_user ON ballot (user_id);

CREATE TABLE password_reset (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES user (id) ON DELETE CASCADE,
    token_hash CHAR(64) NOT NULL,
    expires_at DATETIME NOT NULL,
    used_at DATETIME NULL,
    create_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT uq_password_reset_token UNIQUE (token_hash)
);
CREATE INDEX ix_password_reset_user ON password_reset (user_id);

CREATE TABLE account_session (
    session_key CHAR(64) NOT NULL PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES user (id) ON DELETE CASCADE,
    device VARCHAR(255) NOT NULL,
    address VARCHAR(45) NOT NULL,
    create_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_seen DATETIME NOT NULL
);
CREATE INDEX ix_account_session_user ON account_session (user_id);

COMMIT;
PRAGMA foreign_keys = ON;
