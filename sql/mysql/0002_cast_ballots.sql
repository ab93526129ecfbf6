-- Ballots are written in batches (models/ballot.py): one call, one transaction and one commit
-- for all the votes that arrived together, instead of five round trips and a commit each.
--
-- p_ballots is a JSON array of [question_id, user_id, wechat_openid, "choice_id,choice_id", n]
-- (one of user_id and wechat_openid is null; n is how many choice ids there are). Each ballot is
-- checked and written under its own savepoint, so a refused one leaves the others counted. The
-- first result is one row holding a letter per ballot, in order: V counted, A already voted,
-- C closed or not yet published, N no such poll, I a choice that is not the poll's. The second
-- is the counts of every poll in the batch, read after the commit.
--
-- Lock order: choice rows are locked by the UPDATE before ballot_choice's foreign keys take
-- shared locks on them (the other order deadlocks under load), and the caller sorts the batch
-- by poll and choices so that concurrent batches lock rows in the same order.
DELIMITER //
CREATE PROCEDURE cast_ballots(IN p_now DATETIME, IN p_ballots LONGTEXT)
BEGIN
    DECLARE v_question INT;
    DECLARE v_user INT;
    DECLARE v_openid VARCHAR(64);
    DECLARE v_choices VARCHAR(2000);
    DECLARE v_chosen INT;
    DECLARE v_state CHAR(1);
    DECLARE v_ballot INT;
    DECLARE v_done BOOLEAN DEFAULT FALSE;
    DECLARE v_duplicate BOOLEAN DEFAULT FALSE;
    DECLARE v_outcomes TEXT DEFAULT '';
    DECLARE ballots CURSOR FOR
        SELECT question_id, user_id, wechat_openid, choice_ids, chosen
          FROM JSON_TABLE(p_ballots, '$[*]' COLUMNS (
                   position FOR ORDINALITY,
                   question_id INT PATH '$[0]',
                   user_id INT PATH '$[1]',
                   wechat_openid VARCHAR(64) PATH '$[2]',
                   choice_ids VARCHAR(2000) PATH '$[3]',
                   chosen INT PATH '$[4]')) AS b
         ORDER BY position;
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
        FETCH ballots INTO v_question, v_user, v_openid, v_choices, v_chosen;
        IF v_done THEN
            LEAVE each_ballot;
        END IF;
        SET v_state = (
            SELECT IF(pub_date <= p_now AND (closes_at IS NULL OR closes_at > p_now), 'V', 'C')
              FROM question WHERE id = v_question AND delete_flag = 0);
        IF v_state IS NULL THEN
            SET v_state = 'N';
        ELSEIF v_state = 'V' THEN
            SAVEPOINT one_ballot;
            SET v_duplicate = FALSE;
            INSERT INTO ballot (question_id, user_id, wechat_openid) VALUES (v_question, v_user, v_openid);
            IF v_duplicate THEN
                SET v_state = 'A';
            ELSE
                SET v_ballot = LAST_INSERT_ID();
                UPDATE choice SET votes = votes + 1
                 WHERE question_id = v_question AND delete_flag = 0 AND FIND_IN_SET(id, v_choices);
                IF ROW_COUNT() <> v_chosen THEN
                    ROLLBACK TO SAVEPOINT one_ballot;
                    SET v_state = 'I';
                ELSE
                    INSERT INTO ballot_choice (ballot_id, choice_id)
                        SELECT v_ballot, id FROM choice
                         WHERE question_id = v_question AND delete_flag = 0 AND FIND_IN_SET(id, v_choices);
                END IF;
            END IF;
            RELEASE SAVEPOINT one_ballot;
        END IF;
        SET v_outcomes = CONCAT(v_outcomes, v_state);
    END LOOP;
    CLOSE ballots;
    COMMIT;

    SELECT v_outcomes AS outcomes;
    SELECT id, question_id, choice_text, votes, create_time FROM choice
     WHERE delete_flag = 0 AND question_id IN (
           SELECT question_id FROM JSON_TABLE(p_ballots, '$[*]' COLUMNS (question_id INT PATH '$[0]')) AS b)
     ORDER BY question_id, id;
END //
DELIMITER ;
