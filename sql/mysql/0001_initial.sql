-- vote schema, MySQL/MariaDB (InnoDB, utf8mb4). Kept in lockstep with sql/sqlite/0001_initial.sql.
-- Times are UTC (the pool sets time_zone = '+00:00').

CREATE TABLE user (
    id INT NOT NULL AUTO_INCREMENT,
    delete_flag TINYINT(1) NOT NULL DEFAULT 0,
    name VARCHAR(40) NOT NULL,
    phone VARCHAR(11) NOT NULL,
    email VARCHAR(254) NOT NULL,
    password VARCHAR(255) NOT NULL COMMENT 'Argon2id hash, never the password',
    is_admin TINYINT(1) NOT NULL DEFAULT 0,
    is_active TINYINT(1) NOT NULL DEFAULT 1,
    create_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (id),
    UNIQUE KEY uq_user_email (email),
    UNIQUE KEY uq_user_phone (phone)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE question (
    id INT NOT NULL AUTO_INCREMENT,
    delete_flag TINYINT(1) NOT NULL DEFAULT 0,
    user_id INT NOT NULL,
    question_text VARCHAR(200) NOT NULL,
    pub_date DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    closes_at DATETIME NULL,
    max_choices INT NOT NULL DEFAULT 1,
    results_visibility VARCHAR(16) NOT NULL DEFAULT 'always',
    create_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (id),
    KEY ix_question_listing (delete_flag, pub_date),
    KEY ix_question_user (user_id),
    CONSTRAINT fk_question_user FOREIGN KEY (user_id) REFERENCES user (id),
    CONSTRAINT ck_question_max_choices CHECK (max_choices >= 1),
    CONSTRAINT ck_question_visibility CHECK (results_visibility IN ('always', 'after_vote', 'after_close'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE choice (
    id INT NOT NULL AUTO_INCREMENT,
    delete_flag TINYINT(1) NOT NULL DEFAULT 0,
    choice_text VARCHAR(200) NOT NULL,
    votes INT NOT NULL DEFAULT 0,
    question_id INT NOT NULL,
    create_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (id),
    KEY ix_choice_question (question_id),
    CONSTRAINT fk_choice_question FOREIGN KEY (question_id) REFERENCES question (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One ballot per voter per question: the voter is a site user or a WeChat openid,
-- and each has its own UNIQUE key (NULLs never collide).
CREATE TABLE ballot (
    id INT NOT NULL AUTO_INCREMENT,
    question_id INT NOT NULL,
    user_id INT NULL,
    wechat_openid VARCHAR(64) NULL,
    create_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (id),
    UNIQUE KEY uq_ballot_user (question_id, user_id),
    UNIQUE KEY uq_ballot_wechat (question_id, wechat_openid),
    KEY ix_ballot_user (user_id),
    CONSTRAINT fk_ballot_question FOREIGN KEY (question_id) REFERENCES question (id),
    CONSTRAINT fk_ballot_user FOREIGN KEY (user_id) REFERENCES user (id),
    CONSTRAINT ck_ballot_voter CHECK ((user_id IS NULL) <> (wechat_openid IS NULL))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE ballot_choice (
    ballot_id INT NOT NULL,
    choice_id INT NOT NULL,
    PRIMARY KEY (ballot_id, choice_id),
    KEY ix_ballot_choice_choice (choice_id),
    CONSTRAINT fk_ballot_choice_ballot FOREIGN KEY (ballot_id) REFERENCES ballot (id),
    CONSTRAINT fk_ballot_choice_choice FOREIGN KEY (choice_id) REFERENCES choice (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- API bearer tokens: only the SHA-256 of the secret is kept.
CREATE TABLE api_token (
    id INT NOT NULL AUTO_INCREMENT,
    user_id INT NOT NULL,
    name VARCHAR(100) NOT NULL,
    token_hash CHAR(64) NOT NULL,
    create_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_used_at DATETIME NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_api_token_hash (token_hash),
    KEY ix_api_token_user (user_id),
    CONSTRAINT fk_api_token_user FOREIGN KEY (user_id) REFERENCES user (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- WeChat retries: the key is recorded before acting, the reply once it is known.
CREATE TABLE wechat_message (
    dedup_key VARCHAR(191) NOT NULL,
    reply TEXT NULL,
    create_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (dedup_key),
    KEY ix_wechat_message_time (create_time)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Browser sessions when no Redis is configured (the embedded default).
CREATE TABLE web_session (
    id VARCHAR(64) NOT NULL,
    data TEXT NOT NULL,
    expires_at DATETIME NOT NULL,
    PRIMARY KEY (id),
    KEY ix_web_session_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
