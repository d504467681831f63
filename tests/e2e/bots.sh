#!/usr/bin/env bash
# Bots from a shell with curl: the HTTP bot API and the DingTalk-compatible
# robot webhook (signed and unsigned), rate limits, refusals, hostile
# bodies; members see the messages live (heraldctl tail) and afterwards.
. "$(dirname "$0")/lib.sh"

D=$T/data
mkdir -p "$D"
start_server "$T/heraldd.log" --data-dir "$D"
URL=ws://127.0.0.1:$PORT
H=http://127.0.0.1:$PORT
ctl() { "$HERALDCTL" --data-dir "$D" "$@"; }
printf 'pw-ann-123\n' >"$T/ann"; printf 'pw-ben-123\n' >"$T/ben"
ctl init --org Acme --admin ann --password-file "$T/ann" >/dev/null
ctl user add ben --display Ben --password-file "$T/ben" >/dev/null
ctl group create Ops --owner ann --member ben >/dev/null
ctl group create Other --owner ann >/dev/null
CONV=$(ctl group list --format json | sed -n 's/.*"id": *\([0-9]*\)[^}]*"title": *"Ops".*/\1/p')
[ -n "$CONV" ] || CONV=1
OTHER=$((CONV + 1))
BOT=$(ctl bot create alerts --owner ann --group Ops 2>/dev/null)
SLOW=$(ctl bot create slow --owner ann --group Ops --rate 3 2>/dev/null)
secret_file "$T/ann"; secret_file "$T/ben"; secret "$BOT"; secret "$SLOW"

# post JSON [TOKEN] — POST /api/v1/messages; prints "STATUS BODY".
post() {
  curl -s -o "$T/out" -w '%{http_code}' -H "Authorization: Bearer ${2:-$BOT}" \
    -H 'Content-Type: application/json' --data-binary "$1" "$H/api/v1/messages"
  printf ' '; cat "$T/out"
}

# ben follows Ops live.
"$HERALDCTL" tail --server "$URL" --login ben --password-file "$T/ben" \
  --group Ops >"$T/tail.out" 2>"$T/tail.err" &
tail_pid=$!
sleep 1

out=$(post "{\"conversation\":$CONV,\"text\":\"deploy 42 done\",\"cmid\":\"d-42\"}")
expect_contains "$out" "200 " "API post"
expect_contains "$out" '"seq":1' "API post seq"
out=$(post "{\"conversation\":$CONV,\"text\":\"deploy 42 done\",\"cmid\":\"d-42\"}")
expect_contains "$out" '"dup":true' "API re-post is a duplicate"
expect_contains "$out" '"seq":1' "API re-post keeps its seq"
for _ in $(seq 1 100); do grep -q "deploy 42 done" "$T/tail.out" && break; sleep 0.1; done
expect_contains "$(cat "$T/tail.out")" "deploy 42 done" "member sees the bot's message live"

# The summary of what the bot posted (bad paths are 404).
out=$(curl -s -H "Authorization: Bearer $BOT" "$H/api/v1/messages/$CONV/1/summary")
expect_contains "$out" '"recipients":2' "summary recipients"
expect_contains "$out" '"login":"ben"' "summary per recipient"
for bad in "$CONV/x/summary" "$CONV/%2B1/summary" "$CONV/1/summaryz" "$CONV/1"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $BOT" "$H/api/v1/messages/$bad")
  expect_eq "$code" "404" "summary path $bad"
done
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $BOT" -d '{}' "$H/api/v1/cards/abc/actions")
expect_eq "$code" "404" "card action path"

# A task card through the API, then an action on it.
BEN=$(ctl user list --format json | tr -d ' \n' | sed -n 's/.*{"id":\([0-9]*\),"login":"ben".*/\1/p')
[ -n "$BEN" ] || fail "no id for ben: $(ctl user list --format json)"
card() {
  curl -s -o "$T/out" -w '%{http_code}' -H "Authorization: Bearer ${3:-$BOT}" \
    --data-binary "$2" "$H/api/v1/cards$1"
  printf ' '; cat "$T/out"
}
out=$(card "" "{\"conversation\":$CONV,\"card\":{\"type\":\"task\",\"title\":\"Rotate the certs\",\"assignees\":[$BEN]},\"cmid\":\"certs\"}")
expect_contains "$out" "200 " "bot posts a task card"
CARD=$(printf '%s' "$out" | sed -n 's/.*"card":\([0-9]*\).*/\1/p')
[ -n "$CARD" ] || fail "no card id in: $out"
out=$(card "/$CARD/actions" '{"action":"comment","args":{"text":"due Friday"}}')
expect_contains "$out" "200 " "bot comments on its card"
expect_contains "$out" '"ver":2' "the comment is version 2"
out=$(card "" "{\"conversation\":$CONV,\"card\":{\"type\":\"task\",\"assignees\":[$BEN]}}")
expect_contains "$out" "400 " "card without a title"
expect_contains "$out" '"field":"card/title"' "card error names the field"
out=$(card "/$CARD/actions" '{"action":"comment","args":{"text":"x"}}' "$SLOW")
expect_contains "$out" "403 " "a bot acts only on cards it created"
for _ in $(seq 1 100); do grep -q "Rotate the certs" "$T/tail.out" && break; sleep 0.1; done
expect_contains "$(cat "$T/tail.out")" "Rotate the certs" "member sees the card live"

# Refusals: not added, no token, wrong token, a user's token, revoked.
out=$(post "{\"conversation\":$OTHER,\"text\":\"x\"}")
expect_contains "$out" "403 " "conversation the bot was not added to"
expect_contains "$out" '"FORBIDDEN"' "not added: code"
out=$(curl -s -w ' %{http_code}' -d '{}' "$H/api/v1/messages")
expect_contains "$out" "401" "no token"
out=$(post '{"conversation":1,"text":"x"}' "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
expect_contains "$out" "401 " "unknown token"

# Hostile bodies: each a clear 4xx naming the problem.
out=$(post '{"conversation":1,"text":')
expect_contains "$out" "400 " "truncated JSON"; expect_contains "$out" "MALFORMED" "truncated JSON code"
out=$(post "{\"conversation\":\"$CONV\",\"text\":\"x\"}")
expect_contains "$out" '"field":"conversation"' "wrong type names the field"
out=$(post "{\"conversation\":$CONV}")
expect_contains "$out" '"MISSING"' "missing text"; expect_contains "$out" '"field":"text"' "missing text field"
out=$(post "[1,2]")
expect_contains "$out" "WRONG_TYPE" "not an object"
out=$(post "$(printf '{"conversation":%s,"text":"\xff\xfe"}' "$CONV")")
expect_contains "$out" "BAD_UTF8" "invalid UTF-8"
out=$(post "{\"conversation\":$CONV,\"text\":\"x\",\"colour\":1}")
expect_contains "$out" '"field":"colour"' "unknown field"
out=$(post "$(head -c 5000 /dev/zero | tr '\0' '[')")
expect_contains "$out" "400 " "deeply nested JSON"
out=$(post "{\"conversation\":$CONV,\"text\":\"a\\u0000b\"}")
expect_contains "$out" "400 " "NUL in the text"
expect_contains "$out" 'u0000' "NUL in the text: the message says why"
head -c 3000000 /dev/zero | tr '\0' 'a' >"$T/huge"
out=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $BOT" \
  --data-binary @"$T/huge" "$H/api/v1/messages")
expect_eq "$out" "413" "huge body"
out=$(curl -s -w ' %{http_code}' -H "Authorization: Bearer $BOT" -H 'Transfer-Encoding: chunked' \
  --data-binary "{\"conversation\":$CONV,\"text\":\"x\"}" "$H/api/v1/messages")
expect_contains "$out" '"field":"Transfer-Encoding"' "chunked body refused at once"
out=$(curl -s -w ' %{http_code}' -H "Authorization: Bearer $BOT" "$H/api/v1/messages")
expect_contains "$out" "405" "GET on a POST route"

# Rate limit: bot "slow" allows 3 a minute; the 4th is refused with 429.
for i in 1 2 3; do
  out=$(post "{\"conversation\":$CONV,\"text\":\"slow $i\"}" "$SLOW")
  expect_contains "$out" "200 " "slow bot message $i"
done
code=$(curl -s -D "$T/hdr" -o "$T/out" -w '%{http_code}' -H "Authorization: Bearer $SLOW" \
  --data-binary "{\"conversation\":$CONV,\"text\":\"slow 4\"}" "$H/api/v1/messages")
expect_eq "$code" "429" "4th message in a minute"
expect_contains "$(cat "$T/out")" "TOO_MANY_REQUESTS" "rate limit code"
expect_contains "$(cat "$T/out")" "3 messages a minute" "rate limit message"
grep -qi '^retry-after: [1-9]' "$T/hdr" || fail "429 without Retry-After: $(cat "$T/hdr")"

# The robot webhook, unsigned.
ROBOT=$(ctl bot robot alerts --group Ops 2>/dev/null)
secret "$ROBOT"
robot() {
  curl -s -H 'Content-Type: application/json' --data-binary "$1" \
    "$H/robot/send?access_token=$ROBOT${2:-}"
}
out=$(robot '{"msgtype":"text","text":{"content":"disk almost full"},"at":{"atUserIds":["ben","nobody"]}}')
expect_eq "$out" '{"errcode":0,"errmsg":"ok"}' "robot text"
out=$(robot '{"msgtype":"markdown","markdown":{"title":"Build","text":"## Build red\n- job 7"}}')
expect_eq "$out" '{"errcode":0,"errmsg":"ok"}' "robot markdown"
out=$(robot '{"msgtype":"actionCard","actionCard":{"title":"Release","text":"v2 ready","btns":[{"title":"Ship","actionURL":"https://x/ship"}]}}')
expect_eq "$out" '{"errcode":0,"errmsg":"ok"}' "robot actionCard"
out=$(robot '{"msgtype":"actionCard","actionCard":{"title":"Incident","text":"sev2 open","singleTitle":"Runbook","singleURL":"https://x/rb"}}')
expect_eq "$out" '{"errcode":0,"errmsg":"ok"}' "robot actionCard with one link"
out=$(robot '{"msgtype":"actionCard","actionCard":{"title":"Incident","text":"no buttons"}}')
expect_contains "$out" '"errcode":400402' "actionCard without a link or buttons"
out=$(robot '{"msgtype":"link","link":{"title":"Report","text":"weekly","messageUrl":"https://x/r"}}')
expect_eq "$out" '{"errcode":0,"errmsg":"ok"}' "robot link"
for _ in $(seq 1 100); do grep -q "weekly" "$T/tail.out" && break; sleep 0.1; done
expect_contains "$(cat "$T/tail.out")" "disk almost full" "robot text live"
expect_contains "$(cat "$T/tail.out")" "@ben" "mention of a member"
expect_contains "$(cat "$T/tail.out")" "Ship: https://x/ship" "actionCard button"
expect_contains "$(cat "$T/tail.out")" "Runbook: https://x/rb" "actionCard single link"
case "$(cat "$T/tail.out")" in *@nobody*) fail "unknown mention kept" ;; esac
out=$(robot '{"msgtype":"feedCard","feedCard":{}}')
expect_contains "$out" '"errcode":400402' "unknown msgtype"
out=$(robot "$(printf '{"msgtype":"text","text":{"content":"\xc3\x28"}}')")
expect_contains "$out" '"errcode":40035' "robot invalid UTF-8"
out=$(robot '{"msgtype":"text"')
expect_contains "$out" '"errcode":40035' "robot bad JSON"
out=$(robot '{"msgtype":"text","text":{"content":5}}')
expect_contains "$out" 'text.content' "robot wrong type names the field"
out=$(curl -s -w ' %{http_code}' --data-binary @"$T/huge" "$H/robot/send?access_token=$ROBOT")
expect_contains "$out" '"errcode":460101' "robot huge body"
expect_contains "$out" ' 200' "robot answers 200 as DingTalk"
out=$(curl -s --data-binary '{"msgtype":"text","text":{"content":"x"}}' "$H/robot/send?access_token=nope")
expect_contains "$out" '"errcode":300001' "robot unknown token"

# Signed: a robot with a secret takes only calls signed within the hour.
printf 'SEC0123456789abcdef\n' >"$T/secret"
ROBOT=$(ctl bot robot alerts --group Ops --secret-file "$T/secret" 2>/dev/null)
secret "$ROBOT"; secret_file "$T/secret"
sign() {  # sign TIMESTAMP -> URL-encoded signature
  printf '%s\n%s' "$1" "SEC0123456789abcdef" |
    openssl dgst -sha256 -hmac "SEC0123456789abcdef" -binary | base64 |
    sed 's/+/%2B/g; s/\//%2F/g; s/=/%3D/g'
}
now=$(($(date +%s) * 1000))
out=$(robot '{"msgtype":"text","text":{"content":"signed hello"}}' "&timestamp=$now&sign=$(sign $now)")
expect_eq "$out" '{"errcode":0,"errmsg":"ok"}' "signed call"
out=$(robot '{"msgtype":"text","text":{"content":"unsigned"}}')
expect_contains "$out" '"errcode":310000' "unsigned call to a signed robot"
out=$(robot '{"msgtype":"text","text":{"content":"forged"}}' "&timestamp=$now&sign=$(sign $((now + 1)))")
expect_contains "$out" '"errcode":310000' "wrong signature"
expect_contains "$out" "sign not match" "wrong signature message"
old=$((now - 3700 * 1000))
out=$(robot '{"msgtype":"text","text":{"content":"stale"}}' "&timestamp=$old&sign=$(sign $old)")
expect_contains "$out" '"errcode":310000' "stale timestamp"
expect_contains "$out" "invalid timestamp" "stale timestamp message"
# Herald's own msgtype card: a robot script opens a task card, signed.
out=$(robot "{\"msgtype\":\"card\",\"card\":{\"type\":\"task\",\"title\":\"Renew the robot cert\",\"assignees\":[$BEN]}}" "&timestamp=$now&sign=$(sign $now)")
expect_eq "$out" '{"errcode":0,"errmsg":"ok"}' "signed robot task card"
out=$(robot "{\"msgtype\":\"card\",\"card\":{\"type\":\"task\",\"assignees\":[$BEN]}}" "&timestamp=$now&sign=$(sign $now)")
expect_contains "$out" '"errcode":400402' "robot card without a title"
expect_contains "$out" 'card/title' "robot card error names the field"
out=$(robot '{"msgtype":"card","card":"task"}' "&timestamp=$now&sign=$(sign $now)")
expect_contains "$out" '"errcode":400402' "robot card that is not an object"
out=$(robot "{\"msgtype\":\"card\",\"card\":{\"type\":\"task\",\"title\":\"forged card\",\"assignees\":[$BEN]}}" "&timestamp=$now&sign=$(sign $((now + 1)))")
expect_contains "$out" '"errcode":310000' "robot card with a wrong signature"
for _ in $(seq 1 100); do grep -q "signed hello" "$T/tail.out" && break; sleep 0.1; done
expect_contains "$(cat "$T/tail.out")" "signed hello" "signed message live"
for _ in $(seq 1 100); do grep -q "Renew the robot cert" "$T/tail.out" && break; sleep 0.1; done
expect_contains "$(cat "$T/tail.out")" "Renew the robot cert" "robot task card live"
case "$(cat "$T/tail.out")" in *forged*|*stale*|*unsigned*) fail "a refused call was posted" ;; esac
grep -q "SEC0123456789abcdef" "$T/heraldd.log" && fail "the secret is in the log"
grep -q "$ROBOT" "$T/heraldd.log" && fail "the robot token is in the log"
kill -INT $tail_pid; wait $tail_pid || true

# A master key rotation re-seals the secret: signed calls keep working.
ctl keys rotate >/dev/null 2>&1 || fail "keys rotate failed"
# A restarted server holds only the new key.
stop_server
STARTS=2 start_server "$T/heraldd.log" --data-dir "$D"
URL=ws://127.0.0.1:$PORT
H=http://127.0.0.1:$PORT
now=$(($(date +%s) * 1000))
out=$(robot '{"msgtype":"text","text":{"content":"after rotation"}}' "&timestamp=$now&sign=$(sign $now)")
expect_eq "$out" '{"errcode":0,"errmsg":"ok"}' "signed call after a key rotation"

# Replay: a fresh reader gets the history, bot and robot messages included.
"$HERALDCTL" tail --server "$URL" --login ben --password-file "$T/ben" \
  --group Ops --last 20 >"$T/replay.out" 2>&1 &
tail_pid=$!
for _ in $(seq 1 100); do grep -q "signed hello" "$T/replay.out" && break; sleep 0.1; done
kill -INT $tail_pid; wait $tail_pid || true
expect_contains "$(cat "$T/replay.out")" "deploy 42 done" "history after reconnect"
expect_contains "$(cat "$T/replay.out")" "signed hello" "history has the robot's message"
expect_contains "$(cat "$T/replay.out")" "Rotate the certs" "history has the card"
expect_contains "$(cat "$T/replay.out")" "Renew the robot cert" "history has the robot's card"

# A revoked bot's token and robot token stop working.
ctl bot revoke alerts >/dev/null
out=$(post "{\"conversation\":$CONV,\"text\":\"after revoke\"}")
expect_contains "$out" "401 " "revoked bot token"
out=$(robot '{"msgtype":"text","text":{"content":"x"}}' "&timestamp=$now&sign=$(sign $now)")
expect_contains "$out" '"errcode":300001' "revoked robot"

stop_server
echo "bots: ok"
