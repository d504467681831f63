/*
 * password.c — reading passwords for heraldctl: from a file, from stdin, or
 * from the terminal with echo off (asked twice). Passwords never come from
 * argv, where every user of the machine could read them in ps.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "ctl_int.h"
#include "hcrypto.h"

#define PASSWORD_MIN 8

/* Reads one line from fd into buf without stdio buffering (so nothing of
 * the secret lingers in a FILE buffer). Returns its length, or -1 when the
 * line does not fit, -2 on a read error. */
static ssize_t read_line(int fd, char *buf, size_t len)
{
  size_t n = 0;

  for (;;) {
    char ch;
    ssize_t got = read(fd, &ch, 1);

    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0)
      return -2;
    if (got == 0 || ch == '\n')
      break;
    if (n + 1 >= len)
      return -1;
    buf[n++] = ch;
  }
  if (n > 0 && buf[n - 1] == '\r')
    n--;
  buf[n] = '\0';
  return (ssize_t)n;
}

/* `new_password`: the length policy applies to passwords being set, not to
 * ones typed to log in (the server judges those). */
static int check_password(const char *pw, ssize_t n, bool new_password)
{
  if (n == -1)
    return ctl_error("the password is longer than %d bytes", HCR_PASSWORD_MAX);
  if (n < 0)
    return ctl_error("cannot read the password: %s", strerror(errno));
  if (n == 0)
    return ctl_error("the password is empty");
  if (new_password && strlen(pw) < PASSWORD_MIN)
    return ctl_error("the password is too short: use at least %d characters",
                     PASSWORD_MIN);
  return CTL_OK;
}

/* The terminal settings to restore if a signal ends heraldctl while echo
 * is off (tcsetattr is async-signal-safe). */
static struct termios saved_tty;
static volatile sig_atomic_t saved_fd = -1;

static void restore_on_signal(int sig)
{
  if (saved_fd >= 0)
    tcsetattr(saved_fd, TCSAFLUSH, &saved_tty);
  signal(sig, SIG_DFL);
  raise(sig);
}

static ssize_t prompt(int tty, const char *text, char *buf, size_t len)
{
  struct sigaction sa, old_int, old_term, old_hup;
  struct termios quiet;
  ssize_t n;
  bool restore = false;

  memset(&sa, 0, sizeof sa);
  sa.sa_handler = restore_on_signal;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  sigaction(SIGHUP, &sa, &old_hup);
  if (tcgetattr(tty, &saved_tty) == 0) {
    quiet = saved_tty;
    quiet.c_lflag &= (tcflag_t)~(ECHO | ECHONL);
    quiet.c_lflag |= ICANON;
    saved_fd = tty;
    restore = tcsetattr(tty, TCSAFLUSH, &quiet) == 0;
  }
  /* The prompt comes only after echo is off, so that nothing typed in
   * answer to it can be echoed. */
  n = write(tty, text, strlen(text)) < 0 ? -2 : read_line(tty, buf, len);
  if (restore)
    tcsetattr(tty, TCSAFLUSH, &saved_tty);
  saved_fd = -1;
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  sigaction(SIGHUP, &old_hup, NULL);
  if (write(tty, "\n", 1) < 0) {
    /* Only cosmetic. */
  }
  return n;
}

int ctl_read_password(const char *file, const char *login, bool confirm,
                      char *buf, size_t len)
{
  char again[HCR_PASSWORD_MAX + 2], text[128];
  ssize_t n;
  int fd, rc;

  if (len > sizeof again)
    len = sizeof again;
  if (file) {
    fd = strcmp(file, "-") == 0 ? STDIN_FILENO : open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return ctl_error("cannot open password file %s: %s", file,
                       strerror(errno));
    n = read_line(fd, buf, len);
    if (fd != STDIN_FILENO)
      close(fd);
    return check_password(buf, n, confirm);
  }
  fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0 || !isatty(fd)) {
    if (fd >= 0)
      close(fd);
    return ctl_error("no password given and no terminal to ask on: use "
                     "--password-file FILE (or - for stdin)");
  }
  snprintf(text, sizeof text, "Password for %s: ", login);
  n = prompt(fd, text, buf, len);
  rc = check_password(buf, n, confirm);
  if (rc == CTL_OK && confirm) {
    n = prompt(fd, "Retype the password: ", again, len);
    if (n < 0 || strcmp(again, buf) != 0)
      rc = ctl_error("the passwords do not match");
  }
  hcr_wipe(again, sizeof again);
  close(fd);
  return rc;
}
