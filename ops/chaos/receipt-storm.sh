#!/usr/bin/env bash
# Chaos: a receipt storm against `loa serve`, on SQLite and PostgreSQL. A campaign for a whole
# province (about 36,000 messages) is sent through the carrier simulators, whose own record says
# which messages they accepted; then ops/chaos/receipt_storm.py posts every message's receipt with
# duplicates, intermediate and `unknown` receipts, earlier conflicting finals, lines for messages
# that do not exist, all shuffled over 8 connections as fast as loa takes them (the carriers'
# combined TPS is the normal rate of receipts; the storm is meant to pass 10× it), between forged,
# replayed, stale, tampered and misaddressed requests carrying receipts that contradict the truth.
# Then, read from the store: every message in the state the storm decided (and a failed one with
# its reason), every line for an unknown message quarantined, every hostile request refused (401)
# and nothing of it applied. Usage: ops/chaos/receipt-storm.sh. Loopback only, a few minutes.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$LOA_ROOT"
CHAOS_BUILD=release
source "$LOA_ROOT/ops/chaos/common.sh"
# Fast carriers: the storm is about receipts, not about waiting for the send.
for f in "$work"/carriers/*.yaml; do sed -i "s/^tps: .*/tps: 2000/" "$f"; done
normal=$(grep -h '^tps:' carriers/*.yaml | awk '{ s += $2 } END { print s }')
communes="[$(tail -n +2 "$work/data/cells.csv" | cut -d, -f4 | sort -u | paste -sd, -)]"
SERVE_PORT=18410
failed=0

for engine in sqlite postgres; do
  log "$engine: a province's campaign sent, then its receipts in a storm"
  new_store "$engine"
  start_sims "storm-$engine" 0
  file=$(new_campaign "storm-$engine" "$communes")
  "$LOA" dispatch "$file" >"$work/storm-$engine-dispatch.log" 2>&1 || { tail -5 "$work/storm-$engine-dispatch.log" >&2; exit 1; }
  stop_sims
  "$LOA" serve --listen "127.0.0.1:$SERVE_PORT" >"$work/storm-$engine-serve.log" 2>&1 &
  serve=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$SERVE_PORT/" && break; sleep 0.1; done
  python3 ops/chaos/receipt_storm.py "http://127.0.0.1:$SERVE_PORT" "$work/storm-$engine-record-*.txt" "$work/storm-$engine-truth.csv" \
    --seed "$RANDOM" >"$work/storm-$engine.json"
  kill "$serve"; wait "$serve" 2>/dev/null || true
  store=$(sql "SELECT id FROM store_identity")
  sql "SELECT 'm' || id || '-$store', state, coalesce(reason, '') FROM messages WHERE campaign = 'storm-$engine'" | tr '|' ',' >"$work/storm-$engine-store.csv"
  quarantined=$(sql "SELECT count(*) FROM receipt_quarantine")
  forged_in_store=$(sql "SELECT count(*) FROM receipts WHERE reason LIKE '%FORGED%'")
  read -r messages wrong missing < <(python3 - "$work/storm-$engine.json" "$work/storm-$engine-truth.csv" "$work/storm-$engine-store.csv" "$work/storm-$engine-summary.txt" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
truth = {m: (st, r) for m, st, r in (l.rstrip("\n").split(",", 2) for l in open(sys.argv[2]))}
store = {m: (st, r) for m, st, r in (l.rstrip("\n").split(",", 2) for l in open(sys.argv[3]))}
wrong = [m for m, (st, r) in truth.items() if m in store and (store[m][0] != st or r not in store[m][1])]
missing = [m for m in truth if m not in store]
for m in wrong[:5]:
    print(f"  {m}: the storm said {truth[m]}, the store has {store[m]}", file=sys.stderr)
text = (f"{s['messages']} messages, {s['lines sent']} lines in {s['legitimate requests']} requests ({s['duplicates']} duplicates, "
        f"{s['intermediate']} intermediate, {s['unknown first']} unknown first, {s['earlier conflicting finals']} earlier conflicting finals, "
        f"{s['lines for messages that do not exist']} for messages that do not exist), {s['receipts per second']} receipts/s, "
        f"{s['retries']} retries; hostile {s['hostile refused (401)']} of {s['hostile requests']} refused")
open(sys.argv[4], "w").write(text)
print(s["messages"], len(wrong), len(missing))
EOF
)
  summary=$(cat "$work/storm-$engine-summary.txt")
  sent=$(python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print(s['lines sent'], s['received by loa'], s['lines for messages that do not exist'], s['hostile accepted'], len(s['errors']), s['receipts per second'], json.dumps(s['hostile other']), ' | '.join(s['errors'][:3]))" "$work/storm-$engine.json")
  read -r lines received unknown hostile_accepted errors rate rest <<<"$sent"
  lost=$((lines - received))
  wrongly=$((wrong + hostile_accepted + forged_in_store))
  echo "chaos-receipt-storm-$engine: $summary; lost $lost, quarantined $quarantined of $unknown unknown, wrong state $wrong, missing $missing, hostile accepted $hostile_accepted, forged receipts in the store $forged_in_store, errors $errors $rest"
  record_figure chaos-receipts "receipt storm, $engine: lost / wrongly accepted" "$lost / $wrongly" "" "" \
    "$summary (normal rate: $normal/s, the carriers' combined TPS); $quarantined of $unknown lines for unknown messages quarantined" "ops/chaos/receipt-storm.sh"
  if [ "$lost" -ne 0 ] || [ "$wrongly" -ne 0 ] || [ "$missing" -ne 0 ] || [ "$errors" -ne 0 ] || [ "$quarantined" -ne "$unknown" ]; then failed=1; fi
done
exit $failed
