/*
 * signature.c — card_sign(): a party of a submitted interview record signs
 * the SHA-256 of its canonical content at the current version with the
 * Ed25519 key of one of their devices. The second party's signature locks
 * the record and turns its action items into task cards.
 */
#include "cards_int.h"

#include <hcrypto.h>
#include <string.h>

int card_sign(enum card_type t, const json_t *state, int64_t ver,
              const uint8_t hash[CARD_HASH_LEN],
              const uint8_t sig[CARD_SIG_LEN], const char *dev,
              const uint8_t *pub, const struct card_actor *actor,
              const struct card_ctx *ctx, struct card_change *out,
              struct proto_error *err)
{
  uint8_t mine[CARD_HASH_LEN], msg[CARD_SIGN_MSG_LEN];
  char hex[2 * CARD_SIG_LEN + 1], hhex[2 * CARD_HASH_LEN + 1];
  json_t *st = NULL, *entry;
  int rc;

  memset(out, 0, sizeof(*out));
  if (t != CARD_INTERVIEW || !json_is_object(state))
    return ck_fail(err, PROTO_E_INVALID_ACTION, "",
                   "only interview records are signed");
  if (!interview_party(state, actor))
    return ck_fail(err, PROTO_E_FORBIDDEN, "",
                   "only the employee and the manager sign the record");
  if (strcmp(st_str(state, "status", ""), "submitted") != 0)
    return ck_fail(err, PROTO_E_INVALID_ACTION, "/status",
                   "only a submitted record can be signed (it is %s)",
                   st_str(state, "status", "?"));
  if (ver != ctx->ver)
    return ck_fail(err, PROTO_E_STALE_VERSION, "ver",
                   "version %lld is not the current version %lld: reload, "
                   "check and sign again", (long long)ver,
                   (long long)ctx->ver);
  if (interview_signed_by(state, actor->id))
    return ck_fail(err, PROTO_E_INVALID_ACTION, "",
                   "you have signed this amendment already");
  if (!pub || !dev || !*dev)
    return ck_fail(err, PROTO_E_BAD_SIGNATURE, "dev",
                   "no signing key is registered for this device");
  if ((rc = card_content_hash(t, state, mine)) < 0)
    return ck_fail(err, rc, "", "cannot hash the record");
  if (memcmp(mine, hash, CARD_HASH_LEN) != 0)
    return ck_fail(err, PROTO_E_BAD_SIGNATURE, "hash",
                   "the hash is not that of the record's content at this "
                   "version");
  card_sign_message(ctx->card_id, ver, hash, msg);
  if (hcr_sign_verify(pub, msg, sizeof(msg), sig) != HCR_OK)
    return ck_fail(err, PROTO_E_BAD_SIGNATURE, "sig",
                   "the signature does not verify with the device's key");

  card_hex(sig, CARD_SIG_LEN, hex);
  card_hex(hash, CARD_HASH_LEN, hhex);
  st = json_deep_copy(state);
  entry = json_pack("{s:I,s:I,s:s,s:s,s:I}", "user", (json_int_t)actor->id,
                    "ver", (json_int_t)ver, "dev", dev, "hash", hhex, "at",
                    (json_int_t)ctx->now_ms);
  out->payload = json_pack("{s:I,s:I,s:s,s:s,s:s,s:I}", "user",
                           (json_int_t)actor->id, "ver", (json_int_t)ver,
                           "dev", dev, "hash", hhex, "sig", hex, "amendment",
                           (json_int_t)st_int(state, "amendment", 0));
  if (!st || !entry || !out->payload) {
    json_decref(entry);
    rc = ck_nomem(err);
    goto out;
  }
  if (json_array_append_new(json_object_get(st, "signatures"), entry)) {
    rc = ck_fail(err, PROTO_E_INVALID_CARD, "/signatures",
                 "the record's signatures cannot be updated");
    goto out;
  }
  out->ev = "signed";
  if (interview_signed_by(st, st_int(st, "employee", 0)) &&
      interview_signed_by(st, st_int(st, "manager", 0))) {
    rc = interview_lock(st, ctx, out, err);
    if (rc < 0)
      goto out;
  }
  out->state = st;
  st = NULL;
  rc = 0;
out:
  json_decref(st);
  if (rc < 0)
    card_change_clear(out);
  return rc;
}
