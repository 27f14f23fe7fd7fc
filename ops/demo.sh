#!/usr/bin/env bash
# The main job on the embedded default (SQLite), from a fresh machine: installs what is missing,
# builds, generates a synthetic province, checks the example campaigns, imports carrier data and
# selects each campaign's audience. Set DEMO_SUBSCRIBERS (default 50000) for a bigger province.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$LOA_ROOT"

ensure_packages libcurl4-openssl-dev libsqlite3-dev libssl-dev pkg-config
ensure_swift
CONFIG=${LOA_BUILD:-debug}
log "building loa ($CONFIG)"
swift build -c "$CONFIG" --product loa
LOA="$(swift build -c "$CONFIG" --show-bin-path)/loa"

work=${DEMO_DIR:-$LOA_ROOT/demo-out}
rm -rf "$work"; mkdir -p "$work"
export LOA_DATABASE="$work/loa.sqlite" LOA_CARRIERS="$LOA_ROOT/carriers"
# Demo pseudonym keys. Real keys are agreed with each carrier and never committed.
for c in VIETTEL VINAPHONE MOBIFONE VIETNAMOBILE GMOBILE; do export "LOA_KEY_$c=$(printf 'demo-%s' "$c" | sha256sum | cut -c1-64)"; done

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
log "done: the store is $LOA_DATABASE; recipient lists (pseudonymous) are in $work"
