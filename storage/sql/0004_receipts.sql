-- 0004_receipts.sql — read receipts, encrypted read times, the per-user
-- feed and unread reports (issue 4): what 0001 sketched, adapted to the
-- crypto module that now exists, plus the feed and two SQL functions.
--
-- Applied by storage/migrate.c in one transaction under the migration lock;
-- never edit this file once released (its checksum is recorded).

-- ---------------------------------------------------------------------------
-- Keys. A master key is named by its id (crypto/hcrypto.h hcr_master_id: 63
-- bits, 0 included), not by a small version number as 0001 assumed, so
-- user_keys says which master wraps a row by that id. Nothing wrote these
-- tables before this migration. A destroyed key (erasure) keeps its row with
-- wrapped NULL; a user erased before they ever had a key gets such a
-- tombstone too, so that no key is ever created for them afterwards.
ALTER TABLE user_keys DROP COLUMN master_version;
ALTER TABLE user_keys ADD COLUMN master_id bigint CHECK (master_id >= 0);
ALTER TABLE user_keys ADD CONSTRAINT user_keys_wrapped_has_master
  CHECK (wrapped IS NULL OR master_id IS NOT NULL);
ALTER TABLE user_keys ADD CONSTRAINT user_keys_wrapped_len
  CHECK (octet_length(wrapped) BETWEEN 1 AND 128);

DROP TABLE master_key_checks;
CREATE TABLE master_key_checks (
  master_id bigint PRIMARY KEY CHECK (master_id >= 0),
  check_value bytea NOT NULL CHECK (octet_length(check_value) BETWEEN 1 AND 128),
  created_at timestamptz NOT NULL DEFAULT now(),
  -- Set when a rotation away from this key completed: a server started
  -- with a retired key must refuse to run.
  retired_at timestamptz
);

-- ---------------------------------------------------------------------------
-- Read ranges. A row covers the seqs one read moved the reader's marker
-- over (from_seq..to_seq); rows of one reader in one conversation never
-- overlap. The sealed time's associated data binds (conversation, from, to,
-- reader, key_version). Normally the AD's `from` is from_seq; when another
-- read of the same reader moved the marker between the moment the server
-- sealed and the moment it recorded, the row covers only the part still
-- unread, and sealed_from_seq keeps the `from` that was sealed (the AD is
-- then (conversation, sealed_from_seq, to_seq, reader, key_version)).
ALTER TABLE read_ranges ADD COLUMN sealed_from_seq bigint;
ALTER TABLE read_ranges ADD CONSTRAINT read_ranges_sealed_from
  CHECK (sealed_from_seq IS NULL
         OR (read_time_sealed IS NOT NULL AND sealed_from_seq < from_seq));
ALTER TABLE read_ranges ADD CONSTRAINT read_ranges_sealed_len
  CHECK (octet_length(read_time_sealed) BETWEEN 1 AND 128);
-- "Who read S": per reader, the first range of the conversation ending at
-- or after S is the only candidate. It also serves the cascade from
-- conversations, so 0001's (conversation_id, to_seq, from_seq) index,
-- which no query uses, goes: one index less to write per read.
CREATE INDEX read_ranges_reader_idx
  ON read_ranges (conversation_id, reader_id, to_seq);
DROP INDEX read_ranges_conv_idx;

-- ---------------------------------------------------------------------------
-- Messages: the unread report and the receipt fan-out read a member's
-- tracked messages above their marker; with the sender and kind in the
-- index those reads are index-only. Replaces 0001's narrower index.
CREATE INDEX messages_tracked_cover_idx ON messages (conversation_id, seq)
  INCLUDE (sent_at, sender_user_id, sender_bot_id, kind) WHERE tracked;
DROP INDEX messages_tracked_idx;

-- ---------------------------------------------------------------------------
-- The feed (PROTOCOL.md §3.6): per user, changes that are not messages,
-- numbered by a gapless per-user sequence fs. feed_heads holds each user's
-- last fs; an entry is appended by bumping the head row (a row lock, so
-- concurrent appends for one user serialise and never leave a gap) and
-- inserting the entry in the same transaction.
--
-- A 'receipt' entry says "read counts of your tracked messages in
-- conversation_id from_seq..to_seq changed" (from/to are the first and last
-- of the user's own tracked messages in the range a read covered); the
-- server turns it into per-message `receipt` frames with current counts.
-- One entry per read event and distinct sender, never one per message.
CREATE TABLE feed_heads (
  user_id bigint PRIMARY KEY REFERENCES users (id),
  last_fs bigint NOT NULL CHECK (last_fs > 0)
) WITH (fillfactor = 50);

CREATE TABLE feed (
  user_id bigint NOT NULL REFERENCES users (id),
  fs bigint NOT NULL CHECK (fs > 0),
  kind text NOT NULL CHECK (kind IN ('receipt')),
  conversation_id bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  from_seq bigint NOT NULL CHECK (from_seq > 0),
  to_seq bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, fs),
  CHECK (to_seq >= from_seq)
);

-- ---------------------------------------------------------------------------
-- "Unread for", in seconds, of a message sent at p_sent to p_user, as of
-- p_now. SPEC §7.4 wants business time (outside the recipient's quiet
-- hours); quiet hours do not exist yet, so this is plain elapsed time. It
-- is the ONE place reports compute it: the quiet-hours work replaces this
-- function (CREATE OR REPLACE, same signature) and nothing else. Callers
-- pre-filter on sent_at <= now - threshold, which stays correct because
-- business time never exceeds elapsed time.
CREATE FUNCTION herald_unread_seconds(p_user bigint, p_sent timestamptz,
                                      p_now timestamptz)
RETURNS bigint
LANGUAGE sql STABLE AS $$
  SELECT greatest(0, floor(extract(epoch FROM (p_now - p_sent))))::bigint
$$;

-- ---------------------------------------------------------------------------
-- herald_read: records "p_reader read p_conv up to p_to" as ONE statement
-- (one implicit transaction, one round trip); storage/receipts.c calls it.
--
-- p_sealed NULL (no time recorded): p_from is ignored and p_to is clamped
-- to the conversation's last_seq. p_sealed given: (p_from, p_to) are the
-- range the caller sealed (from store_read_plan: marker + 1 .. effective
-- N), p_to must not exceed last_seq, p_from must not exceed marker + 1.
--
-- Steps: lock the member row (concurrent reads of one member queue here);
-- a p_to at or below the marker is a no-op; otherwise move read_seq (and
-- delivered_seq, a read implies delivery) to p_to, insert ONE read_ranges
-- row for marker+1..p_to (sealed_from_seq = p_from when the marker moved
-- since the caller sealed), and append one feed entry per distinct user
-- sender of tracked messages in the range other than the reader, locking
-- their feed heads in user id order so that concurrent reads never
-- deadlock on them.
--
-- Returns r_status 0 done, 1 not a current member (or no such
-- conversation), 2 no-op (marker already at or past p_to), 3 bad range;
-- r_old/r_new the marker before/after; then one row per feed entry
-- (r_user, r_fs, r_from, r_to), or a single row with those NULL.
CREATE FUNCTION herald_read(p_reader bigint, p_conv bigint, p_from bigint,
                            p_to bigint, p_key_version integer,
                            p_sealed bytea)
RETURNS TABLE (r_status integer, r_old bigint, r_new bigint, r_user bigint,
               r_fs bigint, r_from bigint, r_to bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_old bigint;
  v_last bigint;
  v_to bigint;
BEGIN
  SELECT m.read_seq, c.last_seq INTO v_old, v_last
    FROM members m JOIN conversations c ON c.id = m.conversation_id
   WHERE m.conversation_id = p_conv AND m.user_id = p_reader
     AND m.left_seq IS NULL
     FOR NO KEY UPDATE OF m;
  IF NOT FOUND THEN
    r_status := 1;
    RETURN NEXT;
    RETURN;
  END IF;
  r_old := v_old;
  r_new := v_old;
  IF p_sealed IS NULL THEN
    v_to := least(p_to, v_last);
  ELSE
    IF p_from IS NULL OR p_to IS NULL OR p_from < 1 OR p_from > p_to
       OR p_to > v_last OR p_from > v_old + 1 OR p_key_version IS NULL THEN
      r_status := 3;
      RETURN NEXT;
      RETURN;
    END IF;
    v_to := p_to;
  END IF;
  IF v_to IS NULL OR v_to <= v_old THEN
    r_status := 2;
    RETURN NEXT;
    RETURN;
  END IF;

  UPDATE members SET read_seq = v_to,
                     delivered_seq = greatest(delivered_seq, v_to)
   WHERE conversation_id = p_conv AND user_id = p_reader;
  INSERT INTO read_ranges (conversation_id, reader_id, from_seq, to_seq,
                           sealed_from_seq, key_version, read_time_sealed)
  VALUES (p_conv, p_reader, v_old + 1, v_to,
          CASE WHEN p_sealed IS NOT NULL AND p_from <> v_old + 1
               THEN p_from END,
          CASE WHEN p_sealed IS NOT NULL THEN p_key_version END,
          p_sealed);

  RETURN QUERY
  WITH s AS (
    SELECT x.sender_user_id AS u, min(x.seq) AS f, max(x.seq) AS t
      FROM messages x
     WHERE x.tracked AND x.conversation_id = p_conv
       AND x.seq > v_old AND x.seq <= v_to
       AND x.sender_user_id IS NOT NULL AND x.sender_user_id <> p_reader
     GROUP BY x.sender_user_id
  ),
  h AS (
    INSERT INTO feed_heads AS fh (user_id, last_fs)
    SELECT s.u, 1 FROM s ORDER BY s.u
    ON CONFLICT (user_id) DO UPDATE SET last_fs = fh.last_fs + 1
    RETURNING fh.user_id, fh.last_fs
  ),
  ins AS (
    INSERT INTO feed (user_id, fs, kind, conversation_id, from_seq, to_seq)
    SELECT h.user_id, h.last_fs, 'receipt', p_conv, s.f, s.t
      FROM h JOIN s ON s.u = h.user_id
    RETURNING feed.user_id, feed.fs, feed.from_seq, feed.to_seq
  )
  SELECT 0, v_old, v_to, i.user_id, i.fs, i.from_seq, i.to_seq
    FROM ins i ORDER BY i.user_id;
  IF NOT FOUND THEN
    r_status := 0;
    r_new := v_to;
    RETURN NEXT;
  END IF;
END $$;
