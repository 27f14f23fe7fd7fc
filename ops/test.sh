#!/usr/bin/env bash
# Installs what the tests need, starts the services they use on 127.0.0.1, runs `swift test`.
# Works as root or as a user with sudo. Extra arguments go to `swift test` (e.g. --filter Numbering).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$LOA_ROOT"

ensure_packages libcurl4-openssl-dev libsqlite3-dev libssl-dev libpq-dev pkg-config postgresql postgresql-client sqlite3 curl kannel kannel-extras
ensure_swift
start_postgres
# The store tests run on SQLite and on this server; without it they fail rather than skip.
export LOA_REQUIRE_POSTGRES=1
start_kannel
trap 'stop_kannel; stop_postgres' EXIT

log "building (debug, with tests)"
swift build --build-tests
log "running tests"
# Suites run one after another: the rate tests measure timing and must not share the cores.
swift test --skip-build --disable-xctest --no-parallel "$@"
