-- 0012_notify: several heraldd nodes on one database (SPEC §12).
--
-- Every committed change that a node pushes live to its own sessions also
-- tells the other nodes, through NOTIFY on channel 'herald', which
-- PostgreSQL delivers exactly at commit (never for a rolled-back change).
-- The payload carries ids only; the nodes fetch the rows themselves:
--
--   m:<node>:<conversation>:<last seq>   messages inserted (one per
--                                        conversation per statement)
--   f:<node>:<user>:<last fs>            feed entries appended
--   q:<node>:0                           quiet-hours settings changed
--
-- <node> is the herald.node setting of the writing session (heraldd sets
-- it per process; heraldctl leaves it empty), so a node can skip what it
-- has already pushed itself. Statement-level triggers with transition
-- tables: a send batch of many messages costs one notification per
-- conversation, not one per row.

CREATE FUNCTION herald_notify_messages() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  node text := coalesce(current_setting('herald.node', true), '');
BEGIN
  PERFORM pg_notify('herald', 'm:' || node || ':' || conversation_id || ':' ||
                              max(seq))
     FROM new_rows GROUP BY conversation_id;
  RETURN NULL;
END $$;

CREATE TRIGGER messages_notify AFTER INSERT ON messages
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION herald_notify_messages();

CREATE FUNCTION herald_notify_feed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  node text := coalesce(current_setting('herald.node', true), '');
BEGIN
  PERFORM pg_notify('herald', 'f:' || node || ':' || user_id || ':' || max(fs))
     FROM new_rows GROUP BY user_id;
  RETURN NULL;
END $$;

CREATE TRIGGER feed_notify AFTER INSERT ON feed
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION herald_notify_feed();

CREATE FUNCTION herald_notify_quiet() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('herald', 'q:' ||
                    coalesce(current_setting('herald.node', true), '') || ':0');
  RETURN NULL;
END $$;

CREATE TRIGGER quiet_windows_notify
  AFTER INSERT OR UPDATE OR DELETE ON quiet_windows
  FOR EACH STATEMENT EXECUTE FUNCTION herald_notify_quiet();
CREATE TRIGGER quiet_zones_notify
  AFTER INSERT OR UPDATE OR DELETE ON quiet_zones
  FOR EACH STATEMENT EXECUTE FUNCTION herald_notify_quiet();
CREATE TRIGGER quiet_profiles_notify
  AFTER INSERT OR UPDATE OR DELETE ON quiet_profiles
  FOR EACH STATEMENT EXECUTE FUNCTION herald_notify_quiet();
