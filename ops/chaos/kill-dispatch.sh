#!/usr/bin/env bash
# Chaos: `kill -9` of `loa dispatch` at random moments, then the same command again, until the
# campaign is done; on SQLite and on PostgreSQL. Carrier simulators (10% injected faults on top)
# record every message id they accept (`--record`): that record, not loa's own counters, says
# what reached the carriers. Duplicates (an id offered again under another key, or recorded twice)
# and lost messages (in the store as sent, never recorded by a carrier) must both be 0.
# Usage: ops/chaos/kill-dispatch.sh [KILLS per engine, default 50] [ENGINE… default: sqlite postgres]
# Loopback only; bounded: each engine stops after its kills and at most 20 minutes.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$LOA_ROOT"
KILLS=${1:-50}
shift || true
ENGINES=("$@")
[ ${#ENGINES[@]} -gt 0 ] || ENGINES=(sqlite postgres)
source "$LOA_ROOT/ops/chaos/common.sh"

failed=0
for engine in "${ENGINES[@]}"; do
  log "$engine: a province of 40,000 subscribers; carriers at $CHAOS_TPS/s with 10% faults, recording what they accept"
  new_store "$engine"
  start_sims "$engine" 0.1
  kills=0; round=0; deadline=$(( $(date +%s) + 1200 )); ids=()
  while [ "$kills" -lt "$KILLS" ] && [ "$(date +%s)" -lt "$deadline" ]; do
    round=$((round + 1)); id="chaos-$engine-$round"; ids+=("$id")
    file=$(new_campaign "$id")
    while :; do
      "$LOA" dispatch "$file" >>"$work/$engine-dispatch.log" 2>&1 &
      pid=$!
      if [ "$kills" -lt "$KILLS" ]; then
        sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.3 + (r % 1500) / 1000 }')"
        if kill -0 "$pid" 2>/dev/null; then
          kill -9 "$pid" 2>/dev/null || true
          wait "$pid" 2>/dev/null || true
          kills=$((kills + 1))
          continue
        fi
      fi
      rc=0; wait "$pid" || rc=$?
      [ "$rc" -eq 0 ] && break
      [ "$(date +%s)" -lt "$deadline" ] || break
    done
    printf '  %s: %s done after %d kills in all\n' "$engine" "$id" "$kills" >&2
  done
  verify "$engine" "${ids[@]}"
  echo "chaos-kill-dispatch-$engine-kills: $kills"
  echo "chaos-kill-dispatch-$engine-campaigns: $round"
  echo "chaos-kill-dispatch-$engine-messages: $planned"
  echo "chaos-kill-dispatch-$engine-accepted-by-carriers: $unique"
  echo "chaos-kill-dispatch-$engine-unsent: $open"
  echo "chaos-kill-dispatch-$engine-duplicates: $duplicates"
  echo "chaos-kill-dispatch-$engine-lost: $lost"
  echo "chaos-kill-dispatch-$engine-recorded-but-not-sent: $phantom"
  record_figure chaos-kill-dispatch "kill -9 of loa dispatch, $engine: duplicates / lost" "$duplicates / $lost" "" "" \
    "$kills kills, $round campaign(s), $planned messages, $unique accepted by the carriers" "ops/chaos/kill-dispatch.sh ${KILLS} $engine"
  if [ "$duplicates" -ne 0 ] || [ "$lost" -ne 0 ] || [ "$phantom" -ne 0 ] || [ "$open" -ne 0 ] || [ "$kills" -lt "$KILLS" ]; then failed=1; fi
  stop_sims
done
exit $failed
