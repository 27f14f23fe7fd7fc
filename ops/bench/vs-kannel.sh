#!/usr/bin/env bash
# Side by side with Debian's Kannel (bearerbox + smsbox bound over SMPP to ops/bench/smpp_smsc.py on
# loopback, which records every part's arrival time and content). The same MESSAGES messages
# (half Vietnamese in UCS-2, 40% English in GSM-7, 10% Lao in three UCS-2 parts) go three ways:
#   loa → its batch-http carrier simulator       (loa dispatch, a contact list of MESSAGES numbers)
#   loa → Kannel → SMPP SMSC                      (the same campaign through loa's Kannel path)
#   a sendsms client → Kannel → SMPP SMSC         (ops/bench/kannel_sendsms.py, 16 connections:
#                                                  what a province scripting Kannel would run)
# (a) messages per second at the receiving side (first to last arrival) and the whole command's time;
# (b) rate accuracy at 200/s for 30 s (6,000 one-part messages), measured where they arrive: the
#     busiest 1-s window, the busiest 100 ms, the mean rate's error (Kannel: `throughput = 200`);
# (c) delivery receipts per second with 1,000, 50,000 and 1,000,000 pending: Kannel's dlr-url
#     callbacks (the SMSC sends every receipt at once; measured over at most RECEIPT_WINDOW seconds,
#     default 120, since Kannel's own store slows with many pending) against loa-bench receipts at
#     the same pending count (loading 1,000,000 pending into Kannel alone takes about 8 minutes);
# (d) bearerbox and smsbox killed (kill -9) mid-run and started again: messages lost and
#     duplicated at the SMSC, loa's Kannel path against a client that retries what failed;
# (e) peak memory: loa dispatch against bearerbox + smsbox.
# The two Kannel paths must deliver the same parts (to, coding, text) to the SMPP SMSC, and the
# simulator must accept every message once (the script exits 1 otherwise). Medians of ROUNDS
# alternating rounds. Usage: ops/bench/vs-kannel.sh [MESSAGES, default 100000] [ROUNDS, default 3]
#   [PENDING LEVELS for (c), default "1000 50000 1000000"]
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$LOA_ROOT"
N=${1:-100000}; ROUNDS=${2:-3}; LEVELS=${3:-1000 50000 1000000}; RECEIPT_WINDOW=${RECEIPT_WINDOW:-120}
ensure_packages libcurl4-openssl-dev libsqlite3-dev libssl-dev libpq-dev pkg-config python3 time curl kannel
ensure_swift
build_loa_release
work=$(mktemp -d "${TMPDIR:-/tmp}/loa-vs-kannel.XXXXXX")
pids=()
stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; pids=(); }
trap 'stop_all; rm -rf "$work"' EXIT
KBASE=18700; SIM_PORT=18711
export LOA_CONTACT_KEY=$(printf 'vs-kannel' | sha256sum | cut -c1-64)
export LOA_KEY_VIETTEL=$(printf 'vs-kannel-viettel' | sha256sum | cut -c1-64) LOA_SIGNING_VIETTEL=vs-kannel-signing LOA_RECEIPT_VIETTEL=vs-kannel-receipts
export LOA_KANNEL_USER=loa LOA_KANNEL_PASSWORD=loa-test

# The messages: N Viettel numbers on a contact list; the texts by language.
python3 - "$work" "$N" <<'EOF'
import random, sys
work, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(16)
texts = {
    "vi": "UBND xã: cảnh báo mưa lũ, sạt lở đất. Không qua suối khi nước lên.",
    "en": "Flood and landslide warning: do not cross streams or flooded fords while the water is high.",
    "lo": ("ແຈ້ງເຕືອນໄພນໍ້າຖ້ວມ ແລະ ດິນເຈື່ອນ: ຢ່າຂ້າມຫ້ວຍ ຫຼື ທາງນໍ້າລົ້ນ ໃນເວລານໍ້າຂຶ້ນ. "
           "ຕິດຕາມຂ່າວຈາກອົງການປົກຄອງບ້ານ ແລະ ປ້ອມປ້ອງກັນຊາຍແດນ. ກຽມພ້ອມອົບພະຍົບເມື່ອມີຄໍາສັ່ງ."),
}
numbers = set()
while len(numbers) < n:
    numbers.add(rng.choice(["96", "97", "98", "86", "32", "33", "34", "35", "36", "37", "38", "39"]) + f"{rng.randrange(10**7):07d}")
numbers = sorted(numbers)
rng.shuffle(numbers)
restart_contacts = []
with open(f"{work}/contacts.csv", "w") as c, open(f"{work}/messages.tsv", "w") as m, open(f"{work}/rate-contacts.csv", "w") as rc, open(f"{work}/rate-messages.tsv", "w") as rm:
    c.write("msisdn,name,language,commune_code\n"); rc.write("msisdn,name,language,commune_code\n")
    for i, nsn in enumerate(numbers):
        lang = "vi" if i % 10 < 5 else ("en" if i % 10 < 9 else "lo")
        c.write(f"0{nsn},Người nhận {i},{lang},23377\n"); m.write(f"+84{nsn}\t{texts[lang]}\n")
        if i < 6000:
            lang = "vi" if i % 2 else "en"
            rc.write(f"0{nsn},Người nhận {i},{lang},23377\n"); rm.write(f"+84{nsn}\t{texts[lang]}\n")
        if i < 20000:
            restart_contacts.append(f"0{nsn},Người nhận {i},{'vi' if i % 10 < 5 else ('en' if i % 10 < 9 else 'lo')},23377\n")
campaign = """serialization_version: 1
id: {id}
title: So sánh với Kannel
office: Sở Văn hóa, Thể thao và Du lịch
legal_basis: "ops/bench/vs-kannel.sh"
channel: sms
sender: LOA
priority: emergency
audience:
  contact_lists: [{list}]
languages:
  default: vi
variants:
  vi: "{vi}"
  en: "{en}"
  lo:
    text: "{lo}"
    review: verified
    reviewed_by: Bench Reviewer
schedule:
  start: 2026-01-01T00:00:00+07:00
  end: 2030-01-01T00:00:00+07:00
  windows: ["00:00-24:00"]
"""
open(f"{work}/restart-contacts.csv", "w").write("msisdn,name,language,commune_code\n" + "".join(restart_contacts))
with open(f"{work}/restart-messages.tsv", "w") as rm:
    for line in open(f"{work}/messages.tsv", encoding="utf-8").readlines()[:20000]: rm.write(line)
for name, lst in [("campaign", "bench"), ("rate-campaign", "rate"), ("restart-campaign", "restart")]:
    open(f"{work}/{name}.yaml", "w", encoding="utf-8").write(campaign.format(id=f"vs-kannel-{lst}", list=lst, **texts))
EOF

# carrier_dir NAME PROTOCOL TPS: a directory with one Viettel carrier file.
carrier_dir() {
  mkdir -p "$work/$1"
  if [ "$2" = kannel ]; then
    sed -e "s#^protocol: .*#protocol: kannel#" -e "s#^endpoint: .*#endpoint: http://127.0.0.1:$((KBASE + 3))/cgi-bin/sendsms#" \
        -e "s#^tps: .*#tps: $3#" -e 's#^max_batch: .*#max_batch: 100#' -e 's#^window: .*#window: "00:00-24:00"#' \
        -e 's#^  token_env: .*#  username_env: LOA_KANNEL_USER\n  password_env: LOA_KANNEL_PASSWORD#' \
        -e '/^voice:/,$d' carriers/viettel.yaml >"$work/$1/viettel.yaml"
  else
    sed -e "s#^endpoint: .*#endpoint: http://127.0.0.1:$SIM_PORT#" -e "s#^tps: .*#tps: $3#" -e 's#^window: .*#window: "00:00-24:00"#' \
        carriers/viettel.yaml >"$work/$1/viettel.yaml"
  fi
  sed -i "s#^daily_quota: .*#daily_quota: 100000000#" "$work/$1/viettel.yaml"
}
carrier_dir http-fast batch-http 100000
carrier_dir kannel-fast kannel 100000
carrier_dir http-200 batch-http 200
carrier_dir kannel-200 kannel 200

# start_kannel_for THROUGHPUT OUT [SMSC OPTION…]: bearerbox and smsbox bound over SMPP to the
# recording SMSC (ops/bench/smpp_smsc.py); THROUGHPUT 0: Kannel's own limit off.
start_kannel_for() {
  local kdir="$work/kannel"; rm -rf "$kdir"; mkdir -p "$kdir"
  : >"$2"; python3 ops/bench/smpp_smsc.py $((KBASE + 2)) "$2" "${@:3}" & smsc=$!; pids+=($smsc)
  for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$((KBASE + 2))) 2>/dev/null && break; sleep 0.1; done
  cat >"$kdir/kannel.conf" <<CONF
group = core
admin-port = $KBASE
admin-password = loa-admin
admin-interface = 127.0.0.1
admin-allow-ip = 127.0.0.1
smsbox-port = $((KBASE + 1))
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = "$kdir/bearerbox.log"
log-level = 2
store-type = file
store-location = "$kdir/kannel.store"
dlr-storage = internal

group = smsc
smsc = smpp
smsc-id = bench
host = 127.0.0.1
port = $((KBASE + 2))
transceiver-mode = true
smsc-username = loa
smsc-password = bench
system-type = "VMA"
max-pending-submits = 100
$([ "$1" = 0 ] || echo "throughput = $1")

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = $((KBASE + 1))
sendsms-port = $((KBASE + 3))
sendsms-interface = 127.0.0.1
log-file = "$kdir/smsbox.log"
log-level = 2

group = sendsms-user
username = loa
password = loa-test
max-messages = 10
concatenation = true
user-allow-ip = 127.0.0.1
CONF
  /usr/sbin/bearerbox "$kdir/kannel.conf" >"$kdir/bearerbox.out" 2>&1 & bearer=$!; pids+=($bearer)
  for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$((KBASE + 1))) 2>/dev/null && break; sleep 0.2; done
  /usr/sbin/smsbox "$kdir/kannel.conf" >"$kdir/smsbox.out" 2>&1 & smsbox=$!; pids+=($smsbox)
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$((KBASE + 3))/" && break; sleep 0.2; done
  sleep 1   # the SMPP bind
  kill -0 "$bearer" 2>/dev/null && kill -0 "$smsbox" 2>/dev/null || {
    echo "Kannel did not start:" >&2; grep -h -m3 -E "ERROR|PANIC" "$kdir/bearerbox.out" "$kdir/smsbox.out" >&2; exit 1; }
}
# wait_parts FILE COUNT: until FILE holds COUNT parts (or 20 s without progress).
wait_parts() {
  local last=-1 same=0 now
  while :; do
    now=$(wc -l <"$1")
    [ "$now" -ge "$2" ] && return 0
    if [ "$now" -eq "$last" ]; then same=$((same + 1)); [ "$same" -ge 40 ] && return 1; else same=0; fi
    last=$now; sleep 0.5
  done
}
kannel_peak_mib() { awk '/VmHWM/ { s += $2 } END { printf "%d", s / 1024 }' /proc/"$bearer"/status /proc/"$smsbox"/status; }
# new_store NAME LIST CONTACTS CAMPAIGN: a fresh store with the contact list and the approved campaign.
new_store() {
  export LOA_DATABASE="$work/$1.sqlite"; rm -f "$LOA_DATABASE"*
  "$LOA" import contacts "$3" --list "$2" >/dev/null 2>&1
  "$LOA" campaign submit "$4" --as lan >/dev/null 2>&1
  "$LOA" campaign approve "$4" --as minh >/dev/null 2>&1
}
# arrivals FILE [EXPECTED_RATE]: "first last parts busiest_1s busiest_100ms" of a SMPP SMSC record.
arrivals() {
  python3 - "$1" <<'EOF'
import sys
t = sorted(float(l.split("\t", 1)[0]) for l in open(sys.argv[1]))
def busiest(span):
    best, j = 0, 0
    for i in range(len(t)):
        while t[i] - t[j] >= span: j += 1
        best = max(best, i - j + 1)
    return best
print(f"{t[0]:.6f} {t[-1]:.6f} {len(t)} {busiest(1.0)} {busiest(0.1)}")
EOF
}
sim_stats() { curl -s "http://127.0.0.1:$SIM_PORT/stats" | python3 -c "import json,sys; s=json.load(sys.stdin); print(s['firstArrivalMicroseconds'] / 1e6, s['lastArrivalMicroseconds'] / 1e6, s['accepted'], s['maxInAnySecond'], s['maxIn100ms'], s['duplicateMessages'])"; }
start_sim() {
  : >"$work/sim-record.txt"
  "$LOA" carrier-sim --carrier "$work/$1/viettel.yaml" --port "$SIM_PORT" --record "$work/sim-record.txt" >"$work/sim.log" 2>&1 & sim=$!; pids+=($sim)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$SIM_PORT/stats" >/dev/null && break; sleep 0.1; done
}
stop_one() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

parts_expected=$(python3 -c "
import sys
n = int(sys.argv[1]); print(sum(3 if i % 10 == 9 else 1 for i in range(n)))" "$N")
http_rate=(); http_wall=(); kl_rate=(); kl_wall=(); kd_rate=(); kd_wall=(); loa_kb=0; loa_k_kb=0; kannel_mib=0; same=1
for r in $(seq "$ROUNDS"); do
  # loa → simulator
  new_store "http-$r" bench "$work/contacts.csv" "$work/campaign.yaml"
  start_sim http-fast
  /usr/bin/time -f "%e %M" -o "$work/t" env LOA_CARRIERS="$work/http-fast" "$LOA" dispatch "$work/campaign.yaml" >"$work/http-dispatch.log" 2>&1 || { tail -5 "$work/http-dispatch.log" >&2; exit 1; }
  read -r wall kb <"$work/t"; [ "$kb" -gt "$loa_kb" ] && loa_kb=$kb
  read -r first last accepted _ _ dups < <(sim_stats)
  stop_one "$sim"
  uniq_recorded=$(sort -u "$work/sim-record.txt" | wc -l)
  [ "$accepted" -eq "$N" ] && [ "$uniq_recorded" -eq "$N" ] && [ "$dups" -eq 0 ] || { echo "the simulator accepted $accepted ($uniq_recorded distinct, $dups duplicates) of $N" >&2; same=0; }
  http_rate+=("$(awk -v n="$N" -v a="$first" -v b="$last" 'BEGIN { printf "%.0f", n / (b - a) }')"); http_wall+=("$wall")

  # loa → Kannel → SMPP SMSC
  start_kannel_for 0 "$work/loa-kannel.parts"
  new_store "kl-$r" bench "$work/contacts.csv" "$work/campaign.yaml"
  /usr/bin/time -f "%e %M" -o "$work/t" env LOA_CARRIERS="$work/kannel-fast" "$LOA" dispatch "$work/campaign.yaml" >"$work/kl-dispatch.log" 2>&1 || { tail -5 "$work/kl-dispatch.log" >&2; exit 1; }
  wait_parts "$work/loa-kannel.parts" "$parts_expected" || echo "  loa via Kannel: $(wc -l <"$work/loa-kannel.parts") of $parts_expected parts arrived" >&2
  read -r wall kb <"$work/t"; [ "$kb" -gt "$loa_k_kb" ] && loa_k_kb=$kb
  read -r first last parts _ _ < <(arrivals "$work/loa-kannel.parts")
  kl_rate+=("$(awk -v n="$N" -v a="$first" -v b="$last" 'BEGIN { printf "%.0f", n / (b - a) }')"); kl_wall+=("$wall")
  stop_all

  # sendsms client → Kannel → SMPP SMSC
  start_kannel_for 0 "$work/kannel.parts"
  start=$(date +%s.%N)
  python3 ops/bench/kannel_sendsms.py "http://127.0.0.1:$((KBASE + 3))/cgi-bin/sendsms" "$work/messages.tsv" 16 >"$work/client.json"
  wait_parts "$work/kannel.parts" "$parts_expected" || echo "  Kannel: $(wc -l <"$work/kannel.parts") of $parts_expected parts arrived" >&2
  wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  m=$(kannel_peak_mib); [ "$m" -gt "$kannel_mib" ] && kannel_mib=$m
  read -r first last parts _ _ < <(arrivals "$work/kannel.parts")
  kd_rate+=("$(awk -v n="$N" -v a="$first" -v b="$last" 'BEGIN { printf "%.0f", n / (b - a) }')"); kd_wall+=("$wall")
  stop_all
  # The same parts both ways (ops/bench/same_parts.py: to, coding, text, in any order).
  python3 ops/bench/same_parts.py "$work/loa-kannel.parts" "$work/kannel.parts" || { echo "loa via Kannel and the sendsms client delivered different parts" >&2; same=0; }
  echo "  round $r: loa → simulator ${http_rate[-1]}/s (dispatch ${http_wall[-1]} s), loa → Kannel ${kl_rate[-1]}/s (dispatch ${kl_wall[-1]} s), sendsms → Kannel ${kd_rate[-1]}/s (${kd_wall[-1]} s)" >&2
done

log "rate accuracy at 200/s for 30 s, at the receiving side"
new_store rate-http rate "$work/rate-contacts.csv" "$work/rate-campaign.yaml"
start_sim http-200
env LOA_CARRIERS="$work/http-200" "$LOA" dispatch "$work/rate-campaign.yaml" >"$work/rate-http.log" 2>&1
read -r first last accepted h1 h100 _ < <(sim_stats); stop_one "$sim"
h_mean=$(awk -v n="$accepted" -v a="$first" -v b="$last" 'BEGIN { printf "%.1f", (n - 20) / (b - a) }')
start_kannel_for 0 "$work/rate-loa-kannel.parts"
new_store rate-kl rate "$work/rate-contacts.csv" "$work/rate-campaign.yaml"
env LOA_CARRIERS="$work/kannel-200" "$LOA" dispatch "$work/rate-campaign.yaml" >"$work/rate-kl.log" 2>&1
wait_parts "$work/rate-loa-kannel.parts" 6000 || true
read -r first last parts k1 k100 < <(arrivals "$work/rate-loa-kannel.parts"); stop_all
k_mean=$(awk -v n="$parts" -v a="$first" -v b="$last" 'BEGIN { printf "%.1f", (n - 1) / (b - a) }')
start_kannel_for 200 "$work/rate-kannel.parts"
python3 ops/bench/kannel_sendsms.py "http://127.0.0.1:$((KBASE + 3))/cgi-bin/sendsms" "$work/rate-messages.tsv" 16 >/dev/null
wait_parts "$work/rate-kannel.parts" 6000 || true
read -r first last parts d1 d100 < <(arrivals "$work/rate-kannel.parts"); stop_all
d_mean=$(awk -v n="$parts" -v a="$first" -v b="$last" 'BEGIN { printf "%.1f", (n - 1) / (b - a) }')

log "the gateway killed (kill -9) and started again mid-run"
carrier_dir kannel-1000 kannel 1000
# restart_kannel: bearerbox and smsbox killed, and started again on the same store 5 s later.
restart_kannel() {
  kill -9 "$bearer" "$smsbox" 2>/dev/null || true; wait "$bearer" "$smsbox" 2>/dev/null || true
  sleep 5
  local kdir="$work/kannel"
  /usr/sbin/bearerbox "$kdir/kannel.conf" >>"$kdir/bearerbox.out" 2>&1 & bearer=$!; pids+=($bearer)
  for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$((KBASE + 1))) 2>/dev/null && break; sleep 0.2; done
  /usr/sbin/smsbox "$kdir/kannel.conf" >>"$kdir/smsbox.out" 2>&1 & smsbox=$!; pids+=($smsbox)
}
# outcome RECORD: "lost duplicated" messages of restart-messages.tsv at the SMSC (a part short: lost).
outcome() {
  python3 - "$1" "$work/restart-messages.tsv" <<'EOF'
import collections, sys
got = collections.Counter(l.split("\t", 1)[1].split(" ", 1)[0].lstrip("+") for l in open(sys.argv[1], encoding="utf-8"))
lost = dup = 0
for line in open(sys.argv[2], encoding="utf-8"):
    to, text = line.rstrip("\n").split("\t", 1)
    parts = 3 if len(text.encode("utf-16-le")) // 2 > 70 and not text.isascii() else 1
    n = got[to.lstrip("+")]
    lost += n < parts; dup += n > parts
print(lost, dup)
EOF
}
start_kannel_for 0 "$work/restart-loa.parts"
new_store restart-kl restart "$work/restart-contacts.csv" "$work/restart-campaign.yaml"
env LOA_CARRIERS="$work/kannel-1000" "$LOA" dispatch "$work/restart-campaign.yaml" >"$work/restart-kl.log" 2>&1 & loa_pid=$!
sleep 6; restart_kannel
wait "$loa_pid" || true
sleep 10   # what Kannel still holds reaches the SMSC
read -r l_lost l_dup < <(outcome "$work/restart-loa.parts")
l_unknown=$(sqlite3 "$LOA_DATABASE" "SELECT count(*) FROM messages WHERE state = 'unknown'" 2>/dev/null || echo "?")
stop_all
start_kannel_for 0 "$work/restart-kannel.parts"
python3 ops/bench/kannel_sendsms.py "http://127.0.0.1:$((KBASE + 3))/cgi-bin/sendsms" "$work/restart-messages.tsv" 16 >"$work/restart-client.json" & client=$!
sleep 6; restart_kannel
wait "$client" || true
sleep 10
read -r d_lost d_dup < <(outcome "$work/restart-kannel.parts")
stop_all
echo "  loa via Kannel: $l_lost lost, $l_dup duplicated ($l_unknown recorded unknown by loa); sendsms client: $d_lost lost, $d_dup duplicated" >&2

log "delivery receipts per second with $LEVELS pending: Kannel's dlr-url callbacks, loa's signed /receipts batches"
swift build -c release --product loa-bench >/dev/null
BENCH="$(swift build -c release --show-bin-path)/loa-bench"
grep -v 'ແ' "$work/messages.tsv" >"$work/one-part.tsv"
dlr_levels=(); dlr_kannel=(); dlr_loa=(); dlr_notes=(); dlr_problems=0
# wait_calls FILE COUNT SECONDS: until FILE has COUNT lines, or SECONDS have passed.
wait_calls() { local end=$((SECONDS + $3)); while [ "$(wc -l <"$1")" -lt "$2" ] && [ "$SECONDS" -lt "$end" ]; do sleep 0.5; done; }
for P in $LEVELS; do
  if [ "$P" -le "$(wc -l <"$work/one-part.tsv")" ]; then
    head -n "$P" "$work/one-part.tsv" >"$work/dlr.tsv"
  else
    # More numbers than the run's messages: P distinct Viettel numbers with the one-part English text.
    python3 - "$P" >"$work/dlr.tsv" <<'EOF'
import random, sys
n, rng, seen = int(sys.argv[1]), random.Random(1000), set()
text = "Flood and landslide warning: do not cross streams or flooded fords while the water is high."
while len(seen) < n:
    nsn = rng.choice(["96", "97", "98", "86", "32", "33", "34", "35", "36", "37", "38", "39"]) + f"{rng.randrange(10**7):07d}"
    if nsn not in seen:
        seen.add(nsn)
        print(f"+84{nsn}\t{text}")
EOF
  fi
  start_kannel_for 0 "$work/dlr.parts" --hold-receipts
  : >"$work/dlr.calls"; python3 ops/bench/dlr_receiver.py $((KBASE + 4)) "$work/dlr.calls" & receiver=$!; pids+=($receiver)
  log "  $P messages into Kannel with a dlr-url (awaiting receipts)"
  python3 ops/bench/kannel_sendsms.py "http://127.0.0.1:$((KBASE + 3))/cgi-bin/sendsms" "$work/dlr.tsv" 16 "http://127.0.0.1:$((KBASE + 4))/dlr" >/dev/null
  wait_parts "$work/dlr.parts" "$P" || echo "  Kannel: $(wc -l <"$work/dlr.parts") of $P messages reached the SMSC" >&2
  kill -USR1 "$smsc"
  wait_calls "$work/dlr.calls" "$P" "$RECEIPT_WINDOW"
  sleep 1
  read -r rate called dup < <(python3 - "$work/dlr.calls" <<'EOF'
import collections, sys
rows = [l.rstrip("\n").split("\t", 1) for l in open(sys.argv[1])]
t = sorted(float(r[0]) for r in rows)
to = collections.Counter(r[1].split("to=", 1)[1].split("&", 1)[0] for r in rows if "to=" in r[1])
print(f"{(len(t) - 1) / (t[-1] - t[0]) if len(t) > 1 else 0:.0f}", len(to), sum(c - 1 for c in to.values()))
EOF
)
  stop_all
  loa_rate=$("$BENCH" receipts --pending "$P" 2>/dev/null | sed -n 's/.* = \([0-9,]*\) receipts\/s.*/\1/p' | tr -d ,)
  if [ "$called" -lt "$P" ]; then note="Kannel: $called of $P called back within ${RECEIPT_WINDOW} s, the rate over those"; else note="Kannel: all $P called back"; fi
  echo "  $P pending: Kannel $rate callbacks/s ($note, $dup duplicated), loa $loa_rate receipts/s" >&2
  dlr_levels+=("$P"); dlr_kannel+=("$rate"); dlr_loa+=("${loa_rate:-0}"); dlr_notes+=("$note, $dup duplicated")
  [ "$dup" -eq 0 ] || dlr_problems=$((dlr_problems + 1))
done

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
cmd="ops/bench/vs-kannel.sh $N $ROUNDS"; [ "$LEVELS" = "1000 50000 1000000" ] || cmd="$cmd \"$LEVELS\""
hr=$(median "${http_rate[@]}"); klr=$(median "${kl_rate[@]}"); kdr=$(median "${kd_rate[@]}")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f×", a / b }'; }
err() { awk -v m="$1" 'BEGIN { e = (m - 200) / 200 * 100; printf "%+.1f%%", e }'; }
record_figure vs-kannel "messages/s into a gateway: loa batch-http → simulator vs sendsms → Kannel" "$hr" "$kdr" "$(ratio "$hr" "$kdr")" \
  "messages/s at the receiving side, $N messages (50% UCS-2, 10% 3 parts), median of $ROUNDS; loa dispatch took $(median "${http_wall[@]}") s, the client + Kannel $(median "${kd_wall[@]}") s" "$cmd"
record_figure vs-kannel "messages/s into Kannel: loa's Kannel path vs a sendsms client (16 connections)" "$klr" "$kdr" "$(ratio "$klr" "$kdr")" \
  "messages/s at the SMPP SMSC, median of $ROUNDS; loa dispatch took $(median "${kl_wall[@]}") s" "$cmd"
record_figure vs-kannel "rate at 200/s for 30 s: busiest 1 s / busiest 100 ms / mean error (loa → simulator)" "$h1 / $h100 / $(err "$h_mean")" "$d1 / $d100 / $(err "$d_mean")" "" \
  "at the receiving side; peer: Kannel throughput = 200 → SMPP SMSC" "$cmd"
record_figure vs-kannel "rate at 200/s for 30 s: busiest 1 s / busiest 100 ms / mean error (loa → Kannel)" "$k1 / $k100 / $(err "$k_mean")" "$d1 / $d100 / $(err "$d_mean")" "" \
  "loa's TPS 200 through an unthrottled Kannel, at the SMPP SMSC; peer: Kannel throughput = 200" "$cmd"
record_figure vs-kannel "Kannel killed and restarted mid-run: messages lost / duplicated (loa's Kannel path vs a retrying sendsms client)" "$l_lost / $l_dup" "$d_lost / $d_dup" "" \
  "of $(wc -l <"$work/restart-messages.tsv") at the SMSC; loa recorded $l_unknown as unknown (may not have arrived, never sent twice)" "$cmd"
for i in "${!dlr_levels[@]}"; do
  record_figure vs-kannel "delivery receipts/s with ${dlr_levels[$i]} pending: loa /receipts vs Kannel dlr-url" "${dlr_loa[$i]}" "${dlr_kannel[$i]}" \
    "$(ratio "${dlr_loa[$i]}" "${dlr_kannel[$i]}")" "loa: loa-bench receipts (signed batches of 1,000, 4 clients); Kannel: deliver_sm receipts from the SMSC all at once, callbacks counted at an HTTP server (${dlr_notes[$i]})" "$cmd"
done
record_figure vs-kannel "peak memory: loa dispatch (batch-http / Kannel path) vs bearerbox + smsbox" "$((loa_kb / 1024)) / $((loa_k_kb / 1024))" "$kannel_mib" "" "MiB, $N messages" "$cmd"
record_figure vs-kannel "parts delivered differently by the two Kannel paths, or not accepted once by the simulator" "$([ "$same" -eq 1 ] && echo 0 || echo 1)" "" "" "rounds with a difference (must be 0)" "$cmd"
[ "$same" -eq 1 ] || exit 1
