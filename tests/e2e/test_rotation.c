/*
 * test_rotation.c — master key rotation on a live server: `heraldctl keys
 * rotate` runs against the running heraldd's database and key file while
 * clients keep reading and asking who read; no read loses its time and
 * every who-read answer has every time, before, during and after, without
 * a restart. Afterwards every data key is under the new master and the
 * server wipes the retired key; a second rotation while nobody reads makes
 * the server find the next key when storage refuses the retired one; a
 * restart works, and a server given the old key is refused, naming the
 * retired key.
 */
#include "check.h"
#include "e2e.h"
#include "peer.h"
#include "pgtest.h"

#include "hcrypto.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define READERS 12   /* read before the rotation: one key each */
#define LATE 3       /* first read during the rotation */
#define AFTER 2      /* first read after it */
#define MESSAGES 20

static struct e2e_server srv;
static int64_t conv;
static struct peer *alice, *readers[READERS], *late[LATE], *after[AFTER];

static bool outbox_empty(void *arg)
{
  return hc_outbox_count(((struct peer *)arg)->c) == 0;
}

static void read_upto(struct peer *p, uint64_t seq)
{
  CHECK_INT(hc_mark_read(p->c, (uint64_t)conv, seq, 0, NULL), ==, 0);
  peer_wait(outbox_empty, p, 15000, "a read stored");
  CHECK_UINT(p->failed, ==, 0);
}

/* Asks who read `seq` as its sender; fails the test when a reader's row has
 * no time (its data key could not be opened). Returns the readers. */
static size_t check_times(uint64_t seq)
{
  struct proto_frame f, w;
  size_t nread = 0;

  proto_frame_init(&f, PROTO_T_WHO_READ);
  f.u.who_read.conv = (uint64_t)conv;
  f.u.who_read.seq = seq;
  CHECK_INT(peer_request(alice, &f, &w), ==, 0);
  for (size_t i = 0; i < w.u.who_read_result.nrows; i++) {
    const struct proto_who_row *r = &w.u.who_read_result.rows[i];

    if (!r->read)
      continue;
    nread++;
    if (r->at == 0)
      CHECK_FAIL("who_read seq %llu: user %llu read it, but the time is "
                 "missing", (unsigned long long)seq,
                 (unsigned long long)r->uid);
  }
  proto_frame_cleanup(&w);
  return nread;
}

static size_t check_all_times(void)
{
  size_t n = 0;

  for (uint64_t seq = 1; seq <= MESSAGES; seq++)
    n += check_times(seq);
  return n;
}

static void connect_all(void)
{
  char login[32];

  alice = peer_new(srv.url, "alice", NULL, true);
  for (int i = 0; i < READERS; i++) {
    snprintf(login, sizeof login, "r%02d", i);
    readers[i] = peer_new(srv.url, login, NULL, true);
  }
}

static void disconnect_all(void)
{
  peer_free(alice);
  for (int i = 0; i < READERS; i++)
    peer_free(readers[i]);
}

static int64_t key_file_id(const char *path)
{
  struct hcr_master *m = NULL;
  char err[512];
  int64_t id;

  if (hcr_master_load_file(path, &m, err, sizeof err) != HCR_OK)
    CHECK_FAIL("%s", err);
  id = (int64_t)hcr_master_id(m);
  hcr_master_free(m);
  return id;
}

static void copy_file(const char *from, const char *to)
{
  char buf[256];
  int in = open(from, O_RDONLY), out;
  ssize_t n;

  CHECK(in >= 0);
  out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  CHECK(out >= 0);
  while ((n = read(in, buf, sizeof buf)) > 0)
    CHECK_INT(write(out, buf, (size_t)n), ==, n);
  close(in);
  close(out);
}

/* Starts a process with stdout and stderr into `log`. */
static pid_t spawn(const char *const *argv, const char *log)
{
  pid_t pid = fork();
  int fd;

  CHECK(pid >= 0);
  if (pid == 0) {
    fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  return pid;
}

static void slurp(const char *path, char *buf, size_t len)
{
  FILE *f = fopen(path, "r");
  size_t n = f ? fread(buf, 1, len - 1, f) : 0;

  buf[n] = '\0';
  if (f)
    fclose(f);
}

static long long live_keys_not_under(int64_t master)
{
  char sql[200];

  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM user_keys WHERE wrapped IS NOT NULL"
           " AND master_id <> %lld", (long long)master);
  return e2e_query_int(&srv, sql);
}

/* The master id of a user's data key, -1 without one. */
static int64_t master_of(const char *login)
{
  char sql[300];

  snprintf(sql, sizeof sql,
           "SELECT coalesce((SELECT k.master_id FROM user_keys k"
           " JOIN users u ON u.id = k.user_id WHERE u.login = '%s'), -1)",
           login);
  return e2e_query_int(&srv, sql);
}

TEST(rotation_on_a_live_server)
{
  char keyfile[300], oldkey[300], ctl_log[300], out[8192], want[400];
  char login[32], listen[32];
  const char *ctl = getenv("HERALDCTL"), *heraldd = getenv("HERALDD");
  int64_t members[READERS + LATE + AFTER], alice_id, old_id, new_id,
          newer_id;
  size_t nmembers = 0, checks_during = 0, mixed_seen = 0;
  uint64_t deadline, marker[READERS];
  pid_t pid;
  int st = 0, k, opened_old = 0, opened_new = 0;
  bool done;

  CHECK(ctl != NULL && heraldd != NULL);
  e2e_server_init(&srv);
  alice_id = e2e_org(&srv, "alice");
  for (int i = 0; i < READERS; i++) {
    snprintf(login, sizeof login, "r%02d", i);
    members[nmembers++] = e2e_user(&srv, login);
  }
  for (int i = 0; i < LATE; i++) {
    snprintf(login, sizeof login, "late%d", i);
    members[nmembers++] = e2e_user(&srv, login);
  }
  for (int i = 0; i < AFTER; i++) {
    snprintf(login, sizeof login, "after%d", i);
    members[nmembers++] = e2e_user(&srv, login);
  }
  conv = e2e_group(&srv, "Rotation", alice_id, members, nmembers);
  /* Read times are recorded only outside quiet hours (test_quiet.c). */
  pgtest_exec(srv.db, "DELETE FROM quiet_windows");
  e2e_server_start(&srv, NULL);
  snprintf(keyfile, sizeof keyfile, "%s/master.key", srv.dir);
  snprintf(oldkey, sizeof oldkey, "%s/old.key", srv.dir);
  snprintf(ctl_log, sizeof ctl_log, "%s/rotate.out", srv.dir);
  old_id = key_file_id(keyfile);
  copy_file(keyfile, oldkey);

  /* Before: reader i has read up to seq i + 1, so who-read of seq s has
   * to open the keys of readers s-1 .. READERS-1 only. */
  connect_all();
  for (int i = 0; i < MESSAGES; i++)
    CHECK_INT(hc_send_text(alice->c, (uint64_t)conv, "note", 4, NULL, NULL),
              ==, 0);
  peer_wait(outbox_empty, alice, 15000, "alice's messages stored");
  for (int i = 0; i < READERS; i++)
    read_upto(readers[i], marker[i] = (uint64_t)i + 1);
  CHECK_UINT(check_times(1), ==, READERS);
  /* A restart empties the server's data key cache, so that during the
   * rotation it must unwrap keys — some still under the old master, some
   * already under the new one. */
  disconnect_all();
  e2e_server_stop(&srv);
  e2e_server_start(&srv, NULL);
  connect_all();
  for (int i = 0; i < LATE; i++) {
    snprintf(login, sizeof login, "late%d", i);
    late[i] = peer_new(srv.url, login, NULL, true);
  }

  /* During: one key per page, 200 ms apart, in user id order (r00
   * first). Meanwhile reads and who-read touch the readers' keys from the
   * last down, so the server unwraps some under the old master (r11, long
   * before its turn) and — waiting for it where needed — some under the
   * new one, which it has to pick up from FILE.next. */
  {
    const char *argv[] = {ctl, "--db", srv.db, "keys", "rotate",
                          "--master-key-file", keyfile, "--batch", "1",
                          "--pause", "200", NULL};

    pid = spawn(argv, ctl_log);
  }
  deadline = e2e_now_ms() + 120000;
  for (k = 0, done = false; !done; k++) {
    done = waitpid(pid, &st, WNOHANG) != 0;
    if (e2e_now_ms() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      CHECK_FAIL("heraldctl keys rotate did not finish within 120 s");
    }
    if (e2e_query_int(&srv, "SELECT count(DISTINCT master_id) FROM user_keys"
                            " WHERE wrapped IS NOT NULL") == 2)
      mixed_seen++;
    if (k < READERS) {
      int t = READERS - 1 - k;

      snprintf(login, sizeof login, "r%02d", t);
      while (t < READERS / 2 && master_of(login) == old_id) {
        if (e2e_now_ms() > deadline)
          CHECK_FAIL("the rotation does not reach %s", login);
        usleep(20000);
      }
      if (master_of(login) == old_id)
        opened_old++;
      else
        opened_new++;
      check_times((uint64_t)t + 1);  /* opens r<t>'s key first */
      read_upto(readers[t], ++marker[t]);
    } else {
      check_times((uint64_t)(k % MESSAGES) + 1);
    }
    checks_during++;
    if (k < LATE)
      read_upto(late[k], MESSAGES);     /* a new data key, mid-rotation */
    hc_run_until(peer_ctx(), NULL, NULL, 50);
  }
  slurp(ctl_log, out, sizeof out);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    CHECK_FAIL("heraldctl keys rotate failed (status 0x%x): %s", st, out);
  new_id = key_file_id(keyfile);
  CHECK(new_id != old_id);
  snprintf(want, sizeof want, "Retired master key id %lld",
           (long long)old_id);
  CHECK_CONTAINS(out, want);
  printf("# %zu who-read checks during the rotation, %zu in a mixed state; "
         "keys first opened under the old master %d, under the new %d\n",
         checks_during, mixed_seen, opened_old, opened_new);
  CHECK(mixed_seen > 0);
  CHECK(k >= LATE);
  CHECK(opened_old > 0);
  CHECK(opened_new > 0);
  /* The server found the new key in FILE.next while the rotation ran. */
  snprintf(want, sizeof want, "master key id %lld from %s.next",
           (long long)new_id, keyfile);
  CHECK_INT(e2e_log_count(&srv, want), >=, 1);

  /* After, on the same server: every time, and new readers. */
  CHECK_UINT(check_times(1), ==, READERS + LATE);
  CHECK_UINT(check_times(MESSAGES), ==, LATE);
  check_all_times();
  after[0] = peer_new(srv.url, "after0", NULL, true);
  read_upto(after[0], MESSAGES);
  CHECK_INT(master_of("after0"), ==, new_id);
  CHECK_UINT(check_times(1), ==, READERS + LATE + 1);
  CHECK_UINT(check_times(MESSAGES), ==, LATE + 1);
  CHECK_INT(live_keys_not_under(new_id), ==, 0);
  CHECK_INT(e2e_query_int(&srv, "SELECT count(*) FROM user_keys"
                                " WHERE wrapped IS NOT NULL"),
            ==, READERS + LATE + 1);
  CHECK_INT(e2e_query_int(&srv, "SELECT count(*) FROM read_ranges"
                                " WHERE read_time_sealed IS NULL"), ==, 0);
  /* The retired key leaves the server's memory within seconds. */
  snprintf(want, sizeof want, "master key id %lld was retired by a key "
           "rotation: dropped and wiped", (long long)old_id);
  deadline = e2e_now_ms() + 20000;
  for (int i = 0; e2e_log_count(&srv, want) == 0; i++) {
    if (e2e_now_ms() > deadline)
      CHECK_FAIL("the server still holds the retired key");
    hc_run_until(peer_ctx(), NULL, NULL, 500);
    check_times((uint64_t)(i % MESSAGES) + 1);
  }
  check_all_times();

  /* A second rotation while nobody reads: the server, still holding only
   * the first new key, makes the next user's data key under it; storage
   * refuses (retired), and the server picks up the key file's new key and
   * makes it under that. */
  {
    const char *argv[] = {ctl, "--db", srv.db, "keys", "rotate",
                          "--master-key-file", keyfile, NULL};

    pid = spawn(argv, ctl_log);
    CHECK_INT(waitpid(pid, &st, 0), ==, pid);
    slurp(ctl_log, out, sizeof out);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
      CHECK_FAIL("the second rotation failed (status 0x%x): %s", st, out);
  }
  newer_id = key_file_id(keyfile);
  CHECK(newer_id != new_id && newer_id != old_id);
  after[1] = peer_new(srv.url, "after1", NULL, true);
  read_upto(after[1], MESSAGES);
  CHECK_INT(master_of("after1"), ==, newer_id);
  snprintf(want, sizeof want, "master key id %lld from %s",
           (long long)newer_id, keyfile);
  CHECK_INT(e2e_log_count(&srv, want), ==, 1);
  CHECK_UINT(check_times(1), ==, READERS + LATE + AFTER);
  CHECK_UINT(check_times(MESSAGES), ==, LATE + AFTER);
  CHECK_INT(live_keys_not_under(newer_id), ==, 0);
  CHECK_INT(e2e_query_int(&srv, "SELECT count(*) FROM read_ranges"
                                " WHERE read_time_sealed IS NULL"), ==, 0);

  for (int i = 0; i < LATE; i++)
    peer_free(late[i]);
  for (int i = 0; i < AFTER; i++)
    peer_free(after[i]);
  disconnect_all();

  /* A restart comes up on the new key file. */
  e2e_server_stop(&srv);
  e2e_server_start(&srv, NULL);
  connect_all();
  CHECK_UINT(check_times(1), ==, READERS + LATE + AFTER);
  check_all_times();
  read_upto(readers[0], MESSAGES);
  CHECK_UINT(check_times(MESSAGES), ==, LATE + AFTER + 1);
  disconnect_all();
  e2e_server_stop(&srv);

  /* The old key is refused, naming it as retired. */
  snprintf(listen, sizeof listen, "127.0.0.1:%d", srv.port);
  {
    char log[300];
    const char *argv[] = {heraldd, "--db", srv.db, "--listen", listen,
                          "--data-dir", srv.dir, "--master-key-file", oldkey,
                          NULL};

    snprintf(log, sizeof log, "%s/refused.log", srv.dir);
    pid = spawn(argv, log);
    deadline = e2e_now_ms() + 30000;
    while (waitpid(pid, &st, WNOHANG) == 0) {
      if (e2e_now_ms() > deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        CHECK_FAIL("heraldd started with the retired key");
      }
      usleep(20000);
    }
    slurp(log, out, sizeof out);
  }
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 0);
  snprintf(want, sizeof want, "the master key (id %lld) was retired by a "
           "key rotation", (long long)old_id);
  CHECK_CONTAINS(out, want);
}

TEST_MAIN()
