#!/usr/bin/env bash
# Chaos: two, then three dispatcher nodes (`loa dispatch` processes) sharing one PostgreSQL store,
# one of them killed with SIGKILL every 20 s and another started in its place, until a province's
# campaign (about 40,000 messages) is done. The carriers' own record (not loa's counters) must show
# every message once (0 duplicates, 0 lost), nothing left unsent, and no carrier more than its TPS
# in any second, across all nodes. Usage: ops/chaos/multinode.sh [NODE_COUNTS, default "2 3"]
# [KILL_EVERY seconds, default 20]. Loopback only, about 5 minutes.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$LOA_ROOT"
COUNTS=${1:-"2 3"}; KILL_EVERY=${2:-20}
source "$LOA_ROOT/ops/chaos/common.sh"
# Each carrier's campaign share takes about a minute: time for a few kills per run.
CHAOS_TPS=300
for f in "$work"/carriers/*.yaml; do sed -i "s/^tps: .*/tps: $CHAOS_TPS/" "$f"; done
communes="[$(tail -n +2 "$work/data/cells.csv" | cut -d, -f4 | sort -u | paste -sd, -)]"
engine=postgres
failed=0
nodes=()
stop_nodes() { for p in "${nodes[@]}"; do kill -9 "$p" 2>/dev/null || true; done; nodes=(); }
trap 'stop_nodes; cleanup' EXIT

for n in $COUNTS; do
  log "$n dispatcher nodes on PostgreSQL, one killed every $KILL_EVERY s"
  new_store postgres
  start_sims "nodes-$n" 0
  file=$(new_campaign "nodes-$n" "$communes")
  started=0
  start_node() { started=$((started + 1)); "$LOA" dispatch "$file" >"$work/nodes-$n-node-$started.log" 2>&1 & nodes+=($!); }
  for _ in $(seq "$n"); do start_node; done
  kills=0; t0=$(date +%s); next_kill=$((t0 + KILL_EVERY)); deadline=$((t0 + 900))
  while :; do
    sleep 1
    now=$(date +%s)
    open=$(sql "SELECT count(*) FROM messages WHERE campaign = 'nodes-$n' AND state IN ('planned', 'submitted')")
    planned=$(sql "SELECT count(*) FROM messages WHERE campaign = 'nodes-$n'")
    if [ "$planned" -gt 0 ] && [ "$open" -eq 0 ]; then break; fi
    if [ "$now" -ge "$deadline" ]; then echo "  not done after $((now - t0)) s ($open unsent)" >&2; break; fi
    if [ "$now" -ge "$next_kill" ]; then
      victim=$((RANDOM % ${#nodes[@]}))
      kill -9 "${nodes[$victim]}" 2>/dev/null || true
      wait "${nodes[$victim]}" 2>/dev/null || true
      unset 'nodes[victim]'; nodes=("${nodes[@]}")
      kills=$((kills + 1))
      echo "  $((now - t0)) s: node killed ($kills), $open of $planned unsent; another started" >&2
      start_node
      next_kill=$((now + KILL_EVERY))
    fi
  done
  # The nodes still running finish on their own (the campaign is done for every carrier).
  exited=0
  for p in "${nodes[@]}"; do
    for _ in $(seq 60); do kill -0 "$p" 2>/dev/null || break; sleep 1; done
    if kill -0 "$p" 2>/dev/null; then kill -9 "$p" 2>/dev/null || true; else exited=$((exited + 1)); fi
  done
  nodes=()
  seconds=$(($(date +%s) - t0))
  verify "nodes-$n" "nodes-$n"
  busiest=$(sim_max maxInAnySecond)
  echo "chaos-nodes-$n: $planned messages in $seconds s, $kills kills, $unique accepted by the carriers, unsent $open, duplicates $duplicates, lost $lost, phantom $phantom, busiest second $busiest (TPS $CHAOS_TPS), $exited of $n nodes ended on their own"
  record_figure chaos-nodes "$n dispatcher nodes on PostgreSQL, one killed every $KILL_EVERY s: duplicates / lost" "$duplicates / $lost" "" "" \
    "$planned messages in $seconds s, $kills nodes killed and replaced, $open unsent, busiest second of any carrier $busiest of $CHAOS_TPS TPS" "ops/chaos/multinode.sh"
  if [ "$duplicates" -ne 0 ] || [ "$lost" -ne 0 ] || [ "$phantom" -ne 0 ] || [ "$open" -ne 0 ] || [ "$busiest" -gt "$CHAOS_TPS" ] || [ "$kills" -eq 0 ]; then failed=1; fi
done
exit $failed
