#!/usr/bin/env bash
# Chaos: the disk holding the SQLite store fills up (a small tmpfs mounted for the run) in the
# middle of a presence import and in the middle of a dispatch. loa must stop with an error that
# says the disk is full and what to do, keep the store whole (integrity check), keep nothing of
# the step that failed, and finish with the same command once space is freed: the carriers' own
# record shows every message once (0 duplicates, 0 lost). Needs root (mount). Usage:
# ops/chaos/disk-full.sh. Loopback only, about two minutes.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$LOA_ROOT"
[ "$(id -u)" -eq 0 ] || { echo "ops/chaos/disk-full.sh mounts a small tmpfs for the store: run it as root (or with sudo)" >&2; exit 2; }
source "$LOA_ROOT/ops/chaos/common.sh"
CHAOS_TPS=300
for f in "$work"/carriers/*.yaml; do sed -i "s/^tps: .*/tps: $CHAOS_TPS/" "$f"; done
mnt="$work/disk"; mkdir -p "$mnt"
mount -t tmpfs -o size=48m tmpfs "$mnt"
trap 'umount "$mnt" 2>/dev/null || true; cleanup' EXIT
engine=sqlite
export LOA_DATABASE="$mnt/loa.sqlite"
failed=0
free_kib() { df --output=avail -k "$mnt" | tail -1 | tr -d ' '; }
# fill_to KIB: a filler file leaves about KIB free (0: until the disk is full).
fill_to() {
  local have; have=$(free_kib)
  if [ "$1" -eq 0 ]; then dd if=/dev/zero of="$mnt/filler" bs=64k status=none 2>/dev/null || true
  else dd if=/dev/zero of="$mnt/filler" bs=1k count=$((have - $1)) status=none; fi
}
integrity() { sqlite3 "$LOA_DATABASE" "PRAGMA integrity_check" 2>&1 | head -1; }

log "a presence import meets a full disk"
"$LOA" import cells "$work/data/cells.csv" >/dev/null 2>&1
fill_to 600
rc=0; "$LOA" import presence "$work/data/presence-viettel.csv" --carrier viettel --retention 3650d >"$work/import-full.log" 2>&1 || rc=$?
said=$(grep -c "the disk holding the store is full" "$work/import-full.log" || true)
rows_after_failure=$(sqlite3 "$LOA_DATABASE" "SELECT count(*) FROM presence")
whole=$(integrity)
rm -f "$mnt/filler"
rc2=0; "$LOA" import presence "$work/data/presence-viettel.csv" --carrier viettel --retention 3650d >"$work/import-again.log" 2>&1 || rc2=$?
rows=$(sqlite3 "$LOA_DATABASE" "SELECT count(*) FROM presence")
expected=$(sqlite3 "$LOA_DATABASE" "SELECT rows_ok FROM imports WHERE kind = 'presence' AND carrier = 'viettel' AND completed = 1")
echo "  the import on a full disk: exit $rc; its words:" >&2; grep -m1 "Error" "$work/import-full.log" | cut -c1-300 | sed 's/^/    /' >&2
echo "chaos-disk-full-import: exit $rc (disk full said: $said), rows kept of the failed import $rows_after_failure, integrity $whole; again with room: exit $rc2, $rows rows ($expected in the file's record)"
ok=1; { [ "$rc" -ne 0 ] && [ "$said" -ge 1 ] && [ "$rows_after_failure" -eq 0 ] && [ "$whole" = ok ] && [ "$rc2" -eq 0 ] && [ "$rows" -eq "$expected" ] && [ "$rows" -gt 0 ]; } || { ok=0; failed=1; }
record_figure chaos-disk "disk full mid presence import, sqlite: rows kept of the failed import / store whole" "$rows_after_failure / $whole" "" "" \
  "exit $rc with the disk-full message; the same import afterwards: exit $rc2, $rows rows" "ops/chaos/disk-full.sh"
for c in vinaphone mobifone vietnamobile gmobile; do "$LOA" import presence "$work/data/presence-$c.csv" --carrier "$c" --retention 3650d >/dev/null 2>&1; done

log "a dispatch meets a full disk"
start_sims disk 0
communes="[$(tail -n +2 "$work/data/cells.csv" | cut -d, -f4 | sort -u | paste -sd, -)]"
file=$(new_campaign disk-full "$communes")
"$LOA" dispatch "$file" >"$work/dispatch-1.log" 2>&1 &
pid=$!
for _ in $(seq 60); do
  sent=$(sqlite3 "$LOA_DATABASE" "SELECT count(*) FROM messages WHERE state = 'accepted'" 2>/dev/null || echo 0)
  [ "$sent" -ge 3000 ] && break; sleep 0.5
done
fill_to 0
first=0
for _ in $(seq 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
if kill -0 "$pid" 2>/dev/null; then echo "  the dispatch did not stop within 60 s of the disk filling up" >&2; kill -9 "$pid"; first=running; failed=1; fi
wait "$pid" 2>/dev/null || first=$?
said=$(grep -c "the disk holding the store is full" "$work/dispatch-1.log" || true)
whole=$(integrity)
echo "  the dispatch on a full disk: exit $first; its last words:" >&2; tail -2 "$work/dispatch-1.log" | cut -c1-300 | sed 's/^/    /' >&2
rm -f "$mnt/filler"
runs=1; rc=1
while [ "$rc" -ne 0 ] && [ "$runs" -lt 4 ]; do
  runs=$((runs + 1)); rc=0
  "$LOA" dispatch "$file" >"$work/dispatch-$runs.log" 2>&1 || rc=$?
done
verify disk disk-full
echo "chaos-disk-full-dispatch: first run exit $first (disk full said: $said), integrity $whole, finished after $runs run(s) (exit $rc), $planned messages, $unique accepted by the carriers, unsent $open, duplicates $duplicates, lost $lost, phantom $phantom"
record_figure chaos-disk "disk full mid dispatch, sqlite: duplicates / lost" "$duplicates / $lost" "" "" \
  "$planned messages; the run on the full disk exited $first with the disk-full message, store whole ($whole); done after $runs run(s) once space was freed" "ops/chaos/disk-full.sh"
if [ "$first" = 0 ] || [ "$said" -lt 1 ] || [ "$whole" != ok ] || [ "$rc" -ne 0 ] || [ "$duplicates" -ne 0 ] || [ "$lost" -ne 0 ] || [ "$phantom" -ne 0 ] || [ "$open" -ne 0 ]; then failed=1; fi
exit $failed
