#!/usr/bin/env bash
# The outcome journal on a SQLite file, whose commits are local: an outcome is journaled
# only when its first commit attempt fails (Queue::JournalFirst), not fdatasync'ed before
# every commit. A commit that cannot be made (another process holds the write lock past
# busy_timeout) is journaled; a stop then leaves it in the journal (exit 0), and the next
# run commits it without running the handler again.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_work.sh"

DB="$TMP/data/evt.db"
BROKER="sqlite://$DB"
q() { sqlite3 -cmd '.timeout 5000' "$DB" "$1"; }
status_of() { q "SELECT status FROM events WHERE event_id = '$1'"; }
journal_outcomes() { cat "$TMP/state"/*.journal 2> /dev/null | grep -c '"op":"outcome"' || true; }

# 1. Commits that go through at once leave nothing in the journal.
for i in 1 2 3 4 5; do event "ok$i" "k-ok$i" ok; echo; done |
  evt-emit --broker "$BROKER" --stdin > /dev/null
evt-work --broker "$BROKER" --state-dir "$TMP/state" -c 2 -- /bin/true 2> "$TMP/w0.err" &
worker=$!
wait_until 20 '[[ $(q "SELECT count(*) FROM events WHERE status = '"'done'"'") == 5 ]]' ||
  fail "the five events were not done"
expect_eq "a running worker whose commits went through journaled nothing" 0 "$(journal_outcomes)"
kill -TERM "$worker"
wait "$worker" || true

# 2. A commit that finds the file locked is journaled; a stop leaves it there.
event j1 k-j1 ok | evt-emit --broker "$BROKER" --stdin > /dev/null
cat > "$TMP/handler.sh" <<SH
#!/bin/sh
echo run >> "$TMP/runs"
# returns once the locker holds the write lock, so that the commit finds it held
i=0
while [ ! -e "$TMP/locked" ] && [ \$i -lt 200 ]; do sleep 0.05; i=\$((i + 1)); done
SH
chmod +x "$TMP/handler.sh"
python3 - "$DB" "$TMP" <<'PY' &
import os, sqlite3, sys, time
db, tmp = sys.argv[1], sys.argv[2]
deadline = time.time() + 30
while not os.path.exists(tmp + "/runs") and time.time() < deadline:
    time.sleep(0.02)
conn = sqlite3.connect(db, timeout=10, isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
open(tmp + "/locked", "w").close()
while not os.path.exists(tmp + "/release") and time.time() < deadline:
    time.sleep(0.05)
conn.execute("ROLLBACK")
PY
locker=$!
evt-work --broker "$BROKER" --state-dir "$TMP/state" --shutdown-grace 1s -- "$TMP/handler.sh" \
  2> "$TMP/w1.err" &
worker=$!
# The first attempt waits out busy_timeout (5 s), then the outcome is journaled.
wait_until 30 '[[ $(journal_outcomes) -ge 1 ]]' || fail "the outcome was not journaled"
kill -TERM "$worker"
rc=0
wait_until 20 '! alive '"$worker" || { fail "the worker did not stop"; kill -KILL "$worker"; }
wait "$worker" || rc=$?
expect_eq "a stop with an outcome that cannot be committed: exit 0" 0 "$rc"
expect_contains "the worker says it left the outcome in the journal" "in the journal" "$TMP/w1.err"
touch "$TMP/release"
wait "$locker" || true
[[ $(status_of j1) != done ]] && pass "the event is not done yet" || fail "done while locked"

# 3. The next run commits the journaled outcome; the handler does not run again.
rc=0
evt-work --broker "$BROKER" --state-dir "$TMP/state" --burst -- "$TMP/handler.sh" \
  2> "$TMP/w2.err" || rc=$?
expect_eq "the next run: exit 0" 0 "$rc"
expect_eq "the journaled outcome is committed" done "$(status_of j1)"
expect_eq "the handler ran once" 1 "$(count_lines "$TMP/runs")"
expect_eq "nothing is left in the journal" 0 "$(journal_outcomes)"
finish
