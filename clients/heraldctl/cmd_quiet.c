/*
 * cmd_quiet.c — heraldctl quiet show / set / org: quiet-hours policies,
 * straight through storage (SPEC §7).
 *
 * Windows are written as "DAYS HH:MM-HH:MM": DAYS is a day (Mon ... Sun),
 * a range (Mon-Fri, Fri-Mon wraps over the weekend), a comma list
 * (Sat,Sun) or "daily"; the times are local wall-clock times in the
 * user's zone, an end earlier than the start crosses midnight
 * ("Mon-Fri 20:00-08:00" is five nights), 24:00 is midnight at the end.
 * Each day of DAYS becomes one window starting that day.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ctl_int.h"

static const char QUIET_SHOW_HELP[] =
  "Usage: heraldctl quiet show LOGIN [--format table|json]\n"
  "\n"
  "Shows a user's quiet hours: their time zone, whether they are in quiet\n"
  "hours now and until when (or when the next ones start), and the\n"
  "windows in force: the organisation's and the user's own.\n"
  "\n"
  "Options:\n"
  "  --format F            table (default) or json\n"
  "  -h, --help            this help\n";

static const char QUIET_SET_HELP[] =
  "Usage: heraldctl quiet set LOGIN [--tz ZONE] [--window SPEC]... [--clear]\n"
  "\n"
  "Sets a user's own quiet windows, which add to the organisation's (they\n"
  "cannot remove those), and/or their time zone. --window replaces all the\n"
  "user's own windows with the ones given; --clear removes them; --tz alone\n"
  "keeps them.\n"
  "\n"
  "SPEC is \"DAYS HH:MM-HH:MM\" in the user's local time: DAYS is Mon..Sun,\n"
  "a range (Mon-Fri), a list (Sat,Sun) or daily; an end before the start\n"
  "crosses midnight. Examples: 'Mon-Fri 20:00-08:00', 'Wed 12:00-13:00',\n"
  "'Sat,Sun 00:00-24:00'.\n"
  "\n"
  "Options:\n"
  "  --tz ZONE             IANA time zone, e.g. Asia/Hong_Kong\n"
  "  --window SPEC         a weekly window (repeatable, up to 64 windows)\n"
  "  --clear               remove the user's own windows\n"
  "  -h, --help            this help\n";

static const char QUIET_ORG_HELP[] =
  "Usage: heraldctl quiet org [--window SPEC]... [--clear]\n"
  "\n"
  "Shows the organisation's quiet windows, which apply to every user in\n"
  "their own time zone; with --window, replaces them (with --clear: no\n"
  "organisation quiet hours). The default is weekdays 20:00-08:00 and\n"
  "weekends all day:\n"
  "  --window 'Mon-Fri 20:00-08:00' --window 'Mon 00:00-08:00'\n"
  "  --window 'Sat,Sun 00:00-24:00'\n"
  "\n"
  "SPEC is as for 'heraldctl quiet set'.\n"
  "\n"
  "Options:\n"
  "  --window SPEC         a weekly window (repeatable, up to 64 windows)\n"
  "  --clear               no organisation quiet hours\n"
  "  -h, --help            this help\n";

enum { OPT_TZ = 1, OPT_WINDOW, OPT_CLEAR, OPT_FORMAT };

static const char *const day_names[] = {"Mon", "Tue", "Wed", "Thu",
                                        "Fri", "Sat", "Sun"};

/* "Mon" .. "Sun" (any case, or the full name) as 1..7; 0 when unknown. */
static int parse_day(const char *s, size_t len)
{
  static const char *const full[] = {"monday", "tuesday", "wednesday",
                                     "thursday", "friday", "saturday",
                                     "sunday"};

  for (int d = 0; d < 7; d++)
    if ((len == 3 && strncasecmp(s, day_names[d], 3) == 0) ||
        (len == strlen(full[d]) && strncasecmp(s, full[d], len) == 0))
      return d + 1;
  return 0;
}

/* "HH:MM" as minutes, 0..1440 (24:00 only as an end). -1 when bad. */
static int parse_time(const char *s, size_t len, bool end)
{
  int h, m;
  char buf[8];

  if (len < 4 || len > 5)
    return -1;
  memcpy(buf, s, len);
  buf[len] = '\0';
  if (sscanf(buf, "%2d:%2d", &h, &m) != 2 || buf[len - 3] != ':' ||
      m < 0 || m > 59 || h < 0 || h > 24 || (h == 24 && (m != 0 || !end)))
    return -1;
  return h * 60 + m;
}

/* Adds the windows of one SPEC to w[*n]. 0, or -1 with a message. */
static int parse_window(const char *spec, struct store_quiet_window *w,
                        size_t *n, char *err, size_t errlen)
{
  const char *sp = strchr(spec, ' '), *dash, *p;
  bool days[8] = {false};
  int start, end;

  if (!sp) {
    snprintf(err, errlen, "bad window \"%s\": expected \"DAYS HH:MM-HH:MM\", "
             "e.g. \"Mon-Fri 20:00-08:00\"", spec);
    return -1;
  }
  /* DAYS: "daily", or comma-separated days and ranges. */
  if ((size_t)(sp - spec) == 5 && strncasecmp(spec, "daily", 5) == 0) {
    for (int d = 1; d <= 7; d++)
      days[d] = true;
  } else {
    for (p = spec; p < sp;) {
      const char *comma = memchr(p, ',', (size_t)(sp - p)), *item_end;
      int a, b;

      item_end = comma ? comma : sp;
      dash = memchr(p, '-', (size_t)(item_end - p));
      a = parse_day(p, (size_t)((dash ? dash : item_end) - p));
      b = dash ? parse_day(dash + 1, (size_t)(item_end - dash - 1)) : a;
      if (!a || !b) {
        snprintf(err, errlen, "bad window \"%s\": unknown day in \"%.*s\" "
                 "(use Mon, Tue, Wed, Thu, Fri, Sat, Sun, a range such as "
                 "Mon-Fri, or daily)", spec, (int)(item_end - p), p);
        return -1;
      }
      for (int d = a;; d = d % 7 + 1) {
        days[d] = true;
        if (d == b)
          break;
      }
      p = comma ? comma + 1 : sp;
    }
  }
  while (*sp == ' ')
    sp++;
  dash = strchr(sp, '-');
  start = dash ? parse_time(sp, (size_t)(dash - sp), false) : -1;
  end = dash ? parse_time(dash + 1, strlen(dash + 1), true) : -1;
  if (start < 0 || end < 0 || start >= 1440) {
    snprintf(err, errlen, "bad window \"%s\": times must be HH:MM-HH:MM "
             "between 00:00 and 24:00, e.g. 20:00-08:00", spec);
    return -1;
  }
  if (start == end) {
    snprintf(err, errlen, "bad window \"%s\": start and end are the same "
             "time", spec);
    return -1;
  }
  for (int d = 1; d <= 7; d++) {
    if (!days[d])
      continue;
    if (*n >= STORE_QUIET_WINDOWS_MAX) {
      snprintf(err, errlen, "too many windows: at most %d (one per day of "
               "each --window)", STORE_QUIET_WINDOWS_MAX);
      return -1;
    }
    w[(*n)++] = (struct store_quiet_window){d, start, end};
  }
  return 0;
}

static void format_window(const struct store_quiet_window *w, char *buf,
                          size_t len)
{
  snprintf(buf, len, "%s %02d:%02d-%02d:%02d%s", day_names[w->day - 1],
           w->start / 60, w->start % 60, w->end / 60, w->end % 60,
           w->end <= w->start ? " (next day)" : "");
}

/* A time as local time in `tz` (the C library reads the same IANA
 * database PostgreSQL uses on Debian). */
static void format_time(int64_t ms, const char *tz, char *buf, size_t len)
{
  time_t t = (time_t)(ms / 1000);
  char *old = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
  struct tm tm;

  setenv("TZ", tz, 1);
  tzset();
  localtime_r(&t, &tm);
  strftime(buf, len, "%a %Y-%m-%d %H:%M %Z", &tm);
  if (old) {
    setenv("TZ", old, 1);
    free(old);
  } else {
    unsetenv("TZ");
  }
  tzset();
}

static void print_windows(const char *title,
                          const struct store_quiet_window *w, size_t n)
{
  char buf[48];

  printf("%s:%s\n", title, n ? "" : " none");
  for (size_t i = 0; i < n; i++) {
    format_window(&w[i], buf, sizeof buf);
    printf("  %s\n", buf);
  }
}

static json_t *windows_json(const struct store_quiet_window *w, size_t n)
{
  json_t *a = json_array();

  for (size_t i = 0; i < n; i++)
    json_array_append_new(a, json_pack("{s:s, s:i, s:i}", "day",
                                       day_names[w[i].day - 1], "start",
                                       w[i].start, "end", w[i].end));
  return a;
}

static void print_state(const char *login, const struct store_quiet_state *s,
                        enum ctl_format format)
{
  char until[64] = "", next[64] = "";

  if (s->until_ms)
    format_time(s->until_ms, s->time_zone, until, sizeof until);
  if (s->next_ms)
    format_time(s->next_ms, s->time_zone, next, sizeof next);
  if (format == CTL_JSON) {
    json_t *o = json_pack("{s:s, s:s, s:b, s:o, s:o, s:o, s:o}",
                          "login", login, "time_zone", s->time_zone,
                          "in_quiet", s->in_quiet,
                          "until", s->until_ms ? json_integer(s->until_ms)
                                               : json_null(),
                          "next", s->next_ms ? json_integer(s->next_ms)
                                             : json_null(),
                          "org", windows_json(s->org, s->n_org),
                          "own", windows_json(s->own, s->n_own));

    json_dumpf(o, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    json_decref(o);
    return;
  }
  printf("%s (%s): %s", login, s->time_zone,
         s->in_quiet ? "in quiet hours" : "not in quiet hours");
  if (s->in_quiet)
    printf(s->until_ms ? " until %s" : " (every hour of the week is quiet)",
           until);
  printf("\n");
  if (s->next_ms)
    printf("Next quiet hours start %s\n", next);
  print_windows("Organisation windows", s->org, s->n_org);
  print_windows("Own windows", s->own, s->n_own);
}

static int user_id(struct ctl *ctl, const char *login, int64_t *id)
{
  struct store_user u;

  if (store_user_get(ctl->conn, login, &u) != STORE_OK)
    return ctl_store_error(ctl);
  *id = u.id;
  return CTL_OK;
}

static int show(struct ctl *ctl, const char *login, int64_t id,
                enum ctl_format format)
{
  struct store_quiet_state *s = calloc(1, sizeof *s);
  int rc = CTL_OK;

  if (!s)
    return ctl_error("out of memory");
  if (store_quiet_get(ctl->conn, id, 0, s) != STORE_OK)
    rc = ctl_store_error(ctl);
  else
    print_state(login, s, format);
  free(s);
  return rc;
}

int ctl_cmd_quiet_show(struct ctl *ctl, int argc, char **argv)
{
  static const struct option opts[] = {
    {"format", required_argument, NULL, OPT_FORMAT},
    CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
  enum ctl_format format = CTL_TABLE;
  const char *login;
  int64_t id = 0;
  int opt, rc;

  ctl->help = QUIET_SHOW_HELP;
  while ((opt = getopt_long(argc, argv, CTL_SHORT_OPTIONS, opts, NULL)) != -1) {
    if (opt == OPT_FORMAT) {
      if ((rc = ctl_parse_format(ctl, optarg, &format)) != CTL_OK)
        return rc;
    } else if ((rc = ctl_common_option(ctl, opt, argv)) >= 0) {
      return rc;
    }
  }
  if (optind >= argc)
    return ctl_usage(ctl, "missing LOGIN");
  login = argv[optind++];
  if (optind < argc)
    return ctl_usage(ctl, "unexpected argument \"%s\"", argv[optind]);
  if ((rc = ctl_connect(ctl)) != CTL_OK ||
      (rc = user_id(ctl, login, &id)) != CTL_OK)
    return rc;
  return show(ctl, login, id, format);
}

/* Options shared by set and org: windows, --clear, and (set) --tz. */
struct win_args {
  struct store_quiet_window w[STORE_QUIET_WINDOWS_MAX];
  size_t n;
  bool any_window, clear;
  const char *tz;
};

static int parse_win_args(struct ctl *ctl, int argc, char **argv,
                          bool with_tz, struct win_args *a)
{
  static const struct option opts[] = {
    {"tz", required_argument, NULL, OPT_TZ},
    {"window", required_argument, NULL, OPT_WINDOW},
    {"clear", no_argument, NULL, OPT_CLEAR},
    CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
  char err[512];
  int opt, rc;

  while ((opt = getopt_long(argc, argv, CTL_SHORT_OPTIONS, opts, NULL)) != -1) {
    switch (opt) {
    case OPT_TZ:
      if (!with_tz)
        return ctl_usage(ctl, "unknown option --tz (time zones are per "
                         "user: heraldctl quiet set LOGIN --tz ZONE)");
      a->tz = optarg;
      break;
    case OPT_WINDOW:
      a->any_window = true;
      if (parse_window(optarg, a->w, &a->n, err, sizeof err) != 0)
        return ctl_usage(ctl, "%s", err);
      break;
    case OPT_CLEAR:
      a->clear = true;
      break;
    default:
      if ((rc = ctl_common_option(ctl, opt, argv)) >= 0)
        return rc;
    }
  }
  if (a->clear && a->any_window)
    return ctl_usage(ctl, "--clear and --window exclude each other");
  return -1;
}

int ctl_cmd_quiet_set(struct ctl *ctl, int argc, char **argv)
{
  struct win_args *a = calloc(1, sizeof *a);
  struct store_quiet_state *cur = NULL;
  const char *login;
  int64_t id = 0;
  int rc;

  if (!a)
    return ctl_error("out of memory");
  ctl->help = QUIET_SET_HELP;
  if ((rc = parse_win_args(ctl, argc, argv, true, a)) >= 0)
    goto out;
  if (optind >= argc) {
    rc = ctl_usage(ctl, "missing LOGIN");
    goto out;
  }
  login = argv[optind++];
  if (optind < argc) {
    rc = ctl_usage(ctl, "unexpected argument \"%s\"", argv[optind]);
    goto out;
  }
  if (!a->tz && !a->any_window && !a->clear) {
    rc = ctl_usage(ctl, "nothing to set: give --window, --clear or --tz");
    goto out;
  }
  if ((rc = ctl_connect(ctl)) != CTL_OK ||
      (rc = user_id(ctl, login, &id)) != CTL_OK)
    goto out;
  if (!a->any_window && !a->clear) {
    /* --tz alone: the user's own windows stay. */
    if (!(cur = calloc(1, sizeof *cur))) {
      rc = ctl_error("out of memory");
      goto out;
    }
    if (store_quiet_get(ctl->conn, id, 0, cur) != STORE_OK) {
      rc = ctl_store_error(ctl);
      goto out;
    }
    memcpy(a->w, cur->own, cur->n_own * sizeof a->w[0]);
    a->n = cur->n_own;
  }
  if (store_quiet_set(ctl->conn, id, a->w, a->n, a->tz) != STORE_OK) {
    rc = ctl_store_error(ctl);
    goto out;
  }
  rc = show(ctl, login, id, CTL_TABLE);
out:
  free(cur);
  free(a);
  return rc;
}

int ctl_cmd_quiet_org(struct ctl *ctl, int argc, char **argv)
{
  struct win_args *a = calloc(1, sizeof *a);
  struct store_quiet_window w[STORE_QUIET_WINDOWS_MAX];
  size_t n = 0;
  int rc;

  if (!a)
    return ctl_error("out of memory");
  ctl->help = QUIET_ORG_HELP;
  if ((rc = parse_win_args(ctl, argc, argv, false, a)) >= 0)
    goto out;
  if (optind < argc) {
    rc = ctl_usage(ctl, "unexpected argument \"%s\"", argv[optind]);
    goto out;
  }
  if ((rc = ctl_connect(ctl)) != CTL_OK)
    goto out;
  if ((a->any_window || a->clear) &&
      store_quiet_org_set(ctl->conn, a->w, a->n) != STORE_OK) {
    rc = ctl_store_error(ctl);
    goto out;
  }
  if (store_quiet_org_get(ctl->conn, w, &n) != STORE_OK) {
    rc = ctl_store_error(ctl);
    goto out;
  }
  print_windows("Organisation windows", w, n);
  rc = CTL_OK;
out:
  free(a);
  return rc;
}
