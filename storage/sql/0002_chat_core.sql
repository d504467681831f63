-- 0002_chat_core.sql — what the chat core needs beyond 0001: one device row
-- per installation, room for HOT updates of the seq counters, and the
-- group-commit function of the send path.
--
-- Applied by storage/migrate.c in one transaction under the migration lock;
-- never edit this file once released (its checksum is recorded).

-- ---------------------------------------------------------------------------
-- A client names its installation with a stable device id; logging in again
-- from the same installation reuses its device row (and so keeps its signing
-- key), while an unnamed login ('') gets a fresh row every time. The index
-- makes "find or create" one INSERT ... ON CONFLICT, safe against two logins
-- racing from the same installation.
CREATE UNIQUE INDEX devices_user_name_key ON devices (user_id, name)
  WHERE name <> '' AND revoked_at IS NULL;

-- ---------------------------------------------------------------------------
-- Every send batch rewrites its conversations' rows (last_seq). Free room on
-- each page lets those updates stay HOT (no new index entries, old versions
-- pruned in place), so a hot conversation's row does not drag a growing
-- chain of dead versions behind its primary-key lookups. Applies to pages
-- written from now on; the table is small (one row per conversation).
ALTER TABLE conversations SET (fillfactor = 50);

-- ---------------------------------------------------------------------------
-- herald_send_batch: stores a batch of messages in the caller's transaction
-- (storage/send.c calls it as a single statement, so the batch is one
-- implicit transaction and one round trip) and returns one row per input
-- position r_idx (1-based, in input order):
--   r_rc      0 stored (or a duplicate), 1 refused: no such conversation or
--             the sender may not post there (deliberately the same answer)
--   r_conv, r_seq, r_sent_ms, r_tracked  the message's coordinates; for a
--             duplicate those of the original
--   r_dup     the (sender, cmid) was stored before, or earlier in the batch
-- The arrays are parallel: sender kind (true: bot), sender id, client
-- message id, conversation, kind, body, and the sender's "track" flag.
--
-- Order of work, and why:
--  1. Lock the conversations' rows in id order. Batches from several
--     processes therefore queue per conversation and never deadlock on each
--     other. FOR NO KEY UPDATE is the lock the seq UPDATE below takes anyway;
--     unlike FOR UPDATE it lets foreign-key checks (FOR KEY SHARE) of other
--     writers referencing the conversation proceed.
--  2. Only then (a new statement, hence under READ COMMITTED a new
--     snapshot) look for earlier copies of each (sender, cmid): a batch of
--     another process that stored the same message into the same
--     conversation has committed by the time we hold the lock, and is seen.
--  3. Everything else is one set-based statement: the first occurrence of
--     a (sender, cmid) in the batch decides, later repeats copy its result;
--     permission (user: a current member of an active account; bot: allowed
--     there and not revoked); seqs numbered per conversation in input
--     order, each conversation's last_seq bumped ONCE by the count of
--     messages actually stored, so refusals and duplicates leave no gap; one
--     INSERT of all rows.
-- The statement never joins one WITH query to another: their row counts
-- are unknown to the planner (an unnest of a parameter is guessed at 10
-- rows), and a misguided nested loop between two 500-row CTEs costs more
-- than the whole batch. Instead the rows flow through one chain — unnest,
-- index probes per row, window functions — and a repeat finds its first
-- occurrence's result with first_value() over its (sender, cmid) partition.
-- Reading conversations.last_seq in the same statement that updates it is
-- deliberate: every part of a statement sees the same snapshot, so `num`
-- sees the value before `bump` (the row is ours, locked in step 1).
--
-- A (sender, cmid) racing into a DIFFERENT conversation in another
-- transaction is not serialised by step 1: the INSERT then waits for that
-- transaction and fails with a unique violation if it commits. The caller
-- rolls back and stores the batch message by message (storage/send.c).
CREATE FUNCTION herald_send_batch(
  p_is_bot boolean[], p_sender bigint[], p_cmid text[], p_conv bigint[],
  p_kind text[], p_body text[], p_flagged boolean[])
RETURNS TABLE (r_idx integer, r_rc integer, r_conv bigint, r_seq bigint,
               r_sent_ms bigint, r_tracked boolean, r_dup boolean)
LANGUAGE plpgsql AS $$
DECLARE
  v_now timestamptz;
BEGIN
  PERFORM 1 FROM conversations c
   WHERE c.id = ANY (p_conv)
   ORDER BY c.id
   FOR NO KEY UPDATE;
  -- Taken after the lock: sent_at then never decreases along a
  -- conversation's seqs.
  v_now := clock_timestamp();

  RETURN QUERY
  WITH inp AS (
    SELECT u.i::integer AS idx, u.is_bot, u.sender, u.cmid, u.conv, u.kind,
           u.body, u.flagged,
           (min(u.i) OVER (PARTITION BY u.is_bot, u.sender, u.cmid))::integer
             AS first_idx
    FROM unnest(p_is_bot, p_sender, p_cmid, p_conv, p_kind, p_body, p_flagged)
         WITH ORDINALITY AS u(is_bot, sender, cmid, conv, kind, body, flagged, i)
  ),
  -- For first occurrences: the stored original if there is one and,
  -- otherwise, whether the sender may post (then `store`). The two halves
  -- of the LATERAL each match messages_sender_cmid_key exactly (IS NULL is
  -- an index condition), so a probe is one index lookup; repeats skip it.
  -- MATERIALIZED: inlined, `store` would be evaluated once per reference.
  chk AS MATERIALIZED (
    SELECT f.*, d.conversation_id AS d_conv, d.seq AS d_seq,
           d.sent_at AS d_sent, d.tracked AS d_tracked,
           CASE
             WHEN f.idx <> f.first_idx OR d.seq IS NOT NULL THEN false
             WHEN f.is_bot THEN EXISTS (
               SELECT 1 FROM bot_conversations bc
               JOIN bots b ON b.id = bc.bot_id
               WHERE bc.bot_id = f.sender AND bc.conversation_id = f.conv
                 AND b.revoked_at IS NULL)
             ELSE EXISTS (
               SELECT 1 FROM members mb
               JOIN users us ON us.id = mb.user_id
               WHERE mb.conversation_id = f.conv AND mb.user_id = f.sender
                 AND mb.left_seq IS NULL AND us.active)
           END AS store
    FROM inp f
    LEFT JOIN LATERAL (
      SELECT m.conversation_id, m.seq, m.sent_at, m.tracked
      FROM messages m
      WHERE f.idx = f.first_idx AND NOT f.is_bot
        AND m.sender_user_id = f.sender AND m.sender_bot_id IS NULL
        AND m.client_msg_id = f.cmid
      UNION ALL
      SELECT m.conversation_id, m.seq, m.sent_at, m.tracked
      FROM messages m
      WHERE f.idx = f.first_idx AND f.is_bot
        AND m.sender_user_id IS NULL AND m.sender_bot_id = f.sender
        AND m.client_msg_id = f.cmid
    ) d ON true
  ),
  -- Seqs: the conversation's last_seq (before this statement's bump) plus
  -- the running count of stored messages in input order.
  num AS (
    SELECT k.*,
           c.last_seq + count(*) FILTER (WHERE k.store)
             OVER (PARTITION BY k.conv ORDER BY k.idx) AS seq,
           (k.kind = 'ding' OR c.tracking = 'all'
            OR (c.tracking = 'flagged' AND k.flagged)) AS tracked
    FROM chk k
    LEFT JOIN conversations c ON c.id = k.conv
  ),
  -- Both run to completion although nothing reads them (a data-modifying
  -- WITH always does).
  bump AS (
    UPDATE conversations c SET last_seq = c.last_seq + k.n
    FROM (SELECT n.conv, count(*) AS n FROM num n WHERE n.store
          GROUP BY n.conv) k
    WHERE c.id = k.conv
  ),
  ins AS (
    INSERT INTO messages (conversation_id, seq, sender_user_id, sender_bot_id,
                          client_msg_id, kind, body, tracked, sent_at)
    SELECT n.conv, n.seq,
           CASE WHEN NOT n.is_bot THEN n.sender END,
           CASE WHEN n.is_bot THEN n.sender END,
           n.cmid, n.kind, n.body, n.tracked, v_now
    FROM num n
    WHERE n.store
    ORDER BY n.conv, n.seq
  )
  SELECT r.idx,
         CASE WHEN r.ok THEN 0 ELSE 1 END,
         CASE WHEN r.ok THEN r.conv END,
         r.seq,
         floor(extract(epoch FROM r.sent) * 1000)::bigint,
         r.tracked,
         r.was_stored OR (r.ok AND r.idx <> r.first_idx)
  FROM (
    SELECT n.idx, n.first_idx,
           first_value(n.store OR n.d_seq IS NOT NULL) OVER w AS ok,
           first_value(n.d_seq IS NOT NULL) OVER w AS was_stored,
           first_value(coalesce(n.d_conv, n.conv)) OVER w AS conv,
           first_value(CASE WHEN n.store THEN n.seq ELSE n.d_seq END) OVER w
             AS seq,
           first_value(CASE WHEN n.store THEN v_now ELSE n.d_sent END) OVER w
             AS sent,
           first_value(CASE WHEN n.store THEN n.tracked ELSE n.d_tracked END)
             OVER w AS tracked
    FROM num n
    WINDOW w AS (PARTITION BY n.is_bot, n.sender, n.cmid ORDER BY n.idx)
  ) r
  ORDER BY r.idx;
END $$;
