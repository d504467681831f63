/*
 * check.c — the runner behind TEST_MAIN(): finds the test named on the
 * command line and runs it, or runs all of them in a row.
 */
#include "check.h"

int check_main(int argc, char **argv)
{
  struct check_case *c;
  int ran = 0;

  setvbuf(stdout, NULL, _IOLBF, 0);
  for (c = check_cases; c; c = c->next) {
    if (argc > 1 && strcmp(argv[1], c->name) != 0)
      continue;
    printf("-- %s\n", c->name);
    c->fn();
    ran++;
  }
  if (argc > 1 && ran == 0) {
    fprintf(stderr, "no test named %s\n", argv[1]);
    return 2;
  }
  printf("%d passed, 0 failed\n", ran);
  return 0;
}
