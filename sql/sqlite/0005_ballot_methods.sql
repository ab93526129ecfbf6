-- Ballot methods (SPEC section 12), SQLite. Kept in lockstep with sql/mysql/0005_ballot_methods.sql.
-- A poll's method; a ranked ballot's choices with their place (1 = first preference), a score
-- ballot's choices with their stars (only those given 1 or more: a choice without a row has 0).
-- Choice ballots leave both NULL. Each row still counts one vote for its choice (choice.votes).
-- A ranked or score ballot also has its marks in one key, written with its rows into
-- ballot_marks: "choice:place" or "choice:stars" by choice id ('' for none), so that identical
-- ballots are counted together by GROUP BY over an index (models/ballot.py, grouped). A table of
-- its own rather than a column of ballot: 0007 rebuilds ballot on SQLite with the columns it knows.

ALTER TABLE question ADD COLUMN method VARCHAR(8) NOT NULL DEFAULT 'choice'
    CHECK (method IN ('choice', 'ranked', 'score'));

CREATE TABLE ballot_marks (
    ballot_id INTEGER NOT NULL PRIMARY KEY REFERENCES ballot (id),
    question_id INTEGER NOT NULL,
    marks VARCHAR(400) NOT NULL
);
CREATE INDEX ix_ballot_marks ON ballot_marks (question_id, marks);

ALTER TABLE ballot_choice ADD COLUMN place INTEGER NULL CHECK (place BETWEEN 1 AND 20);
ALTER TABLE ballot_choice ADD COLUMN score INTEGER NULL CHECK (score BETWEEN 1 AND 5);
