-- 0011_report_fast.sql — the unread report's cutoff in closed form.
--
-- Applied by storage/migrate.c in one transaction under the migration lock;
-- never edit this file once released (its checksum is recorded).
--
-- The report (storage/reports.c) counts, per recipient, the unread
-- messages sent at or before one instant, the cutoff: the latest sent time
-- whose business "unread for" reaches the threshold (0005's
-- herald_unread_cutoff). 0005 finds it by search, ~50 evaluations of the
-- business clock in plpgsql per recipient: 0.1-0.2 ms each, which was most
-- of a manager's report. The business clock of a profile (0005,
-- herald_business_position) is
--   P(t) = N(W(t)) - C(t),   N(W) = W - G(W)
-- with W(t) the local wall time (t plus the zone's offset, which is fixed
-- between two offset changes), G the quiet wall seconds (piecewise linear
-- over the week's segments) and C the DST corrections accumulated up to t
-- (also fixed between changes). So between two offset changes P is
-- t + constant pushed through N, and N inverts in closed form: a week has
-- 604800 - wq business seconds, and inside the week the business seconds
-- before segment k are b[k] - c[k], which a binary search (width_bucket)
-- finds. The cutoff is then the latest t with P(t) <= P(now) - threshold:
-- inverted in the offset interval of now - threshold, and in earlier
-- intervals only when the result falls before the interval's start (a
-- step per offset change crossed: none or one for thresholds of hours or
-- days). P never decreases and is continuous (the corrections make up for
-- the wall clock's jumps), so the first interval whose inverse lands in it
-- holds the answer.
--
-- The report calls it once per distinct profile in its scope (most users
-- share the org's profile in one zone), not once per recipient.
--
-- Limits, as 0005's: offset changes are tabulated from 2000 to 2060; a
-- change outside that range between the cutoff and now is not corrected
-- for, here as in P itself. Unlike the search (which gives up after about
-- six years and returns -infinity), the inverse always finds the instant
-- when the week has any business time; when it has none, nothing ever
-- reaches a positive threshold: -infinity.

-- The latest instant T such that the business seconds from T to p_now
-- (herald_business_seconds of the profile given by its columns) are at
-- least p_secs; at most p_now - p_secs (business time never exceeds
-- elapsed time). Exact to float rounding (microseconds), where the search
-- stops within a millisecond below it.
CREATE FUNCTION herald_business_cutoff(b float8[], q float8[], c float8[],
                                       wq float8, t_at float8[],
                                       t_cc float8[], zone text,
                                       p_now timestamptz, p_secs bigint)
RETURNS timestamptz LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
  hi timestamptz := p_now - make_interval(secs => p_secs);
  pn float8 := herald_business_position(b, q, c, wq, t_at, t_cc, zone, p_now);
  bw float8 := 604800 - wq;                 -- business seconds of a week
  n integer := cardinality(b);
  nt integer := coalesce(cardinality(t_at), 0);
  nb float8[];
  e float8 := date_part('epoch', hi);
  j integer;
  rep float8;
  off float8;
  v float8;
  wk float8;
  r float8;
  k integer;
  x float8;
  t float8;
BEGIN
  IF floor(pn - herald_business_position(b, q, c, wq, t_at, t_cc, zone, hi))
     >= p_secs THEN
    RETURN hi;
  END IF;
  IF bw <= 0 THEN
    RETURN '-infinity';
  END IF;
  -- Business seconds of the week before each segment's start: sorted
  -- (equal across a quiet segment), so width_bucket gives the last segment
  -- starting at or before a given business second.
  nb := ARRAY(SELECT b[i] - c[i] FROM generate_series(1, n) i ORDER BY i);
  -- Offset interval j: [t_at[j], t_at[j+1]), its correction t_cc[j+1];
  -- j = 0 before the first change.
  j := CASE WHEN nt = 0 THEN 0 ELSE width_bucket(e, t_at) END;
  rep := e;                                 -- an instant inside interval j
  LOOP
    off := date_part('epoch', to_timestamp(rep) AT TIME ZONE zone) - rep;
    -- The latest wall time W with N(W) = P(now) - p_secs + C.
    v := pn - p_secs + t_cc[j + 1];
    wk := floor(v / bw);
    r := v - wk * bw;
    k := width_bucket(r, nb);
    IF q[k] = 1 THEN
      -- Only through rounding (a quiet segment's successor starts at the
      -- same business second): the end of the quiet segment.
      x := CASE WHEN k < n THEN b[k + 1] ELSE 604800 END;
    ELSE
      x := b[k] + (r - nb[k]);
    END IF;
    t := wk * 604800 + x + 345600 - off;
    IF j = 0 OR t >= t_at[j] THEN
      RETURN least(hi, to_timestamp(t));
    END IF;
    -- Before this interval began: the previous one.
    j := j - 1;
    rep := t_at[j + 1] - 1;
  END LOOP;
END $$;
