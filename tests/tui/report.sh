#!/usr/bin/env bash
# A manager's /report shows the rows of the server's unread report: the
# same rows as heraldctl report unread (recipient, conversation, message,
# sender, unread for), and a staff member is told it is not for them.
. "$(dirname "$0")/tui_lib.sh"

start
org
user mia Mia --role manager
user ann Ann
user ben Ben --manager mia
user cat Cat --manager mia
ctl group create Mgmt --owner mia --member ann >/dev/null
ctl group create Launch --owner ann --member ben --member cat --tracking all >/dev/null

send_ann() { "$HERALDCTL" send --server "$URL" --login ann --password-file "$T/ann.pw" "$@" >/dev/null; }
send_ann --group Launch "first unread"
send_ann --group Launch "second unread"
send_ann --group Launch "third unread"
# Ben reads up to the second message; then three hours pass.
hopen ben ben 100 24 --password-file "$T/ben.pw"
notice_ok ben
wait_for ben "third unread"
keys ben C-c
wait_exit ben
send_ann --group Launch "fourth unread"
clock_add 10800000

"$HERALDCTL" report unread --server "$URL" --login mia --password-file "$T/mia.pw" \
  --older-than 2h --format csv >"$T/report.csv"
rows=$(($(wc -l <"$T/report.csv") - 1))
[ "$rows" -ge 4 ] || fail "expected unread rows from the server: $(cat "$T/report.csv")"

hopen mia mia 120 40 --password-file "$T/mia.pw"
notice_ok mia
wait_for mia "online"
typein mia "/report 2h"
keys mia Enter
wait_for mia "Unread over 120m: $rows rows"
scr=$(screen mia)
while IFS=, read -r who conv seq from sent unread ding acked; do
  [ "$who" = recipient ] && continue
  h=$((unread / 3600)); m=$(printf '%02d' $((unread % 3600 / 60)))
  # The server's CSV names a sender outside the report's users by id;
  # herald knows Ann from a shared conversation.
  [ "${from#\#}" != "$from" ] && from=Ann
  printf '%s\n' "$scr" | grep -Eq "│ $who +#$conv +$seq +$from +.* ${h}h${m}m" ||
    fail "row $who,$conv,$seq,$from,${h}h${m}m not on mia's screen"
done <"$T/report.csv"
expect_contains "$scr" "Ben: 1 unread" "per-recipient total of Ben"
expect_contains "$scr" "Cat: 4 unread" "per-recipient total of Cat"

# Staff are told /report is not for them.
hopen ann ann 100 24 --password-file "$T/ann.pw"
notice_ok ann
wait_for ann "online"
typein ann "/report"
keys ann Enter
wait_for ann "/report is for managers and admins"
quit_all
echo "tui report: ok"
