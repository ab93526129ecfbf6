-- vote schema, SQLite. Kept in lockstep with sql/mysql/0001_initial.sql.
-- DATETIME columns hold UTC 'YYYY-MM-DD HH:MM:SS' text, read back as datetime.

CREATE TABLE user (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delete_flag INTEGER NOT NULL DEFAULT 0,
    name VARCHAR(40) NOT NULL,
    phone VARCHAR(11) NOT NULL,
    email VARCHAR(254) NOT NULL COLLATE NOCASE,
    password VARCHAR(255) NOT NULL,
    is_admin INTEGER NOT NULL DEFAULT 0,
    is_active INTEGER NOT NULL DEFAULT 1,
    create_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT uq_user_email UNIQUE (email),
    CONSTRAINT uq_user_phone UNIQUE (phone)
);

CREATE TABLE question (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delete_flag INTEGER NOT NULL DEFAULT 0,
    user_id INTEGER NOT NULL REFERENCES user (id),
    question_text VARCHAR(200) NOT NULL,
    pub_date DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    closes_at DATETIME NULL,
    max_choices INTEGER NOT NULL DEFAULT 1 CHECK (max_choices >= 1),
    results_visibility VARCHAR(16) NOT NULL DEFAULT 'always'
        CHECK (results_visibility IN ('always', 'after_vote', 'after_close')),
    create_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX ix_question_listing ON question (delete_flag, pub_date);
CREATE INDEX ix_question_user ON question (user_id);

CREATE TABLE choice (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delete_flag INTEGER NOT NULL DEFAULT 0,
    choice_text VARCHAR(200) NOT NULL,
    votes INTEGER NOT NULL DEFAULT 0,
    question_id INTEGER NOT NULL REFERENCES question (id),
    create_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX ix_choice_question ON choice (question_id);

CREATE TABLE ballot (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    question_id INTEGER NOT NULL REFERENCES question (id),
    user_id INTEGER NULL REFERENCES user (id),
    wechat_openid VARCHAR(64) NULL,
    create_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT uq_ballot_user UNIQUE (question_id, user_id),
    CONSTRAINT uq_ballot_wechat UNIQUE (question_id, wechat_openid),
    CHECK ((user_id IS NULL) <> (wechat_openid IS NULL))
);
CREATE INDEX ix_ballot_user ON ballot (user_id);

CREATE TABLE ballot_choice (
    ballot_id INTEGER NOT NULL REFERENCES ballot (id),
    choice_id INTEGER NOT NULL REFERENCES choice (id),
    PRIMARY KEY (ballot_id, choice_id)
);
CREATE INDEX ix_ballot_choice_choice ON ballot_choice (choice_id);

CREATE TABLE api_token (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES user (id),
    name VARCHAR(100) NOT NULL,
    token_hash CHAR(64) NOT NULL,
    create_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_used_at DATETIME NULL,
    CONSTRAINT uq_api_token_hash UNIQUE (token_hash)
);
CREATE INDEX ix_api_token_user ON api_token (user_id);

CREATE TABLE wechat_message (
    dedup_key VARCHAR(191) NOT NULL PRIMARY KEY,
    reply TEXT NULL,
    create_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX ix_wechat_message_time ON wechat_message (create_time);

CREATE TABLE web_session (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    data TEXT NOT NULL,
    expires_at DATETIME NOT NULL
);
CREATE INDEX ix_web_session_expires ON web_session (expires_at);
