#!/usr/bin/env bash
# Chaos: (1) every carrier failing 20% of uploads (503, 500, answers lost until the timeout, slow
# answers, connections cut before and after the answer), on SQLite and PostgreSQL: every message
# ends accepted, or rejected with a reason; no carrier sees more than its TPS in any second; the
# carriers' own record shows 0 duplicates and 0 lost. (2) PostgreSQL restarted in the middle of a
# dispatch: loa stops with a clear error (or rides it out), loses nothing, and the same command
# finishes the campaign afterwards. Usage: ops/chaos/faults.sh. Loopback only, a few minutes.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$LOA_ROOT"
source "$LOA_ROOT/ops/chaos/common.sh"
failed=0

for engine in sqlite postgres; do
  log "$engine: carriers failing 20% of uploads"
  new_store "$engine"
  start_sims "faults-$engine" 0.2
  file=$(new_campaign "faults-$engine")
  rc=0; "$LOA" dispatch "$file" >"$work/faults-$engine.log" 2>&1 || rc=$?
  verify "faults-$engine" "faults-$engine"
  faults=$(sim_stat faults); busiest=$(sim_max maxInAnySecond)
  echo "chaos-faults-$engine: exit $rc, $planned messages, $faults faults, $unique accepted by the carriers, unsent $open, rejected without a reason $unexplained, duplicates $duplicates, lost $lost, busiest second $busiest (TPS $CHAOS_TPS)"
  record_figure chaos-faults "20% carrier faults, $engine: duplicates / lost" "$duplicates / $lost" "" "" \
    "$planned messages, $faults faults met, $open unsent, $unexplained rejected without a reason, busiest second $busiest of $CHAOS_TPS TPS" "ops/chaos/faults.sh"
  if [ "$rc" -ne 0 ] || [ "$duplicates" -ne 0 ] || [ "$lost" -ne 0 ] || [ "$phantom" -ne 0 ] || [ "$open" -ne 0 ] || [ "$unexplained" -ne 0 ] || [ "$busiest" -gt "$CHAOS_TPS" ]; then failed=1; fi
done

log "postgres: the server restarted in the middle of a dispatch"
new_store postgres
start_sims pg-restart 0
file=$(new_campaign pg-restart)
"$LOA" dispatch "$file" >"$work/pg-restart-1.log" 2>&1 &
pid=$!
sleep 6
$LOA_AS_PG "$LOA_PGBIN/pg_ctl" -D "$LOA_PGDATA" -m fast -w restart >/dev/null 2>&1
first=0; wait "$pid" || first=$?
echo "  the dispatch during the restart: exit $first; its last words:" >&2
tail -3 "$work/pg-restart-1.log" | sed 's/^/    /' >&2
runs=1; rc=$first
while [ "$rc" -ne 0 ] && [ "$runs" -lt 5 ]; do
  runs=$((runs + 1)); rc=0
  "$LOA" dispatch "$file" >"$work/pg-restart-$runs.log" 2>&1 || rc=$?
done
verify pg-restart pg-restart
echo "chaos-postgres-restart: first run exit $first, finished after $runs run(s) (exit $rc), $planned messages, $unique accepted by the carriers, unsent $open, duplicates $duplicates, lost $lost"
record_figure chaos-faults "PostgreSQL restarted mid-dispatch: duplicates / lost" "$duplicates / $lost" "" "" \
  "$planned messages; the run during the restart exited $first, done after $runs run(s)" "ops/chaos/faults.sh"
if [ "$rc" -ne 0 ] || [ "$duplicates" -ne 0 ] || [ "$lost" -ne 0 ] || [ "$phantom" -ne 0 ] || [ "$open" -ne 0 ]; then failed=1; fi
exit $failed
