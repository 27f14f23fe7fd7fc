#!/usr/bin/env bash
# Benchmark: delivery receipts over HTTP (signed bodies of 1,000 lines from 4 clients, a third for
# second parts, 2% duplicates, 1% unknown ids) into a SQLite store with 10k, 100k and 1M messages
# awaiting receipts, in two orders: at random over everything pending (the worst case: nearly
# every receipt rewrites a page of its own) and as receipts come back (sent in id order, most
# answered within seconds, a tenth within hours). Median of ROUNDS runs per figure, alternating
# the two orders; each figure also says how much of the run the store was busy (it takes one
# request at a time: near 100% means the store is what limits the rate). Prints figures and writes
# them into ops/BENCHMARKS.md; asserts nothing. Usage: ops/bench/receipts.sh [ROUNDS] (default 3).
# Needs ~1.5 GB of free disk in $TMPDIR.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$LOA_ROOT"
ensure_packages libcurl4-openssl-dev libsqlite3-dev libssl-dev libpq-dev pkg-config
ensure_swift
ROUNDS=${1:-3}
log "building loa-bench (release)"
swift build -c release --product loa-bench >/dev/null
BENCH="$(swift build -c release --show-bin-path)/loa-bench"

# One run: "pending rate busy-seconds seconds µs-a-line" per level.
run() {
  "$BENCH" receipts "$@" 2>/dev/null | sed -n 's/^receipts: \([0-9,]*\) pending: .* in \([0-9.]*\) s = \([0-9,]*\) receipts\/s.*the store busy \([0-9.]*\) s of them (\([0-9]*\) µs a line).*/\1 \3 \4 \2 \5/p' | tr -d ,
}
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
declare -A rates busy lines
for ((r = 1; r <= ROUNDS; r++)); do
  for order in random arrival; do
    log "round $r of $ROUNDS: $order order"
    args=(); [ "$order" = arrival ] && args=(--arrival 1)
    while read -r pending rate b seconds us; do
      echo "  $order, $pending pending: $rate receipts/s, store busy $b of $seconds s, $us µs a line"
      rates[$order.$pending]="${rates[$order.$pending]:-} $rate"
      busy[$order.$pending]="${busy[$order.$pending]:-} $(awk -v b="$b" -v s="$seconds" 'BEGIN { printf "%.0f", b / s * 100 }')"
      lines[$order.$pending]="${lines[$order.$pending]:-} $us"
    done < <(run "${args[@]}")
  done
done
for order in random arrival; do
  for pending in 10000 100000 1000000; do
    key=$order.$pending
    [ -n "${rates[$key]:-}" ] || { echo "no figure for $order order, $pending pending" >&2; exit 1; }
    what=$([ "$order" = random ] && echo "in random order" || echo "in arrival order")
    # shellcheck disable=SC2086
    record_figure receipts "delivery receipts/s over HTTP into SQLite, $what, $pending pending" "$(median ${rates[$key]})" "" "" \
      "receipts/s, median of $ROUNDS (runs:${rates[$key]}); the store busy $(median ${busy[$key]})% of the run, $(median ${lines[$key]}) µs a line" \
      "ops/bench/receipts.sh $ROUNDS"
  done
done
