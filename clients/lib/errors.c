/*
 * errors.c — hc_strerror(): one function that names every code the client
 * library returns. The library has no error list of its own: codes at or
 * below -1000 are the protocol's (protocol/proto_errors.h), codes above are
 * negated errno values for local failures.
 */
#include <string.h>

#include "hc.h"

const char *hc_strerror(int code)
{
  if (code == 0)
    return "ok";
  if (code <= -1000 || code >= 1000)
    return proto_strerror(code);
  return strerror(code < 0 ? -code : code);
}
