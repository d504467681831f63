#!/usr/bin/env bash
# A DING typed in one herald arrives in another as a banner that stays
# until acknowledged, with the terminal bell; F2 acknowledges it and the
# sender's screen shows the board change (acked 1/1). During quiet hours
# the banner comes without the bell.
. "$(dirname "$0")/tui_lib.sh"

start
org
user ann Ann
user ben Ben
user cat Cat
ctl quiet set cat --window 'daily 00:00-24:00' >/dev/null
ctl group create Launch --owner ann --member ben --member cat --tracking all >/dev/null

hopen ann ann 100 24 --password-file "$T/ann.pw"
notice_ok ann
hopen ben ben 100 24 --password-file "$T/ben.pw"
notice_ok ben
hopen cat cat 100 24 --password-file "$T/cat.pw"
notice_ok cat
for s in ann ben cat; do wait_for $s "online"; wait_for $s "> Launch"; done
wait_for cat "quiet hours"
bell() { tm display -p -t "$1" '#{window_bell_flag}'; }
expect_eq "$(bell ben)" 0 "no bell before the DING"

typein ann "/ding urgent @ben @cat the build is red"
keys ann Enter
wait_for ann "DING urgent · acked 0/2"
wait_for ben "DING urgent from Ann in Launch: the build is red — F2 acknowledge"
wait_for cat "DING urgent from Ann in Launch: the build is red"
expect_eq "$(bell ben)" 1 "the bell rang for ben"
expect_eq "$(bell cat)" 0 "no bell in cat's quiet hours"

# The banner stays (reading is not acknowledging) until F2.
keys ben C-l
sleep 0.3
expect_contains "$(screen ben)" "F2 acknowledge" "banner still there"
keys ben F2
wait_gone ben "F2 acknowledge"
wait_for ann "DING urgent · acked 1/2"
typein cat "/ack"
keys cat Enter
wait_gone cat "F2 acknowledge"
wait_for ann "DING urgent · acked 2/2"

# A DING sent while Ben is away waits for him: on his next start the
# banner is there (from the replay), and his ack reaches Ann's board.
keys ben C-c
wait_exit ben
tm kill-session -t ben
typein ann "/ding critical @ben the database is down"
keys ann Enter
wait_for ann "DING critical · acked 0/1"
hopen ben ben 100 24
wait_for ben "DING critical from Ann in Launch: the database is down"
keys ben F2
wait_gone ben "F2 acknowledge"
wait_for ann "DING critical · acked 1/1"
quit_all
echo "tui ding: ok"
