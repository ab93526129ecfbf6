-- Ballot methods (SPEC section 12), SQLite. Kept in lockstep with sql/mysql/0005_ballot_methods.sql.
-- A poll's method; a ranked ballot's choices with their place (1 = first preference), a score
-- ballot's choices with their stars (only those given 1 or more: a choice without a row has 0).
-- Choice ballots leave both NULL. Each row still counts one vote for its choice (choice.votes).

ALTER TABLE question ADD COLUMN method VARCHAR(8) NOT NULL DEFAULT 'choice'
    CHECK (method IN ('choice', 'ranked', 'score'));

ALTER TABLE ballot_choice ADD COLUMN place INTEGER NULL CHECK (place BETWEEN 1 AND 20);
ALTER TABLE ballot_choice ADD COLUMN score INTEGER NULL CHECK (score BETWEEN 1 AND 5);
