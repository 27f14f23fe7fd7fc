#!/usr/bin/env bash
# Fuzzes loa's input parsers with libFuzzer (the toolchain's, through -sanitize=fuzzer,address).
# Usage: ops/fuzz.sh [SECONDS per target, default 60] [TARGET…] (default: every target)
# Targets: campaign csv receipts smpp cap geojson msisdn segments wav (Sources/LoaFuzzTargets).
# Each target starts from its seed corpus in Tests/FuzzCorpus/TARGET; what libFuzzer finds new
# goes to .build/fuzz/corpus/TARGET. A crash or a broken invariant stops the run: the input is
# copied into Tests/FuzzCorpus/TARGET/ (so every test run replays it from then on) and the script
# exits 1. Fix the cause, keep the input.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$LOA_ROOT"
ensure_packages libcurl4-openssl-dev libsqlite3-dev libssl-dev libpq-dev pkg-config libxml2-dev
ensure_swift
SECONDS_PER_TARGET=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(campaign csv receipts smpp cap geojson msisdn segments wav)
log "building loa-fuzz with libFuzzer and AddressSanitizer (.build/fuzz)"
swift build --build-path .build/fuzz --product loa-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DLOA_FUZZ 2>&1 \
  | grep -v "Cannot export local symbol" || true
BIN="$(swift build --build-path .build/fuzz --show-bin-path)/loa-fuzz"
[ -x "$BIN" ] || { echo "loa-fuzz was not built" >&2; exit 1; }
export SWIFT_BACKTRACE=enable=no
# Leaks are not looked for: Foundation's XMLParser leaks a few CFStrings per document (not loa's).
status=0
for t in "${TARGETS[@]}"; do
  corpus=".build/fuzz/corpus/$t"; artifacts=".build/fuzz/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  log "fuzzing $t for $SECONDS_PER_TARGET s"
  if ! LOA_FUZZ_TARGET="$t" "$BIN" "$corpus" "Tests/FuzzCorpus/$t" -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 \
       -timeout=10 -rss_limit_mb=4096 -detect_leaks=0 -artifact_prefix="$artifacts/" -print_final_stats=1 >".build/fuzz/$t.log" 2>&1; then
    grep -E "ERROR|invariant|Fatal error|SUMMARY" ".build/fuzz/$t.log" | head -5 >&2 || true
    for crash in "$artifacts"/*; do
      [ -f "$crash" ] || continue
      cp "$crash" "Tests/FuzzCorpus/$t/regression-$(basename "$crash")"
      echo "$t: kept $crash as Tests/FuzzCorpus/$t/regression-$(basename "$crash") (replayed by every test run from now on)" >&2
    done
    status=1
  fi
  grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+.*DONE)" ".build/fuzz/$t.log" | tail -3 | sed "s/^/  $t: /"
done
exit $status
