#!/usr/bin/env bash
# Chinese text and emoji typed, edited in the middle with the arrow keys,
# Backspace and Delete (whole characters, two columns each), sent, and
# shown wrapped by display width in a 40-column window.
. "$(dirname "$0")/tui_lib.sh"

start
org
user ann Ann
user ben Ben
ctl group create Launch --owner ann --member ben --tracking all >/dev/null

hopen ann ann 40 20 --password-file "$T/ann.pw"
notice_ok ann
hopen ben ben 40 20 --password-file "$T/ben.pw"
notice_ok ben
wait_for ann "online"
wait_for ben "online"

# 你好世界 -> Left Left -> Backspace deletes 好 -> type 们 -> 你们世界
typein ann "你好世界"
keys ann Left Left BSpace
typein ann "们"
wait_for ann "> 你们世界"
keys ann End
typein ann "，这是一个很长的中文句子，用来测试在窄窗口里的自动换行是否正确。"
keys ann Enter
zh="你们世界，这是一个很长的中文句子，用来测试在窄窗口里的自动换行是否正确。"

# ok 🎉🎉🎉 yes -> Left x4, Backspace deletes one 🎉 -> Home, Delete x3
# deletes "ok " -> type 好 at the start.
typein ann "ok 🎉🎉🎉 yes"
keys ann Left Left Left Left BSpace Home DC DC DC
typein ann "好"
wait_for ann "> 好🎉🎉 yes"
keys ann Enter
emoji="好🎉🎉 yes"

# A run of 25 emoji, one removed from the middle: 48 columns, two lines.
typein ann "🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉"
keys ann Left Left Left Left Left BSpace Enter
run="🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉"

wait_for ben "yes"
wait_for ben "🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉"
sleep 0.2
scr=$(screen ben)
# Every line fits the 40 columns.
while IFS= read -r line; do
  w=$(printf '%s' "$line" | wc -L)
  [ "$w" -le 40 ] || fail "line wider than 40 columns ($w): $line"
done <<<"$scr"
# Body lines are indented by two columns; joined they give the texts back.
body=$(printf '%s\n' "$scr" | sed -n 's/^  \(.*\)$/\1/p' | tr -d '\n')
expect_contains "$body" "$zh$emoji$run" "wrapped texts, joined"
# The Chinese sentence fills its first line to exactly 40 columns (2 + 19
# characters of 2 columns): wrapped by display width, not by characters.
first=$(printf '%s\n' "$scr" | grep -m1 '^  你们世界')
expect_eq "$(printf '%s' "$first" | wc -L)" 40 "width of the first wrapped line"
expect_eq "$first" "  你们世界，这是一个很长的中文句子，用来" "first wrapped line"
# The emoji run: 19 on the first line, 5 on the second.
expect_eq "$(printf '%s\n' "$scr" | grep -c '^  🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉$')" 1 "emoji line 1"
expect_eq "$(printf '%s\n' "$scr" | grep -c '^  🎉🎉🎉🎉🎉$')" 1 "emoji line 2"

# A resize re-wraps: 30 columns hold 14 characters after the indent.
tm resize-window -t ben -x 30 -y 20
wait_for ben "$(printf '  你们世界，这是一个很长的中文\n  句子')"
tm resize-window -t ben -x 40 -y 20
wait_for ben "$(printf '  你们世界，这是一个很长的中文句子，用来\n  测试')"
quit_all
echo "tui wide: ok"
