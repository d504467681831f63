-- 0006_automation.sql — automation at the unread threshold (SPEC §10,
-- issue 4): per-conversation thresholds, the per-member "reminded up to"
-- marker, reminder entries in the feed, and the reminder sweep.
--
-- Applied by storage/migrate.c in one transaction under the migration lock;
-- never edit this file once released (its checksum is recorded).

-- ---------------------------------------------------------------------------
-- Conversations. 0001 sketched the automation as two booleans that no code
-- ever read or wrote; a threshold per action replaces them. remind_after
-- and task_after are "unread for" thresholds in seconds, measured by
-- herald_unread_seconds() (so they follow business time once quiet hours
-- replace that function); NULL means off.
--   remind_after  remind each recipient once per tracked message unread
--                 past the threshold (herald_remind_sweep below);
--   task_after    turn such a message into a task card for the recipient.
--                 Stored only: cards do not exist yet, and nothing scans for
--                 it until they do (server/sweeper.c names the hook).
ALTER TABLE conversations DROP COLUMN unread_remind;
ALTER TABLE conversations DROP COLUMN unread_open_task;
ALTER TABLE conversations
  ADD COLUMN remind_after integer CHECK (remind_after BETWEEN 60 AND 31536000),
  ADD COLUMN task_after integer CHECK (task_after BETWEEN 60 AND 31536000);

-- ---------------------------------------------------------------------------
-- Members: reminded_seq is the reminder marker. Every tracked message at or
-- below greatest(read_seq, reminded_seq) is either read or was covered by a
-- reminder (or needed none: the member's own messages, DINGs); a reminder
-- covers what lies above it and moves it, in the transaction that appends
-- the reminder to the feed, under the member row's lock. A member who
-- rejoins starts above every old message (read_seq = joined_seq), so the
-- marker needs no reset.
--
-- The sweep looks for members whose marker lies below the newest message
-- that is past the threshold. This index answers that per conversation
-- without visiting the members who are up to date. Its cost: one more index
-- entry (~40 bytes) written per read and per reminder; reads were not HOT
-- updates before either (members_user_idx holds read_seq).
ALTER TABLE members ADD COLUMN reminded_seq bigint NOT NULL DEFAULT 0
  CHECK (reminded_seq >= 0);
CREATE INDEX members_remind_idx
  ON members (conversation_id, (greatest(read_seq, reminded_seq)))
  WHERE left_seq IS NULL;

-- Per conversation with remind_after set (a row exists exactly then; the
-- storage calls that set the threshold keep it so):
--   from_seq  messages at or below it are never reminded: they were sent
--             before the automation was switched on;
--   cut_seq   the newest tracked message known to be past the threshold in
--             elapsed time. Business time never exceeds elapsed time, so no
--             message above it can be due for anyone; and since sent_at
--             never decreases along seqs (0002), the cut only moves forward
--             while the threshold stays, and each sweep finds the next one
--             by walking forward from here instead of over the whole
--             conversation. Raising the threshold resets it to from_seq.
-- A separate table, so that moving the cut never waits for (or holds up)
-- the send path's lock on the conversation row.
CREATE TABLE remind_progress (
  conversation_id bigint PRIMARY KEY
    REFERENCES conversations (id) ON DELETE CASCADE,
  from_seq bigint NOT NULL CHECK (from_seq >= 0),
  cut_seq bigint NOT NULL,
  CHECK (cut_seq >= from_seq)
) WITH (fillfactor = 50);

-- ---------------------------------------------------------------------------
-- The feed gets a second kind. A 'remind' entry says "in conversation_id,
-- item_count tracked messages from_seq..to_seq (the oldest and newest of
-- them) have been unread by you past the conversation's remind_after since
-- `since` (the oldest one's send time)". The range may hold messages that
-- are not counted: your own, DINGs, untracked ones.
ALTER TABLE feed DROP CONSTRAINT feed_kind_check;
ALTER TABLE feed ADD CONSTRAINT feed_kind_check
  CHECK (kind IN ('receipt', 'remind'));
ALTER TABLE feed ADD COLUMN item_count bigint, ADD COLUMN since timestamptz;
ALTER TABLE feed ADD CONSTRAINT feed_remind_fields
  CHECK (kind <> 'remind' OR (item_count > 0 AND since IS NOT NULL));

-- ---------------------------------------------------------------------------
-- herald_remind_sweep: one bounded batch of the reminder sweep, as ONE
-- statement (one transaction); storage/automation.c calls it in a loop.
--
-- Conversations with remind_after set and id > p_after_conv are visited in
-- id order. For each:
--  1. the cut moves forward over tracked messages sent at least
--     remind_after seconds ago (an index walk from the old cut that stops
--     at the first message too recent: cost = messages that became due);
--     the stored cut is only a shortcut, so it is updated only when no
--     other sweep holds its row;
--  2. the members whose marker lies below the cut (members_remind_idx),
--     current, active users, are locked FOR NO KEY UPDATE SKIP LOCKED:
--     a member another sweep (another node) is working on, or whose read
--     is being recorded right now, is left for the next sweep — nobody
--     waits, and each member's marker is read after its lock, so two
--     sweeps can never cover the same message;
--  3. per member, the tracked messages above greatest(read_seq,
--     reminded_seq, from_seq) up to the cut that are unread for at least
--     remind_after by herald_unread_seconds() are due; the marker moves to
--     the newest due message, and when some of them are neither the
--     member's own nor DINGs (which have their own re-alerts, SPEC §6) one
--     entry covers those;
-- A batch ends after the conversation that brings the members handled to
-- p_limit or more (a conversation is never split: its members are few
-- enough for one transaction), or when no conversation is left.
--
-- Then every entry of the batch is appended to the feed in one statement,
-- locking the feed heads in user id order like herald_read, so concurrent
-- sweeps and reads never deadlock on them.
--
-- Returns one row per entry (r_user, r_fs, r_conv, r_from, r_to, r_count,
-- r_since_ms), or a single row with those NULL when there is none; every
-- row carries r_next_conv (pass it as p_after_conv to continue) and r_more
-- (false: the pass is complete).
CREATE FUNCTION herald_remind_sweep(p_after_conv bigint, p_limit integer)
RETURNS TABLE (r_user bigint, r_fs bigint, r_conv bigint, r_from bigint,
               r_to bigint, r_count bigint, r_since_ms bigint,
               r_next_conv bigint, r_more boolean)
LANGUAGE plpgsql AS $$
DECLARE
  v_now timestamptz := herald_now();
  v_left integer := p_limit;
  v_conv record;
  v_due timestamptz;
  v_cut bigint;
  v_seq bigint;
  v_sent timestamptz;
  v_taken integer;
  v_next bigint := p_after_conv;
  v_more boolean := false;
  v_users bigint[] := '{}';
  v_convs bigint[] := '{}';
  v_froms bigint[] := '{}';
  v_tos bigint[] := '{}';
  v_counts bigint[] := '{}';
  v_sinces timestamptz[] := '{}';
  a_users bigint[];
  a_froms bigint[];
  a_tos bigint[];
  a_counts bigint[];
  a_sinces timestamptz[];
BEGIN
  IF p_after_conv IS NULL OR p_limit IS NULL OR p_limit < 1 THEN
    RAISE EXCEPTION 'herald_remind_sweep: bad cursor or limit'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOR v_conv IN
    SELECT p.conversation_id AS id, c.remind_after, p.from_seq, p.cut_seq
      FROM remind_progress p
      JOIN conversations c ON c.id = p.conversation_id
     WHERE p.conversation_id > p_after_conv AND c.remind_after IS NOT NULL
     ORDER BY p.conversation_id
  LOOP
    v_next := v_conv.id;
    -- 1. The cut.
    v_due := v_now - make_interval(secs => v_conv.remind_after);
    v_cut := v_conv.cut_seq;
    FOR v_seq, v_sent IN
      SELECT x.seq, x.sent_at FROM messages x
       WHERE x.tracked AND x.conversation_id = v_conv.id
         AND x.seq > v_conv.cut_seq
       ORDER BY x.seq
    LOOP
      EXIT WHEN v_sent > v_due;
      v_cut := v_seq;
    END LOOP;
    IF v_cut > v_conv.cut_seq THEN
      PERFORM 1 FROM remind_progress
        WHERE conversation_id = v_conv.id
        FOR NO KEY UPDATE SKIP LOCKED;
      IF FOUND THEN
        UPDATE remind_progress SET cut_seq = v_cut
         WHERE conversation_id = v_conv.id AND cut_seq < v_cut;
      END IF;
    END IF;
    CONTINUE WHEN v_cut <= v_conv.from_seq;

    -- 2. and 3. The members, their due messages, their markers.
    WITH cand AS (
      SELECT m.user_id,
             greatest(m.read_seq, m.reminded_seq, v_conv.from_seq) AS lo
        FROM members m
        JOIN users u ON u.id = m.user_id
       WHERE m.conversation_id = v_conv.id AND m.left_seq IS NULL
         AND greatest(m.read_seq, m.reminded_seq) < v_cut
         AND u.active
         -- SPEC §7.2: no reminder during the member's quiet hours; the
         -- first sweep after their window ends makes it.
         AND NOT herald_in_quiet(m.user_id, v_now)
         FOR NO KEY UPDATE OF m SKIP LOCKED
    ),
    due AS (
      SELECT k.user_id, a.last_due, a.f, a.t, a.n, a.since
        FROM cand k
        CROSS JOIN LATERAL (
          SELECT max(x.seq) AS last_due,
                 min(x.seq) FILTER (WHERE x.kind <> 'ding'
                   AND x.sender_user_id IS DISTINCT FROM k.user_id) AS f,
                 max(x.seq) FILTER (WHERE x.kind <> 'ding'
                   AND x.sender_user_id IS DISTINCT FROM k.user_id) AS t,
                 count(*) FILTER (WHERE x.kind <> 'ding'
                   AND x.sender_user_id IS DISTINCT FROM k.user_id) AS n,
                 min(x.sent_at) FILTER (WHERE x.kind <> 'ding'
                   AND x.sender_user_id IS DISTINCT FROM k.user_id) AS since
            FROM messages x
           WHERE x.tracked AND x.conversation_id = v_conv.id
             AND x.seq > k.lo AND x.seq <= v_cut
             AND herald_unread_seconds(k.user_id, x.sent_at, v_now)
                 >= v_conv.remind_after
        ) a
    ),
    moved AS (
      UPDATE members m SET reminded_seq = d.last_due
        FROM due d
       WHERE m.conversation_id = v_conv.id AND m.user_id = d.user_id
         AND d.last_due IS NOT NULL AND m.reminded_seq < d.last_due
    )
    SELECT count(*)::integer,
           coalesce(array_agg(d.user_id ORDER BY d.user_id)
                      FILTER (WHERE d.n > 0), '{}'),
           coalesce(array_agg(d.f ORDER BY d.user_id)
                      FILTER (WHERE d.n > 0), '{}'),
           coalesce(array_agg(d.t ORDER BY d.user_id)
                      FILTER (WHERE d.n > 0), '{}'),
           coalesce(array_agg(d.n ORDER BY d.user_id)
                      FILTER (WHERE d.n > 0), '{}'),
           coalesce(array_agg(d.since ORDER BY d.user_id)
                      FILTER (WHERE d.n > 0), '{}')
      INTO v_taken, a_users, a_froms, a_tos, a_counts, a_sinces
      FROM due d;
    v_users := v_users || a_users;
    v_convs := v_convs || array_fill(v_conv.id, ARRAY[cardinality(a_users)]);
    v_froms := v_froms || a_froms;
    v_tos := v_tos || a_tos;
    v_counts := v_counts || a_counts;
    v_sinces := v_sinces || a_sinces;
    v_left := v_left - v_taken;
    IF v_left <= 0 THEN
      v_more := true;
      EXIT;
    END IF;
  END LOOP;

  IF cardinality(v_users) = 0 THEN
    r_next_conv := v_next;
    r_more := v_more;
    RETURN NEXT;
    RETURN;
  END IF;
  RETURN QUERY
  WITH e AS (
    SELECT * FROM unnest(v_users, v_convs, v_froms, v_tos, v_counts, v_sinces)
             AS e(u, cv, f, t, n, s)
  ),
  k AS (
    SELECT e.u, count(*) AS k FROM e GROUP BY e.u
  ),
  h AS (
    INSERT INTO feed_heads AS fh (user_id, last_fs)
    SELECT k.u, k.k FROM k ORDER BY k.u
    ON CONFLICT (user_id) DO UPDATE SET last_fs = fh.last_fs + EXCLUDED.last_fs
    RETURNING fh.user_id, fh.last_fs
  ),
  ins AS (
    INSERT INTO feed (user_id, fs, kind, conversation_id, from_seq, to_seq,
                      item_count, since)
    SELECT e.u,
           h.last_fs - k.k + row_number() OVER (PARTITION BY e.u ORDER BY e.cv),
           'remind', e.cv, e.f, e.t, e.n, e.s
      FROM e JOIN k ON k.u = e.u JOIN h ON h.user_id = e.u
    RETURNING feed.user_id, feed.fs, feed.conversation_id, feed.from_seq,
              feed.to_seq, feed.item_count, feed.since
  )
  SELECT i.user_id, i.fs, i.conversation_id, i.from_seq, i.to_seq,
         i.item_count, floor(extract(epoch FROM i.since) * 1000)::bigint,
         v_next, v_more
    FROM ins i ORDER BY i.user_id, i.fs;
END $$;
