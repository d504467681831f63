-- 0005_quiet_hours.sql — the database's clock made controllable for tests,
-- and the quiet-hours engine (SPEC §7): quiet state, business time, and
-- "unread for" in reports counted in business time.
--
-- Applied by storage/migrate.c in one transaction under the migration lock;
-- never edit this file once released (its checksum is recorded).

-- ===========================================================================
-- 1. One clock: herald_now().
--
-- Everything the database timestamps (message times, read records, session
-- expiry, reports, retention) reads the time through herald_now() — now()
-- plus an offset taken from the session setting herald.clock_offset_ms
-- (milliseconds, may be negative; unset or '' = 0). heraldd sets it on each
-- of its connections only when started with its test-only `test-clock-file`
-- setting (server/clock.c), so that end-to-end tests move the server's
-- "now" forward by hours or days in a second. Without the setting the
-- offset is 0 and herald_now() IS now(); a production server never sets it.
-- herald_clock_timestamp() is the same for clock_timestamp() (the send path
-- takes the commit time after its row locks).
CREATE FUNCTION herald_clock_offset() RETURNS interval
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(nullif(current_setting('herald.clock_offset_ms', true), '')
                    ::bigint, 0) * interval '1 millisecond'
$$;

CREATE FUNCTION herald_now() RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT now() + herald_clock_offset()
$$;

CREATE FUNCTION herald_clock_timestamp() RETURNS timestamptz
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
  SELECT clock_timestamp() + herald_clock_offset()
$$;

-- Every column default that is now() becomes herald_now(), whichever
-- migration made the column (schema_migrations belongs to the migrator and
-- keeps real time).
DO $$
DECLARE
  r record;
BEGIN
  FOR r IN
    SELECT c.relname, a.attname
      FROM pg_attrdef d
      JOIN pg_class c ON c.oid = d.adrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
     WHERE n.nspname = current_schema()
       AND pg_get_expr(d.adbin, d.adrelid) = 'now()'
       AND c.relname <> 'schema_migrations'
  LOOP
    EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET DEFAULT herald_now()',
                   r.relname, r.attname);
  END LOOP;
END $$;

-- herald_send_batch as in 0003, with its commit time from the clock above
-- (the only change; see 0002 for how the function works).
CREATE OR REPLACE FUNCTION herald_send_batch(
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
  v_now := herald_clock_timestamp();

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
           (f.idx = f.first_idx AND d.seq IS NULL AND p.ok IS NOT NULL)
             AS store
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
    -- Permission, as one primary-key probe per first occurrence.
    LEFT JOIN LATERAL (
      SELECT true AS ok
      FROM members mb
      JOIN users us ON us.id = mb.user_id
      WHERE f.idx = f.first_idx AND NOT f.is_bot
        AND mb.conversation_id = f.conv AND mb.user_id = f.sender
        AND mb.left_seq IS NULL AND us.active
      UNION ALL
      SELECT true
      FROM bot_conversations bc
      JOIN bots b ON b.id = bc.bot_id
      WHERE f.idx = f.first_idx AND f.is_bot
        AND bc.bot_id = f.sender AND bc.conversation_id = f.conv
        AND b.revoked_at IS NULL
      LIMIT 1
    ) p ON true
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

-- ===========================================================================
-- 2. Quiet hours (SPEC §7).
--
-- Definition. An instant is quiet for a user when the local wall-clock time
-- at that instant, in the user's time zone (users.time_zone), lies in one of
-- the org's windows (quiet_windows.user_id NULL) or the user's own. This one
-- rule settles daylight-saving changes (PostgreSQL does the zone
-- conversion, from the IANA database):
--   - a boundary at a local time that does not exist (clocks jump 02:00 ->
--     03:00) takes effect at the jump: a window starting at 02:30 that
--     night starts at 03:00 new time; one ending at 02:30 ends at 03:00;
--     a window lying wholly inside the skipped hour does not happen;
--   - a local time that happens twice (clocks go back 02:00 -> 01:00) is
--     quiet both times: a window 01:00-01:30 lasts an hour of real time
--     that night, and a window ending at 01:30 ends at the second 01:30;
--   - so a day of 23 or 25 hours has 23 or 25 hours, each quiet or not by
--     its wall-clock time.
-- Business time between two instants is the real time between them that is
-- not quiet. Adjacent and overlapping windows form one quiet stretch
-- (Friday 20:00 to Monday 08:00 under the org default).
--
-- How it stays cheap. Per (window set, zone) a profile is kept, maintained
-- by triggers whenever windows or a user's zone change:
--   - the week as segments: b[k] is the start of segment k in seconds after
--     Monday 00:00 (b[1] = 0), q[k] 1 when it is quiet, c[k] the quiet
--     seconds of the week before b[k], wq the quiet seconds of a week;
--   - the zone's offset changes (quiet_zones) with, per change, its effect
--     on business time for these windows, accumulated (t_at, t_cc).
-- On a continuous local "wall time" W (seconds since Monday 1970-01-05
-- 00:00 local), the quiet wall seconds up to W are closed-form:
--   G(W) = floor(W / week) * wq + c[k] + (x - b[k]) * q[k],
--   x = W mod week, k = width_bucket(x, b)   (a binary search)
-- and the business seconds between instants t1 < t2 are
--   N(W(t2)) - N(W(t1)) - sum over offset changes j in (t1, t2] of
--     (N(wb_j + d_j) - N(wb_j)),    N(W) = W - G(W),
-- where the clocks jump at change j from local wb_j by d_j seconds (+3600
-- in spring: an hour of wall time that never happens is taken back out;
-- -3600 in autumn: an hour that happens twice is counted again). The sum
-- is t_cc[k2+1] - t_cc[k1+1] with k = width_bucket(epoch, t_at). So a
-- message unread for a year costs what one unread for a minute costs: a
-- few binary searches over arrays of ~10 and ~120 elements.
--
-- Offset changes are tabulated from 2000 to 2060; outside that range the
-- zone's offset is still applied exactly by AT TIME ZONE, only a change
-- that falls between two instants there is not corrected for. A system
-- tzdata update that moves future changes is picked up by
-- herald_quiet_zones_refresh() (storage: store_quiet_zones_refresh).

-- The offset changes of a zone. t_at: instants (epoch seconds) of the
-- first second with the new offset; t_wb: the wall time (W above) just
-- before; t_d: the jump of the wall clock in seconds.
CREATE TABLE quiet_zones (
  zone text PRIMARY KEY,
  t_at float8[] NOT NULL,
  t_wb float8[] NOT NULL,
  t_d float8[] NOT NULL,
  computed_at timestamptz NOT NULL DEFAULT herald_now()
);

-- owner 0: the org's windows alone (every user without windows of their
-- own, in that zone); otherwise the user's own windows added to the org's,
-- in the user's zone. A user's profile is (user, zone) when they have own
-- windows, else (0, zone): herald_quiet_profile_of() picks.
CREATE TABLE quiet_profiles (
  owner bigint NOT NULL,
  zone text NOT NULL REFERENCES quiet_zones (zone),
  b float8[] NOT NULL,
  q float8[] NOT NULL,
  c float8[] NOT NULL,
  wq float8 NOT NULL,
  t_at float8[] NOT NULL,
  t_cc float8[] NOT NULL,
  PRIMARY KEY (owner, zone)
);

-- Whole-second UTC offset of a zone at an instant (epoch seconds).
CREATE FUNCTION herald_tz_offset(p_zone text, p_at bigint) RETURNS float8
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT date_part('epoch', to_timestamp(p_at) AT TIME ZONE p_zone) - p_at
$$;

-- Wall time W of an instant in a zone (seconds since local Monday
-- 1970-01-05 00:00; 345600 s after the epoch).
CREATE FUNCTION herald_wall(p_zone text, p_at timestamptz) RETURNS float8
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT date_part('epoch', p_at AT TIME ZONE p_zone) - 345600
$$;

-- (Re)computes a zone's offset changes: the offset sampled weekly, the
-- weeks where it differs sampled daily, and each such day bisected to the
-- second (17 halvings). A few ms for a zone without DST, ~20 ms with;
-- once per zone. (Two changes within one week that cancel each other out
-- would go unseen; tzdata has none in the range.)
-- (jit off: the planner cannot know how few weeks have a change, costs the
-- statement in the millions, and JIT-compiling it took 0.5 s.)
CREATE FUNCTION herald_quiet_zone_compute(p_zone text) RETURNS void
LANGUAGE sql SET jit = off AS $$
  INSERT INTO quiet_zones AS qz (zone, t_at, t_wb, t_d)
  SELECT p_zone,
         coalesce(array_agg(t.hi::float8 ORDER BY t.hi), '{}'),
         coalesce(array_agg((t.hi + t.o1 - 345600)::float8 ORDER BY t.hi), '{}'),
         coalesce(array_agg((t.o2 - t.o1)::float8 ORDER BY t.hi), '{}')
  FROM (
    WITH RECURSIVE s AS (
      SELECT d, herald_tz_offset(p_zone, d) AS off
      FROM generate_series(946684800::bigint, 2840140800::bigint, 604800) d
    ), wk AS (
      SELECT lo, hi FROM (
        SELECT d AS lo, lead(d) OVER w AS hi, off AS o1, lead(off) OVER w AS o2
        FROM s WINDOW w AS (ORDER BY d)) x
      WHERE o2 <> o1
    ), dy AS (
      SELECT wk.lo AS week, d, herald_tz_offset(p_zone, d) AS off
      FROM wk, generate_series(wk.lo, wk.hi, 86400) d
    ), ch AS (
      SELECT d AS lo, lead(d) OVER w AS hi, off AS o1, lead(off) OVER w AS o2
      FROM dy WINDOW w AS (PARTITION BY week ORDER BY d)
    ), bis AS (
      SELECT lo, hi, o1, o2 FROM ch WHERE o2 <> o1
      UNION ALL
      SELECT CASE WHEN herald_tz_offset(p_zone, m) = o1 THEN m ELSE lo END,
             CASE WHEN herald_tz_offset(p_zone, m) = o1 THEN hi ELSE m END,
             o1, o2
      FROM (SELECT lo, hi, o1, o2, (lo + hi) / 2 AS m FROM bis
            WHERE hi - lo > 1) x
    )
    SELECT hi, o1, o2 FROM bis WHERE hi - lo <= 1
  ) t
  ON CONFLICT (zone) DO UPDATE
    SET t_at = EXCLUDED.t_at, t_wb = EXCLUDED.t_wb, t_d = EXCLUDED.t_d,
        computed_at = herald_now()
$$;

-- G(W): quiet wall seconds from the wall epoch up to W (see above).
CREATE FUNCTION herald_quiet_before(b float8[], q float8[], c float8[],
                                    wq float8, w float8) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT floor(w / 604800) * wq
       + c[width_bucket(w - floor(w / 604800) * 604800, b)]
       + (w - floor(w / 604800) * 604800
          - b[width_bucket(w - floor(w / 604800) * 604800, b)])
         * q[width_bucket(w - floor(w / 604800) * 604800, b)]
$$;

-- (Re)computes the profile of p_owner (0: the org's windows alone) in
-- p_zone, computing the zone first when it is new.
CREATE FUNCTION herald_quiet_profile_compute(p_owner bigint, p_zone text)
RETURNS void LANGUAGE plpgsql SET jit = off AS $$
BEGIN
  -- See herald_quiet_profiles_refresh: one computation at a time.
  PERFORM pg_advisory_xact_lock(7522537451345275240);
  IF NOT EXISTS (SELECT 1 FROM quiet_zones WHERE zone = p_zone) THEN
    PERFORM herald_quiet_zone_compute(p_zone);
  END IF;
  WITH w AS (
    -- Monday-first seconds of the week: day_of_week is extract(dow), 0 =
    -- Sunday.
    SELECT ((day_of_week + 6) % 7) * 86400 + start_minute * 60 AS s,
           ((day_of_week + 6) % 7) * 86400 + end_minute * 60 AS e
    FROM quiet_windows
    WHERE user_id IS NULL OR (p_owner > 0 AND user_id = p_owner)
  ), pts AS (
    SELECT 0 AS p UNION SELECT s FROM w UNION SELECT e FROM w WHERE e < 604800
  ), seg AS (
    SELECT p AS a, coalesce(lead(p) OVER (ORDER BY p), 604800) AS z FROM pts
  ), segq AS (
    SELECT a, z, EXISTS (SELECT 1 FROM w WHERE w.s <= seg.a AND w.e >= seg.z)
             AS quiet
    FROM seg
  ), grp AS (
    -- Neighbours in the same state merge into one segment.
    SELECT a, z, quiet, count(*) FILTER (WHERE brk) OVER (ORDER BY a) AS g
    FROM (SELECT a, z, quiet,
                 quiet IS DISTINCT FROM lag(quiet) OVER (ORDER BY a) AS brk
          FROM segq) r
  ), m AS (
    SELECT min(a) AS a, max(z) AS z, bool_or(quiet) AS quiet
    FROM grp GROUP BY g
  ), mc AS (
    SELECT a, z, quiet,
           coalesce(sum(CASE WHEN quiet THEN z - a ELSE 0 END)
                    OVER (ORDER BY a ROWS BETWEEN UNBOUNDED PRECEDING
                                          AND 1 PRECEDING), 0) AS c
    FROM m
  ), prof AS (
    SELECT array_agg(a::float8 ORDER BY a) AS b,
           array_agg((CASE WHEN quiet THEN 1 ELSE 0 END)::float8 ORDER BY a)
             AS q,
           array_agg(c::float8 ORDER BY a) AS c,
           sum(CASE WHEN quiet THEN z - a ELSE 0 END)::float8 AS wq
    FROM mc
  ), tr AS (
    SELECT u.i, u.at, u.wb, u.d
    FROM quiet_zones qz,
         unnest(qz.t_at, qz.t_wb, qz.t_d) WITH ORDINALITY AS u(at, wb, d, i)
    WHERE qz.zone = p_zone
  ), corr AS (
    SELECT tr.i, tr.at,
           tr.d - (herald_quiet_before(p.b, p.q, p.c, p.wq, tr.wb + tr.d)
                   - herald_quiet_before(p.b, p.q, p.c, p.wq, tr.wb)) AS k
    FROM tr, prof p
  )
  INSERT INTO quiet_profiles AS qp (owner, zone, b, q, c, wq, t_at, t_cc)
  SELECT p_owner, p_zone, p.b, p.q, p.c, p.wq,
         coalesce((SELECT array_agg(at ORDER BY i) FROM corr), '{}'),
         '{0}'::float8[] || coalesce((
           SELECT array_agg(s ORDER BY i)
           FROM (SELECT i, sum(k) OVER (ORDER BY i) AS s FROM corr) x), '{}')
  FROM prof p
  ON CONFLICT (owner, zone) DO UPDATE
    SET b = EXCLUDED.b, q = EXCLUDED.q, c = EXCLUDED.c, wq = EXCLUDED.wq,
        t_at = EXCLUDED.t_at, t_cc = EXCLUDED.t_cc;
END $$;

-- Brings the profiles of the given owners up to date (0 in the list: the
-- org's windows changed, which changes every profile). A user's profile
-- exists only while they have own windows.
CREATE FUNCTION herald_quiet_profiles_refresh(p_owners bigint[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  -- Profile computations queue here until the holder commits, and each
  -- statement below then takes a fresh snapshot (READ COMMITTED), so an
  -- org change and a user's change made at the same time both end up in
  -- the profiles, whichever commits first.
  PERFORM pg_advisory_xact_lock(7522537451345275240);
  IF 0 = ANY (p_owners) THEN
    FOR r IN SELECT owner, zone FROM quiet_profiles ORDER BY owner, zone LOOP
      PERFORM herald_quiet_profile_compute(r.owner, r.zone);
    END LOOP;
    RETURN;
  END IF;
  DELETE FROM quiet_profiles WHERE owner = ANY (p_owners);
  FOR r IN
    SELECT u.id, u.time_zone FROM users u
     WHERE u.id = ANY (p_owners)
       AND EXISTS (SELECT 1 FROM quiet_windows w WHERE w.user_id = u.id)
     ORDER BY u.id
  LOOP
    PERFORM herald_quiet_profile_compute(r.id, r.time_zone);
  END LOOP;
END $$;

-- Statement triggers on quiet_windows: one per event, because a trigger
-- with transition tables serves one event only.
CREATE FUNCTION quiet_windows_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM herald_quiet_profiles_refresh(
    ARRAY(SELECT DISTINCT coalesce(user_id, 0) FROM quiet_new));
  RETURN NULL;
END $$;
CREATE FUNCTION quiet_windows_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM herald_quiet_profiles_refresh(
    ARRAY(SELECT DISTINCT coalesce(user_id, 0) FROM quiet_old));
  RETURN NULL;
END $$;
CREATE FUNCTION quiet_windows_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM herald_quiet_profiles_refresh(
    ARRAY(SELECT coalesce(user_id, 0) FROM quiet_new
          UNION SELECT coalesce(user_id, 0) FROM quiet_old));
  RETURN NULL;
END $$;
CREATE TRIGGER quiet_windows_profiles_ins AFTER INSERT ON quiet_windows
  REFERENCING NEW TABLE AS quiet_new
  FOR EACH STATEMENT EXECUTE FUNCTION quiet_windows_ins();
CREATE TRIGGER quiet_windows_profiles_del AFTER DELETE ON quiet_windows
  REFERENCING OLD TABLE AS quiet_old
  FOR EACH STATEMENT EXECUTE FUNCTION quiet_windows_del();
CREATE TRIGGER quiet_windows_profiles_upd AFTER UPDATE ON quiet_windows
  REFERENCING NEW TABLE AS quiet_new OLD TABLE AS quiet_old
  FOR EACH STATEMENT EXECUTE FUNCTION quiet_windows_upd();
-- TRUNCATE has no transition table: it empties the org's windows too.
CREATE FUNCTION quiet_windows_trunc() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM quiet_profiles WHERE owner <> 0;
  PERFORM herald_quiet_profiles_refresh(ARRAY[0::bigint]);
  RETURN NULL;
END $$;
CREATE TRIGGER quiet_windows_profiles_trunc AFTER TRUNCATE ON quiet_windows
  FOR EACH STATEMENT EXECUTE FUNCTION quiet_windows_trunc();

-- A user's zone: the org profile for it must exist, and their own profile
-- follows them to the new zone. Users in a zone already in use cost one
-- index probe here.
CREATE FUNCTION users_quiet_profile() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.time_zone IS DISTINCT FROM OLD.time_zone THEN
    PERFORM herald_quiet_profiles_refresh(ARRAY[NEW.id]);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM quiet_profiles
                 WHERE owner = 0 AND zone = NEW.time_zone) THEN
    -- (Two transactions adding the first user of a zone both compute it;
    -- the second upsert wins with the same result.)
    PERFORM herald_quiet_profile_compute(0, NEW.time_zone);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER users_quiet_profile
  AFTER INSERT OR UPDATE OF time_zone ON users
  FOR EACH ROW EXECUTE FUNCTION users_quiet_profile();

-- Recomputes every zone in use and every profile (after a tzdata update).
CREATE FUNCTION herald_quiet_zones_refresh() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  r record;
  n integer := 0;
BEGIN
  FOR r IN SELECT zone FROM quiet_zones ORDER BY zone LOOP
    PERFORM herald_quiet_zone_compute(r.zone);
    n := n + 1;
  END LOOP;
  PERFORM herald_quiet_profiles_refresh(ARRAY[0::bigint]);
  RETURN n;
END $$;

-- The profile in force for a user: their own, else the org's in their
-- zone. No row for an unknown user.
CREATE FUNCTION herald_quiet_profile_of(p_user bigint)
RETURNS SETOF quiet_profiles LANGUAGE sql STABLE AS $$
  SELECT p.* FROM users u
  JOIN quiet_profiles p ON p.zone = u.time_zone AND p.owner IN (0, u.id)
  WHERE u.id = p_user
  ORDER BY p.owner DESC LIMIT 1
$$;

-- ---------------------------------------------------------------------------
-- The business clock of a profile: P(t) = N(W(t)) - (the DST corrections
-- up to t), so that the business seconds between t1 and t2 are P(t2) -
-- P(t1). A single expression that the planner inlines into the calling
-- query: the unread report computes P(now) once per recipient and P(sent)
-- per row (~2 µs).
CREATE FUNCTION herald_business_position(b float8[], q float8[], c float8[],
                                         wq float8, t_at float8[],
                                         t_cc float8[], zone text,
                                         t timestamptz)
RETURNS float8 LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT herald_wall(zone, t)
       - herald_quiet_before(b, q, c, wq, herald_wall(zone, t))
       - t_cc[width_bucket(date_part('epoch', t), t_at) + 1]
$$;

-- Business seconds between t1 and t2 (0 when t2 <= t1) for a profile
-- given by its columns.
CREATE FUNCTION herald_business_seconds(b float8[], q float8[], c float8[],
                                        wq float8, t_at float8[],
                                        t_cc float8[], zone text,
                                        t1 timestamptz, t2 timestamptz)
RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN t2 <= t1 THEN 0::bigint ELSE greatest(0::float8, floor(
      herald_business_position(b, q, c, wq, t_at, t_cc, zone, t2)
    - herald_business_position(b, q, c, wq, t_at, t_cc, zone, t1)))::bigint
  END
$$;

-- The same for a user (one lookup per call). A user without a profile
-- (cannot happen while the triggers above run) counts elapsed time.
CREATE FUNCTION herald_business_seconds(p_user bigint, p_from timestamptz,
                                        p_to timestamptz)
RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    (SELECT herald_business_seconds(p.b, p.q, p.c, p.wq, p.t_at, p.t_cc,
                                    p.zone, p_from, p_to)
     FROM herald_quiet_profile_of(p_user) p),
    greatest(0, floor(extract(epoch FROM (p_to - p_from))))::bigint)
$$;

-- "Unread for" (0004 made this the one definition reports use): business
-- time now, same signature. Still never more than elapsed time, so the
-- reports' pre-filter sent_at <= now - threshold stays right.
CREATE OR REPLACE FUNCTION herald_unread_seconds(p_user bigint,
                                                 p_sent timestamptz,
                                                 p_now timestamptz)
RETURNS bigint
LANGUAGE sql STABLE AS $$
  SELECT herald_business_seconds(p_user, p_sent, p_now)
$$;

-- The inverse the unread report counts with: the latest sent time T for
-- which herald_unread_seconds(p_user, T, p_now) >= p_secs (to the
-- millisecond; -infinity when no time within three years qualifies, e.g.
-- a user quiet around the clock). Business time never grows as the sent
-- time moves later, so exactly the messages sent at or before T are
-- unread for long enough: the report compares sent_at with T, per
-- recipient, instead of evaluating "unread for" per message. Found by
-- search on the business clock (about 50 steps of ~3 µs).
CREATE FUNCTION herald_unread_cutoff(p_user bigint, p_now timestamptz,
                                     p_secs bigint)
RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
DECLARE
  p quiet_profiles;
  pn float8;
  hi timestamptz := p_now - make_interval(secs => p_secs);
  lo timestamptz;
  mid timestamptz;
  span interval := interval '1 day';
BEGIN
  SELECT * INTO p FROM herald_quiet_profile_of(p_user);
  IF NOT FOUND THEN
    RETURN hi;                  -- elapsed time, as herald_business_seconds
  END IF;
  pn := herald_business_position(p.b, p.q, p.c, p.wq, p.t_at, p.t_cc,
                                 p.zone, p_now);
  -- Business time is at most elapsed time: nothing after hi qualifies.
  IF floor(pn - herald_business_position(p.b, p.q, p.c, p.wq, p.t_at,
                                         p.t_cc, p.zone, hi)) >= p_secs THEN
    RETURN hi;
  END IF;
  -- Invariant: hi does not qualify. Step back until lo does.
  LOOP
    lo := hi - span;
    EXIT WHEN floor(pn - herald_business_position(p.b, p.q, p.c, p.wq,
                    p.t_at, p.t_cc, p.zone, lo)) >= p_secs;
    IF span > interval '3 years' THEN
      RETURN '-infinity';
    END IF;
    hi := lo;
    span := span * 2;
  END LOOP;
  WHILE hi - lo > interval '1 millisecond' LOOP
    mid := lo + (hi - lo) / 2;
    IF floor(pn - herald_business_position(p.b, p.q, p.c, p.wq, p.t_at,
                                           p.t_cc, p.zone, mid)) >= p_secs THEN
      lo := mid;
    ELSE
      hi := mid;
    END IF;
  END LOOP;
  RETURN lo;
END $$;

-- Is p_at quiet for the user? (false for an unknown user)
CREATE FUNCTION herald_in_quiet(p_user bigint, p_at timestamptz)
RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT coalesce((
    SELECT p.q[width_bucket(herald_wall(p.zone, p_at)
                            - floor(herald_wall(p.zone, p_at) / 604800)
                              * 604800, p.b)] = 1
    FROM herald_quiet_profile_of(p_user) p), false)
$$;

-- From instant p_e (epoch seconds) whose wall time is p_w, the first
-- instant at or after it whose state is p_want (true: quiet), walking over
-- the zone's offset changes; NULL when the state never comes (a week
-- without quiet time, or all quiet).
CREATE FUNCTION herald_quiet_walk(p quiet_profiles, z quiet_zones,
                                  p_e float8, p_w float8, p_want boolean)
RETURNS float8 LANGUAGE plpgsql STABLE AS $$
DECLARE
  n integer := cardinality(p.b);
  nt integer := coalesce(cardinality(z.t_at), 0);
  e float8 := p_e;
  w float8 := p_w;
  x float8;
  k integer;
  j integer;
  idx integer;
  gap float8;
  want float8 := CASE WHEN p_want THEN 1 ELSE 0 END;
BEGIN
  IF (p_want AND p.wq <= 0) OR (NOT p_want AND p.wq >= 604800) THEN
    RETURN NULL;
  END IF;
  -- Each round either ends or passes one offset change; 64 is far more
  -- than the changes between now and the end of any quiet stretch.
  FOR round IN 1..64 LOOP
    x := w - floor(w / 604800) * 604800;
    k := width_bucket(x, p.b);
    IF p.q[k] = want THEN
      RETURN e;
    END IF;
    -- Wall seconds to the first segment in the wanted state, wrapping
    -- into the next week.
    gap := NULL;
    FOR i IN k + 1 .. k + n LOOP
      idx := (i - 1) % n + 1;
      IF p.q[idx] = want THEN
        gap := p.b[idx] + CASE WHEN i > n THEN 604800 ELSE 0 END - x;
        EXIT;
      END IF;
    END LOOP;
    -- The next offset change, if it comes first (or at the same instant).
    j := CASE WHEN nt = 0 THEN 1 ELSE width_bucket(e, z.t_at) + 1 END;
    IF j <= nt AND z.t_at[j] <= e + gap THEN
      e := z.t_at[j];
      w := z.t_wb[j] + z.t_d[j];
    ELSE
      RETURN round(e + gap);
    END IF;
  END LOOP;
  RETURN NULL;
END $$;

-- The quiet state of a user at p_at: in quiet hours or not; r_until, the
-- end of the current quiet stretch (NULL when not quiet, or when every
-- hour of the week is quiet); r_next, the start of the next stretch after
-- p_at (after r_until when quiet; NULL when there is none). Windows are
-- the org's plus the user's own. No row for an unknown user.
CREATE FUNCTION herald_quiet_state(p_user bigint, p_at timestamptz)
RETURNS TABLE (r_in_quiet boolean, r_until timestamptz,
               r_next timestamptz)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  p quiet_profiles;
  z quiet_zones;
  e float8 := date_part('epoch', p_at);
  u float8;
  nx float8;
BEGIN
  SELECT * INTO p FROM herald_quiet_profile_of(p_user);
  IF NOT FOUND THEN
    RETURN;
  END IF;
  SELECT * INTO z FROM quiet_zones WHERE zone = p.zone;
  r_in_quiet := herald_in_quiet(p_user, p_at);
  IF r_in_quiet THEN
    u := herald_quiet_walk(p, z, e, herald_wall(p.zone, p_at), false);
    r_until := to_timestamp(u);
    IF u IS NOT NULL THEN
      nx := herald_quiet_walk(p, z, u, herald_wall(p.zone, r_until), true);
    END IF;
  ELSE
    nx := herald_quiet_walk(p, z, e, herald_wall(p.zone, p_at), true);
  END IF;
  r_next := to_timestamp(nx);
  RETURN NEXT;
END $$;

-- When deferred work for a user may go out: p_at itself when p_at is not
-- quiet, else the end of the quiet stretch it falls in ('infinity' when
-- every hour of the week is quiet). For DING re-alerts and reminders.
CREATE FUNCTION herald_quiet_until(p_user bigint, p_at timestamptz)
RETURNS timestamptz LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN s.r_in_quiet
              THEN coalesce(s.r_until, 'infinity'::timestamptz)
              ELSE p_at END
  FROM herald_quiet_state(p_user, p_at) s
$$;

-- ---------------------------------------------------------------------------
-- Profiles for what exists already: the org's windows in every zone in
-- use (UTC too, the default zone), and users who have own windows.
-- (A DO block: the migrator runs this file as one simple query and wants
-- no result rows from it.)
DO $$
BEGIN
  PERFORM herald_quiet_profile_compute(0, z.zone)
     FROM (SELECT time_zone AS zone FROM users UNION SELECT 'UTC') z;
  PERFORM herald_quiet_profiles_refresh(
    ARRAY(SELECT DISTINCT user_id FROM quiet_windows
          WHERE user_id IS NOT NULL));
END $$;
