-- 0008_ding.sql — DINGs (SPEC §6): urgent notices that each recipient must
-- acknowledge, with a durable per-recipient escalation schedule.
--
-- What 0001 sketched (dings, ding_recipients, escalation_attempts, the org
-- schedule) plus: how a DING is stored with its message (one statement,
-- the same transaction as the message), the feed kind 'ding', a log of
-- every alert step that makes "no step twice" a primary key, the
-- scheduler's claim-and-fire function, and the webhook's claim and record.
--
-- Applied by storage/migrate.c in one transaction under the migration lock;
-- never edit this file once released (its checksum is recorded).
--
-- The schedule. A DING copies the org's policy (or its own `esc`) into
-- dings.schedule / repeat_every / max_alerts. Slot k (k = 1, 2, ...) lies
-- herald_ding_offset(schedule, repeat_every, k) after the send: the k-th
-- schedule entry, and past the last entry one more repeat_every per slot.
-- Slots 1..max_alerts are re-alerts (`ding_alert` step k); slot
-- max_alerts + 1 is the escalation (manager and/or webhook). Once a slot
-- has fired, the next is due one slot gap later, counted from when the
-- slot was due — or from now when that moment has already passed (the
-- server was down, or the step was deferred by quiet hours), so that a
-- backlog never fires as a burst. A recipient in quiet hours has every
-- step of a non-critical DING deferred to the end of their quiet stretch;
-- a critical DING goes through, marked overrode_quiet and audited.
--
-- Every time is herald_now() (0007), so the test clock moves the schedule.

-- ---------------------------------------------------------------------------
-- Tables.

-- A DING to every member (`all`) is shown as such on replay; its
-- recipients are still the members when it was sent (ding_recipients).
ALTER TABLE dings ADD COLUMN all_members boolean NOT NULL DEFAULT false;

-- escalated_to: the manager notified at the escalation (they follow the
-- row in their feed from then on). webhook_due_at: the next webhook
-- attempt (NULL: none pending); webhook_tries: attempts made so far. A
-- webhook attempt is claimed with claimed_by / claim_expires_at (0001)
-- because it runs outside any transaction (an HTTP request); a claim left
-- by a dead node expires and the attempt is made again.
ALTER TABLE ding_recipients
  ADD COLUMN escalated_to bigint REFERENCES users (id),
  ADD COLUMN webhook_due_at timestamptz,
  ADD COLUMN webhook_tries integer NOT NULL DEFAULT 0
    CHECK (webhook_tries >= 0);
CREATE INDEX ding_recipients_webhook_idx ON ding_recipients (webhook_due_at)
  WHERE webhook_due_at IS NOT NULL;

-- The org's escalation targets: the manager (default on) and/or the
-- webhook (escalation_webhook_url, 0001).
ALTER TABLE org ADD COLUMN ding_escalate_manager boolean NOT NULL
  DEFAULT true;

-- One row per alert step that went out to a recipient: step 0 with the
-- send, 1..max_alerts the re-alerts, max_alerts + 1 the escalation. The
-- primary key is the guarantee that no step fires twice, whatever the
-- number of nodes; node names the server that fired it.
CREATE TABLE ding_steps (
  conversation_id bigint NOT NULL,
  seq bigint NOT NULL,
  user_id bigint NOT NULL,
  step integer NOT NULL CHECK (step >= 0),
  kind text NOT NULL CHECK (kind IN ('alert', 'escalation')),
  due_at timestamptz NOT NULL,
  fired_at timestamptz NOT NULL DEFAULT herald_now(),
  node text NOT NULL DEFAULT '',
  overrode_quiet boolean NOT NULL DEFAULT false,
  PRIMARY KEY (conversation_id, seq, user_id, step),
  FOREIGN KEY (conversation_id, seq, user_id)
    REFERENCES ding_recipients (conversation_id, seq, user_id)
    ON DELETE CASCADE
);

-- The feed (0004) gets the kind 'ding': "the state of recipient
-- ding_user_id of DING (conversation_id, from_seq) changed". The server
-- turns it into a `ding_update` with the row's current state (the latest
-- wins, as for receipts). 'remind' is the unread-reminder kind of the
-- automation work, listed so that either migration may come first.
ALTER TABLE feed ADD COLUMN ding_user_id bigint REFERENCES users (id);
ALTER TABLE feed DROP CONSTRAINT feed_kind_check;
ALTER TABLE feed ADD CONSTRAINT feed_kind_check
  CHECK (kind IN ('receipt', 'remind', 'ding'));
ALTER TABLE feed ADD CONSTRAINT feed_ding_user
  CHECK ((kind = 'ding') = (ding_user_id IS NOT NULL));

-- ---------------------------------------------------------------------------
-- Schedule arithmetic.

-- How long after the send slot p_k (>= 1) lies.
CREATE FUNCTION herald_ding_offset(p_schedule interval[], p_repeat interval,
                                   p_k integer)
RETURNS interval LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN p_k <= coalesce(cardinality(p_schedule), 0) THEN p_schedule[p_k]
    WHEN coalesce(cardinality(p_schedule), 0) = 0 THEN p_repeat * p_k
    ELSE p_schedule[cardinality(p_schedule)]
         + p_repeat * (p_k - cardinality(p_schedule))
  END
$$;

-- ---------------------------------------------------------------------------
-- herald_ding_notify: appends one feed entry (kind 'ding') about each row
-- (p_conv[i], p_seq[i], recipient p_subj[i]) to everyone who follows that
-- row: the recipient, the escalation manager once there is one, and (with
-- p_sender) the DING's sender when a user. Duplicates fold into one
-- entry per user and row. Returns the entries (user, fs, conversation,
-- seq, recipient) ordered by user and fs.
--
-- As in herald_read, each user's feed head is bumped once per call, in
-- user id order, so that concurrent writers never deadlock on the heads
-- and the per-user fs stays gapless.
CREATE FUNCTION herald_ding_notify(p_conv bigint[], p_seq bigint[],
                                   p_subj bigint[], p_sender boolean)
RETURNS TABLE (r_user bigint, r_fs bigint, r_conv bigint, r_seq bigint,
               r_subj bigint)
LANGUAGE sql AS $$
  WITH k AS (
    SELECT u.c, u.s, u.subj, u.o
    FROM unnest(p_conv, p_seq, p_subj) WITH ORDINALITY AS u(c, s, subj, o)
  ),
  -- One primary-key probe per row: a LATERAL kept apart by its LIMIT.
  -- Planned as joins, the unnest's unknown size led to a scan of every
  -- recipient of the DING per row (4,000 rows: 1.5 s instead of ms).
  t AS (
    SELECT DISTINCT ON (w.u, k.c, k.s, k.subj) w.u, k.c, k.s, k.subj, k.o
    FROM k
    CROSS JOIN LATERAL (
      SELECT r.escalated_to, x.sender_user_id
        FROM ding_recipients r
        JOIN messages x ON x.conversation_id = r.conversation_id
          AND x.seq = r.seq
       WHERE r.conversation_id = k.c AND r.seq = k.s AND r.user_id = k.subj
       LIMIT 1
    ) AS d
    CROSS JOIN LATERAL (VALUES (k.subj), (d.escalated_to),
      (CASE WHEN p_sender THEN d.sender_user_id END)) AS w(u)
    WHERE w.u IS NOT NULL
    ORDER BY w.u, k.c, k.s, k.subj, k.o
  ),
  e AS (
    SELECT t.*,
           row_number() OVER (PARTITION BY t.u ORDER BY t.o, t.c, t.s)
             AS rk,
           count(*) OVER (PARTITION BY t.u) AS n
    FROM t
  ),
  h AS (
    INSERT INTO feed_heads AS fh (user_id, last_fs)
    SELECT e.u, e.n FROM e WHERE e.rk = 1 ORDER BY e.u
    ON CONFLICT (user_id) DO UPDATE SET last_fs = fh.last_fs + excluded.last_fs
    RETURNING fh.user_id, fh.last_fs
  ),
  ins AS (
    INSERT INTO feed (user_id, fs, kind, conversation_id, from_seq, to_seq,
                      ding_user_id)
    SELECT e.u, h.last_fs - e.n + e.rk, 'ding', e.c, e.s, e.s, e.subj
    FROM e JOIN h ON h.user_id = e.u
    RETURNING feed.user_id, feed.fs, feed.conversation_id, feed.from_seq,
              feed.ding_user_id
  )
  SELECT * FROM ins ORDER BY 1, 2
$$;

-- ---------------------------------------------------------------------------
-- herald_send_batch_ding: herald_send_batch (0002/0003/0007) for a batch
-- that holds DINGs; storage/send.c uses it only then, so text batches keep
-- their one-statement cost. p_ding[i] is '' for other messages and, for a
-- DING, a JSON object {"urg": "normal"|"urgent"|"critical", "all": bool,
-- "to": [user ids], "esc": [seconds after sending]} built by send.c.
--
-- Before the batch, each new DING's recipients are checked (a re-send of a
-- stored DING, or one from a sender who may not post there, is left to the
-- batch: duplicate, or refused): every `to` must be a current member with
-- an active account and not the sender; `all` must find someone. A DING
-- that fails is not stored (its conversation is withheld from the batch,
-- which then refuses it) and gets r_rc 2 (to[r_fault_at] is not a
-- member), 3 (to[r_fault_at] is the sender) or 4 (no recipients).
--
-- After the batch, in the same transaction, each DING stored now gets its
-- dings row (the schedule in force), one ding_recipients row per
-- recipient with the first slot due, step 0 in ding_steps (a critical DING
-- to someone in quiet hours overrides them: marked and audited), and one
-- feed entry per recipient about their own row (an offline recipient finds
-- it pending in the feed). r_rcpt lists the recipients (ascending), r_fs
-- their entries' fs, r_due_ms the first slot.
CREATE FUNCTION herald_send_batch_ding(
  p_is_bot boolean[], p_sender bigint[], p_cmid text[], p_conv bigint[],
  p_kind text[], p_body text[], p_flagged boolean[], p_ding text[])
RETURNS TABLE (r_idx integer, r_rc integer, r_conv bigint, r_seq bigint,
               r_sent_ms bigint, r_tracked boolean, r_dup boolean,
               r_fault_at integer, r_rcpt bigint[], r_fs bigint[],
               r_due_ms bigint)
LANGUAGE plpgsql AS $$
DECLARE
  n integer := coalesce(cardinality(p_conv), 0);
  v_conv bigint[] := p_conv;
  v_fault integer[] := array_fill(0, ARRAY[n]);
  v_at integer[] := array_fill(NULL::integer, ARRAY[n]);
  v_due bigint[] := array_fill(NULL::bigint, ARRAY[n]);
  a_rc integer[];
  a_conv bigint[];
  a_seq bigint[];
  a_sent bigint[];
  a_tracked boolean[];
  a_dup boolean[];
  f_conv bigint[] := '{}';
  f_seq bigint[] := '{}';
  f_subj bigint[] := '{}';
  e_user bigint[];
  e_fs bigint[];
  e_conv bigint[];
  e_seq bigint[];
  d jsonb;
  v_bad integer;
  v_ok boolean;
  v_urg text;
  v_all boolean;
  v_sched interval[];
  v_rep interval;
  v_max integer;
  v_sent timestamptz;
  v_r bigint[];
BEGIN
  FOR i IN 1 .. n LOOP
    CONTINUE WHEN p_kind[i] <> 'ding' OR coalesce(p_ding[i], '') = '';
    IF p_is_bot[i] THEN
      CONTINUE WHEN EXISTS (
        SELECT 1 FROM messages m
        WHERE m.sender_user_id IS NULL AND m.sender_bot_id = p_sender[i]
          AND m.client_msg_id = p_cmid[i]);
      v_ok := EXISTS (
        SELECT 1 FROM bot_conversations bc JOIN bots b ON b.id = bc.bot_id
        WHERE bc.bot_id = p_sender[i] AND bc.conversation_id = p_conv[i]
          AND b.revoked_at IS NULL);
    ELSE
      CONTINUE WHEN EXISTS (
        SELECT 1 FROM messages m
        WHERE m.sender_user_id = p_sender[i] AND m.sender_bot_id IS NULL
          AND m.client_msg_id = p_cmid[i]);
      v_ok := EXISTS (
        SELECT 1 FROM members mb JOIN users us ON us.id = mb.user_id
        WHERE mb.conversation_id = p_conv[i] AND mb.user_id = p_sender[i]
          AND mb.left_seq IS NULL AND us.active);
    END IF;
    CONTINUE WHEN NOT v_ok;
    d := p_ding[i]::jsonb;
    IF coalesce((d->>'all')::boolean, false) THEN
      IF NOT EXISTS (
          SELECT 1 FROM members mb JOIN users us ON us.id = mb.user_id
          WHERE mb.conversation_id = p_conv[i] AND mb.left_seq IS NULL
            AND us.active
            AND (p_is_bot[i] OR mb.user_id <> p_sender[i])) THEN
        v_fault[i] := 4;
      END IF;
    ELSE
      SELECT t.o - 1 INTO v_bad
        FROM jsonb_array_elements_text(coalesce(d->'to', '[]'))
             WITH ORDINALITY AS t(u, o)
       WHERE NOT p_is_bot[i] AND t.u::bigint = p_sender[i]
       ORDER BY t.o LIMIT 1;
      IF FOUND THEN
        v_fault[i] := 3;
        v_at[i] := v_bad;
      ELSE
        SELECT t.o - 1 INTO v_bad
          FROM jsonb_array_elements_text(coalesce(d->'to', '[]'))
               WITH ORDINALITY AS t(u, o)
         WHERE NOT EXISTS (
           SELECT 1 FROM members mb JOIN users us ON us.id = mb.user_id
           WHERE mb.conversation_id = p_conv[i] AND mb.user_id = t.u::bigint
             AND mb.left_seq IS NULL AND us.active)
         ORDER BY t.o LIMIT 1;
        IF FOUND THEN
          v_fault[i] := 2;
          v_at[i] := v_bad;
        ELSIF jsonb_array_length(coalesce(d->'to', '[]')) = 0 THEN
          v_fault[i] := 4;
        END IF;
      END IF;
    END IF;
    IF v_fault[i] <> 0 THEN
      v_conv[i] := NULL;
    END IF;
  END LOOP;

  SELECT array_agg(b.r_rc ORDER BY b.r_idx),
         array_agg(b.r_conv ORDER BY b.r_idx),
         array_agg(b.r_seq ORDER BY b.r_idx),
         array_agg(b.r_sent_ms ORDER BY b.r_idx),
         array_agg(b.r_tracked ORDER BY b.r_idx),
         array_agg(b.r_dup ORDER BY b.r_idx)
    INTO a_rc, a_conv, a_seq, a_sent, a_tracked, a_dup
    FROM herald_send_batch(p_is_bot, p_sender, p_cmid, v_conv, p_kind,
                           p_body, p_flagged) b;

  FOR i IN 1 .. n LOOP
    CONTINUE WHEN p_kind[i] <> 'ding' OR coalesce(p_ding[i], '') = ''
      OR a_rc[i] <> 0 OR a_dup[i];
    d := p_ding[i]::jsonb;
    v_urg := d->>'urg';
    v_all := coalesce((d->>'all')::boolean, false);
    IF jsonb_array_length(coalesce(d->'esc', '[]')) > 0 THEN
      -- The DING's own schedule: its re-alerts at these offsets, the
      -- escalation one last gap after the last (the first offset again
      -- when there is only one).
      v_sched := ARRAY(
        SELECT make_interval(secs => e.v::float8)
          FROM jsonb_array_elements_text(d->'esc') WITH ORDINALITY AS e(v, o)
         ORDER BY e.o);
      v_max := cardinality(v_sched);
      v_rep := CASE WHEN v_max > 1 THEN v_sched[v_max] - v_sched[v_max - 1]
                    ELSE v_sched[1] END;
    ELSE
      SELECT coalesce(o.ding_schedule, '{00:05:00,00:15:00,00:30:00}'),
             coalesce(o.ding_repeat_every, '1 hour'),
             coalesce(o.ding_max_alerts, 6)
        INTO v_sched, v_rep, v_max
        FROM (VALUES (1)) AS one(x) LEFT JOIN org o ON true;
    END IF;
    SELECT m.sent_at INTO v_sent FROM messages m
     WHERE m.conversation_id = a_conv[i] AND m.seq = a_seq[i];
    IF v_all THEN
      v_r := ARRAY(
        SELECT mb.user_id FROM members mb JOIN users us ON us.id = mb.user_id
        WHERE mb.conversation_id = a_conv[i] AND mb.left_seq IS NULL
          AND us.active AND (p_is_bot[i] OR mb.user_id <> p_sender[i])
        ORDER BY mb.user_id);
    ELSE
      v_r := ARRAY(
        SELECT DISTINCT t.u::bigint
          FROM jsonb_array_elements_text(d->'to') AS t(u) ORDER BY 1);
    END IF;
    INSERT INTO dings (conversation_id, seq, urgency, schedule, repeat_every,
                       max_alerts, all_members)
    VALUES (a_conv[i], a_seq[i], v_urg, v_sched, v_rep, v_max, v_all);
    INSERT INTO ding_recipients (conversation_id, seq, user_id, next_due_at,
                                 overrode_quiet)
    SELECT a_conv[i], a_seq[i], r.u,
           v_sent + herald_ding_offset(v_sched, v_rep, 1),
           CASE WHEN v_urg = 'critical' THEN herald_in_quiet(r.u, v_sent)
                ELSE false END
      FROM unnest(v_r) AS r(u);
    INSERT INTO ding_steps (conversation_id, seq, user_id, step, kind,
                            due_at, fired_at, overrode_quiet)
    SELECT r.conversation_id, r.seq, r.user_id, 0, 'alert', v_sent, v_sent,
           r.overrode_quiet
      FROM ding_recipients r
     WHERE r.conversation_id = a_conv[i] AND r.seq = a_seq[i];
    INSERT INTO audit_log (actor, action, detail)
    SELECT 'system', 'ding.quiet_override',
           jsonb_build_object('conversation_id', r.conversation_id,
                              'seq', r.seq, 'user_id', r.user_id, 'step', 0)
      FROM ding_recipients r
     WHERE r.conversation_id = a_conv[i] AND r.seq = a_seq[i]
       AND r.overrode_quiet;
    v_due[i] := floor(extract(epoch FROM
                  v_sent + herald_ding_offset(v_sched, v_rep, 1)) * 1000);
    f_conv := f_conv || array_fill(a_conv[i], ARRAY[cardinality(v_r)]);
    f_seq := f_seq || array_fill(a_seq[i], ARRAY[cardinality(v_r)]);
    f_subj := f_subj || v_r;
  END LOOP;

  -- One append for the whole batch: the feed heads are locked once each,
  -- in user id order.
  SELECT array_agg(f.r_user ORDER BY f.r_user, f.r_fs),
         array_agg(f.r_fs ORDER BY f.r_user, f.r_fs),
         array_agg(f.r_conv ORDER BY f.r_user, f.r_fs),
         array_agg(f.r_seq ORDER BY f.r_user, f.r_fs)
    INTO e_user, e_fs, e_conv, e_seq
    FROM herald_ding_notify(f_conv, f_seq, f_subj, false) f;

  RETURN QUERY
  SELECT k.i::integer,
         CASE WHEN v_fault[k.i] <> 0 THEN v_fault[k.i] ELSE a_rc[k.i] END,
         a_conv[k.i], a_seq[k.i], a_sent[k.i], a_tracked[k.i], a_dup[k.i],
         v_at[k.i],
         CASE WHEN v_due[k.i] IS NOT NULL THEN ARRAY(
           SELECT e.u FROM unnest(e_user, e_fs, e_conv, e_seq) AS e(u, fs, c, s)
           WHERE e.c = a_conv[k.i] AND e.s = a_seq[k.i] ORDER BY e.u) END,
         CASE WHEN v_due[k.i] IS NOT NULL THEN ARRAY(
           SELECT e.fs FROM unnest(e_user, e_fs, e_conv, e_seq) AS e(u, fs, c, s)
           WHERE e.c = a_conv[k.i] AND e.s = a_seq[k.i] ORDER BY e.u) END,
         v_due[k.i]
    FROM generate_series(1, n) AS k(i)
   ORDER BY k.i;
END $$;

-- ---------------------------------------------------------------------------
-- State changes of one recipient's row. Each returns the feed entries it
-- appended (herald_ding_notify), so the server can push them live.

-- The DINGs p_seqs of p_conv reached one of p_user's devices (the message
-- was queued to it, live or replayed). Only the first delivery changes
-- anything.
CREATE FUNCTION herald_ding_delivered(p_user bigint, p_conv bigint,
                                      p_seqs bigint[])
RETURNS TABLE (r_user bigint, r_fs bigint, r_conv bigint, r_seq bigint,
               r_subj bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_seqs bigint[];
BEGIN
  WITH u AS (
    UPDATE ding_recipients r SET delivered_at = herald_now()
     WHERE r.conversation_id = p_conv AND r.seq = ANY (p_seqs)
       AND r.user_id = p_user AND r.delivered_at IS NULL
    RETURNING r.seq)
  SELECT array_agg(u.seq ORDER BY u.seq) INTO v_seqs FROM u;
  IF v_seqs IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY
  SELECT * FROM herald_ding_notify(
    array_fill(p_conv, ARRAY[cardinality(v_seqs)]), v_seqs,
    array_fill(p_user, ARRAY[cardinality(v_seqs)]), true);
END $$;

-- p_user's read marker in p_conv moved from p_from to p_to: their rows of
-- DINGs in (p_from, p_to] are now read ("read" is the marker, so there is
-- nothing to update, only followers to tell).
CREATE FUNCTION herald_ding_read(p_user bigint, p_conv bigint, p_from bigint,
                                 p_to bigint)
RETURNS TABLE (r_user bigint, r_fs bigint, r_conv bigint, r_seq bigint,
               r_subj bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_seqs bigint[];
BEGIN
  SELECT array_agg(r.seq ORDER BY r.seq) INTO v_seqs
    FROM ding_recipients r
   WHERE r.conversation_id = p_conv AND r.seq > p_from AND r.seq <= p_to
     AND r.user_id = p_user;
  IF v_seqs IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY
  SELECT * FROM herald_ding_notify(
    array_fill(p_conv, ARRAY[cardinality(v_seqs)]), v_seqs,
    array_fill(p_user, ARRAY[cardinality(v_seqs)]), true);
END $$;

-- p_user acknowledges DING (p_conv, p_seq) at p_at (NULL: now), clamped
-- to [the DING's time, now]. Stops their schedule and any webhook retry
-- not yet made. r_status 0 done (then one row per feed entry), 1 not a
-- recipient (or no such DING), 2 already acknowledged (no-op).
CREATE FUNCTION herald_ding_ack(p_user bigint, p_conv bigint, p_seq bigint,
                                p_at timestamptz)
RETURNS TABLE (r_status integer, r_acked_ms bigint, r_user bigint,
               r_fs bigint, r_conv bigint, r_seq bigint, r_subj bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_at timestamptz;
BEGIN
  UPDATE ding_recipients r
     SET acked_at = greatest(x.sent_at,
                             least(coalesce(p_at, herald_now()), herald_now())),
         next_due_at = NULL, webhook_due_at = NULL
    FROM messages x
   WHERE r.conversation_id = p_conv AND r.seq = p_seq AND r.user_id = p_user
     AND x.conversation_id = r.conversation_id AND x.seq = r.seq
     AND r.acked_at IS NULL
  RETURNING r.acked_at INTO v_at;
  IF NOT FOUND THEN
    SELECT r.acked_at INTO v_at FROM ding_recipients r
     WHERE r.conversation_id = p_conv AND r.seq = p_seq
       AND r.user_id = p_user;
    r_status := CASE WHEN FOUND THEN 2 ELSE 1 END;
    r_acked_ms := floor(extract(epoch FROM v_at) * 1000);
    RETURN NEXT;
    RETURN;
  END IF;
  RETURN QUERY
  SELECT 0, floor(extract(epoch FROM v_at) * 1000)::bigint, f.*
    FROM herald_ding_notify(ARRAY[p_conv], ARRAY[p_seq], ARRAY[p_user], true)
         AS f;
END $$;

-- ---------------------------------------------------------------------------
-- herald_ding_fire: the scheduler's step. Claims up to p_limit rows whose
-- slot is due (FOR UPDATE SKIP LOCKED: a row another node is firing is
-- left to it, and the row lock lasts until the caller commits) and, per
-- row:
--   r_what 0  deferred: the recipient is in quiet hours and the DING is
--             not critical; next_due_at moves to the end of the stretch
--   r_what 1  re-alert step r_step (ding_steps row, next slot scheduled)
--   r_what 2  escalation (slot max_alerts + 1): escalated_at, the manager
--             (org.ding_escalate_manager, an active manager) recorded as
--             an escalation attempt ('ok', or 'skipped' without one), the
--             webhook queued when the org has one (webhook_due_at now)
-- A step in the recipient's quiet hours of a critical DING is marked
-- r_overrode and audited. The caller appends the feed entries
-- (herald_ding_notify) in the same transaction and commits.
CREATE FUNCTION herald_ding_fire(p_node text, p_limit integer)
RETURNS TABLE (r_conv bigint, r_seq bigint, r_user bigint, r_what integer,
               r_step integer, r_overrode boolean, r_manager bigint,
               r_webhook boolean, r_sender_user bigint, r_sender_bot bigint,
               r_urg text)
LANGUAGE plpgsql AS $$
DECLARE
  v_now timestamptz := herald_now();
  v_mgr_on boolean;
  v_url text;
  r record;
  v_k integer;
  v_quiet boolean;
  v_gap interval;
  v_next timestamptz;
BEGIN
  SELECT coalesce(o.ding_escalate_manager, true), o.escalation_webhook_url
    INTO v_mgr_on, v_url
    FROM (VALUES (1)) AS one(x) LEFT JOIN org o ON true;
  FOR r IN
    SELECT dr.conversation_id, dr.seq, dr.user_id, dr.step, dr.next_due_at,
           d.urgency, d.schedule, d.repeat_every, d.max_alerts,
           x.sender_user_id, x.sender_bot_id
      FROM ding_recipients dr
      JOIN dings d ON d.conversation_id = dr.conversation_id
        AND d.seq = dr.seq
      JOIN messages x ON x.conversation_id = dr.conversation_id
        AND x.seq = dr.seq
     WHERE dr.next_due_at <= v_now AND dr.acked_at IS NULL
     ORDER BY dr.next_due_at
     LIMIT p_limit
       FOR UPDATE OF dr SKIP LOCKED
  LOOP
    r_conv := r.conversation_id;
    r_seq := r.seq;
    r_user := r.user_id;
    r_sender_user := r.sender_user_id;
    r_sender_bot := r.sender_bot_id;
    r_urg := r.urgency;
    r_manager := NULL;
    r_webhook := false;
    v_quiet := herald_in_quiet(r.user_id, v_now);
    r_overrode := v_quiet AND r.urgency = 'critical';
    IF v_quiet AND r.urgency <> 'critical' THEN
      UPDATE ding_recipients
         SET next_due_at = herald_quiet_until(r.user_id, v_now)
       WHERE conversation_id = r.conversation_id AND seq = r.seq
         AND user_id = r.user_id;
      r_what := 0;
      r_step := r.step;
      RETURN NEXT;
      CONTINUE;
    END IF;
    v_k := r.step + 1;
    IF v_k <= r.max_alerts THEN
      v_gap := herald_ding_offset(r.schedule, r.repeat_every, v_k + 1)
               - herald_ding_offset(r.schedule, r.repeat_every, v_k);
      v_next := CASE WHEN r.next_due_at + v_gap > v_now
                     THEN r.next_due_at + v_gap ELSE v_now + v_gap END;
      INSERT INTO ding_steps (conversation_id, seq, user_id, step, kind,
                              due_at, fired_at, node, overrode_quiet)
      VALUES (r.conversation_id, r.seq, r.user_id, v_k, 'alert',
              r.next_due_at, v_now, p_node, r_overrode);
      UPDATE ding_recipients
         SET step = v_k, next_due_at = v_next,
             overrode_quiet = overrode_quiet OR r_overrode
       WHERE conversation_id = r.conversation_id AND seq = r.seq
         AND user_id = r.user_id;
      r_what := 1;
    ELSE
      IF v_mgr_on THEN
        SELECT m.id INTO r_manager FROM users u JOIN users m
            ON m.id = u.manager_id AND m.active
         WHERE u.id = r.user_id;
      END IF;
      r_webhook := v_url IS NOT NULL;
      INSERT INTO ding_steps (conversation_id, seq, user_id, step, kind,
                              due_at, fired_at, node, overrode_quiet)
      VALUES (r.conversation_id, r.seq, r.user_id, v_k, 'escalation',
              r.next_due_at, v_now, p_node, r_overrode);
      UPDATE ding_recipients
         SET escalated_at = v_now, next_due_at = NULL,
             escalated_to = r_manager,
             webhook_due_at = CASE WHEN r_webhook THEN v_now END,
             overrode_quiet = overrode_quiet OR r_overrode
       WHERE conversation_id = r.conversation_id AND seq = r.seq
         AND user_id = r.user_id;
      INSERT INTO escalation_attempts (conversation_id, seq, user_id, kind,
                                       attempt, at, outcome, detail)
      VALUES (r.conversation_id, r.seq, r.user_id, 'manager', 1, v_now,
              CASE WHEN r_manager IS NOT NULL THEN 'ok' ELSE 'skipped' END,
              CASE WHEN r_manager IS NOT NULL
                   THEN 'notified manager user id ' || r_manager
                   WHEN NOT v_mgr_on THEN 'manager escalation is off'
                   ELSE 'no active manager' END);
      INSERT INTO audit_log (actor, action, detail)
      VALUES ('system', 'ding.escalate',
              jsonb_build_object('conversation_id', r.conversation_id,
                                 'seq', r.seq, 'user_id', r.user_id,
                                 'manager_id', r_manager,
                                 'webhook', r_webhook));
      r_what := 2;
    END IF;
    IF r_overrode THEN
      INSERT INTO audit_log (actor, action, detail)
      VALUES ('system', 'ding.quiet_override',
              jsonb_build_object('conversation_id', r.conversation_id,
                                 'seq', r.seq, 'user_id', r.user_id,
                                 'step', v_k));
    END IF;
    r_step := v_k;
    RETURN NEXT;
  END LOOP;
END $$;

-- ---------------------------------------------------------------------------
-- Webhook escalation. An attempt is claimed (claimed_by, a lease), made
-- outside the database (HTTP), then recorded; a lease that runs out
-- (the node died) lets another node make the same attempt again, so a
-- gateway may see an attempt twice and should de-duplicate on "id".

-- Claims the most overdue webhook attempt, if any: r_url is the org's
-- webhook now (NULL: removed since the escalation; the caller records the
-- attempt as skipped), r_payload the JSON document to POST.
CREATE FUNCTION herald_ding_webhook_claim(p_node text, p_lease interval)
RETURNS TABLE (r_conv bigint, r_seq bigint, r_user bigint,
               r_attempt integer, r_url text, r_payload text)
LANGUAGE sql AS $$
  WITH c AS (
    SELECT r.conversation_id, r.seq, r.user_id
      FROM ding_recipients r
     WHERE r.webhook_due_at <= herald_now() AND r.acked_at IS NULL
       AND (r.claim_expires_at IS NULL OR r.claim_expires_at <= herald_now())
     ORDER BY r.webhook_due_at
     LIMIT 1
       FOR UPDATE SKIP LOCKED
  ),
  u AS (
    UPDATE ding_recipients r
       SET claimed_by = p_node, claim_expires_at = herald_now() + p_lease
      FROM c
     WHERE r.conversation_id = c.conversation_id AND r.seq = c.seq
       AND r.user_id = c.user_id
    RETURNING r.conversation_id, r.seq, r.user_id, r.webhook_tries, r.step,
              r.escalated_at, r.escalated_to
  )
  SELECT u.conversation_id, u.seq, u.user_id, u.webhook_tries + 1,
         o.escalation_webhook_url,
         jsonb_build_object(
           'event', 'ding.escalation',
           'id', u.conversation_id || ':' || u.seq || ':' || u.user_id,
           'attempt', u.webhook_tries + 1,
           'conversation', jsonb_build_object('id', u.conversation_id,
                                              'title', cv.title),
           'seq', u.seq,
           'urgency', d.urgency,
           'sent_at_ms', floor(extract(epoch FROM x.sent_at) * 1000),
           'escalated_at_ms', floor(extract(epoch FROM u.escalated_at) * 1000),
           'alerts', u.step + 1,
           'body', left(x.body, 1000),
           'sender', CASE WHEN x.sender_user_id IS NOT NULL
             THEN jsonb_build_object('id', su.id, 'login', su.login,
                                     'name', su.display_name)
             ELSE jsonb_build_object('bot_id', sb.id, 'name', sb.name) END,
           'recipient', jsonb_build_object('id', ru.id, 'login', ru.login,
                                           'name', ru.display_name,
                                           'time_zone', ru.time_zone),
           'manager', CASE WHEN mu.id IS NOT NULL
             THEN jsonb_build_object('id', mu.id, 'login', mu.login,
                                     'name', mu.display_name) END)::text
    FROM u
    JOIN dings d ON d.conversation_id = u.conversation_id AND d.seq = u.seq
    JOIN messages x ON x.conversation_id = u.conversation_id AND x.seq = u.seq
    JOIN conversations cv ON cv.id = u.conversation_id
    JOIN users ru ON ru.id = u.user_id
    LEFT JOIN users su ON su.id = x.sender_user_id
    LEFT JOIN bots sb ON sb.id = x.sender_bot_id
    LEFT JOIN users mu ON mu.id = coalesce(u.escalated_to, ru.manager_id)
    LEFT JOIN org o ON true
$$;

-- Records webhook attempt p_attempt of a row claimed by p_node: its
-- outcome ('ok', 'failed', 'skipped'), HTTP status (NULL when none) and
-- detail, and schedules the next attempt p_backoff[p_attempt] seconds
-- from now after a failure while there is one (and the recipient has not
-- acknowledged meanwhile). r_recorded false: the claim was lost (it
-- expired and another node took the row): nothing is written.
CREATE FUNCTION herald_ding_webhook_record(
  p_conv bigint, p_seq bigint, p_user bigint, p_node text,
  p_attempt integer, p_outcome text, p_status integer, p_detail text,
  p_backoff integer[])
RETURNS TABLE (r_recorded boolean, r_next_ms bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_next timestamptz;
BEGIN
  UPDATE ding_recipients r
     SET webhook_tries = p_attempt,
         webhook_due_at = CASE
           WHEN p_outcome <> 'failed' OR r.acked_at IS NOT NULL
                OR p_attempt > coalesce(cardinality(p_backoff), 0) THEN NULL
           ELSE herald_now() + make_interval(secs => p_backoff[p_attempt]) END,
         claimed_by = NULL, claim_expires_at = NULL
   WHERE r.conversation_id = p_conv AND r.seq = p_seq AND r.user_id = p_user
     AND r.claimed_by = p_node AND r.webhook_tries = p_attempt - 1
  RETURNING r.webhook_due_at INTO v_next;
  IF NOT FOUND THEN
    r_recorded := false;
    RETURN NEXT;
    RETURN;
  END IF;
  INSERT INTO escalation_attempts (conversation_id, seq, user_id, kind,
                                   attempt, at, outcome, http_status, detail,
                                   next_retry_at)
  VALUES (p_conv, p_seq, p_user, 'webhook', p_attempt, herald_now(),
          p_outcome, p_status, left(p_detail, 500), v_next);
  r_recorded := true;
  r_next_ms := floor(extract(epoch FROM v_next) * 1000);
  RETURN NEXT;
END $$;
