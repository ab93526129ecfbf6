-- Ballot methods (SPEC section 12), MySQL/MariaDB. Kept in lockstep with sql/sqlite/0005_ballot_methods.sql.
-- A poll's method; a ranked ballot's choices with their place (1 = first preference), a score
-- ballot's choices with their stars (only those given 1 or more: a choice without a row has 0).
-- Choice ballots leave both NULL. Each row still counts one vote for its choice (choice.votes).
-- A ranked or score ballot also has its marks in one key, written with its rows into
-- ballot_marks: "choice:place" or "choice:stars" by choice id ('' for none), so that identical
-- ballots are counted together by GROUP BY over an index (models/ballot.py, grouped). A table of
-- its own rather than a column of ballot: 0007 rebuilds ballot on SQLite with the columns it knows.

ALTER TABLE question ADD COLUMN method VARCHAR(8) NOT NULL DEFAULT 'choice',
    ADD CONSTRAINT ck_question_method CHECK (method IN ('choice', 'ranked', 'score'));

CREATE TABLE ballot_marks (
    ballot_id INT NOT NULL,
    question_id INT NOT NULL,
    marks VARCHAR(400) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    PRIMARY KEY (ballot_id),
    KEY ix_ballot_marks (question_id, marks),
    CONSTRAINT fk_ballot_marks_ballot FOREIGN KEY (ballot_id) REFERENCES ballot (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

ALTER TABLE ballot_choice ADD COLUMN place TINYINT NULL, ADD COLUMN score TINYINT NULL,
    ADD CONSTRAINT ck_ballot_choice_place CHECK (place BETWEEN 1 AND 20),
    ADD CONSTRAINT ck_ballot_choice_score CHECK (score BETWEEN 1 AND 5);

-- The ballot box writes these through cast_ballots as sql/mysql/0009_cast_ballots_marks.sql
-- defines it (after 0008, which gave it the voter kinds).
