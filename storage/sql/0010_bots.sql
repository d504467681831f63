-- Bots (SPEC §9, issue 6): the DingTalk-compatible robot webhook and a
-- bound on per-bot rate limits.
--
-- A bot may have one robot webhook: POST /robot/send?access_token=T posts
-- into robot_conversation_id (a DingTalk robot belongs to one group). T is
-- a token of its own, stored only as a hash like the bot token, so that a
-- webhook URL (which ends up in scripts, CI settings and proxy logs) is
-- worth less than the bot token: it can only post text into that one
-- conversation. NULL robot_token_hash: no webhook.
ALTER TABLE bots
  ADD COLUMN robot_token_hash bytea UNIQUE
    CHECK (octet_length(robot_token_hash) = 32),
  ADD COLUMN robot_conversation_id bigint
    REFERENCES conversations (id) ON DELETE SET NULL,
  -- The server keeps a window of sends per bot in memory: bound it.
  ADD CONSTRAINT bots_rate_limit_max CHECK (rate_limit_per_minute <= 6000);
