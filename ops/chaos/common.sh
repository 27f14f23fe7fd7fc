# Shared by ops/chaos/*.sh: a province in a store, carrier simulators that record what they
# accept, campaigns approved by two people, and the check of what reached the carriers.
# Sourced after ops/lib.sh, in the repository's root.
ensure_packages libcurl4-openssl-dev libsqlite3-dev libssl-dev libpq-dev pkg-config curl sqlite3 postgresql postgresql-client python3
ensure_swift
# CHAOS_BUILD=release where loa's speed is part of what is measured (receipt storms).
CHAOS_BUILD=${CHAOS_BUILD:-debug}
log "building loa ($CHAOS_BUILD)"
swift build -c "$CHAOS_BUILD" --product loa >/dev/null
LOA="$(swift build -c "$CHAOS_BUILD" --show-bin-path)/loa"
work=$(mktemp -d "${TMPDIR:-/tmp}/loa-chaos.XXXXXX")
sims=()
pg_started=""
stop_sims() { for p in "${sims[@]}"; do kill "$p" 2>/dev/null || true; done; sims=(); sleep 0.3; }
cleanup() {
  stop_sims
  [ -z "$pg_started" ] || stop_postgres
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
export LOA_CONTACT_KEY=$(printf 'chaos-contact-key' | sha256sum | cut -c1-64)
for c in VIETTEL VINAPHONE MOBIFONE VIETNAMOBILE GMOBILE; do
  export "LOA_KEY_$c=$(printf 'chaos-%s' "$c" | sha256sum | cut -c1-64)" "LOA_SIGNING_$c=chaos-signing-$c" "LOA_RECEIPT_$c=chaos-receipt-$c"
done
# The bundled carriers at 60 messages per second each: a campaign takes long enough to be hit often.
CHAOS_TPS=60
mkdir -p "$work/carriers"
for f in carriers/*.yaml; do sed "s/^tps: .*/tps: $CHAOS_TPS/" "$f" >"$work/carriers/$(basename "$f")"; done
export LOA_CARRIERS="$work/carriers"
NOW=$(date -u +%Y-%m-%dT%H:%M:%S+00:00); END=$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%S+00:00)
"$LOA" demo-data --subscribers 40000 --out "$work/data" --now "$NOW" >/dev/null
CARRIERS=(viettel vinaphone mobifone vietnamobile gmobile)
PORTS=(18401 18402 18403 18404 18405)

# new_store ENGINE: a fresh store with the province's cells and presence (LOA_DATABASE set).
new_store() {
  engine=$1
  if [ "$engine" = postgres ]; then
    if [ -z "$pg_started" ]; then start_postgres; pg_started=1; fi
    export LOA_DATABASE="postgres://$PGUSER:$PGPASSWORD@$PGHOST:$PGPORT/loa_chaos_$(date +%s%N)"
  else
    export LOA_DATABASE="$work/$engine-$(date +%s%N).sqlite"
  fi
  "$LOA" import cells "$work/data/cells.csv" >/dev/null
  for c in "${CARRIERS[@]}"; do "$LOA" import presence "$work/data/presence-$c.csv" --carrier "$c" --retention 3650d >/dev/null 2>&1; done
}

# start_sims TAG FAULT_RATE: the five carriers' simulators, each recording what it accepts.
start_sims() {
  stop_sims
  for c in "${CARRIERS[@]}"; do
    "$LOA" carrier-sim --carrier "$LOA_CARRIERS/$c.yaml" --fault-rate "$2" --seed "$RANDOM" --record "$work/$1-record-$c.txt" >"$work/$1-sim-$c.log" 2>&1 &
    sims+=($!)
  done
  for p in "${PORTS[@]}"; do for _ in $(seq 100); do curl -sf "http://127.0.0.1:$p/stats" >/dev/null && break; sleep 0.1; done; done
}

# new_campaign ID [COMMUNES]: an approved emergency campaign file for the border communes (or the
# communes given, as a YAML list); prints its path.
new_campaign() {
  local file="$work/$1.yaml" communes=${2:-"[23377, 23392, 23383, 23344, 23365, 23530, 23535, 23536]"}
  cat >"$file" <<YAML
serialization_version: 1
id: $1
title: Chaos
office: Sở thử nghiệm
legal_basis: "chaos test"
channel: sms
sender: LOACHAOS
priority: emergency
audience:
  communes: $communes
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
  "$LOA" campaign submit "$file" --as lan >/dev/null 2>&1
  "$LOA" campaign approve "$file" --as minh >/dev/null 2>&1
  echo "$file"
}

sql() { if [ "$engine" = sqlite ]; then sqlite3 "$LOA_DATABASE" "$1"; else psql "$LOA_DATABASE" -Atc "$1"; fi; }
sim_stat() { local n=0 v; for p in "${PORTS[@]}"; do v=$(curl -s "http://127.0.0.1:$p/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"); n=$((n + v)); done; echo "$n"; }
sim_max() { local n=0 v; for p in "${PORTS[@]}"; do v=$(curl -s "http://127.0.0.1:$p/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"); [ "$v" -gt "$n" ] && n=$v; done; echo "$n"; }

# verify TAG CAMPAIGN…: what the carriers recorded against what the store says was sent. Sets
# planned, unique, open, duplicates, lost, phantom, unexplained (rejected without a reason).
verify() {
  local tag=$1; shift
  cat "$work/$tag"-record-*.txt | sort >"$work/$tag-recorded.txt"
  local recorded; recorded=$(wc -l <"$work/$tag-recorded.txt")
  unique=$(uniq "$work/$tag-recorded.txt" | wc -l)
  local store list; store=$(sql "SELECT id FROM store_identity")
  list=$(printf "'%s'," "$@"); list=${list%,}
  sql "SELECT 'm' || id || '-$store' FROM messages WHERE campaign IN ($list) AND state NOT IN ('planned', 'submitted', 'rejected', 'expired')" | sort >"$work/$tag-sent.txt"
  open=$(sql "SELECT count(*) FROM messages WHERE campaign IN ($list) AND state IN ('planned', 'submitted')")
  planned=$(sql "SELECT count(*) FROM messages WHERE campaign IN ($list)")
  unexplained=$(sql "SELECT count(*) FROM messages WHERE campaign IN ($list) AND state = 'rejected' AND coalesce(reason, '') = ''")
  lost=$(comm -23 "$work/$tag-sent.txt" <(uniq "$work/$tag-recorded.txt") | wc -l)
  phantom=$(comm -13 "$work/$tag-sent.txt" <(uniq "$work/$tag-recorded.txt") | wc -l)
  duplicates=$((recorded - unique + $(sim_stat duplicateMessages)))
}
