-- Presenter mode (#19): the six-digit code a hall joins a poll with, when its results were
-- revealed, and results_visibility 'on_reveal' (hidden from voters until the presenter reveals).
-- A code is unique among the polls holding one; a new poll takes a closed or deleted poll's code
-- from it (services/polls.py), so that the codes of open polls never collide.
ALTER TABLE question
    ADD COLUMN join_code CHAR(6) NULL,
    ADD COLUMN revealed_at DATETIME NULL,
    ADD UNIQUE KEY uq_question_join_code (join_code);

ALTER TABLE question DROP CONSTRAINT ck_question_visibility;

ALTER TABLE question ADD CONSTRAINT ck_question_visibility
    CHECK (results_visibility IN ('always', 'after_vote', 'after_close', 'on_reveal'));
