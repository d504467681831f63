-- 0006_report_perf.sql — indexes for the unread report (storage/
-- reports.c), measured with tests/bench `herald-bench unread` (1,000 users,
-- 1M tracked messages, ~84,000 DING recipient rows).
--
-- Applied by storage/migrate.c in one transaction under the migration lock;
-- never edit this file once released (its checksum is recorded).

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
