-- 0001_init.sql — Herald's first schema: every concept of SPEC §3.
--
-- Applied by storage/migrate.c inside one transaction that holds the
-- migration advisory lock; a migration file must therefore not contain
-- BEGIN/COMMIT, and must never be edited once released (its checksum is
-- recorded in schema_migrations; change the schema with a new file).
--
-- Conventions: ids are bigint identities; times are timestamptz; enumerations
-- are text with CHECK constraints (readable in psql and in dumps, and a new
-- value is one ALTER away); foreign keys to users never cascade on delete
-- because users are deactivated or erased, never deleted.

-- ---------------------------------------------------------------------------
-- The organisation: one per installation, so one row, enforced by a boolean
-- primary key that can only be true. The row is created by `heraldctl init`.
CREATE TABLE org (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  -- SPEC §5: the org policy may let users opt out of read-time recording.
  read_time_opt_out_allowed boolean NOT NULL DEFAULT false,
  -- SPEC §5: sealed read times older than this are purged (state stays).
  read_time_retention_days integer NOT NULL DEFAULT 90
    CHECK (read_time_retention_days > 0),
  -- SPEC §6 default DING re-alert schedule: the first re-alerts at these
  -- offsets after the send, then one every ding_repeat_every, until
  -- ding_max_alerts re-alerts were sent; after that the DING escalates.
  ding_schedule interval[] NOT NULL
    DEFAULT '{00:05:00,00:15:00,00:30:00}'::interval[],
  ding_repeat_every interval NOT NULL DEFAULT '1 hour'
    CHECK (ding_repeat_every > '0'::interval),
  ding_max_alerts integer NOT NULL DEFAULT 6 CHECK (ding_max_alerts >= 0),
  -- Where escalations go after the last step (an SMS or phone gateway);
  -- NULL: escalate to the manager only.
  escalation_webhook_url text,
  -- SPEC §10: the default "unread over N" threshold.
  unread_threshold interval NOT NULL DEFAULT '2 hours',
  created_at timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------
-- Departments are created on demand by name; names are unique ignoring case.
CREATE TABLE departments (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX departments_name_key ON departments (lower(name));

-- ---------------------------------------------------------------------------
-- Users and the org tree (manager_id). Logins are unique ignoring case: the
-- login is kept as typed and matched through lower(login). Logins are ASCII
-- so that lower() is the same under every collation.
CREATE TABLE users (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  login text NOT NULL
    CHECK (login ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'),
  display_name text NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 100),
  department_id bigint REFERENCES departments (id),
  manager_id bigint REFERENCES users (id) CHECK (manager_id <> id),
  -- IANA zone name; checked against pg_timezone_names by the trigger below.
  time_zone text NOT NULL DEFAULT 'UTC',
  role text NOT NULL DEFAULT 'staff' CHECK (role IN ('staff', 'manager', 'admin')),
  active boolean NOT NULL DEFAULT true,
  deactivated_at timestamptz,
  -- argon2id PHC string computed by the caller (crypto/); NULL: the account
  -- has no password and cannot log in with one.
  password_hash text CHECK (password_hash LIKE '$argon2id$%'),
  -- SPEC §5: the user opted out of read-time recording (only honoured while
  -- org.read_time_opt_out_allowed).
  read_time_opt_out boolean NOT NULL DEFAULT false,
  -- Set by erasure (crypto-shredding of the user's data key).
  erased_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (active = (deactivated_at IS NULL))
);
CREATE UNIQUE INDEX users_login_key ON users (lower(login));
-- Reports walk the tree downwards (a manager's whole subtree).
CREATE INDEX users_manager_idx ON users (manager_id);
CREATE INDEX users_department_idx ON users (department_id);

-- A time zone must be one PostgreSQL knows, because quiet hours and
-- business-time reports are computed in SQL with AT TIME ZONE. A CHECK
-- constraint cannot read a view, hence a trigger.
CREATE FUNCTION users_check_time_zone() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = NEW.time_zone) THEN
    RAISE EXCEPTION 'unknown time zone "%"', NEW.time_zone
      USING ERRCODE = 'invalid_parameter_value', COLUMN = 'time_zone';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER users_time_zone_valid
  BEFORE INSERT OR UPDATE OF time_zone ON users
  FOR EACH ROW EXECUTE FUNCTION users_check_time_zone();

-- The org tree must stay a tree: a new manager may not be the user or
-- anyone below them.
CREATE FUNCTION users_check_manager_cycle() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.manager_id IS NOT NULL AND EXISTS (
      WITH RECURSIVE up(id) AS (
        SELECT NEW.manager_id
        UNION
        SELECT u.manager_id FROM users u JOIN up ON u.id = up.id
        WHERE u.manager_id IS NOT NULL)
      SELECT 1 FROM up WHERE id = NEW.id) THEN
    RAISE EXCEPTION 'manager cycle: user % would manage themselves', NEW.id
      USING ERRCODE = 'check_violation', COLUMN = 'manager_id';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER users_manager_acyclic
  BEFORE UPDATE OF manager_id ON users
  FOR EACH ROW EXECUTE FUNCTION users_check_manager_cycle();

-- ---------------------------------------------------------------------------
-- Devices: each user's installations of a client. The Ed25519 public key
-- signs interview records (SPEC §8); it is registered on first use, so it
-- may be NULL until then.
CREATE TABLE devices (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES users (id),
  name text NOT NULL DEFAULT '' CHECK (char_length(name) <= 100),
  sign_public_key bytea UNIQUE CHECK (octet_length(sign_public_key) = 32),
  created_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX devices_user_idx ON devices (user_id);

-- Session tokens: only a hash of the token is stored (crypto/ makes both),
-- so a database dump holds no usable token.
CREATE TABLE sessions (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
  user_id bigint NOT NULL REFERENCES users (id),
  device_id bigint REFERENCES devices (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  last_used_at timestamptz,
  revoked_at timestamptz,
  CHECK (expires_at > created_at)
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

-- ---------------------------------------------------------------------------
-- Bots (SPEC §9). The token is stored hashed like a session token. The
-- DingTalk robot signature is an HMAC, so its secret must be usable by the
-- server: it is kept sealed under the master key (nonce‖ciphertext), never
-- in plaintext; NULL: unsigned webhook calls only.
CREATE TABLE bots (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  owner_id bigint NOT NULL REFERENCES users (id),
  token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
  robot_secret_sealed bytea,
  -- Messages per minute; DingTalk's robots allow 20.
  rate_limit_per_minute integer NOT NULL DEFAULT 20
    CHECK (rate_limit_per_minute > 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
CREATE UNIQUE INDEX bots_name_key ON bots (lower(name));

-- ---------------------------------------------------------------------------
-- Conversations: groups and 1:1 ("direct") conversations.
--
-- last_seq is the highest seq assigned in the conversation. Seqs are
-- assigned at commit, in batches: the send path bumps last_seq once per
-- batch (UPDATE ... SET last_seq = last_seq + n RETURNING last_seq) in the
-- transaction that inserts the batch's n messages. The row lock taken by
-- that UPDATE serialises the batches of one conversation, which makes seqs
-- gapless and ordered by commit, and costs one row update per batch rather
-- than per message; several nodes sharing the database stay correct because
-- the lock is in PostgreSQL.
--
-- A direct conversation stores its pair as (direct_lo, direct_hi), the
-- smaller user id first, under a unique index: a pair exists once.
CREATE TABLE conversations (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('group', 'direct')),
  title text CHECK (char_length(title) BETWEEN 1 AND 200),
  -- SPEC §3: which messages produce receipts.
  tracking text NOT NULL DEFAULT 'all' CHECK (tracking IN ('all', 'flagged', 'off')),
  last_seq bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
  direct_lo bigint REFERENCES users (id),
  direct_hi bigint REFERENCES users (id),
  created_by bigint REFERENCES users (id),
  -- SPEC §10 automation at the unread threshold (off by default).
  unread_remind boolean NOT NULL DEFAULT false,
  unread_open_task boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind = 'direct') = (direct_lo IS NOT NULL AND direct_hi IS NOT NULL)),
  CHECK (direct_lo <= direct_hi),
  CHECK (kind = 'direct' OR title IS NOT NULL)
);
CREATE UNIQUE INDEX conversations_direct_pair_key
  ON conversations (direct_lo, direct_hi) WHERE kind = 'direct';
-- Admins name groups by title (heraldctl group add-member TITLE ...), so
-- group titles are unique ignoring case.
CREATE UNIQUE INDEX conversations_group_title_key
  ON conversations (lower(title)) WHERE kind = 'group';

-- Members and their read state.
--
-- Read state is two markers per member, not a row per message per member
-- (SPEC §5: storage must not grow as messages × members): read_seq says
-- "every message up to here is read", delivered_seq the same for delivery.
-- Whether member M read message S is S <= read_seq. The read TIMES live in
-- read_ranges below, one row per read report covering a range of seqs.
--
-- joined_seq is the conversation's last_seq when the member joined; messages
-- at or below it are not tracked for this member (no receipt, not unread).
-- The markers start at joined_seq. left_seq is set when a member leaves.
CREATE TABLE members (
  conversation_id bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  user_id bigint NOT NULL REFERENCES users (id),
  role text NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'member')),
  joined_seq bigint NOT NULL DEFAULT 0,
  read_seq bigint NOT NULL DEFAULT 0,
  delivered_seq bigint NOT NULL DEFAULT 0,
  left_seq bigint,
  joined_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (conversation_id, user_id),
  CHECK (read_seq >= joined_seq AND delivered_seq >= joined_seq),
  CHECK (left_seq IS NULL OR left_seq >= joined_seq)
);
-- "My conversations" and unread reports start from the member.
CREATE INDEX members_user_idx ON members (user_id) INCLUDE (read_seq, joined_seq);

-- Which conversations each bot may post to.
CREATE TABLE bot_conversations (
  bot_id bigint NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
  conversation_id bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  added_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (bot_id, conversation_id)
);

-- ---------------------------------------------------------------------------
-- Messages. seq is per conversation, gapless, assigned at commit (see
-- conversations.last_seq). A message has exactly one sender: a user or a
-- bot. (sender, client_msg_id) is unique so that a re-sent message is
-- stored once and the re-send can be answered with the original ack; the
-- constraint treats the NULL sender column of the other kind as equal
-- (NULLS NOT DISTINCT, PostgreSQL 15), so one constraint covers both kinds.
CREATE TABLE messages (
  conversation_id bigint NOT NULL REFERENCES conversations (id),
  seq bigint NOT NULL CHECK (seq > 0),
  sender_user_id bigint REFERENCES users (id),
  sender_bot_id bigint REFERENCES bots (id),
  client_msg_id text NOT NULL CHECK (char_length(client_msg_id) BETWEEN 1 AND 64),
  kind text NOT NULL CHECK (kind IN ('text', 'ding', 'card')),
  body text NOT NULL,
  -- Whether this message produces receipts, decided at send time from the
  -- conversation's policy (and the sender's flag under 'flagged'; DINGs are
  -- always tracked).
  tracked boolean NOT NULL,
  sent_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (conversation_id, seq),
  CONSTRAINT messages_one_sender
    CHECK (num_nonnulls(sender_user_id, sender_bot_id) = 1),
  CONSTRAINT messages_sender_cmid_key
    UNIQUE NULLS NOT DISTINCT (sender_user_id, sender_bot_id, client_msg_id)
);
-- Unread reports scan tracked messages older than a threshold per
-- conversation above a member's read marker.
CREATE INDEX messages_tracked_idx ON messages (conversation_id, seq)
  INCLUDE (sent_at) WHERE tracked;

-- Read-range events: "reader read conversation C from_seq..to_seq at T".
-- One row per read report, however many messages it covers. The read time
-- is stored only sealed (XChaCha20-Poly1305 under the reader's data key of
-- version key_version, nonce‖ciphertext, associated data binding the row);
-- NULL when no time was recorded (opt-out, quiet hours) or after retention
-- purged it. recorded_at drives the retention purge.
CREATE TABLE read_ranges (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  conversation_id bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  reader_id bigint NOT NULL REFERENCES users (id),
  from_seq bigint NOT NULL CHECK (from_seq > 0),
  to_seq bigint NOT NULL,
  key_version integer,
  read_time_sealed bytea,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  CHECK (to_seq >= from_seq),
  CHECK ((read_time_sealed IS NULL) OR (key_version IS NOT NULL))
);
-- "Who read message S": ranges of the conversation that end at or after S.
CREATE INDEX read_ranges_conv_idx ON read_ranges (conversation_id, to_seq, from_seq);
CREATE INDEX read_ranges_retention_idx ON read_ranges (recorded_at)
  WHERE read_time_sealed IS NOT NULL;

-- ---------------------------------------------------------------------------
-- DINGs (SPEC §6): one row per DING message, and per-recipient state.
CREATE TABLE dings (
  conversation_id bigint NOT NULL,
  seq bigint NOT NULL,
  urgency text NOT NULL CHECK (urgency IN ('normal', 'urgent', 'critical')),
  -- The schedule in force for this DING (copied from org or given).
  schedule interval[] NOT NULL,
  repeat_every interval NOT NULL,
  max_alerts integer NOT NULL CHECK (max_alerts >= 0),
  PRIMARY KEY (conversation_id, seq),
  FOREIGN KEY (conversation_id, seq) REFERENCES messages (conversation_id, seq)
);

-- Escalation state per recipient. step counts the re-alerts sent;
-- next_due_at is when the next one (or the escalation) is due, NULL once
-- acknowledged or finished. A node fires a step only after claiming the row
-- (claimed_by, claim_expires_at) in the same statement that selects it, so
-- each step fires once across nodes; a claim left by a dead node expires.
CREATE TABLE ding_recipients (
  conversation_id bigint NOT NULL,
  seq bigint NOT NULL,
  user_id bigint NOT NULL REFERENCES users (id),
  delivered_at timestamptz,
  acked_at timestamptz,
  step integer NOT NULL DEFAULT 0 CHECK (step >= 0),
  next_due_at timestamptz,
  claimed_by text,
  claim_expires_at timestamptz,
  escalated_at timestamptz,
  -- A critical DING alerted during quiet hours (audited as well).
  overrode_quiet boolean NOT NULL DEFAULT false,
  PRIMARY KEY (conversation_id, seq, user_id),
  FOREIGN KEY (conversation_id, seq) REFERENCES dings (conversation_id, seq)
    ON DELETE CASCADE
);
CREATE INDEX ding_recipients_due_idx ON ding_recipients (next_due_at)
  WHERE next_due_at IS NOT NULL;
CREATE INDEX ding_recipients_user_idx ON ding_recipients (user_id)
  WHERE acked_at IS NULL;

-- Every escalation attempt after the last re-alert, with its outcome.
CREATE TABLE escalation_attempts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  conversation_id bigint NOT NULL,
  seq bigint NOT NULL,
  user_id bigint NOT NULL,
  kind text NOT NULL CHECK (kind IN ('manager', 'webhook')),
  attempt integer NOT NULL CHECK (attempt > 0),
  at timestamptz NOT NULL DEFAULT now(),
  outcome text NOT NULL CHECK (outcome IN ('ok', 'failed', 'skipped')),
  http_status integer,
  detail text,
  next_retry_at timestamptz,
  FOREIGN KEY (conversation_id, seq, user_id)
    REFERENCES ding_recipients (conversation_id, seq, user_id) ON DELETE CASCADE
);
CREATE INDEX escalation_attempts_ding_idx
  ON escalation_attempts (conversation_id, seq, user_id);
CREATE INDEX escalation_attempts_retry_idx ON escalation_attempts (next_retry_at)
  WHERE next_retry_at IS NOT NULL;

-- ---------------------------------------------------------------------------
-- Cards (SPEC §8): posted as a message of kind 'card'; the current state
-- and version live here, every change is an event below.
CREATE TABLE cards (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  type text NOT NULL CHECK (type IN ('task', 'okr', 'interview')),
  conversation_id bigint NOT NULL,
  seq bigint NOT NULL,
  created_by_user bigint REFERENCES users (id),
  created_by_bot bigint REFERENCES bots (id),
  -- OKR alignment (parent objective) and interview-to-OKR links that
  -- queries need both ways; everything else is in state.
  parent_card_id bigint REFERENCES cards (id),
  state jsonb NOT NULL,
  version integer NOT NULL DEFAULT 1 CHECK (version > 0),
  -- The hash of the newest event, so that removing the last event of the
  -- chain is detected too.
  head_hash bytea CHECK (octet_length(head_hash) = 32),
  -- Next reminder (overdue task, OKR check-in, pending signature), with a
  -- claim so that one node sends it.
  next_reminder_at timestamptz,
  claimed_by text,
  claim_expires_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (conversation_id, seq),
  FOREIGN KEY (conversation_id, seq) REFERENCES messages (conversation_id, seq),
  CHECK (num_nonnulls(created_by_user, created_by_bot) = 1)
);
CREATE INDEX cards_parent_idx ON cards (parent_card_id) WHERE parent_card_id IS NOT NULL;
CREATE INDEX cards_reminder_idx ON cards (next_reminder_at)
  WHERE next_reminder_at IS NOT NULL;

-- Append-only card history, hash-chained per card: hash = H(prev_hash ‖
-- canonical event), prev_hash of the first event is NULL. `heraldctl audit
-- verify` recomputes the chain and compares with cards.head_hash. The
-- trigger refuses UPDATE and DELETE so that changing history takes a
-- deliberate act (disabling the trigger), which verification still catches.
CREATE TABLE card_events (
  card_id bigint NOT NULL REFERENCES cards (id),
  event_seq integer NOT NULL CHECK (event_seq > 0),
  actor_user_id bigint REFERENCES users (id),
  actor_bot_id bigint REFERENCES bots (id),
  kind text NOT NULL CHECK (char_length(kind) BETWEEN 1 AND 40),
  payload jsonb NOT NULL,
  at timestamptz NOT NULL DEFAULT now(),
  prev_hash bytea CHECK (octet_length(prev_hash) = 32),
  hash bytea NOT NULL CHECK (octet_length(hash) = 32),
  PRIMARY KEY (card_id, event_seq),
  CHECK (num_nonnulls(actor_user_id, actor_bot_id) <= 1),
  CHECK ((event_seq = 1) = (prev_hash IS NULL))
);

CREATE FUNCTION card_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'card_events is append-only'
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER card_events_no_change
  BEFORE UPDATE OR DELETE ON card_events
  FOR EACH ROW EXECUTE FUNCTION card_events_append_only();

-- Signatures over a card version's canonical content hash, by the signer's
-- device key (Ed25519: 32-byte hash, 64-byte signature). An amendment bumps
-- the version, so older signatures stop counting without being deleted.
CREATE TABLE card_signatures (
  card_id bigint NOT NULL REFERENCES cards (id),
  version integer NOT NULL,
  signer_id bigint NOT NULL REFERENCES users (id),
  device_id bigint NOT NULL REFERENCES devices (id),
  content_hash bytea NOT NULL CHECK (octet_length(content_hash) = 32),
  signature bytea NOT NULL CHECK (octet_length(signature) = 64),
  signed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (card_id, version, signer_id)
);

-- ---------------------------------------------------------------------------
-- Quiet hours (SPEC §7): weekly windows in the user's own time zone.
-- user_id NULL: an org-default window, applying to everyone; a user may add
-- windows but not remove the org's. day_of_week follows extract(dow): 0 is
-- Sunday. A window lies within one day (start < end, minutes since local
-- midnight, end 1440 = midnight); a window crossing midnight is stored as
-- two rows, which keeps "is this local time quiet" a plain range test.
CREATE TABLE quiet_windows (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id bigint REFERENCES users (id),
  day_of_week smallint NOT NULL CHECK (day_of_week BETWEEN 0 AND 6),
  start_minute smallint NOT NULL CHECK (start_minute BETWEEN 0 AND 1439),
  end_minute smallint NOT NULL CHECK (end_minute BETWEEN 1 AND 1440),
  CHECK (start_minute < end_minute)
);
CREATE INDEX quiet_windows_user_idx ON quiet_windows (user_id);

-- The org default: weekday nights 20:00–08:00 (each weekday's 00:00–08:00
-- and 20:00–24:00) and weekends all day, so Friday 20:00 to Monday 08:00 is
-- one quiet stretch.
INSERT INTO quiet_windows (user_id, day_of_week, start_minute, end_minute)
SELECT NULL, d, w.s, w.e
FROM generate_series(1, 5) AS d,
     (VALUES (0, 480), (1200, 1440)) AS w(s, e);
INSERT INTO quiet_windows (user_id, day_of_week, start_minute, end_minute)
VALUES (NULL, 0, 0, 1440), (NULL, 6, 0, 1440);

-- ---------------------------------------------------------------------------
-- Keys (SPEC §5). Each user's random data key is stored only wrapped by the
-- master key (nonce‖ciphertext); the master key itself is never in the
-- database. key_version numbers the user's data keys (sealed read times
-- name the version that sealed them); master_version says which master key
-- wraps the row, so a rotation can re-wrap row by row while the server runs.
-- Erasure (crypto-shredding) sets wrapped to NULL and destroyed_at.
CREATE TABLE user_keys (
  user_id bigint NOT NULL REFERENCES users (id),
  key_version integer NOT NULL CHECK (key_version > 0),
  master_version integer NOT NULL CHECK (master_version > 0),
  wrapped bytea,
  created_at timestamptz NOT NULL DEFAULT now(),
  destroyed_at timestamptz,
  PRIMARY KEY (user_id, key_version),
  CHECK ((wrapped IS NULL) = (destroyed_at IS NOT NULL))
);

-- A value sealed under each master key version, so that a wrong master key
-- is detected at start-up instead of producing undecryptable read times.
CREATE TABLE master_key_checks (
  master_version integer PRIMARY KEY CHECK (master_version > 0),
  check_value bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  retired_at timestamptz
);

-- ---------------------------------------------------------------------------
-- Audit log: who did what, when. actor_user_id NULL means the system or the
-- local admin tool (actor then says which).
CREATE TABLE audit_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  actor_user_id bigint REFERENCES users (id),
  actor text NOT NULL,
  action text NOT NULL,
  detail jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
