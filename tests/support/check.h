/*
 * check.h — the assertions and the test runner every C test uses.
 *
 * A test file declares tests with TEST(name) { ... } and ends with
 * TEST_MAIN(). The binary runs the one test named by argv[1] (ctest registers
 * one test per TEST() it finds, see cmake/HeraldTests.cmake), or every test
 * when run without arguments. Assertions print both values and the location,
 * then abort the test with exit status 1. A test may skip itself with
 * CHECK_SKIP(); tests/support/pgtest.c refuses to skip under CI=true.
 */
#ifndef HERALD_CHECK_H
#define HERALD_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*check_fn)(void);
struct check_case { const char *name; check_fn fn; struct check_case *next; };
extern struct check_case *check_cases;

#define TEST(name)                                                          \
  static void test_##name(void);                                            \
  static struct check_case check_case_##name = {#name, test_##name, NULL};  \
  __attribute__((constructor)) static void check_register_##name(void) {    \
    check_case_##name.next = check_cases;                                   \
    check_cases = &check_case_##name;                                       \
  }                                                                         \
  static void test_##name(void)

#define CHECK_FAIL(...)                                                     \
  do {                                                                      \
    fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                         \
    fprintf(stderr, __VA_ARGS__);                                           \
    fputc('\n', stderr);                                                    \
    exit(1);                                                                \
  } while (0)

#define CHECK_SKIP(...)                                                     \
  do {                                                                      \
    fprintf(stderr, "skipped: ");                                           \
    fprintf(stderr, __VA_ARGS__);                                           \
    fputc('\n', stderr);                                                    \
    exit(77);                                                               \
  } while (0)

#define CHECK(cond)                                                         \
  do { if (!(cond)) CHECK_FAIL("check failed: %s", #cond); } while (0)

#define CHECK_INT(a, op, b)                                                 \
  do {                                                                      \
    long long check_a_ = (long long)(a), check_b_ = (long long)(b);         \
    if (!(check_a_ op check_b_))                                            \
      CHECK_FAIL("check failed: %s %s %s (%lld %s %lld)", #a, #op, #b,      \
                 check_a_, #op, check_b_);                                  \
  } while (0)

#define CHECK_UINT(a, op, b)                                                \
  do {                                                                      \
    unsigned long long check_a_ = (unsigned long long)(a);                  \
    unsigned long long check_b_ = (unsigned long long)(b);                  \
    if (!(check_a_ op check_b_))                                            \
      CHECK_FAIL("check failed: %s %s %s (%llu %s %llu)", #a, #op, #b,      \
                 check_a_, #op, check_b_);                                  \
  } while (0)

#define CHECK_STR(a, b)                                                     \
  do {                                                                      \
    const char *check_a_ = (a), *check_b_ = (b);                            \
    if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0)         \
      CHECK_FAIL("check failed: %s == %s (\"%s\" vs \"%s\")", #a, #b,       \
                 check_a_ ? check_a_ : "(null)",                            \
                 check_b_ ? check_b_ : "(null)");                           \
  } while (0)

#define CHECK_CONTAINS(hay, needle)                                         \
  do {                                                                      \
    const char *check_h_ = (hay), *check_n_ = (needle);                     \
    if (!check_h_ || !strstr(check_h_, check_n_))                           \
      CHECK_FAIL("check failed: \"%s\" contains \"%s\"",                    \
                 check_h_ ? check_h_ : "(null)", check_n_);                 \
  } while (0)

#define CHECK_MEM(a, b, n)                                                  \
  do { if (memcmp((a), (b), (n)) != 0)                                      \
         CHECK_FAIL("check failed: %s and %s differ in %zu bytes", #a, #b,  \
                    (size_t)(n)); } while (0)

int check_main(int argc, char **argv);
#define TEST_MAIN() \
  struct check_case *check_cases; \
  int main(int argc, char **argv) { return check_main(argc, argv); }

#endif
