/*
 * main.c — herald-bench: Herald's load client. One subcommand per measured
 * shape; each prints "RESULT {json}" lines on stdout (progress goes to
 * stderr). tests/bench/run.sh runs them all against a throwaway server
 * and prints the table (`herald-bench report`).
 */
#include "bench.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static const struct {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *help;
} cmds[] = {
  {"login", bench_cmd_login,
   "log users in once (password), write a tokens file for the others"},
  {"fanout", bench_cmd_fanout,
   "one sender to a group of N online members (Herald, herald_client)"},
  {"mqtt", bench_cmd_mqtt,
   "the same fan-out shape against an MQTT 3.1.1 broker over WebSockets"},
  {"sends", bench_cmd_sends,
   "durable sends: many senders, acked sends/s and send->ack latency"},
  {"idle", bench_cmd_idle,
   "N authenticated idle connections: server memory per connection"},
  {"replay", bench_cmd_replay,
   "time to replay M missed messages to a reconnecting client"},
  {"unread", bench_cmd_unread,
   "seed 1M tracked messages, time the unread-over-2h report (PostgreSQL)"},
  {"report", bench_cmd_report,
   "print the table of a file of RESULT lines"},
};

static void usage(FILE *out)
{
  fprintf(out, "Usage: herald-bench COMMAND [--option value]...\n\n"
               "Herald's load client. Each command prints one \"RESULT {json}\" "
               "line per measured\nload on stdout; `COMMAND --help` lists its "
               "options. tests/bench/run.sh runs\nthe whole benchmark.\n\n"
               "Commands:\n");
  for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
    fprintf(out, "  %-8s %s\n", cmds[i].name, cmds[i].help);
}

int main(int argc, char **argv)
{
  if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
      strcmp(argv[1], "-h") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  /* A peer that closes while we write must not kill the process. */
  signal(SIGPIPE, SIG_IGN);
  for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
    if (strcmp(argv[1], cmds[i].name) == 0) {
      bench_cmd = cmds[i].name;
      return cmds[i].fn(argc - 2, argv + 2);
    }
  }
  fprintf(stderr, "herald-bench: unknown command \"%s\"\n\n", argv[1]);
  usage(stderr);
  return 2;
}
