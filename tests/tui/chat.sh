#!/usr/bin/env bash
# Two herald sessions in one group: a message typed in one appears in the
# other, and "read 1/1" appears on the sender's screen once the other has
# seen it. Ann logs in at the password prompt (first use); the token is
# kept for the next start, which asks nothing.
. "$(dirname "$0")/tui_lib.sh"

start
org
user ann Ann
user ben Ben
ctl group create Launch --owner ann --member ben --tracking all >/dev/null

hopen ann ann 100 24
login_first ann ann
hopen ben ben 100 24 --password-file "$T/ben.pw"
notice_ok ben
wait_for ann "online"
wait_for ben "online"
wait_for ann "> Launch"
wait_for ben "> Launch"

typein ann "hello from ann"
keys ann Enter
wait_for ben "hello from ann"
wait_for ann "read 1/1"
expect_contains "$(screen ben)" "Ann #1" "the sender and the seq on ben's screen"

# The token file is private, and the next start asks no password.
tok=$(find "$STATE" -path '*ann/token')
[ -n "$tok" ] || fail "no token kept for ann"
expect_eq "$(stat -c %a "$tok")" 600 "token file mode"
expect_eq "$(stat -c %a "$(dirname "$tok")")" 700 "state directory mode"
keys ann C-c
wait_exit ann
tm kill-session -t ann
hopen ann ann 100 24
wait_for ann "online"
case "$(screen ann)" in *Password*|*"Privacy notice"*) fail "asked again on the second start" ;; esac
wait_for ann "hello from ann"

# A token the server no longer knows: herald asks the password on its
# input line (nothing of it shown), logs in again and keeps the new token.
keys ann C-c
wait_exit ann
tm kill-session -t ann
echo "not-a-valid-token" >"$tok"
hopen ann ann 100 24
wait_for ann "login refused: type your password"
wait_for ann "Password:"
typein ann "pw-ann-123"
case "$(screen ann)" in *pw-ann-123*) fail "password shown on the screen" ;; esac
keys ann Enter
wait_for ann "online"
wait_for ann "hello from ann"
case "$(cat "$tok")" in not-a-valid-token*) fail "the new token was not kept" ;; esac
quit_all
echo "tui chat: ok"
