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

-- cast_ballots, third version: 0003's call with each ballot's marks. p_ballots is a JSON array of
-- [question_id, user_id, wechat_openid, "choice_id,choice_id", n, marks, key], where marks is a
-- string holding the JSON array [[choice_id, place, score], ...] of the same choices (place and
-- score null where the poll's method has none) and key the ballot's marks key (null for a choice
-- ballot). The ballot_choice rows are written from the marks, the key into ballot_marks;
-- everything else is as in 0003.
DROP PROCEDURE IF EXISTS cast_ballots;

DELIMITER //
CREATE PROCEDURE cast_ballots(IN p_now DATETIME, IN p_ballots LONGTEXT)
BEGIN
    DECLARE v_question INT;
    DECLARE v_user INT;
    DECLARE v_openid VARCHAR(64);
    DECLARE v_choices VARCHAR(2000);
    DECLARE v_marks VARCHAR(4000);
    DECLARE v_key VARCHAR(400);
    DECLARE v_ballot INT;
    DECLARE v_state CHAR(1);
    DECLARE v_choice INT;
    DECLARE v_gained INT;
    DECLARE v_done BOOLEAN DEFAULT FALSE;
    DECLARE v_duplicate BOOLEAN DEFAULT FALSE;
    DECLARE v_outcomes TEXT DEFAULT '';
    DECLARE v_written LONGTEXT DEFAULT '';
    DECLARE ballots CURSOR FOR
        SELECT b.question_id, b.user_id, b.wechat_openid, b.choice_ids, b.marks, b.ballot_key,
               CASE
                   WHEN q.id IS NULL THEN 'N'
                   WHEN q.pub_date > p_now OR q.closes_at <= p_now THEN 'C'
                   WHEN (SELECT COUNT(*) FROM choice c
                          WHERE c.question_id = b.question_id AND c.delete_flag = 0
                            AND FIND_IN_SET(c.id, b.choice_ids)) <> b.chosen THEN 'I'
                   ELSE 'V'
               END
          FROM JSON_TABLE(p_ballots, '$[*]' COLUMNS (
                   position FOR ORDINALITY,
                   question_id INT PATH '$[0]',
                   user_id INT PATH '$[1]',
                   wechat_openid VARCHAR(64) PATH '$[2]',
                   choice_ids VARCHAR(2000) PATH '$[3]',
                   chosen INT PATH '$[4]',
                   marks VARCHAR(4000) PATH '$[5]',
                   ballot_key VARCHAR(400) PATH '$[6]')) AS b
          LEFT JOIN question q ON q.id = b.question_id AND q.delete_flag = 0
         ORDER BY b.position;
    DECLARE gains CURSOR FOR
        SELECT w.choice_id, COUNT(*)
          FROM JSON_TABLE(CONCAT('[', v_written, ']'), '$[*]' COLUMNS (
                   NESTED PATH '$[1][*]' COLUMNS (choice_id INT PATH '$[0]'))) AS w
         GROUP BY w.choice_id
         ORDER BY w.choice_id;
    DECLARE CONTINUE HANDLER FOR NOT FOUND SET v_done = TRUE;
    DECLARE CONTINUE HANDLER FOR 1062 SET v_duplicate = TRUE;
    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
        ROLLBACK;
        RESIGNAL;
    END;

    START TRANSACTION;
    OPEN ballots;
    each_ballot: LOOP
        FETCH ballots INTO v_question, v_user, v_openid, v_choices, v_marks, v_key, v_state;
        IF v_done THEN
            LEAVE each_ballot;
        END IF;
        IF v_state = 'V' THEN
            SET v_duplicate = FALSE;
            INSERT INTO ballot (question_id, user_id, wechat_openid) VALUES (v_question, v_user, v_openid);
            IF v_duplicate THEN
                SET v_state = 'A';
            ELSE
                SET v_ballot = LAST_INSERT_ID();
                IF v_key IS NOT NULL THEN
                    INSERT INTO ballot_marks (ballot_id, question_id, marks) VALUES (v_ballot, v_question, v_key);
                END IF;
                SET v_written = CONCAT(v_written, IF(v_written = '', '[', ',['), v_ballot, ',', v_marks, ']');
            END IF;
        END IF;
        SET v_outcomes = CONCAT(v_outcomes, v_state);
    END LOOP;
    CLOSE ballots;

    IF v_written <> '' THEN
        SET v_done = FALSE;
        OPEN gains;
        each_choice: LOOP
            FETCH gains INTO v_choice, v_gained;
            IF v_done THEN
                LEAVE each_choice;
            END IF;
            UPDATE choice SET votes = votes + v_gained WHERE id = v_choice AND delete_flag = 0;
            IF ROW_COUNT() <> 1 THEN
                SIGNAL SQLSTATE '40001' SET MYSQL_ERRNO = 1213, MESSAGE_TEXT = 'a choice was removed meanwhile';
            END IF;
        END LOOP;
        CLOSE gains;
        INSERT INTO ballot_choice (ballot_id, choice_id, place, score)
            SELECT w.ballot_id, w.choice_id, w.place, w.score
              FROM JSON_TABLE(CONCAT('[', v_written, ']'), '$[*]' COLUMNS (
                       ballot_id INT PATH '$[0]',
                       NESTED PATH '$[1][*]' COLUMNS (
                           choice_id INT PATH '$[0]',
                           place INT PATH '$[1]',
                           score INT PATH '$[2]'))) AS w;
    END IF;
    COMMIT;

    SELECT v_outcomes AS outcomes;
    SELECT id, question_id, choice_text, votes FROM choice
     WHERE delete_flag = 0 AND question_id IN (
           SELECT question_id FROM JSON_TABLE(p_ballots, '$[*]' COLUMNS (question_id INT PATH '$[0]')) AS b)
     ORDER BY question_id, id;
END //
DELIMITER ;
