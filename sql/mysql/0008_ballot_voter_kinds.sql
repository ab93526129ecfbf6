-- Who may vote (#17), second part: the ballot's voter kinds and the ballot box that writes them.
-- Kept in lockstep with sql/sqlite/0008_ballot_voter_kinds.sql. After 0007, which rebuilt ballot
-- (voter_deleted): 0004 holds the rest of #17's schema.
--
-- A ballot's voter is one of four kinds, each UNIQUE per question: a site user, a WeChat openid, a
-- link poll's voter key (the random key of a signed browser cookie), an invite code; or, once a
-- deleted account's ballot points to nobody (0007), none.
ALTER TABLE ballot
    DROP CONSTRAINT ck_ballot_voter,
    ADD COLUMN link_key CHAR(32) NULL,
    ADD COLUMN invite_id INT NULL,
    ADD UNIQUE KEY uq_ballot_link (question_id, link_key),
    ADD UNIQUE KEY uq_ballot_invite (question_id, invite_id),
    ADD CONSTRAINT fk_ballot_invite FOREIGN KEY (invite_id) REFERENCES invite (id),
    ADD CONSTRAINT ck_ballot_voter CHECK (
        (voter_deleted = 0
         AND (user_id IS NOT NULL) + (wechat_openid IS NOT NULL) + (link_key IS NOT NULL) + (invite_id IS NOT NULL) = 1)
        OR (voter_deleted = 1 AND user_id IS NULL AND wechat_openid IS NULL AND link_key IS NULL AND invite_id IS NULL));

-- cast_ballots, third version: 0003's one check of the batch and per-choice counting, for every
-- kind of voter and for secret polls.
--
-- p_ballots is a JSON array of [question_id, user_id, wechat_openid, link_key, invite_id,
-- "choice_id,choice_id", n, secret_id, receipt_hash, content] (exactly one voter field set; the
-- last three only for a secret poll's ballot). An invite's ballot first marks its code used (a
-- locking UPDATE: fifty ballots racing with one code are counted once); an unknown or revoked
-- code answers R, a used one A. A secret poll's ballot row names its voter and no choice; its
-- secret_ballot rows are written after the loop, in the order of their random ids, so that
-- nothing in the order rows land follows the voters'. The answers are 0003's.
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
               b.secret_id,
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
                   secret_id BIGINT PATH '$[7]')) AS b
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
        FETCH ballots INTO v_position, v_question, v_user, v_openid, v_link, v_invite, v_choices, v_secret, v_state;
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
                SET v_written = CONCAT(v_written, IF(v_written = '', '[', ',['),
                                       IF(v_secret IS NULL, LAST_INSERT_ID(), 0), ',[', v_choices, ']]');
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
        INSERT INTO ballot_choice (ballot_id, choice_id)
            SELECT w.ballot_id, w.choice_id
              FROM JSON_TABLE(CONCAT('[', v_written, ']'), '$[*]' COLUMNS (
                       ballot_id INT PATH '$[0]',
                       NESTED PATH '$[1][*]' COLUMNS (choice_id INT PATH '$'))) AS w
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
