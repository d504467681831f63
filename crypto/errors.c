/*
 * errors.c — the texts of the HCR_E* codes, for the one place in a caller
 * that turns a code into a log line or an error frame.
 */
#include "hcrypto.h"

const char *hcr_strerror(int code)
{
  switch (code) {
  case HCR_OK: return "success";
  case HCR_EINIT: return "libsodium could not initialise";
  case HCR_ENOMEM: return "out of memory";
  case HCR_EMISMATCH: return "does not match (wrong key, or altered data)";
  case HCR_EINVAL: return "malformed input";
  case HCR_ENOENT: return "not found";
  case HCR_EIO: return "cannot read the key file";
  case HCR_EPERM: return "key file is accessible by group or others";
  }
  return "unknown error";
}
