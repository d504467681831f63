/* tmpdir.h — a fresh private directory per test, removed at exit. */
#ifndef HERALD_TEST_TMPDIR_H
#define HERALD_TEST_TMPDIR_H

/* Creates $TMPDIR/herald-client-XXXXXX (mode 0700) and returns its path
 * (static storage); it and its files are removed when the test exits. */
const char *test_tmpdir(void);

#endif
