#!/usr/bin/env bash
# Benchmark: import + targeting of ~10M presence rows (release build), on the embedded store or,
# with LOA_BENCH_POSTGRES=postgres://user:password@host:port/any, on a fresh database of that server.
# Prints figures; asserts nothing. Usage: ops/bench/targeting.sh [SUBSCRIBERS] (default 5,000,000,
# which makes about 10M presence rows). Needs ~3 GB of free disk in $TMPDIR (or on the server).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$LOA_ROOT"
ensure_packages libcurl4-openssl-dev libsqlite3-dev libssl-dev libpq-dev pkg-config time sqlite3 bc
ensure_swift
SUBSCRIBERS=${1:-5000000}
log "building release"
swift build -c release --product loa >/dev/null
LOA="$(swift build -c release --show-bin-path)/loa"
work=$(mktemp -d "${TMPDIR:-/tmp}/loa-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Demo keys only: real keys come from the carriers, never from the repository.
for c in VIETTEL VINAPHONE MOBIFONE VIETNAMOBILE GMOBILE; do export "LOA_KEY_$c=$(printf '%s' "$c" | sha256sum | cut -c1-64)"; done
if [ -n "${LOA_BENCH_POSTGRES:-}" ]; then
  export LOA_DATABASE="${LOA_BENCH_POSTGRES%/*}/loa_bench_$(date +%s)"
  sql() { psql "$LOA_DATABASE" -Atc "$1"; }
  size() { sql "select pg_size_pretty(pg_database_size(current_database()))"; }
else
  export LOA_DATABASE="$work/loa.sqlite"
  sql() { sqlite3 "$LOA_DATABASE" "$1"; }
  size() { du -h "$LOA_DATABASE" | cut -f1; }
fi
log "store: ${LOA_DATABASE%%://*}"
NOW=2026-12-01T09:00:00+07:00

log "generating $SUBSCRIBERS subscribers"
"$LOA" demo-data --subscribers "$SUBSCRIBERS" --provinces 51 --out "$work/data" --now "$NOW" 2>/dev/null | head -1
rows=$(cat "$work"/data/presence-*.csv | wc -l)
"$LOA" import cells "$work/data/cells.csv" >/dev/null

log "import: presence files of 5 carriers (MSISDNs pseudonymized with HMAC-SHA256 on the way in)"
start=$(date +%s.%N); peak=0
for c in viettel vinaphone mobifone vietnamobile gmobile; do
  out=$(/usr/bin/time -f "PEAK %M" "$LOA" import presence "$work/data/presence-$c.csv" --carrier "$c" --retention 3650d 2>&1 >/dev/null | grep PEAK)
  kb=${out#PEAK }; [ "$kb" -gt "$peak" ] && peak=$kb
done
end=$(date +%s.%N)
imported=$(sql "select sum(rows_ok) from imports where kind='presence'" 2>/dev/null || echo "$rows")
awk -v r="$imported" -v s="$(echo "$end - $start" | bc)" -v p="$peak" 'BEGIN { printf "import:    %d rows in %.2f s = %.0f rows/s, peak memory %.0f MiB\n", r, s, r / s, p / 1024 }'
engine=sqlite; [ -n "${LOA_BENCH_POSTGRES:-}" ] && engine=postgres
figures="targeting-$engine"; cmd="ops/bench/targeting.sh $SUBSCRIBERS"
record_figure "$figures" "presence import ($engine), rows/s" "$(awk -v r="$imported" -v s="$(echo "$end - $start" | bc)" 'BEGIN { printf "%.0f", r / s }')" "" "" \
  "$imported rows in 5 carrier files, HMAC on the way in; peak $((peak / 1024)) MiB" "$cmd"

log "targeting: audience of the Kon Tum example campaign over all presence rows"
audience_once() {  # $1: the store; prints the run, sets s (seconds) and kb (peak)
  out=$(LOA_DATABASE="$1" /usr/bin/time -f "audience:  %e s wall, peak memory %M KB" "$LOA" audience campaigns/kontum-chay-rung-2026.yaml --at "$NOW" --out "$work/recipients.csv" --force 2>&1 | grep -E "recipients,|audience:|rror")
  echo "$out"
  s=$(echo "$out" | sed -n 's/^audience:  \([0-9.]*\) s wall, peak memory \([0-9]*\) KB/\1/p')
  kb=$(echo "$out" | sed -n 's/^audience:  \([0-9.]*\) s wall, peak memory \([0-9]*\) KB/\2/p')
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
audience_once "$LOA_DATABASE"
# The store as it is now, kept aside (SQLite): selections with and without stated languages then
# alternate, so that a slower minute of the machine weighs on both alike.
plain_store=""
if [ -z "${LOA_BENCH_POSTGRES:-}" ]; then plain_store="$work/plain.sqlite"; cp "$LOA_DATABASE" "$plain_store"; fi
plain_runs=("$s"); plain_kb=$kb

log "stated languages: half of every carrier's subscribers state one, in one mixed file (a quarter of the lines name no carrier: routed by prefix)"
{
  echo "subscriber,language,carrier"
  for c in viettel vinaphone mobifone vietnamobile gmobile; do
    awk -F, -v c="$c" 'NR > 1 && !seen[$1]++ && NR % 2 == 0 {
      lang = NR % 3 == 0 ? "sed" : (NR % 3 == 1 ? "jra" : "ium")
      if (NR % 8 == 0) print $1 "," lang; else print $1 "," lang "," c }' "$work/data/presence-$c.csv"
  done | shuf --random-source=<(yes)
} >"$work/prefs.csv"
lines=$(($(wc -l <"$work/prefs.csv") - 1))
out=$(/usr/bin/time -f "PEAK %M WALL %e" "$LOA" import preferences "$work/prefs.csv" 2>&1 >/dev/null | grep -E "PEAK")
wall=${out#*WALL }; kb=${out#PEAK }; kb=${kb%% *}
awk -v r="$lines" -v s="$wall" -v p="$kb" 'BEGIN { printf "preferences: %d lines of one mixed file in %.2f s = %.0f lines/s, peak memory %.0f MiB\n", r, s, r / s, p / 1024 }'
kept=$(sql "select coalesce(sum(entries), 0) from preference_blocks")
echo "preferences kept: $kept"
record_figure "$figures" "preferences import from one mixed file ($engine), lines/s" "$(awk -v r="$lines" -v s="$wall" 'BEGIN { printf "%.0f", r / s }')" "" "" \
  "$lines lines (a quarter without a carrier: routed by prefix), $kept kept; peak $((kb / 1024)) MiB" "$cmd"
log "targeting with the stated languages (alternating with the store without them)"
with_runs=(); with_kb=0
for round in 1 2 3; do
  audience_once "$LOA_DATABASE"; with_runs+=("$s"); [ "$kb" -gt "$with_kb" ] && with_kb=$kb
  if [ -n "$plain_store" ]; then audience_once "$plain_store"; plain_runs+=("$s"); [ "$kb" -gt "$plain_kb" ] && plain_kb=$kb; fi
done
plain=$(median "${plain_runs[@]}"); best=$(median "${with_runs[@]}")
echo "audience without stated languages: ${plain_runs[*]} s (median $plain); with: ${with_runs[*]} s (median $best)"
record_figure "$figures" "audience selection ($engine), s: without / with stated languages" "$plain / $best" "" \
  "$(awk -v a="$best" -v b="$plain" 'BEGIN { printf "%.2f×", a / b }')" \
  "medians of ${#plain_runs[@]} / ${#with_runs[@]} runs, alternating; peak $((plain_kb / 1024)) / $((with_kb / 1024)) MiB; ratio: with / without" "$cmd"
echo "database: $(size)"
