#!/usr/bin/env bash
# Installs what the tests need, starts the services they use on 127.0.0.1, runs `swift test`.
# Works as root or as a user with sudo. Extra arguments go to `swift test` (e.g. --filter Numbering).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$LOA_ROOT"

ensure_packages libcurl4-openssl-dev libsqlite3-dev libssl-dev libpq-dev pkg-config postgresql postgresql-client sqlite3 curl kannel kannel-extras python3 chromium chromium-driver espeak-ng sox libsox-fmt-all
ensure_swift
start_postgres
# The store tests run on SQLite and on this server; without it they fail rather than skip.
export LOA_REQUIRE_POSTGRES=1
start_kannel
trap 'stop_kannel; stop_postgres' EXIT

log "building (debug, with tests)"
swift build --build-tests
if [ "$#" -gt 0 ]; then
  log "running tests: $*"
  swift test --skip-build --disable-xctest --no-parallel "$@"
  exit
fi
# Tests run in parallel, in two groups that never share the cooperative thread pool: tests with
# in-process HTTP servers (carrier simulators, the receipt endpoint: LoaCarriersTests) apart from
# those that hold a thread for seconds (CPU-heavy checks, waiting for `loa` processes). The few that
# measure rates at the carrier's side (DispatchTimingTests) run last, alone.
log "running tests (in parallel: store, core and command-line tests)"
swift test --skip-build --disable-xctest --skip LoaCarriersTests
log "running tests (in parallel: dispatch and receipts over loopback HTTP)"
swift test --skip-build --disable-xctest --filter LoaCarriersTests --skip DispatchTimingTests
log "running the timing tests, alone"
swift test --skip-build --disable-xctest --no-parallel --filter DispatchTimingTests
log "running the console in a real browser (headless chromium; screenshots in .build/test-output/browser)"
python3 ops/browser-test.py "$(swift build --show-bin-path)/loa"
