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
ensure_packages libcurl4-openssl-dev libsqlite3-dev libssl-dev libpq-dev pkg-config curl sqlite3 postgresql postgresql-client
ensure_swift
log "building loa"
swift build --product loa >/dev/null
LOA="$(swift build --show-bin-path)/loa"
work=$(mktemp -d "${TMPDIR:-/tmp}/loa-chaos.XXXXXX")
sims=()
pg_started=""
cleanup() {
  for p in "${sims[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -z "$pg_started" ] || stop_postgres
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
export LOA_CONTACT_KEY=$(printf 'chaos-contact-key' | sha256sum | cut -c1-64)
for c in VIETTEL VINAPHONE MOBIFONE VIETNAMOBILE GMOBILE; do
  export "LOA_KEY_$c=$(printf 'chaos-%s' "$c" | sha256sum | cut -c1-64)" "LOA_SIGNING_$c=chaos-signing-$c" "LOA_RECEIPT_$c=chaos-receipt-$c"
done
# The bundled carriers at 60 messages per second each: a campaign takes long enough to be killed often.
mkdir -p "$work/carriers"
for f in carriers/*.yaml; do sed 's/^tps: .*/tps: 60/' "$f" >"$work/carriers/$(basename "$f")"; done
export LOA_CARRIERS="$work/carriers"
NOW=$(date -u +%Y-%m-%dT%H:%M:%S+00:00); END=$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%S+00:00)
"$LOA" demo-data --subscribers 40000 --out "$work/data" --now "$NOW" >/dev/null

campaign() {   # campaign FILE ID
  cat >"$1" <<YAML
serialization_version: 1
id: $2
title: Chaos
office: Sở thử nghiệm
legal_basis: "chaos test"
channel: sms
sender: LOACHAOS
priority: emergency
audience:
  communes: [23377, 23392, 23383, 23344, 23365, 23530, 23535, 23536]
  seen_within: 30d
languages:
  default: vi
variants:
  vi: "Thử nghiệm {commune}: không cần làm gì."
schedule:
  start: $NOW
  end: $END
  windows: ["00:00-24:00"]
YAML
}

sql() {
  if [ "$engine" = sqlite ]; then sqlite3 "$LOA_DATABASE" "$1"; else psql "$LOA_DATABASE" -Atc "$1"; fi
}

failed=0
for engine in "${ENGINES[@]}"; do
  log "$engine: a province of 40,000 subscribers; carriers at 60/s with 10% faults, recording what they accept"
  if [ "$engine" = postgres ]; then
    start_postgres
    pg_started=1
    export LOA_DATABASE="postgres://$PGUSER:$PGPASSWORD@$PGHOST:$PGPORT/loa_chaos_$(date +%s)"
  else
    export LOA_DATABASE="$work/$engine.sqlite"
  fi
  "$LOA" import cells "$work/data/cells.csv" >/dev/null
  for c in viettel vinaphone mobifone vietnamobile gmobile; do
    "$LOA" import presence "$work/data/presence-$c.csv" --carrier "$c" --retention 3650d >/dev/null 2>&1
  done
  sims=()
  for c in viettel vinaphone mobifone vietnamobile gmobile; do
    "$LOA" carrier-sim --carrier "$LOA_CARRIERS/$c.yaml" --fault-rate 0.1 --seed "$RANDOM" --record "$work/$engine-record-$c.txt" >"$work/$engine-sim-$c.log" 2>&1 &
    sims+=($!)
  done
  for p in 18401 18402 18403 18404 18405; do
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$p/stats" >/dev/null && break; sleep 0.1; done
  done
  kills=0; round=0; deadline=$(( $(date +%s) + 1200 )); ids=()
  while [ "$kills" -lt "$KILLS" ] && [ "$(date +%s)" -lt "$deadline" ]; do
    round=$((round + 1)); id="chaos-$engine-$round"; file="$work/$id.yaml"; ids+=("$id")
    campaign "$file" "$id"
    "$LOA" campaign submit "$file" --as lan >/dev/null 2>&1
    "$LOA" campaign approve "$file" --as minh >/dev/null 2>&1
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
  # What the carriers recorded, against what the store says was sent.
  cat "$work/$engine"-record-*.txt | sort >"$work/$engine-recorded.txt"
  recorded=$(wc -l <"$work/$engine-recorded.txt")
  unique=$(uniq "$work/$engine-recorded.txt" | wc -l)
  offered_again=0
  for p in 18401 18402 18403 18404 18405; do
    n=$(curl -s "http://127.0.0.1:$p/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["duplicateMessages"])')
    offered_again=$((offered_again + n))
  done
  store=$(sql "SELECT id FROM store_identity")
  list=$(printf "'%s'," "${ids[@]}"); list=${list%,}
  sql "SELECT 'm' || id || '-$store' FROM messages WHERE campaign IN ($list) AND state NOT IN ('planned', 'submitted', 'rejected', 'expired')" | sort >"$work/$engine-sent.txt"
  open=$(sql "SELECT count(*) FROM messages WHERE campaign IN ($list) AND state IN ('planned', 'submitted')")
  planned=$(sql "SELECT count(*) FROM messages WHERE campaign IN ($list)")
  lost=$(comm -23 "$work/$engine-sent.txt" <(uniq "$work/$engine-recorded.txt") | wc -l)
  phantom=$(comm -13 "$work/$engine-sent.txt" <(uniq "$work/$engine-recorded.txt") | wc -l)
  duplicates=$((recorded - unique + offered_again))
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
  for p in "${sims[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
done
exit $failed
