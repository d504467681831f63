/*
 * pointer.c — JSON pointers (RFC 6901) into a card's state, for card_edit,
 * and the per-field versions ("fv") that tell a concurrent edit of the same
 * field (CONFLICT) from one of another field (both succeed).
 *
 * "fv" maps a normalised pointer to the version that last changed it. An
 * edit of P based on version B conflicts when an entry Q with version > B
 * is P, inside P, or contains P. Recording P drops the entries inside P:
 * P's own entry is at least as new and relates to everything they relate
 * to, so "fv" stays as small as the set of members ever edited.
 */
#include "cards_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ptr_check(const char *path, struct proto_error *err)
{
  size_t n = strlen(path);

  if (n == 0 || path[0] != '/')
    return ck_fail(err, PROTO_E_INVALID_CARD, "",
                   "the path must be a JSON pointer such as /sections/notes");
  if (n >= CK_PATH_MAX)
    return ck_fail(err, PROTO_E_INVALID_CARD, "",
                   "the path is too long (at most %d bytes)", CK_PATH_MAX - 1);
  for (size_t i = 0; i < n; i++) {
    if (path[i] == '~' && path[i + 1] != '0' && path[i + 1] != '1')
      return ck_fail(err, PROTO_E_INVALID_CARD, "",
                     "the path has a '~' not followed by 0 or 1");
    if (path[i] == '/' && (path[i + 1] == '/' || path[i + 1] == '\0'))
      return ck_fail(err, PROTO_E_INVALID_CARD, "",
                     "the path has an empty member name");
  }
  return 0;
}

/* Next token of *p (after its '/') unescaped into tok; false at the end. */
static bool next_token(const char **p, char *tok, size_t cap)
{
  const char *s = *p;
  size_t n = 0;

  if (*s != '/')
    return false;
  s++;
  while (*s && *s != '/') {
    char c = *s++;
    if (c == '~') {
      c = *s++ == '0' ? '~' : '/';
    }
    if (n + 1 < cap)
      tok[n++] = c;
  }
  tok[n] = '\0';
  *p = s;
  return true;
}

/* An array index token: decimal without leading zeros. -1 otherwise. */
static long long index_of(const char *tok)
{
  long long v = 0;

  if (!*tok || (tok[0] == '0' && tok[1]))
    return -1;
  for (; *tok; tok++) {
    if (*tok < '0' || *tok > '9' || v > 100000000)
      return -1;
    v = v * 10 + (*tok - '0');
  }
  return v;
}

static json_t *child(json_t *v, const char *tok)
{
  long long i;

  if (json_is_object(v))
    return json_object_get(v, tok);
  if (json_is_array(v)) {
    i = index_of(tok);
    return i < 0 ? NULL : json_array_get(v, (size_t)i);
  }
  return NULL;
}

json_t *ptr_get(json_t *doc, const char *path)
{
  char tok[CK_PATH_MAX];
  const char *p = path;

  while (doc && next_token(&p, tok, sizeof(tok)))
    doc = child(doc, tok);
  return doc;
}

void ptr_head(const char *path, char *out, size_t cap)
{
  const char *p = path;

  if (!next_token(&p, out, cap))
    out[0] = '\0';
}

int ptr_set(json_t *doc, const char *path, json_t *value, char *norm,
            struct proto_error *err)
{
  char tok[CK_PATH_MAX], parent_path[CK_PATH_MAX];
  const char *p = path, *last = path;
  json_t *parent = doc;
  long long i;
  int rc = 0;

  /* Walk to the parent of the last token. */
  for (const char *s = path; *s; s++)
    if (*s == '/')
      last = s;
  snprintf(parent_path, sizeof(parent_path), "%.*s", (int)(last - path), path);
  while (parent && p < last && next_token(&p, tok, sizeof(tok)))
    parent = child(parent, tok);
  next_token(&last, tok, sizeof(tok));
  snprintf(norm, CK_PATH_MAX, "%s", path);
  if (!parent) {
    rc = ck_fail(err, PROTO_E_INVALID_CARD, parent_path,
                 "%s does not exist", parent_path);
  } else if (json_is_object(parent)) {
    if (value)
      rc = json_object_set_new(parent, tok, value) ? ck_nomem(err) : 0;
    else if (json_object_del(parent, tok) != 0)
      rc = ck_fail(err, PROTO_E_INVALID_CARD, path, "%s does not exist",
                   path);
    value = NULL;
  } else if (json_is_array(parent)) {
    size_t n = json_array_size(parent);
    i = strcmp(tok, "-") == 0 ? (long long)n : index_of(tok);
    if (i < 0 || (size_t)i > n || (!value && (size_t)i == n)) {
      rc = ck_fail(err, PROTO_E_INVALID_CARD, path,
                   "%s: no such item (the array has %zu)", path, n);
    } else if (!value) {
      json_array_remove(parent, (size_t)i);
      /* Removing shifts the items after it: record the whole array. */
      snprintf(norm, CK_PATH_MAX, "%s", parent_path);
    } else if ((size_t)i == n) {
      rc = json_array_append_new(parent, value) ? ck_nomem(err) : 0;
      ck_joini(norm, parent_path, (size_t)i);
      value = NULL;
    } else {
      rc = json_array_set_new(parent, (size_t)i, value) ? ck_nomem(err) : 0;
      value = NULL;
    }
  } else {
    rc = ck_fail(err, PROTO_E_INVALID_CARD, parent_path,
                 "%s is neither an object nor an array", parent_path);
  }
  json_decref(value);
  return rc;
}

bool ptr_related(const char *a, const char *b)
{
  size_t na = strlen(a), nb = strlen(b);
  const char *s = na <= nb ? a : b, *l = na <= nb ? b : a;
  size_t ns = na <= nb ? na : nb;

  return strncmp(s, l, ns) == 0 && (l[ns] == '\0' || l[ns] == '/');
}

int fv_check(const json_t *st, const char *path, int64_t base, int64_t ver,
             struct proto_error *err)
{
  const json_t *fv = json_object_get(st, "fv");
  const char *key;
  json_t *v;

  json_object_foreach((json_t *)fv, key, v) {
    int64_t at = json_integer_value(v);
    if (at > base && ptr_related(key, path))
      return ck_fail(err, PROTO_E_CONFLICT, path,
                     "%s was changed in version %lld, after version %lld "
                     "this edit is based on (now %lld): reload and retry",
                     key, (long long)at, (long long)base, (long long)ver);
  }
  return 0;
}

int fv_record(json_t *st, const char *path, int64_t ver,
              struct proto_error *err)
{
  json_t *fv = json_object_get(st, "fv");
  const char *key;
  json_t *v;
  void *tmp;

  if (!json_is_object(fv)) {
    fv = json_object();
    if (!fv || json_object_set_new(st, "fv", fv))
      return ck_nomem(err);
  }
  json_object_foreach_safe(fv, tmp, key, v) {
    if (strlen(key) > strlen(path) && ptr_related(key, path))
      json_object_del(fv, key);
  }
  return st_set(fv, path, json_integer(ver), err);
}
