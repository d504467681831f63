/*
 * proto_samples.c — complete sample frames and a hand-written comparator.
 *
 * The samples are the fixtures of the round-trip tests and the seeds of the
 * fuzz corpus; the comparator checks every member of every struct in
 * proto.h by name. Keep both in step with proto.h when a field is added:
 * the round-trip and completeness tests fail until they are.
 */
#include <stdio.h>
#include <string.h>

#include "proto_samples.h"

#define S(lit) ((struct proto_str){(lit), sizeof(lit) - 1})
#define N(a) (sizeof(a) / sizeof((a)[0]))

static const uint64_t ids3[] = {101, 102, PROTO_ID_MAX};
static const uint64_t esc3[] = {300, 900, 1800};
static const struct proto_cursor curs[] = {
  {1, 0}, {7, 4242}, {PROTO_ID_MAX, PROTO_ID_MAX}};
static const struct proto_window wins[] = {
  {1, 1200, 480}, {6, 0, 1440}, {7, 0, 1440}};
static const struct proto_window own1[] = {{3, 720, 780}};
static uint8_t hash32[PROTO_HASH_LEN], sig64[PROTO_SIG_LEN],
    pub32[PROTO_PUBKEY_LEN];

#define T0 1700000000000ull /* 2023-11-14, ms */

static const struct proto_msg msgs[] = {
  {.conv = 7, .seq = 99, .from = 43, .from_kind = PROTO_ACTOR_BOT,
   .cmid = S("bot-1"), .kind = PROTO_KIND_TEXT, .body = S("héllo 世界 🎉"),
   .ts = T0 + 1, .tracked = true},
  {.conv = 7, .seq = 100, .from = 42, .from_kind = PROTO_ACTOR_USER,
   .cmid = S("c-0001"), .kind = PROTO_KIND_DING,
   .body = S("请在五点前确认 🚨"), .ts = T0 + 500, .tracked = true,
   .silent = true, .urg = PROTO_URG_URGENT, .to = ids3, .nto = N(ids3),
   .all = true, .card = 31},
};
static const struct proto_receipt rcpts[] = {
  {7, 99, 3, 5, 600}, {7, 100, 0, 3, 601}};
static const struct proto_remind reminds[] = {
  {7, 95, 99, 3, T0 - 7200000, 604}, {8, 2, 2, 1, T0 - 3600000, 605}};
static const struct proto_ding_row drows[] = {
  {101, true, true, true, T0 + 50000, 3, true},
  {102, true, false, false, 0, 1, false}};
static const struct proto_ding_update dupd[] = {
  {7, 100, 602, {101, true, true, true, T0 + 50000, 3, true}, 42,
   PROTO_URG_URGENT}};
static const struct proto_card_event cevs[] = {
  {.card = 31, .ver = 5, .ev = S("signed"), .actor = 42,
   .actor_kind = PROTO_ACTOR_USER, .conv = 7, .seq = 101, .ts = T0 + 7,
   .payload = S("{\"by\":42,\"state\":\"signed\"}"), .fs = 603}};
static const struct proto_who_row wrows[] = {
  {101, true, T0 + 60000}, {102, false, 0}};
static const struct proto_report_row rrows[] = {
  {101, 7, 99, 43, T0 + 1, 9000, true, true},
  {102, 7, 99, 43, T0 + 1, 7300, false, false}};
static const struct proto_report_user rusers[] = {
  {101, S("Bob 王"), S("Sales"), 3, 1}, {102, S("Carol"), S(""), 1, 0}};
static const struct proto_report_dept rdepts[] = {{S("Sales"), 4, 1}};
static const struct proto_conv_info convs[] = {
  {7, PROTO_CONV_GROUP, S("Ops 運維"), PROTO_MEMBER_OWNER,
   PROTO_POLICY_FLAGGED, 100, 2, 5},
  {8, PROTO_CONV_DIRECT, S(""), PROTO_MEMBER_MEMBER, PROTO_POLICY_ALL, 0, 0,
   2}};
static const struct proto_member members[] = {
  {42, S("alice"), S("Alice 陈"), PROTO_MEMBER_OWNER, PROTO_ACTOR_USER},
  {43, S("deploy-bot"), S("Deploy"), PROTO_MEMBER_MEMBER, PROTO_ACTOR_BOT}};

static struct proto_quiet_state quiet(void)
{
  return (struct proto_quiet_state){
    .in_quiet = true, .until = T0 + 100000, .next = T0 + 86400000,
    .tz = S("Asia/Hong_Kong"), .org = wins, .norg = N(wins), .own = own1,
    .nown = N(own1)};
}

void sample_frame(enum proto_type t, struct proto_frame *f)
{
  for (size_t i = 0; i < sizeof hash32; i++)
    hash32[i] = (uint8_t)(0xa0 + i);
  for (size_t i = 0; i < sizeof sig64; i++)
    sig64[i] = (uint8_t)(0x11 * i);
  for (size_t i = 0; i < sizeof pub32; i++)
    pub32[i] = (uint8_t)(255 - i);

  proto_frame_init(f, t);
  f->id = 1000 + (uint64_t)t;
  switch (t) {
  case PROTO_T_HELLO:
    f->u.hello = (struct proto_hello){S("tok-3f9a"), S("dev-01"),
                                      S("herald"), S("0.1.0")};
    break;
  case PROTO_T_LOGIN:
    f->u.login = (struct proto_login){S("alice"), S("correct horse"),
                                      S("dev-01"), S("herald"), S("0.1.0")};
    break;
  case PROTO_T_LOGOUT:
  case PROTO_T_QUIET_GET:
  case PROTO_T_CONV_LIST:
    break;
  case PROTO_T_SEND:
    /* `all` stays false: a DING names `to` or `all`, never both. */
    f->u.send = (struct proto_send){
      .cmid = S("c-0001"), .conv = 7, .kind = PROTO_KIND_DING,
      .body = S("请在五点前确认 🚨"), .tracked = true, .to = ids3,
      .nto = N(ids3), .urg = PROTO_URG_CRITICAL, .esc = esc3,
      .nesc = N(esc3)};
    break;
  case PROTO_T_SYNC:
    f->u.sync = (struct proto_sync){curs, N(curs), 555, 200};
    break;
  case PROTO_T_HISTORY:
    f->u.history = (struct proto_history){7, 1000, 50};
    break;
  case PROTO_T_READ:
    f->u.read = (struct proto_mark){7, 99, T0};
    break;
  case PROTO_T_WHO_READ:
    f->u.who_read = (struct proto_msgref){7, 99};
    break;
  case PROTO_T_DING_ACK:
    f->u.ding_ack = (struct proto_mark){7, 100, T0 + 1000};
    break;
  case PROTO_T_DING_BOARD:
    f->u.ding_board = (struct proto_msgref){7, 100};
    break;
  case PROTO_T_CARD_ACTION:
    f->u.card_action = (struct proto_card_action){
      31, S("set_status"), S("{\"status\":\"done\"}"), S("a-77"), 4};
    break;
  case PROTO_T_CARD_EDIT:
    f->u.card_edit = (struct proto_card_edit){
      32, S("/sections/notes"), S("\"Good quarter 👍\""), 5};
    break;
  case PROTO_T_CARD_SIGN:
    f->u.card_sign = (struct proto_card_sign){
      33, 6, {(const char *)hash32, sizeof hash32},
      {(const char *)sig64, sizeof sig64}, S("dev-01")};
    break;
  case PROTO_T_DEVICE_KEY:
    f->u.device_key = (struct proto_device_key){
      S("dev-01"), {(const char *)pub32, sizeof pub32}};
    break;
  case PROTO_T_QUIET_SET:
    f->u.quiet_set = (struct proto_quiet_set){wins, N(wins),
                                              S("Asia/Hong_Kong")};
    break;
  case PROTO_T_REPORT_UNREAD:
    f->u.report_unread = (struct proto_report_unread){
      7200, PROTO_SCOPE_TEAM, 7, S("Sales"), 500};
    break;
  case PROTO_T_CONV_CREATE:
    f->u.conv_create = (struct proto_conv_create){
      PROTO_CONV_GROUP, S("Ops 運維"), ids3, N(ids3), PROTO_POLICY_FLAGGED,
      7200, 14400};
    break;
  case PROTO_T_CONV_MEMBERS:
    f->u.conv_members = (struct proto_conv_ref){7};
    break;
  case PROTO_T_CONV_ADD_MEMBER:
    f->u.conv_add_member = (struct proto_conv_add_member){7, 104};
    break;
  case PROTO_T_PING:
    f->u.ping = (struct proto_ping){T0 + 123};
    break;
  case PROTO_T_WELCOME:
    f->u.welcome = (struct proto_welcome){
      .uid = 42, .login = S("alice"), .name = S("Alice 陈"),
      .role = PROTO_ROLE_MANAGER, .token = S("tok-new"),
      .exp = T0 + 86400000ull * 30, .now = T0, .tz = S("Asia/Hong_Kong"),
      .lim = {65536, 1048576, 32768, 8, 1000}, .quiet = quiet()};
    break;
  case PROTO_T_ACK:
    f->u.ack = (struct proto_ack){S("c-0001"), 7, 100, T0 + 500, true, 31};
    break;
  case PROTO_T_MSG:
    f->u.msg = msgs[1];
    break;
  case PROTO_T_PAGE:
    f->u.page = (struct proto_page){7, msgs, N(msgs), true, true};
    break;
  case PROTO_T_FEED:
    f->u.feed = (struct proto_feed){
      .rcpt = rcpts, .nrcpt = N(rcpts), .ding = dupd, .nding = N(dupd),
      .cards = cevs, .ncards = N(cevs), .remind = reminds,
      .nremind = N(reminds), .next = 777, .more = true};
    break;
  case PROTO_T_SYNCED:
    f->u.synced = (struct proto_synced){777};
    break;
  case PROTO_T_RECEIPT:
    f->u.receipt = rcpts[0];
    break;
  case PROTO_T_REMIND:
    f->u.remind = reminds[0];
    break;
  case PROTO_T_WHO_READ_RESULT:
    f->u.who_read_result = (struct proto_who_read_result){7, 99, wrows,
                                                          N(wrows)};
    break;
  case PROTO_T_DING_ALERT:
    f->u.ding_alert = (struct proto_ding_alert){
      7, 100, 42, PROTO_URG_CRITICAL, 2, true, true, 101};
    break;
  case PROTO_T_DING_UPDATE:
    f->u.ding_update = dupd[0];
    break;
  case PROTO_T_DING_BOARD_RESULT:
    f->u.ding_board_result = (struct proto_ding_board_result){
      7, 100, PROTO_URG_URGENT, drows, N(drows)};
    break;
  case PROTO_T_CARD_EVENT:
    f->u.card_event = cevs[0];
    break;
  case PROTO_T_QUIET_STATE:
    f->u.quiet_state = quiet();
    break;
  case PROTO_T_REPORT_RESULT:
    f->u.report_result = (struct proto_report_result){
      7200, T0, rrows, N(rrows), rusers, N(rusers), rdepts, N(rdepts), true};
    break;
  case PROTO_T_CONV_LIST_RESULT:
    f->u.conv_list_result = (struct proto_conv_list_result){convs, N(convs)};
    break;
  case PROTO_T_CONV_MEMBERS_RESULT:
    f->u.conv_members_result = (struct proto_conv_members_result){
      7, members, N(members)};
    break;
  case PROTO_T_RESULT:
    f->u.result = (struct proto_result){7, 31, 6, true};
    break;
  case PROTO_T_PONG:
    f->u.pong = (struct proto_pong){T0 + 123, T0 + 130};
    break;
  case PROTO_T_ERROR:
    f->u.error = (struct proto_error_frame){
      3001, S("NOT_FOUND"), S("field `conv`: not found"), S("conv"), true};
    break;
  case PROTO_T_NONE:
  case PROTO_T_COUNT_:
    break;
  }
}

/* ---- comparator --------------------------------------------------------- */

struct why {
  char *buf;
  size_t n;
};

static bool differ(struct why *w, const char *field, const char *what)
{
  snprintf(w->buf, w->n, "%s: %s", field, what);
  return false;
}

static bool eq_u(uint64_t a, uint64_t b, const char *f, struct why *w)
{
  char m[64];

  if (a == b)
    return true;
  snprintf(m, sizeof m, "%llu != %llu", (unsigned long long)a,
           (unsigned long long)b);
  return differ(w, f, m);
}

static bool eq_s(struct proto_str a, struct proto_str b, const char *f,
                 struct why *w)
{
  if (!a.p != !b.p)
    return differ(w, f, a.p ? "absent on the right" : "absent on the left");
  if (a.len != b.len)
    return differ(w, f, "lengths differ");
  if (a.len && memcmp(a.p, b.p, a.len) != 0)
    return differ(w, f, "bytes differ");
  return true;
}

static bool eq_au(const uint64_t *a, size_t na, const uint64_t *b, size_t nb,
                  const char *f, struct why *w)
{
  if (na != nb)
    return differ(w, f, "counts differ");
  if (na && memcmp(a, b, na * sizeof *a) != 0)
    return differ(w, f, "items differ");
  return true;
}

typedef bool (*cmp_fn)(const void *, const void *, struct why *);

static bool eq_list(const void *a, size_t na, const void *b, size_t nb,
                    size_t size, cmp_fn fn, const char *f, struct why *w)
{
  if (na != nb)
    return differ(w, f, "counts differ");
  for (size_t i = 0; i < na; i++)
    if (!fn((const char *)a + i * size, (const char *)b + i * size, w)) {
      char m[200];

      snprintf(m, sizeof m, "%s[%zu].%s", f, i, w->buf);
      snprintf(w->buf, w->n, "%s", m);
      return false;
    }
  return true;
}

#define U(x) eq_u(a->x, b->x, #x, w)
#define E(x) eq_u((uint64_t)a->x, (uint64_t)b->x, #x, w)
#define B(x) eq_u(a->x, b->x, #x, w)
#define STR(x) eq_s(a->x, b->x, #x, w)
#define AU(x) eq_au(a->x, a->n##x, b->x, b->n##x, #x, w)
#define L(x, fn)                                                            \
  eq_list(a->x, a->n##x, b->x, b->n##x, sizeof *a->x, cmp_##fn, #x, w)
#define CMP(name, type)                                                     \
  static bool cmp_##name##_(const type *a, const type *b, struct why *w);   \
  static bool cmp_##name(const void *pa, const void *pb, struct why *w)     \
  {                                                                         \
    return cmp_##name##_(pa, pb, w);                                        \
  }                                                                         \
  static bool cmp_##name##_(const type *a, const type *b, struct why *w)

CMP(hello, struct proto_hello)
{
  return STR(token) && STR(dev) && STR(client) && STR(cver);
}
CMP(login, struct proto_login)
{
  return STR(login) && STR(pass) && STR(dev) && STR(client) && STR(cver);
}
CMP(send, struct proto_send)
{
  return STR(cmid) && U(conv) && E(kind) && STR(body) && B(tracked) &&
         AU(to) && B(all) && E(urg) && AU(esc);
}
CMP(cursor, struct proto_cursor) { return U(conv) && U(after); }
CMP(sync, struct proto_sync)
{
  return L(cur, cursor) && U(feed) && U(limit);
}
CMP(history, struct proto_history)
{
  return U(conv) && U(before) && U(limit);
}
CMP(mark, struct proto_mark) { return U(conv) && U(seq) && U(at); }
CMP(msgref, struct proto_msgref) { return U(conv) && U(seq); }
CMP(card_action, struct proto_card_action)
{
  return U(card) && STR(action) && STR(args) && STR(cmid) && U(base);
}
CMP(card_edit, struct proto_card_edit)
{
  return U(card) && STR(path) && STR(value) && U(base);
}
CMP(card_sign, struct proto_card_sign)
{
  return U(card) && U(ver) && STR(hash) && STR(sig) && STR(dev);
}
CMP(device_key, struct proto_device_key) { return STR(dev) && STR(pub); }
CMP(window, struct proto_window)
{
  return U(day) && U(start) && U(end);
}
CMP(quiet_set, struct proto_quiet_set) { return L(win, window) && STR(tz); }
CMP(report_unread, struct proto_report_unread)
{
  return U(older) && E(scope) && U(conv) && STR(dept) && U(limit);
}
CMP(conv_create, struct proto_conv_create)
{
  return E(type) && STR(title) && AU(members) && E(policy) &&
         U(remind_after) && U(task_after);
}
CMP(conv_ref, struct proto_conv_ref) { return U(conv); }
CMP(conv_add_member, struct proto_conv_add_member)
{
  return U(conv) && U(uid);
}
CMP(ping, struct proto_ping) { return U(ts); }
CMP(limits_info, struct proto_limits_info)
{
  return U(frame) && U(sframe) && U(body) && U(depth) && U(page);
}
CMP(quiet_state, struct proto_quiet_state)
{
  return B(in_quiet) && U(until) && U(next) && STR(tz) && L(org, window) &&
         L(own, window);
}
CMP(welcome, struct proto_welcome)
{
  return U(uid) && STR(login) && STR(name) && E(role) && STR(token) &&
         U(exp) && U(now) && STR(tz) &&
         cmp_limits_info(&a->lim, &b->lim, w) &&
         cmp_quiet_state(&a->quiet, &b->quiet, w);
}
CMP(ack, struct proto_ack)
{
  return STR(cmid) && U(conv) && U(seq) && U(ts) && B(dup) && U(card);
}
CMP(msg, struct proto_msg)
{
  return U(conv) && U(seq) && U(from) && E(from_kind) && STR(cmid) &&
         E(kind) && STR(body) && U(ts) && B(tracked) && B(silent) &&
         E(urg) && AU(to) && B(all) && U(card);
}
CMP(page, struct proto_page)
{
  return U(conv) && L(msgs, msg) && B(more) && B(hist);
}
CMP(receipt, struct proto_receipt)
{
  return U(conv) && U(seq) && U(read) && U(total) && U(fs);
}
CMP(remind, struct proto_remind)
{
  return U(conv) && U(seq) && U(upto) && U(n) && U(since) && U(fs);
}
CMP(ding_row, struct proto_ding_row)
{
  return U(uid) && B(delivered) && B(read) && B(acked) && U(acked_at) &&
         U(step) && B(escalated);
}
CMP(ding_update, struct proto_ding_update)
{
  return U(conv) && U(seq) && U(fs) && cmp_ding_row(&a->row, &b->row, w) &&
         U(from) && E(urg);
}
CMP(card_event, struct proto_card_event)
{
  return U(card) && U(ver) && STR(ev) && U(actor) && E(actor_kind) &&
         U(conv) && U(seq) && U(ts) && STR(payload) && U(fs);
}
CMP(feed, struct proto_feed)
{
  return L(rcpt, receipt) && L(ding, ding_update) && L(cards, card_event) &&
         L(remind, remind) && U(next) && B(more);
}
CMP(synced, struct proto_synced) { return U(feed); }
CMP(who_row, struct proto_who_row) { return U(uid) && B(read) && U(at); }
CMP(who_read_result, struct proto_who_read_result)
{
  return U(conv) && U(seq) && L(rows, who_row);
}
CMP(ding_alert, struct proto_ding_alert)
{
  return U(conv) && U(seq) && U(from) && E(urg) && U(step) && B(silent) &&
         B(overrode_quiet) && U(about);
}
CMP(ding_board_result, struct proto_ding_board_result)
{
  return U(conv) && U(seq) && E(urg) && L(rows, ding_row);
}
CMP(report_row, struct proto_report_row)
{
  return U(uid) && U(conv) && U(seq) && U(from) && U(ts) && U(unread_s) &&
         B(ding) && B(acked);
}
CMP(report_user, struct proto_report_user)
{
  return U(uid) && STR(name) && STR(dept) && U(unread) && U(dings);
}
CMP(report_dept, struct proto_report_dept)
{
  return STR(dept) && U(unread) && U(dings);
}
CMP(report_result, struct proto_report_result)
{
  return U(older) && U(now) && L(rows, report_row) &&
         L(users, report_user) && L(depts, report_dept) && B(truncated);
}
CMP(conv_info, struct proto_conv_info)
{
  return U(conv) && E(type) && STR(title) && E(role) && E(policy) &&
         U(last) && U(unread) && U(members);
}
CMP(conv_list_result, struct proto_conv_list_result)
{
  return L(convs, conv_info);
}
CMP(member, struct proto_member)
{
  return U(uid) && STR(login) && STR(name) && E(role) && E(kind);
}
CMP(conv_members_result, struct proto_conv_members_result)
{
  return U(conv) && L(members, member);
}
CMP(result, struct proto_result)
{
  return U(conv) && U(card) && U(ver) && B(dup);
}
CMP(pong, struct proto_pong) { return U(ts) && U(now); }
CMP(error_frame, struct proto_error_frame)
{
  return U(code) && STR(name) && STR(message) && STR(field) && B(retry);
}

bool sample_equal(const struct proto_frame *fa, const struct proto_frame *fb,
                  char *buf, size_t n)
{
  struct why w = {buf, n};
  const void *a = &fa->u, *b = &fb->u;

  buf[0] = 0;
  if (fa->type != fb->type)
    return differ(&w, "t", "types differ");
  if (fa->id != fb->id)
    return differ(&w, "id", "ids differ");
  switch (fa->type) {
  case PROTO_T_HELLO: return cmp_hello(a, b, &w);
  case PROTO_T_LOGIN: return cmp_login(a, b, &w);
  case PROTO_T_LOGOUT:
  case PROTO_T_QUIET_GET:
  case PROTO_T_CONV_LIST: return true;
  case PROTO_T_SEND: return cmp_send(a, b, &w);
  case PROTO_T_SYNC: return cmp_sync(a, b, &w);
  case PROTO_T_HISTORY: return cmp_history(a, b, &w);
  case PROTO_T_READ:
  case PROTO_T_DING_ACK: return cmp_mark(a, b, &w);
  case PROTO_T_WHO_READ:
  case PROTO_T_DING_BOARD: return cmp_msgref(a, b, &w);
  case PROTO_T_CARD_ACTION: return cmp_card_action(a, b, &w);
  case PROTO_T_CARD_EDIT: return cmp_card_edit(a, b, &w);
  case PROTO_T_CARD_SIGN: return cmp_card_sign(a, b, &w);
  case PROTO_T_DEVICE_KEY: return cmp_device_key(a, b, &w);
  case PROTO_T_QUIET_SET: return cmp_quiet_set(a, b, &w);
  case PROTO_T_REPORT_UNREAD: return cmp_report_unread(a, b, &w);
  case PROTO_T_CONV_CREATE: return cmp_conv_create(a, b, &w);
  case PROTO_T_CONV_MEMBERS: return cmp_conv_ref(a, b, &w);
  case PROTO_T_CONV_ADD_MEMBER: return cmp_conv_add_member(a, b, &w);
  case PROTO_T_PING: return cmp_ping(a, b, &w);
  case PROTO_T_WELCOME: return cmp_welcome(a, b, &w);
  case PROTO_T_ACK: return cmp_ack(a, b, &w);
  case PROTO_T_MSG: return cmp_msg(a, b, &w);
  case PROTO_T_PAGE: return cmp_page(a, b, &w);
  case PROTO_T_FEED: return cmp_feed(a, b, &w);
  case PROTO_T_SYNCED: return cmp_synced(a, b, &w);
  case PROTO_T_RECEIPT: return cmp_receipt(a, b, &w);
  case PROTO_T_REMIND: return cmp_remind(a, b, &w);
  case PROTO_T_WHO_READ_RESULT: return cmp_who_read_result(a, b, &w);
  case PROTO_T_DING_ALERT: return cmp_ding_alert(a, b, &w);
  case PROTO_T_DING_UPDATE: return cmp_ding_update(a, b, &w);
  case PROTO_T_DING_BOARD_RESULT: return cmp_ding_board_result(a, b, &w);
  case PROTO_T_CARD_EVENT: return cmp_card_event(a, b, &w);
  case PROTO_T_QUIET_STATE: return cmp_quiet_state(a, b, &w);
  case PROTO_T_REPORT_RESULT: return cmp_report_result(a, b, &w);
  case PROTO_T_CONV_LIST_RESULT: return cmp_conv_list_result(a, b, &w);
  case PROTO_T_CONV_MEMBERS_RESULT:
    return cmp_conv_members_result(a, b, &w);
  case PROTO_T_RESULT: return cmp_result(a, b, &w);
  case PROTO_T_PONG: return cmp_pong(a, b, &w);
  case PROTO_T_ERROR: return cmp_error_frame(a, b, &w);
  case PROTO_T_NONE:
  case PROTO_T_COUNT_: break;
  }
  return differ(&w, "t", "no such type");
}
