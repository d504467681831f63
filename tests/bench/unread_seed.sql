-- unread_seed.sql — the data set of `herald-bench unread` (m_unread.c):
-- an organisation, its groups, a month of tracked messages and the read
-- state the server would have recorded for them, stored exactly as
-- storage/ stores it (members markers, one read_ranges row per read event
-- with a 48-byte sealed time, the receipt feed entries herald_read() would
-- have appended, DING recipients).
--
-- Set-based SQL throughout: a million messages take a few minutes, not the
-- hours that a million herald_send_batch() calls would. m_unread.c runs the
-- steps below one by one (each "-- step: NAME" line starts one) in a single
-- session, after creating the temporary table seed_cfg (users, groups,
-- msgs, days, t_end, vps, mgrs) and, when it may, switching off triggers
-- (session_replication_role = replica: the per-row time-zone check on users
-- reads pg_timezone_names, and the foreign-key triggers would double the
-- time of the big inserts; the data below is consistent by construction).
--
-- Randomness: random() after setseed() (m_unread.c), so a run is the same
-- data set as the last one of the same sizes, modulo parallel plans.

-- step: people
-- The org tree, four levels: the CEO, vps vice-presidents (one division
-- each), mgrs managers spread over the divisions, and the staff spread over
-- the managers (~50 each). Departments: Executive, one per division (its
-- VP), one per team ("Engineering 2"). Everyone's activity rank in a group
-- and their reading habits come later.
CREATE TEMP TABLE seed_div AS
SELECT d, (ARRAY['Engineering', 'Sales', 'Operations', 'Finance',
                 'Marketing', 'Support', 'Legal', 'People'])[1 + (d - 1) % 8]
          || CASE WHEN d > 8 THEN ' ' || ((d - 1) / 8 + 1) ELSE '' END AS name
FROM seed_cfg, generate_series(1, vps) d;

CREATE TEMP TABLE seed_people (
  pos int PRIMARY KEY, login text, display text, role text,
  mgr_login text, dept text, div int, team int, user_id bigint);
INSERT INTO seed_people
SELECT 1, 'ceo', 'Chief Executive', 'manager', NULL, 'Executive', 0, 0
UNION ALL
SELECT 1 + d.d, 'vp' || d.d, 'VP ' || d.name, 'manager', 'ceo', d.name, d.d, 0
FROM seed_div d
UNION ALL
SELECT 1 + c.vps + k, 'mgr' || lpad(k::text, 3, '0'), 'Manager ' || k,
       'manager', 'vp' || d.d, d.name || ' ' || (1 + (k - 1) / c.vps), d.d, k
FROM seed_cfg c, generate_series(1, c.mgrs) k
JOIN seed_div d ON d.d = 1 + (k - 1) % (SELECT vps FROM seed_cfg)
UNION ALL
SELECT 1 + c.vps + c.mgrs + j, 'staff' || lpad(j::text, 4, '0'), 'Staff ' || j,
       'staff', 'mgr' || lpad(k::text, 3, '0'),
       d.name || ' ' || (1 + (k - 1) / c.vps), d.d, k
FROM seed_cfg c, generate_series(1, c.users - 1 - c.vps - c.mgrs) j,
     LATERAL (SELECT 1 + (j - 1) % c.mgrs AS k) m
JOIN seed_div d ON d.d = 1 + (m.k - 1) % (SELECT vps FROM seed_cfg);

INSERT INTO departments (name) SELECT DISTINCT dept FROM seed_people;
INSERT INTO users (login, display_name, department_id, role)
SELECT p.login, p.display, dp.id, p.role
FROM seed_people p JOIN departments dp ON dp.name = p.dept
ORDER BY p.pos;
UPDATE seed_people p SET user_id = u.id FROM users u WHERE u.login = p.login;
UPDATE users u SET manager_id = m.user_id
FROM seed_people p JOIN seed_people m ON m.login = p.mgr_login
WHERE u.id = p.user_id;

-- step: groups
-- 200 groups: all hands (everyone, announcements), one per division (~250),
-- one per team (~50, the manager owns it), the leadership group, and
-- project / interest groups of 5..100 members (sizes skewed small: 5 +
-- 95 r^2), drawn mostly from one division. weight: the group's share of the
-- traffic; skew: how unevenly its members post (sender rank = size * r^skew,
-- so the owner and a few others write most, as in real groups).
CREATE TEMP TABLE seed_groups (
  g serial PRIMARY KEY, kind text, title text, owner text, div int, team int,
  weight float8, skew float8, size int, conv bigint, n bigint);
INSERT INTO seed_groups (kind, title, owner, div, team, weight, skew, size)
SELECT 'allhands', 'All hands', 'ceo', 0, 0, 0.1, 6, NULL::int
UNION ALL
SELECT 'division', name || ' division', 'vp' || d, d, 0, 0.3, 4, NULL
FROM seed_div
UNION ALL
SELECT 'team', dept || ' team', login, div, team, 6, 2, NULL
FROM seed_people WHERE login LIKE 'mgr%'
UNION ALL
SELECT 'leaders', 'Leadership', 'ceo', 0, 0, 2, 2, NULL;
INSERT INTO seed_groups (kind, title, owner, div, team, weight, skew, size)
SELECT 'project', 'Project ' || p, NULL,
       1 + floor(random() * c.vps)::int, 0, 0.3 + 3 * random(), 2,
       least(c.users, 5 + floor(95 * random() ^ 2)::int)
FROM seed_cfg c,
     generate_series(1, c.groups - (SELECT count(*) FROM seed_groups)) p;

-- Members with their activity rank (1 = posts most): the owner first in
-- the fixed groups; in a project group the order of the draw, whose first
-- member owns it.
CREATE TEMP TABLE seed_members AS
SELECT g.g, p.user_id,
       row_number() OVER (PARTITION BY g.g
                          ORDER BY p.login <> g.owner, random()) AS rank
FROM seed_groups g JOIN seed_people p
  ON g.kind = 'allhands'
  OR (g.kind = 'division' AND p.div = g.div)
  OR (g.kind = 'team' AND p.team = g.team)
  OR (g.kind = 'leaders' AND p.role = 'manager')
WHERE g.kind <> 'project'
UNION ALL
SELECT g.g, x.user_id, x.rank
FROM seed_groups g,
     LATERAL (SELECT p.user_id,
                     row_number() OVER (ORDER BY random()
                       * CASE WHEN p.div = g.div THEN 1 ELSE 4 END) AS rank
              FROM seed_people p
              ORDER BY rank LIMIT g.size) x
WHERE g.kind = 'project';
UPDATE seed_groups g SET size = s.n
FROM (SELECT g, count(*) AS n FROM seed_members GROUP BY g) s WHERE s.g = g.g;
UPDATE seed_groups g SET owner = p.login
FROM seed_members m JOIN seed_people p ON p.user_id = m.user_id
WHERE g.kind = 'project' AND m.g = g.g AND m.rank = 1;

INSERT INTO conversations (kind, title, tracking, created_by, created_at)
SELECT 'group', g.title, 'all', p.user_id, c.t_end - c.days * interval '1 day'
FROM seed_groups g JOIN seed_people p ON p.login = g.owner, seed_cfg c
ORDER BY g.g;
UPDATE seed_groups g SET conv = c.id
FROM conversations c WHERE c.kind = 'group' AND c.title = g.title;
INSERT INTO members (conversation_id, user_id, role, joined_at)
SELECT g.conv, m.user_id, CASE WHEN m.rank = 1 THEN 'owner' ELSE 'member' END,
       c.t_end - c.days * interval '1 day'
FROM seed_members m JOIN seed_groups g ON g.g = m.g, seed_cfg c
ORDER BY g.conv, m.user_id;

-- step: messages
-- msgs tracked messages split over the groups by weight (cumulative
-- rounding: the total is exact), sent at uniformly random instants of the
-- last `days` days (seq follows time, as commit order does), by a member
-- drawn by activity rank. One in 500 is a DING.
UPDATE seed_groups g SET n = x.n
FROM (SELECT g,
             round(c.msgs * sum(weight) OVER (ORDER BY g) / t.w)
           - round(c.msgs * coalesce(sum(weight) OVER (ORDER BY g ROWS BETWEEN
               UNBOUNDED PRECEDING AND 1 PRECEDING), 0) / t.w) AS n
      FROM seed_groups, seed_cfg c,
           (SELECT sum(weight) AS w FROM seed_groups) t) x
WHERE x.g = g.g;

INSERT INTO messages (conversation_id, seq, sender_user_id, client_msg_id,
                      kind, body, tracked, sent_at)
SELECT x.conv, x.seq, m.user_id, 'seed-' || x.conv || '-' || x.seq,
       CASE WHEN random() < 0.002 THEN 'ding' ELSE 'text' END,
       'seed ' || md5(random()::text) || md5(random()::text), true, x.t
FROM (SELECT g.conv, g.g, y.t, y.pick,
             row_number() OVER (PARTITION BY g.conv ORDER BY y.t) AS seq
      FROM seed_groups g, seed_cfg c,
           LATERAL (SELECT c.t_end - c.days * interval '1 day' * random() AS t,
                           1 + floor(g.size * random() ^ g.skew)::int AS pick
                    FROM generate_series(1, g.n)) y) x
JOIN seed_members m ON m.g = x.g AND m.rank = x.pick
ORDER BY x.conv, x.seq;
UPDATE conversations c SET last_seq = g.n FROM seed_groups g WHERE g.conv = c.id;

-- step: reads
-- Reading habits. Per user: where they are now (75% at work, their last
-- session within the last 100 minutes; 22% away since 2..20 hours; 3% on
-- leave since 3..14 days) and how often they look at a conversation
-- (30% 8 times a day, 50% 4, 20% 1.5). Per membership: 85% follow the
-- conversation (read at every session), 12% skim it (last read 1..6 days
-- before their last session, a quarter as often), the rest muted (8% in
-- groups over 150, 3% elsewhere): half never read, half stopped 7..30 days
-- ago after a few reads.
CREATE TEMP TABLE seed_readers AS
SELECT p.user_id,
       CASE WHEN r1 < 0.75 THEN 'work' WHEN r1 < 0.97 THEN 'away'
            ELSE 'leave' END AS presence,
       CASE WHEN r1 < 0.75 THEN c.t_end - random() * interval '100 min'
            WHEN r1 < 0.97 THEN c.t_end - interval '2 h'
                                - random() * interval '18 h'
            ELSE c.t_end - interval '3 days' - random() * interval '11 days'
       END AS session,
       CASE WHEN r2 < 0.3 THEN 8 WHEN r2 < 0.8 THEN 4 ELSE 1.5 END AS per_day
FROM seed_people p, seed_cfg c,
     LATERAL (SELECT random() AS r1, random() AS r2, p.pos AS _) r;

CREATE TEMP TABLE seed_habits AS
SELECT g.conv, m.user_id, r.presence,
       CASE WHEN x.r < mute / 2 THEN NULL
            WHEN x.r < mute THEN c.t_end - interval '7 days'
                                 - random() * interval '23 days'
            WHEN x.r < mute + 0.12 THEN r.session - interval '1 day'
                                        - random() * interval '5 days'
            ELSE r.session - random() * interval '10 min' END AS last_read,
       CASE WHEN x.r < mute THEN 3
            WHEN x.r < mute + 0.12 THEN ceil(r.per_day * c.days / 4)
            ELSE ceil(r.per_day * c.days * (0.6 + 0.4 * random())) END::int AS k
FROM seed_members m JOIN seed_groups g ON g.g = m.g
JOIN seed_readers r ON r.user_id = m.user_id, seed_cfg c,
     LATERAL (SELECT random() AS r,
                     CASE WHEN g.size > 150 THEN 0.08 ELSE 0.03 END AS mute,
                     m.user_id AS _) x;

-- Read events: k random instants between the start and the last read, and
-- the last read itself. Each moves the marker to the last message sent by
-- then (found by sorting events among the messages of their conversation);
-- events that find nothing new to read record nothing, as in herald_read().
CREATE TEMP TABLE seed_ev AS
SELECT h.conv, h.user_id,
       c.t_end - c.days * interval '1 day'
       + random() * (h.last_read - (c.t_end - c.days * interval '1 day')) AS t
FROM seed_habits h, seed_cfg c, generate_series(1, h.k)
WHERE h.last_read IS NOT NULL
UNION ALL
SELECT conv, user_id, last_read FROM seed_habits WHERE last_read IS NOT NULL;

CREATE TEMP TABLE seed_rr AS
SELECT conv, user_id, upto AS to_seq, min(t) AS at
FROM (SELECT conv, user_id, t,
             max(seq) OVER (PARTITION BY conv ORDER BY t, seq NULLS LAST
                            ROWS UNBOUNDED PRECEDING) AS upto
      FROM (SELECT conversation_id AS conv, NULL::bigint AS user_id,
                   sent_at AS t, seq FROM messages
            UNION ALL
            SELECT conv, user_id, t, NULL FROM seed_ev) a) b
WHERE user_id IS NOT NULL AND upto IS NOT NULL
GROUP BY conv, user_id, upto;

-- One read_ranges row per event, as herald_read() inserts it: from the
-- marker + 1 to the new marker, key version 1, 48 bytes of sealed time
-- (the size of a real one: 24-byte nonce, 8-byte time, 16-byte tag).
INSERT INTO read_ranges (conversation_id, reader_id, from_seq, to_seq,
                         key_version, read_time_sealed, recorded_at)
SELECT conv, user_id, coalesce(lag(to_seq) OVER w, 0) + 1, to_seq, 1,
       decode(md5(random()::text) || md5(random()::text)
              || md5(random()::text), 'hex'), at
FROM seed_rr
WINDOW w AS (PARTITION BY conv, user_id ORDER BY to_seq)
ORDER BY at;

-- The markers; a read implies delivery, and devices of users who are not
-- on leave received everything.
UPDATE members m
SET read_seq = coalesce(r.upto, 0),
    delivered_seq = CASE WHEN h.presence = 'leave' THEN coalesce(r.upto, 0)
                         ELSE c.last_seq END
FROM seed_habits h
JOIN conversations c ON c.id = h.conv
LEFT JOIN (SELECT conv, user_id, max(to_seq) AS upto FROM seed_rr
           GROUP BY conv, user_id) r
  ON r.conv = h.conv AND r.user_id = h.user_id
WHERE m.conversation_id = h.conv AND m.user_id = h.user_id;

-- step: feed
-- The receipt feed herald_read() appends: per read event, one entry per
-- distinct user sender (other than the reader) of tracked messages in the
-- range, numbered per sender in the order of the reads.
INSERT INTO feed (user_id, fs, kind, conversation_id, from_seq, to_seq,
                  created_at)
SELECT s.sender, row_number() OVER (PARTITION BY s.sender
                                    ORDER BY s.at, s.rid),
       'receipt', s.conv, s.f, s.t, s.at
FROM (SELECT r.id AS rid, r.conversation_id AS conv, r.recorded_at AS at,
             x.sender_user_id AS sender, min(x.seq) AS f, max(x.seq) AS t
      FROM read_ranges r
      JOIN messages x ON x.conversation_id = r.conversation_id
       AND x.seq BETWEEN r.from_seq AND r.to_seq
      WHERE x.tracked AND x.sender_user_id <> r.reader_id
      GROUP BY r.id, r.conversation_id, r.recorded_at, x.sender_user_id) s;
INSERT INTO feed_heads (user_id, last_fs)
SELECT user_id, max(fs) FROM feed GROUP BY user_id;

-- step: dings
-- DINGs: their row, and one recipient row per member but the sender; read
-- ones were acknowledged 95% of the time, some time after they were sent.
INSERT INTO dings (conversation_id, seq, urgency, schedule, repeat_every,
                   max_alerts)
SELECT x.conversation_id, x.seq, 'normal', o.ding_schedule,
       o.ding_repeat_every, o.ding_max_alerts
FROM messages x, org o WHERE x.kind = 'ding';
INSERT INTO ding_recipients (conversation_id, seq, user_id, delivered_at,
                             acked_at, step)
SELECT x.conversation_id, x.seq, m.user_id, x.sent_at,
       CASE WHEN x.seq <= m.read_seq AND random() < 0.95
            THEN x.sent_at + (c.t_end - x.sent_at) * random() ^ 4 END,
       0
FROM messages x JOIN members m ON m.conversation_id = x.conversation_id
 AND m.user_id <> x.sender_user_id, seed_cfg c
WHERE x.kind = 'ding';
