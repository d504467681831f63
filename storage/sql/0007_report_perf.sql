-- 0007_report_perf.sql — what makes the unread report (storage/reports.c)
-- cheap, measured with tests/bench `herald-bench unread` (1,000 users, 200
-- groups, 1M tracked messages, ~2M unread message-member pairs in the whole
-- organisation).
--
-- Applied by storage/migrate.c in one transaction under the migration lock;
-- never edit this file once released (its checksum is recorded).

-- ---------------------------------------------------------------------------
-- Block summaries. The report counts, per (member, conversation), the
-- tracked messages above the member's marker that are old enough and not
-- their own. Counting them one index entry at a time cost ~0.2 µs each: a
-- manager of 50 whose team has 90,000 unread was 20+ ms of CPU, the whole
-- organisation 0.4 s. Messages never change once stored (seq, sender,
-- tracked and sent_at are fixed at send time; nothing updates or deletes
-- them), so the counts of a completed run of seqs never change either:
-- per conversation and block of 128 seqs (block b holds seqs 128b+1 ..
-- 128b+128), one row with sender_user_id 0 counts its tracked messages (bot
-- messages included) and gives the newest sent_at (NULL when none), and one
-- row per user sender counts theirs. The report then takes whole blocks
-- from these rows and counts only the partial blocks at both ends one by
-- one. A block is summarised once every seq in it exists (last_seq at or
-- past its end), by the report itself, for the next one; rows are only
-- ever inserted (ON CONFLICT DO NOTHING: concurrent reports insert the same
-- facts). A future feature that deletes or rewrites messages must delete
-- the blocks it touches.
CREATE TABLE report_blocks (
  conversation_id bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  sender_user_id bigint NOT NULL CHECK (sender_user_id >= 0),
  block bigint NOT NULL CHECK (block >= 0),
  n integer NOT NULL CHECK (n BETWEEN 0 AND 128),
  max_sent timestamptz,
  PRIMARY KEY (conversation_id, sender_user_id, block)
);

-- The DINGs among a range of a conversation's messages, for the report's
-- "unacknowledged DINGs" inside summarised blocks. Only DING messages are
-- in it, so sends of other messages pay nothing for it.
CREATE INDEX messages_ding_idx ON messages (conversation_id, seq)
  INCLUDE (sender_user_id) WHERE kind = 'ding' AND tracked;

-- "DINGs this member read but did not acknowledge": the report asks it per
-- (member, conversation) pair with seq <= the member's marker. 0001's
-- ding_recipients_user_idx (user_id) WHERE acked_at IS NULL made that a
-- scan of all the user's unacknowledged DINGs per pair, and the primary key
-- (conversation_id, seq, user_id) one of all the conversation's DINGs for
-- every recipient (0.3 s of a whole-org report). This index answers it in
-- one range, and every lookup by user that 0001's served, which goes.
CREATE INDEX ding_recipients_unacked_idx
  ON ding_recipients (user_id, conversation_id, seq) WHERE acked_at IS NULL;
DROP INDEX IF EXISTS ding_recipients_user_idx;
