/*
 * cmd_ding.c — heraldctl ding schedule: shows or sets the organisation's
 * DING policy (re-alert steps, repeat, count, escalation targets), straight
 * in the database like the other admin commands. DINGs sent from then on
 * follow it; a DING may also carry its own steps (heraldctl send --esc).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_int.h"
#include "duration.h"

static const char DING_SCHEDULE_HELP[] =
  "Usage: heraldctl ding schedule [--steps LIST] [--repeat DURATION]\n"
  "                               [--max N] [--manager | --no-manager]\n"
  "                               [--webhook URL | --no-webhook]\n"
  "\n"
  "Shows the organisation's DING policy; with options, changes it. Every\n"
  "recipient who has not acknowledged a DING is alerted again at each step\n"
  "(durations after sending), then once per repeat interval, until N\n"
  "re-alerts were sent; one more interval later the DING escalates: to the\n"
  "recipient's manager and/or as a JSON POST to the webhook (an SMS or phone\n"
  "gateway; heraldd retries it, see its webhook-retries setting). The\n"
  "default: --steps 5m,15m,30m --repeat 1h --max 6 --manager --no-webhook.\n"
  "Durations: a number with s, m, h or d (90s, 5m, 1h30m).\n"
  "\n"
  "Options:\n"
  "  --steps LIST          increasing durations, comma-separated (up to 32)\n"
  "  --repeat DURATION     the interval after the last step\n"
  "  --max N               re-alerts before the escalation (0-1000)\n"
  "  --manager             escalate to the recipient's manager\n"
  "  --no-manager          do not\n"
  "  --webhook URL         POST escalations to this http(s) URL\n"
  "  --no-webhook          no webhook\n"
  "  -h, --help            this help\n" CTL_COMMON_HELP;

enum { OPT_STEPS = 1, OPT_REPEAT, OPT_MAX, OPT_MANAGER, OPT_NO_MANAGER,
       OPT_WEBHOOK, OPT_NO_WEBHOOK };

/* One duration (duration.h) up to the next comma or the end: seconds, or
 * -1. *rest (when not NULL) points after it. */
static long long parse_duration(const char *s, const char **rest)
{
  size_t len = strcspn(s, ",");
  int64_t v;

  if (rest)
    *rest = s + len;
  else if (s[len])
    return -1;
  return proto_duration_parse(s, len, &v) < 0 ? -1 : (long long)v;
}

/* Seconds as the shortest "1h30m" form. */
static void format_duration(long long s, char *out, size_t len)
{
  static const struct { long long n; char u; } units[] = {
    {86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
  size_t k = 0;

  out[0] = '\0';
  for (size_t i = 0; i < 4 && k + 1 < len; i++) {
    if (s >= units[i].n || (k == 0 && units[i].n == 1)) {
      k += (size_t)snprintf(out + k, len - k, "%lld%c", s / units[i].n,
                            units[i].u);
      s %= units[i].n;
    }
  }
}

static void show(const struct store_ding_policy *p)
{
  char buf[64], steps[32 * 12] = "";
  size_t k = 0;
  long long esc;

  for (size_t i = 0; i < p->n_steps; i++) {
    format_duration(p->steps_s[i], buf, sizeof buf);
    k += (size_t)snprintf(steps + k, sizeof steps - k, "%s%s", i ? "," : "",
                          buf);
  }
  printf("steps       %s\n", p->n_steps ? steps : "(none)");
  format_duration(p->repeat_s, buf, sizeof buf);
  printf("repeat      %s\n", buf);
  printf("max         %d re-alert%s\n", p->max_alerts,
         p->max_alerts == 1 ? "" : "s");
  /* The escalation slot: step max + 1 (sql/0008_ding.sql). */
  if ((size_t)p->max_alerts + 1 <= p->n_steps)
    esc = p->steps_s[p->max_alerts];
  else if (p->n_steps == 0)
    esc = p->repeat_s * (p->max_alerts + 1);
  else
    esc = p->steps_s[p->n_steps - 1] +
          p->repeat_s * (long long)((size_t)p->max_alerts + 1 - p->n_steps);
  format_duration(esc, buf, sizeof buf);
  printf("escalation  %s after sending\n", buf);
  printf("manager     %s\n", p->manager ? "yes" : "no");
  printf("webhook     %s\n", p->webhook_url[0] ? p->webhook_url : "(none)");
}

int ctl_cmd_ding_schedule(struct ctl *ctl, int argc, char **argv)
{
  static const struct option opts[] = {
    {"steps", required_argument, NULL, OPT_STEPS},
    {"repeat", required_argument, NULL, OPT_REPEAT},
    {"max", required_argument, NULL, OPT_MAX},
    {"manager", no_argument, NULL, OPT_MANAGER},
    {"no-manager", no_argument, NULL, OPT_NO_MANAGER},
    {"webhook", required_argument, NULL, OPT_WEBHOOK},
    {"no-webhook", no_argument, NULL, OPT_NO_WEBHOOK},
    CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
  struct store_ding_policy p;
  const char *steps = NULL, *repeat = NULL, *max = NULL, *webhook = NULL;
  int manager = -1, no_webhook = 0, opt, rc;

  ctl->help = DING_SCHEDULE_HELP;
  while ((opt = getopt_long(argc, argv, CTL_SHORT_OPTIONS, opts, NULL)) != -1) {
    switch (opt) {
    case OPT_STEPS: steps = optarg; break;
    case OPT_REPEAT: repeat = optarg; break;
    case OPT_MAX: max = optarg; break;
    case OPT_MANAGER: manager = 1; break;
    case OPT_NO_MANAGER: manager = 0; break;
    case OPT_WEBHOOK: webhook = optarg; break;
    case OPT_NO_WEBHOOK: no_webhook = 1; break;
    default:
      if ((rc = ctl_common_option(ctl, opt, argv)) >= 0)
        return rc;
    }
  }
  if (optind < argc)
    return ctl_usage(ctl, "unexpected argument \"%s\"", argv[optind]);
  if (webhook && no_webhook)
    return ctl_usage(ctl, "--webhook and --no-webhook exclude each other");
  if ((rc = ctl_connect(ctl)) != CTL_OK)
    return rc;
  if (store_ding_policy_get(ctl->conn, &p) != STORE_OK)
    return ctl_store_error(ctl);
  if (steps) {
    const char *s = steps;

    p.n_steps = 0;
    while (*s) {
      long long v;

      if (p.n_steps == STORE_DING_ESC_MAX)
        return ctl_usage(ctl, "--steps: at most %d steps", STORE_DING_ESC_MAX);
      if ((v = parse_duration(s, &s)) < 0)
        return ctl_usage(ctl, "--steps: \"%s\" is not a list of durations "
                         "(e.g. 5m,15m,30m)", steps);
      p.steps_s[p.n_steps++] = v;
      if (*s == ',')
        s++;
    }
  }
  if (repeat && (p.repeat_s = parse_duration(repeat, NULL)) < 0)
    return ctl_usage(ctl, "--repeat: \"%s\" is not a duration (e.g. 1h)",
                     repeat);
  if (max) {
    char *end;
    long v = strtol(max, &end, 10);

    if (*end || end == max || v < 0 || v > 1000)
      return ctl_usage(ctl, "--max needs a number 0..1000, not \"%s\"", max);
    p.max_alerts = (int)v;
  }
  if (manager >= 0)
    p.manager = manager;
  if (webhook) {
    if (strlen(webhook) > STORE_DING_URL_MAX)
      return ctl_usage(ctl, "--webhook: the URL is longer than %d bytes",
                       STORE_DING_URL_MAX);
    snprintf(p.webhook_url, sizeof p.webhook_url, "%s", webhook);
  }
  if (no_webhook)
    p.webhook_url[0] = '\0';
  if ((steps || repeat || max || manager >= 0 || webhook || no_webhook) &&
      store_ding_policy_set(ctl->conn, &p) != STORE_OK)
    return ctl_store_error(ctl);
  show(&p);
  return CTL_OK;
}
