-- Ballot methods (#18), second part: cast_ballots writes each ballot's marks. MySQL only (SQLite
-- writes them in models/ballot.py). After 0008, which gave the procedure the voter kinds; 0005
-- holds #18's schema.
--
-- cast_ballots, fourth version: 0008's, with two more fields per ballot. p_ballots is a JSON array
-- of [question_id, user_id, wechat_openid, link_key, invite_id, "choice_id,choice_id", n,
-- secret_id, receipt_hash, content, marks, key]: marks is a string holding the JSON array
-- [[choice_id, place, score], ...] of the ballot's choices (place and score null where the poll's
-- method has none), key the ranked or score ballot's key (null for a choice ballot and for a
-- secret one). The ballot_choice rows are written from the marks, with their place or stars, and
-- the key into ballot_marks; a secret ballot gets neither (its content is in secret_ballot).
-- Everything else is as in 0008.
DROP PROCEDURE IF EXISTS cast_ballots;

DELIMITER //
CREATE PROCEDURE cast_ballots(IN p_now DATETIME, IN p_ballots LONGTEXT)
BEGIN
    DECLARE v_position INT;
    DECLARE v_question INT;
    DECLARE v_user INT;
    DECLARE v_openid VARCHAR(64);
    DECLARE v_link CHAR(32);
    DECLARE v_invite INT;
    DECLARE v_choices VARCHAR(2000);
    DECLARE v_secret BIGINT;
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
    DECLARE v_sealed TEXT DEFAULT '';
    DECLARE ballots CURSOR FOR
        SELECT b.position, b.question_id, b.user_id, b.wechat_openid, b.link_key, b.invite_id, b.choice_ids,
               b.secret_id, b.marks, b.ballot_key,
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
                   link_key CHAR(32) PATH '$[3]',
                   invite_id INT PATH '$[4]',
                   choice_ids VARCHAR(2000) PATH '$[5]',
                   chosen INT PATH '$[6]',
                   secret_id BIGINT PATH '$[7]',
                   marks VARCHAR(4000) PATH '$[10]',
                   ballot_key VARCHAR(400) PATH '$[11]')) AS b
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
        FETCH ballots INTO v_position, v_question, v_user, v_openid, v_link, v_invite, v_choices, v_secret,
                           v_marks, v_key, v_state;
        IF v_done THEN
            LEAVE each_ballot;
        END IF;
        IF v_state = 'V' AND v_invite IS NOT NULL THEN
            UPDATE invite SET used = 1 WHERE id = v_invite AND question_id = v_question AND used = 0 AND revoked = 0;
            IF ROW_COUNT() = 0 THEN
                SET v_state = IF(EXISTS (SELECT 1 FROM invite WHERE id = v_invite AND used = 1), 'A', 'R');
            END IF;
        END IF;
        IF v_state = 'V' THEN
            SET v_duplicate = FALSE;
            INSERT INTO ballot (question_id, user_id, wechat_openid, link_key, invite_id)
                VALUES (v_question, v_user, v_openid, v_link, v_invite);
            IF v_duplicate THEN
                SET v_state = 'A';
            ELSE
                SET v_ballot = LAST_INSERT_ID();
                IF v_key IS NOT NULL AND v_secret IS NULL THEN
                    INSERT INTO ballot_marks (ballot_id, question_id, marks) VALUES (v_ballot, v_question, v_key);
                END IF;
                SET v_written = CONCAT(v_written, IF(v_written = '', '[', ',['),
                                       IF(v_secret IS NULL, v_ballot, 0), ',', v_marks, ']');
                IF v_secret IS NOT NULL THEN
                    SET v_sealed = CONCAT(v_sealed, IF(v_sealed = '', '', ','), v_position);
                END IF;
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
        -- A secret ballot's entry carries ballot id 0: its choices are counted, never linked.
        INSERT INTO ballot_choice (ballot_id, choice_id, place, score)
            SELECT w.ballot_id, w.choice_id, w.place, w.score
              FROM JSON_TABLE(CONCAT('[', v_written, ']'), '$[*]' COLUMNS (
                       ballot_id INT PATH '$[0]',
                       NESTED PATH '$[1][*]' COLUMNS (
                           choice_id INT PATH '$[0]',
                           place INT PATH '$[1]',
                           score INT PATH '$[2]'))) AS w
             WHERE w.ballot_id <> 0;
    END IF;
    IF v_sealed <> '' THEN
        INSERT INTO secret_ballot (id, question_id, cast_on, receipt_hash, content)
            SELECT s.secret_id, s.question_id, DATE(p_now), s.receipt_hash, s.content
              FROM JSON_TABLE(p_ballots, '$[*]' COLUMNS (
                       position FOR ORDINALITY,
                       question_id INT PATH '$[0]',
                       secret_id BIGINT PATH '$[7]',
                       receipt_hash CHAR(64) PATH '$[8]',
                       content TEXT PATH '$[9]')) AS s
             WHERE FIND_IN_SET(s.position, v_sealed)
             ORDER BY s.secret_id;
    END IF;
    COMMIT;

    SELECT v_outcomes AS outcomes;
    SELECT id, question_id, choice_text, votes FROM choice
     WHERE delete_flag = 0 AND question_id IN (
           SELECT question_id FROM JSON_TABLE(p_ballots, '$[*]' COLUMNS (question_id INT PATH '$[0]')) AS b)
     ORDER BY question_id, id;
END //
DELIMITER ;
