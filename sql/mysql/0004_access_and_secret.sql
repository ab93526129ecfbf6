-- Who may vote (question.access), secret ballots (question.secret), invite codes, secret ballots'
-- table. Kept in lockstep with sql/sqlite/0004_access_and_secret.sql. The ballot table's new
-- voter kinds and the ballot box that writes them are 0008 (after 0007, which rebuilt ballot).
--
-- On a secret poll the ballot row records only that its voter took part; what they chose goes to
-- secret_ballot, which shares no key with ballot: a random id, the day (never the time), the
-- SHA-256 of the voter's receipt, and the content in the shape the ballots API publishes.
ALTER TABLE question
    ADD COLUMN access VARCHAR(8) NOT NULL DEFAULT 'account',
    ADD COLUMN secret TINYINT(1) NOT NULL DEFAULT 0,
    ADD CONSTRAINT ck_question_access CHECK (access IN ('account', 'link', 'invite'));

-- The code is kept (normalised: 12 Crockford base32 characters, no dashes) so that the owner can
-- print it again; used flips once, in the transaction of the code's ballot.
CREATE TABLE invite (
    id INT NOT NULL AUTO_INCREMENT,
    question_id INT NOT NULL,
    code CHAR(12) NOT NULL,
    label VARCHAR(200) NULL,
    used TINYINT(1) NOT NULL DEFAULT 0,
    revoked TINYINT(1) NOT NULL DEFAULT 0,
    create_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (id),
    UNIQUE KEY uq_invite_code (code),
    KEY ix_invite_question (question_id),
    CONSTRAINT fk_invite_question FOREIGN KEY (question_id) REFERENCES question (id),
    CONSTRAINT ck_invite_not_both CHECK (NOT (used = 1 AND revoked = 1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE secret_ballot (
    id BIGINT NOT NULL COMMENT 'random, never sequential',
    question_id INT NOT NULL,
    cast_on DATE NOT NULL COMMENT 'the day only, never the time',
    receipt_hash CHAR(64) NOT NULL COMMENT 'SHA-256 hex of the receipt code the voter was shown',
    content TEXT NOT NULL COMMENT 'JSON: {"choice_ids": [...]} (later {"ranking": [...]} or {"scores": {...}})',
    PRIMARY KEY (id),
    UNIQUE KEY uq_secret_ballot_receipt (receipt_hash),
    KEY ix_secret_ballot_question (question_id),
    CONSTRAINT fk_secret_ballot_question FOREIGN KEY (question_id) REFERENCES question (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
