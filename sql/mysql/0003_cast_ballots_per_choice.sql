-- cast_ballots, second version: the same call and answers as 0002, for about half the work.
--
-- 0002 checked and wrote each ballot on its own: a poll lookup, a savepoint, the ballot, an UPDATE
-- of its choices and their ballot_choice rows. Now one read checks every ballot of the batch
-- (N no such poll, C closed or not yet published, I a choice that is not the poll's), the loop
-- only inserts the ballot rows (a duplicate is refused by its UNIQUE key: A), and each choice of
-- the batch is then counted once, by as many votes as it gained, in ascending id order so that
-- concurrent batches lock choice rows in the same order. No savepoints: a failed INSERT undoes
-- only itself.
--
-- The checks read the transaction's snapshot. Should a choice be removed before the counting
-- UPDATE gets to it, fewer rows change than expected: the procedure then signals SQLSTATE 40001
-- (errno 1213, as a deadlock), the batch is rolled back whole, and the caller runs it again; the
-- next snapshot sees the removal and refuses the ballots concerned.
--
-- p_ballots is a JSON array of [question_id, user_id, wechat_openid, "choice_id,choice_id", n]
-- (one of user_id and wechat_openid is null; n is how many choice ids there are). The first
-- result is one row holding a letter per ballot, in order: V counted, or the refusal's letter.
-- The second is the counts of every poll in the batch, read after the commit (id, question_id,
-- choice_text, votes: what the vote's answer shows).
DROP PROCEDURE IF EXISTS cast_ballots;

DELIMITER //
CREATE PROCEDURE cast_ballots(IN p_now DATETIME, IN p_ballots LONGTEXT)
BEGIN
    DECLARE v_question INT;
    DECLARE v_user INT;
    DECLARE v_openid VARCHAR(64);
    DECLARE v_choices VARCHAR(2000);
    DECLARE v_state CHAR(1);
    DECLARE v_choice INT;
    DECLARE v_gained INT;
    DECLARE v_done BOOLEAN DEFAULT FALSE;
    DECLARE v_duplicate BOOLEAN DEFAULT FALSE;
    DECLARE v_outcomes TEXT DEFAULT '';
    DECLARE v_written LONGTEXT DEFAULT '';
    DECLARE ballots CURSOR FOR
        SELECT b.question_id, b.user_id, b.wechat_openid, b.choice_ids,
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
                   chosen INT PATH '$[4]')) AS b
          LEFT JOIN question q ON q.id = b.question_id AND q.delete_flag = 0
         ORDER BY b.position;
    DECLARE gains CURSOR FOR
        SELECT w.choice_id, COUNT(*)
          FROM JSON_TABLE(CONCAT('[', v_written, ']'), '$[*]' COLUMNS (
                   NESTED PATH '$[1][*]' COLUMNS (choice_id INT PATH '$'))) AS w
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
        FETCH ballots INTO v_question, v_user, v_openid, v_choices, v_state;
        IF v_done THEN
            LEAVE each_ballot;
        END IF;
        IF v_state = 'V' THEN
            SET v_duplicate = FALSE;
            INSERT INTO ballot (question_id, user_id, wechat_openid) VALUES (v_question, v_user, v_openid);
            IF v_duplicate THEN
                SET v_state = 'A';
            ELSE
                SET v_written = CONCAT(v_written, IF(v_written = '', '[', ',['), LAST_INSERT_ID(), ',[', v_choices, ']]');
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
        INSERT INTO ballot_choice (ballot_id, choice_id)
            SELECT w.ballot_id, w.choice_id
              FROM JSON_TABLE(CONCAT('[', v_written, ']'), '$[*]' COLUMNS (
                       ballot_id INT PATH '$[0]',
                       NESTED PATH '$[1][*]' COLUMNS (choice_id INT PATH '$'))) AS w;
    END IF;
    COMMIT;

    SELECT v_outcomes AS outcomes;
    SELECT id, question_id, choice_text, votes FROM choice
     WHERE delete_flag = 0 AND question_id IN (
           SELECT question_id FROM JSON_TABLE(p_ballots, '$[*]' COLUMNS (question_id INT PATH '$[0]')) AS b)
     ORDER BY question_id, id;
END //
DELIMITER ;
