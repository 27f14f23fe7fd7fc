#!/usr/bin/env bash
# The main job on the embedded default, from a fresh machine: installs what is missing, builds,
# and runs loa on the example campaigns in campaigns/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$LOA_ROOT"

ensure_packages libcurl4-openssl-dev libsqlite3-dev pkg-config
ensure_swift
CONFIG=${LOA_BUILD:-debug}
log "building loa ($CONFIG)"
swift build -c "$CONFIG" --product loa
LOA="$(swift build -c "$CONFIG" --show-bin-path)/loa"

log "message engine: a Vietnamese notice, with and without diacritics"
"$LOA" inspect text --price-per-segment 650 \
  "Thông báo của UBND tỉnh: từ 14 giờ ngày 12/9, bão số 3 đổ bộ vào các xã biên giới. Bà con không ra khơi, không đi rừng, gia cố nhà cửa và theo dõi loa xã."

log "message engine: decomposed (NFD) input costs the same after NFC"
"$LOA" inspect text --json "$(printf 'Vie\xcc\x82\xcc\xa3t Nam')"

log "phone numbers: every common form, the 2018 migration, rejections"
printf '%s\n' '"0912 345 678"' '"+84 (0) 96 123 4567"' '"0162 345 6789"' '"912345678"' '"024 3825 1234"' '"1900 1234"' '"+856 20 5555 1234"' \
  | "$LOA" inspect msisdn --json --batch

log "legacy text: a TCVN3 (ABC) notice converted to Unicode"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf 'Th\xabng b\xb8o: x\xb7 bi\xaan gi\xedi\n' >"$tmp/notice-tcvn3.txt"
"$LOA" text convert "$tmp/notice-tcvn3.txt"
