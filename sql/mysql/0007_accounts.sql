-- Accounts people look after themselves (issue #20).

-- The phone is optional and international: E.164 ('+8613812345678'), NULL when not given (NULLs
-- never collide in the UNIQUE key). Mainland numbers stored before this gain their +86.
ALTER TABLE user MODIFY phone VARCHAR(16) NULL;
UPDATE user SET phone = CONCAT('+86', phone) WHERE phone NOT LIKE '+%';
-- The language the user last chose: their mails are written in it.
ALTER TABLE user ADD COLUMN language VARCHAR(8) NOT NULL DEFAULT 'en';
-- A session carries the generation it was signed in with; raising it ends every other session
-- (password change, reset, "sign out everywhere") without knowing their ids.
ALTER TABLE user ADD COLUMN session_generation INT NOT NULL DEFAULT 0;

-- Password reset links: only a hash of the token is kept; each is valid until expires_at, once.
CREATE TABLE password_reset (
    id INT NOT NULL AUTO_INCREMENT,
    user_id INT NOT NULL,
    token_hash CHAR(64) NOT NULL,
    expires_at DATETIME NOT NULL,
    used_at DATETIME NULL,
    create_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (id),
    UNIQUE KEY uq_password_reset_token (token_hash),
    KEY ix_password_reset_user (user_id),
    CONSTRAINT fk_password_reset_user FOREIGN KEY (user_id) REFERENCES user (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The signed-in sessions an account lists on /account, whichever store keeps the sessions:
-- named by the hash of the session id (web/sessions.py session_key), never the id itself.
CREATE TABLE account_session (
    session_key CHAR(64) NOT NULL,
    user_id INT NOT NULL,
    device VARCHAR(255) NOT NULL,
    address VARCHAR(45) NOT NULL,
    create_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_seen DATETIME NOT NULL,
    PRIMARY KEY (session_key),
    KEY ix_account_session_user (user_id),
    CONSTRAINT fk_account_session_user FOREIGN KEY (user_id) REFERENCES user (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A deleted account's ballots stay counted and point to nobody: user_id NULL, voter_deleted 1.
ALTER TABLE ballot
    ADD COLUMN voter_deleted TINYINT(1) NOT NULL DEFAULT 0,
    DROP CONSTRAINT ck_ballot_voter;
ALTER TABLE ballot ADD CONSTRAINT ck_ballot_voter CHECK (
    (voter_deleted = 0 AND (user_id IS NULL) <> (wechat_openid IS NULL))
    OR (voter_deleted = 1 AND user_id IS NULL AND wechat_openid IS NULL)
);
