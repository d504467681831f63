#!/usr/bin/env bash
# Commands and keys: /help, older history loaded with PgUp from the server,
# /new group, Ctrl-N/Ctrl-P, /who, /quiet (show, set, clear), a card
# command without arguments (its usage), an unknown command, /logout (the token is revoked
# and removed: the next start asks the password, not the notice).
. "$(dirname "$0")/tui_lib.sh"

start
org
user ann Ann
user ben Ben
ctl group create Launch --owner ann --member ben --tracking all >/dev/null

hopen ann ann 100 24 --password-file "$T/ann.pw"
notice_ok ann
wait_for ann "online"
typein ann "/help"
keys ann Enter
wait_for ann "herald — help"
keys ann NPage NPage NPage     # the keys are at the end, after the cards
wait_for ann "Ctrl-N / Ctrl-P"
keys ann Escape
wait_gone ann "herald — help"

# 60 messages, typed in one go.
args=()
for i in $(seq -w 1 60); do args+=(send-keys -t ann -l "msg-0$i" \; send-keys -t ann Enter \;); done
tm "${args[@]}"
wait_for ann "msg-060"
wait_for ann "outbox 0"

# A new device starts with the newest 50; PgUp loads the rest.
hopen ben ben 100 24 --password-file "$T/ben.pw"
notice_ok ben
wait_for ben "msg-060"
case "$(screen ben)" in *msg-001*) fail "msg-001 shown before scrolling" ;; esac
for _ in $(seq 1 20); do
  case "$(screen ben)" in *msg-001*) break ;; esac
  keys ben PPage
  sleep 0.2
done
wait_for ben "msg-001" 5
expect_contains "$(screen ben)" "more lines below (PgDn)" "scrolled-up marker"
keys ben NPage NPage NPage NPage NPage NPage NPage NPage NPage NPage NPage NPage NPage NPage NPage NPage NPage NPage NPage NPage NPage NPage NPage NPage NPage NPage NPage NPage NPage NPage
wait_for ben "msg-060"
wait_gone ben "more lines below"

# /who on ann's last tracked message: ben has read it (he is looking).
wait_for ann "read 1/1"
typein ann "/who"
keys ann Enter
wait_for ann "Who read #60: 1/1"
wait_for ann "Ben"
keys ann Escape

# A new group; ben learns of it with its first message.
typein ann "/new group Design Team @ben"
keys ann Enter
wait_for ann "herald · Design Team"
typein ann "welcome to design"
keys ann Enter
wait_for ben "Design Team (1)"
keys ben C-n
wait_for ben "herald · Design Team"
wait_for ben "welcome to design"
keys ben C-p
wait_for ben "herald · Launch"
typein ben "/join design"
keys ben Enter
wait_for ben "herald · Design Team"

# A 1:1 conversation.
typein ann "/new @ben"
keys ann Enter
wait_for ann "herald · Ben"
typein ann "just between us"
keys ann Enter
wait_for ben "Ann (1)"

# Quiet hours: show, set, clear.
typein ann "/quiet set Mon-Fri 12:00-13:00; Sun 03:00-04:00"
keys ann Enter
wait_for ann "Quiet hours"
wait_for ann "yours: Fri 12:00-13:00"
wait_for ann "yours: Sun 03:00-04:00"
expect_contains "$(ctl quiet show ann)" "12:00" "heraldctl sees ann's window"
keys ann Escape
typein ann "/quiet clear"
keys ann Enter
wait_for ann "yours: none"
keys ann Escape

typein ann "/task"
keys ann Enter
wait_for ann "usage: /task TITLE"
typein ann "/frob"
keys ann Enter
wait_for ann "unknown command /frob"

# /logout: herald quits, the token is gone, the next start asks again.
typein ann "/logout"
keys ann Enter
wait_exit ann
[ -z "$(find "$STATE" -path '*ann/token')" ] || fail "token kept after /logout"
tm kill-session -t ann
hopen ann ann 100 24
wait_for ann "Password for ann"
typein ann "pw-ann-123"
keys ann Enter
wait_for ann "online"
case "$(screen ann)" in *"Privacy notice"*) fail "notice shown twice" ;; esac
quit_all
echo "tui commands: ok"
