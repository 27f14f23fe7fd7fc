#!/usr/bin/env bash
# The main job on the embedded default (SQLite), from a fresh machine: installs what is missing,
# builds, generates a synthetic province, checks the example campaigns, imports carrier data,
# selects audiences, then turns an emergency alert into a campaign that two people approve and
# dispatches it through bundled carrier simulators, with receipts flowing back.
# Set DEMO_SUBSCRIBERS (default 50000) for a bigger province. DEMO_POSTGRES=postgres://user:pw@host:port/x
# runs the same job on PostgreSQL instead, in a fresh database (loa_demo_<time>) on that server.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$LOA_ROOT"

ensure_packages libcurl4-openssl-dev libsqlite3-dev libssl-dev libpq-dev pkg-config curl espeak-ng sox libsox-fmt-all
ensure_swift
CONFIG=${LOA_BUILD:-debug}
log "building loa ($CONFIG)"
swift build -c "$CONFIG" --product loa
LOA="$(swift build -c "$CONFIG" --show-bin-path)/loa"

work=${DEMO_DIR:-$LOA_ROOT/demo-out}
rm -rf "$work"; mkdir -p "$work"
if [ -n "${DEMO_POSTGRES:-}" ]; then
  export LOA_DATABASE="${DEMO_POSTGRES%/*}/loa_demo_$(date +%s)"
else
  export LOA_DATABASE="$work/loa.sqlite"
fi
# The bundled carrier files, with phones that ring 5 s instead of 30 s (voice calls hold a channel
# while they ring): the demo's calls then finish in seconds.
mkdir -p "$work/carriers"
for f in "$LOA_ROOT"/carriers/*.yaml; do sed 's/^  ring_seconds: .*/  ring_seconds: 5s/' "$f" >"$work/carriers/$(basename "$f")"; done
export LOA_CARRIERS="$work/carriers"
# Demo secrets. Real keys are agreed with each carrier and never committed.
# The contact key seals contact-list and do-not-call numbers in the store.
export LOA_CONTACT_KEY=$(printf 'demo-contact-key' | sha256sum | cut -c1-64)
for c in VIETTEL VINAPHONE MOBIFONE VIETNAMOBILE GMOBILE; do
  export "LOA_KEY_$c=$(printf 'demo-%s' "$c" | sha256sum | cut -c1-64)"
  export "LOA_SIGNING_$c=demo-signing-$c-secret" "LOA_RECEIPT_$c=demo-receipt-$c-secret"
done
sims=()
cleanup() { for p in "${sims[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

log "1. the message engine: a Vietnamese notice, with and without diacritics"
"$LOA" inspect text --price-per-segment 650 \
  "Thông báo của UBND tỉnh: từ 14 giờ ngày 12/9, bão số 3 đổ bộ vào các xã biên giới. Bà con không ra khơi, không đi rừng, gia cố nhà cửa và theo dõi loa xã."

log "2. phone numbers: common forms, the 2018 migration, rejections"
printf '%s\n' '"0912 345 678"' '"+84 (0) 96 123 4567"' '"0162 345 6789"' '"024 3825 1234"' '"+856 20 5555 1234"' \
  | "$LOA" inspect msisdn --json --batch

log "3. legacy text: a TCVN3 (ABC) line converted to Unicode"
printf 'Th\xabng b\xb8o: x\xb7 bi\xaan gi\xedi\n' >"$work/notice-tcvn3.txt"
"$LOA" text convert "$work/notice-tcvn3.txt"

log "4. the example campaigns, checked (warnings mark texts awaiting a native translator)"
"$LOA" campaign check campaigns/*.yaml

log "5. a synthetic province: ${DEMO_SUBSCRIBERS:-50000} subscribers in Quảng Ngãi (former Kon Tum), Thanh Hóa and Lạng Sơn"
"$LOA" demo-data --subscribers "${DEMO_SUBSCRIBERS:-50000}" --out "$work/data"

log "6. importing carrier data (numbers are pseudonymized on the way in; bad lines are reported and skipped)"
"$LOA" import cells "$work/data/cells.csv"
for c in viettel vinaphone mobifone vietnamobile gmobile; do
  "$LOA" import presence "$work/data/presence-$c.csv" --carrier "$c" 2>&1 | grep -v '^  .*presence-.*csv:[0-9]'
  "$LOA" import preferences "$work/data/preferences-$c.csv" --carrier "$c"
done
"$LOA" import do-not-call "$work/data/do-not-call.csv"
"$LOA" import contacts "$work/data/contacts-nguoi-co-uy-tin.csv" --list nguoi-co-uy-tin

log "7. who each campaign reaches now"
for f in campaigns/*.yaml; do
  "$LOA" audience "$f" --at now --out "$work/recipients-$(basename "$f" .yaml).csv"
  echo
done
log "8. an emergency: a CAP flash-flood alert becomes a campaign"
now=$(date -u +%Y-%m-%dT%H:%M:%SZ); expires=$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)
cat >"$work/flash-flood.cap.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>VN-DEMO-LU-QUET-$(date +%Y%m%d%H%M)</identifier><sender>canhbao@example.vn</sender><sent>$now</sent>
  <status>Actual</status><msgType>Alert</msgType><scope>Public</scope>
  <info>
    <language>vi-VN</language><event>Lũ quét</event><urgency>Immediate</urgency><severity>Severe</severity><certainty>Likely</certainty>
    <senderName>Ban Chỉ huy Phòng thủ dân sự tỉnh Quảng Ngãi</senderName>
    <headline>Cảnh báo lũ quét</headline>
    <instruction>{commune}: di chuyển ngay lên vùng cao, không qua suối, theo hướng dẫn của trưởng thôn.</instruction>
    <onset>$now</onset><expires>$expires</expires>
    <area><areaDesc>Các xã biên giới Kon Tum cũ</areaDesc>
      <geocode><valueName>commune</valueName><value>23377</value></geocode><geocode><valueName>commune</valueName><value>23392</value></geocode>
      <geocode><valueName>commune</valueName><value>23383</value></geocode><geocode><valueName>commune</valueName><value>23344</value></geocode>
      <geocode><valueName>commune</valueName><value>23530</value></geocode><geocode><valueName>commune</valueName><value>23536</value></geocode>
    </area>
  </info>
  <info><language>en-US</language><headline>Flash flood warning</headline><instruction>Move to higher ground now; do not cross streams.</instruction></info>
</alert>
XML
"$LOA" campaign from-cap "$work/flash-flood.cap.xml" -o "$work/flash-flood.yaml" --sender QUANGNGAI
"$LOA" campaign check "$work/flash-flood.yaml"

log "9. approval by a second person (the drafter cannot approve; unreviewed translations cannot be approved)"
"$LOA" campaign submit "$work/flash-flood.yaml" --as lan.nguyen
"$LOA" campaign approve "$work/flash-flood.yaml" --as lan.nguyen || true
"$LOA" campaign submit campaigns/kontum-chay-rung-2026.yaml --as lan.nguyen
"$LOA" campaign approve campaigns/kontum-chay-rung-2026.yaml --as minh.tran || true
"$LOA" campaign approve "$work/flash-flood.yaml" --as minh.tran

log "10. carrier simulators for five carriers (10% injected faults: 503, 500, lost answers, slow answers, connections cut)"
for c in viettel vinaphone mobifone vietnamobile gmobile; do
  "$LOA" carrier-sim --carrier "$LOA_CARRIERS/$c.yaml" --fault-rate 0.1 --voice-spacing-scale 0.005 --receipts-to "http://127.0.0.1:18480/receipts/$c" >"$work/sim-$c.log" 2>&1 &
  sims+=($!)
done
for p in 18401 18402 18403 18404 18405; do
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$p/stats" >/dev/null && break; sleep 0.2; done
done

log "11. dispatch: paced per carrier, receipts back on :18480"
"$LOA" dispatch "$work/flash-flood.yaml" --receipts-port 18480 --wait-receipts 20s

log "12. what the carriers saw (no duplicates, never over their TPS)"
for p in 18401 18402 18403 18404 18405; do curl -s "http://127.0.0.1:$p/stats"; echo; done
id=$(sed -n 's/^id: "\(.*\)"$/\1/p' "$work/flash-flood.yaml")
"$LOA" campaign status "$id"

log "13. the delivery report by commune (CSV for Excel and a printable page beside it) and the audit trail's check"
"$LOA" report "$id" --by commune
"$LOA" report "$id" --by commune --format csv --out "$work/report-communes.csv" --force
"$LOA" report "$id" --format html --office "Sở Văn hóa, Thể thao và Du lịch tỉnh Quảng Ngãi" --out "$work/report.html" --force
log "14. a voice campaign: the warning as a phone call to the contact list (espeak-ng speaks it; 8 kHz, silence trimmed, level set)"
vid="demo-goi-lu-quet-$(date +%H%M%S)"
start=$(date -u +%Y-%m-%dT%H:%M:%S+00:00); end=$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%S+00:00)
cat >"$work/voice-call.yaml" <<YAML
serialization_version: 1
id: $vid
title: Cuộc gọi cảnh báo lũ quét
purpose: disaster
office: Ban Chỉ huy Phòng thủ dân sự tỉnh Quảng Ngãi
legal_basis: "Luật Phòng thủ dân sự 2023"
channel: voice
sender: "02553822000"
priority: emergency
audience:
  contact_lists: [nguoi-co-uy-tin]
languages:
  default: vi
variants:
  vi:
    script: "Thông báo khẩn của Ban Chỉ huy Phòng thủ dân sự. Lũ quét có thể xảy ra trong đêm nay. Bà con di chuyển ngay lên vùng cao, không qua suối, theo hướng dẫn của trưởng thôn."
voice:
  attempts: 3
  spacing: 15m
schedule:
  start: $start
  end: $end
  windows: ["00:00-24:00"]
YAML
"$LOA" campaign check "$work/voice-call.yaml"
"$LOA" voice render "$work/voice-call.yaml" --out "$work/voice"
"$LOA" campaign submit "$work/voice-call.yaml" --as lan.nguyen
"$LOA" campaign approve "$work/voice-call.yaml" --as minh.tran
"$LOA" dispatch "$work/voice-call.yaml" --receipts-port 18480 --wait-receipts 60s
"$LOA" report "$vid" --by carrier

"$LOA" audit verify
log "done: the store is $(printf '%s' "$LOA_DATABASE" | sed -E 's#(://[^:/@]*):[^@]*@#\1:***@#'); recipient lists (pseudonymous) are in $work"
