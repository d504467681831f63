-- 0009_cards.sql — cards in storage (SPEC §8, issue 6): what 0001 sketched
-- (cards, card_events, card_signatures, devices.sign_public_key) gets the
-- columns and indexes the server needs, the feed kind 'card', the
-- exactly-once key of card actions, the reminder claim and the marker of
-- the task_after automation. storage/cards.c is the one user.
--
-- Applied by storage/migrate.c in one transaction under the migration lock;
-- never edit this file once released (its checksum is recorded).

-- ---------------------------------------------------------------------------
-- Events. A card's version and the seq of its newest event are the same
-- number (every change is one event and one version). `at` is stored
-- truncated to milliseconds by the writer, because the event hash covers
-- at in ms and verification recomputes it from the row.
--
-- client_action_id: the actor's cmid of a card_action (PROTOCOL.md §3.3),
-- NULL for other events. Unique per actor (a user or a bot; the system
-- never has one), so a replayed action finds its original event. The hash
-- does not cover it: it names a transport attempt, not content.
ALTER TABLE card_events ADD COLUMN client_action_id text
  CHECK (char_length(client_action_id) BETWEEN 1 AND 64);
CREATE UNIQUE INDEX card_events_action_key
  ON card_events (coalesce(actor_user_id, 0), coalesce(actor_bot_id, 0),
                  client_action_id)
  WHERE client_action_id IS NOT NULL;

-- The instant of a time in ms since the epoch, exactly (no float).
CREATE FUNCTION herald_ms_time(p_ms bigint) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT timestamptz 'epoch' + p_ms * interval '1 millisecond'
$$;

-- ---------------------------------------------------------------------------
-- Cards: the type's people are inside state (jsonb); two lookups need
-- indexes: an employee's OKRs of a period (interview pre-fill) and the
-- cards of a conversation (heraldctl card show lists them by message).
CREATE INDEX cards_okr_owner_idx
  ON cards ((state ->> 'owner'), (state ->> 'period'))
  WHERE type = 'okr';
CREATE INDEX cards_conversation_idx ON cards (conversation_id, seq);

-- ---------------------------------------------------------------------------
-- Signatures: `dev` on the wire names a device of the signing user
-- (devices_user_name_key, 0002); its key is devices.sign_public_key.
CREATE INDEX card_signatures_signer_idx ON card_signatures (signer_id);

-- ---------------------------------------------------------------------------
-- The feed (0004) gets the kind 'card': "event card_ver of card card_id
-- happened" (conversation_id and from_seq = to_seq name the card's
-- message). The server turns it into a `card_event` with the event's
-- payload. Every member of the card's conversation gets one entry per
-- event, appended in the event's transaction.
ALTER TABLE feed ADD COLUMN card_id bigint REFERENCES cards (id),
                 ADD COLUMN card_ver integer;
ALTER TABLE feed DROP CONSTRAINT feed_kind_check;
ALTER TABLE feed ADD CONSTRAINT feed_kind_check
  CHECK (kind IN ('receipt', 'remind', 'ding', 'card'));
ALTER TABLE feed ADD CONSTRAINT feed_card_fields
  CHECK ((kind = 'card') = (card_id IS NOT NULL AND card_ver IS NOT NULL));

-- ---------------------------------------------------------------------------
-- herald_card_feed: appends one feed entry about event p_ver of card
-- p_card to every current member of its conversation (active users), in
-- user id order (as herald_ding_notify: concurrent writers never deadlock
-- on the heads, and each user's fs stays gapless). Returns the entries.
CREATE FUNCTION herald_card_feed(p_card bigint, p_ver integer)
RETURNS TABLE (r_user bigint, r_fs bigint)
LANGUAGE sql AS $$
  WITH c AS (
    SELECT id, conversation_id, seq FROM cards WHERE id = p_card
  ),
  u AS (
    SELECT m.user_id AS u
      FROM c
      JOIN members m ON m.conversation_id = c.conversation_id
      JOIN users us ON us.id = m.user_id
     WHERE m.left_seq IS NULL AND us.active
  ),
  h AS (
    INSERT INTO feed_heads AS fh (user_id, last_fs)
    SELECT u.u, 1 FROM u ORDER BY u.u
    ON CONFLICT (user_id) DO UPDATE SET last_fs = fh.last_fs + 1
    RETURNING fh.user_id, fh.last_fs
  ),
  ins AS (
    INSERT INTO feed (user_id, fs, kind, conversation_id, from_seq, to_seq,
                      card_id, card_ver)
    SELECT h.user_id, h.last_fs, 'card', c.conversation_id, c.seq, c.seq,
           c.id, p_ver
      FROM h CROSS JOIN c
    RETURNING feed.user_id, feed.fs
  )
  SELECT * FROM ins ORDER BY 1
$$;

-- ---------------------------------------------------------------------------
-- Manager at any level: whether p_manager is above any of p_users in the
-- org tree (users.manager_id, acyclic by 0001's trigger).
CREATE FUNCTION herald_manages_any(p_manager bigint, p_users bigint[])
RETURNS boolean LANGUAGE sql STABLE AS $$
  WITH RECURSIVE up(id, depth) AS (
    SELECT u.manager_id, 1 FROM users u
     WHERE u.id = ANY (p_users) AND u.manager_id IS NOT NULL
    UNION
    SELECT u.manager_id, up.depth + 1 FROM users u JOIN up ON u.id = up.id
     WHERE u.manager_id IS NOT NULL AND up.depth < 1000
  )
  SELECT EXISTS (SELECT 1 FROM up WHERE up.id = p_manager)
$$;

-- ---------------------------------------------------------------------------
-- The task_after automation (SPEC §10): members.tasked_seq is the marker
-- of "turned into a task up to here", beside reminded_seq (0006). A task
-- card covers the tracked messages above greatest(read_seq, tasked_seq)
-- that are unread past task_after; creating it moves the marker in the
-- card's transaction (storage/cards.c), under the member row's lock, so an
-- item becomes a task once across servers. Existing members start at the
-- conversation's end: only messages sent from now on become tasks.
ALTER TABLE members ADD COLUMN tasked_seq bigint NOT NULL DEFAULT 0
  CHECK (tasked_seq >= 0);
UPDATE members m SET tasked_seq = c.last_seq
  FROM conversations c
 WHERE c.id = m.conversation_id AND c.task_after IS NOT NULL;

-- herald_task_due: up to p_limit (member, conversation) pairs with tracked
-- messages (not their own, not DINGs, not cards) above the marker unread
-- past the conversation's task_after; for each the oldest such message
-- (seq, sender, sent_at, body), the newest (r_upto), how many, and the
-- conversation's title. A read-only probe: the caller creates the card and
-- moves the marker (only if it has not moved meanwhile) in one
-- transaction.
CREATE FUNCTION herald_task_due(p_limit integer)
RETURNS TABLE (r_conv bigint, r_user bigint, r_seq bigint, r_upto bigint,
               r_count bigint, r_sender bigint, r_sent_ms bigint,
               r_body text, r_title text, r_marker bigint)
LANGUAGE sql STABLE AS $$
  SELECT c.id, m.user_id, a.f, a.t, a.n, x.sender_user_id,
         floor(extract(epoch FROM x.sent_at) * 1000)::bigint,
         left(x.body, 200), c.title, m.tasked_seq
    FROM conversations c
    JOIN members m ON m.conversation_id = c.id AND m.left_seq IS NULL
    JOIN users u ON u.id = m.user_id AND u.active
    CROSS JOIN LATERAL (
      SELECT min(y.seq) AS f, max(y.seq) AS t, count(*) AS n
        FROM messages y
       WHERE y.tracked AND y.conversation_id = c.id
         AND y.seq > greatest(m.read_seq, m.tasked_seq)
         AND y.kind = 'text'
         AND y.sender_user_id IS DISTINCT FROM m.user_id
         AND herald_unread_seconds(m.user_id, y.sent_at, herald_now())
             >= c.task_after
    ) a
    JOIN messages x ON x.conversation_id = c.id AND x.seq = a.f
   WHERE c.task_after IS NOT NULL AND a.n > 0
   ORDER BY c.id, m.user_id
   LIMIT p_limit
$$;
