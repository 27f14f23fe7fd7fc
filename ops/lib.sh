#!/usr/bin/env bash
# Shared set-up for ops/*.sh: packages, Swift on PATH, a throwaway PostgreSQL on 127.0.0.1.
# Source it; it does nothing by itself.

LOA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="/opt/swift/usr/bin:$PATH"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "need root for: $* (install sudo or run as root)" >&2; return 1
  fi
}

# ensure_packages PKG...: installs the Debian packages that are missing.
ensure_packages() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get -o DPkg::Lock::Timeout=300 update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_swift() {
  command -v swift >/dev/null 2>&1 && return 0
  echo "swift not found: loa needs Swift 6.1 or later on PATH (expected at /opt/swift/usr/bin)" >&2
  return 1
}

# start_postgres: a throwaway cluster on 127.0.0.1 with password auth, unless PGHOST is already
# set (then that server is used). Exports PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE and
# LOA_TEST_POSTGRES_URL; stop_postgres removes it.
start_postgres() {
  if [ -n "${PGHOST:-}" ]; then
    log "using the PostgreSQL server at $PGHOST:${PGPORT:-5432}"
  else
    local pgbin
    pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -x "$pgbin/initdb" ] || { echo "PostgreSQL server binaries not found under /usr/lib/postgresql" >&2; return 1; }
    export PGHOST=127.0.0.1 PGPORT=${LOA_PGPORT:-55432} PGUSER=postgres PGPASSWORD=loa-test PGDATABASE=postgres
    LOA_PGDATA=$(mktemp -d /tmp/loa-pg.XXXXXX)
    local pw; pw=$(mktemp /tmp/loa-pgpw.XXXXXX); echo "$PGPASSWORD" >"$pw"; chmod 644 "$pw"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$LOA_PGDATA"; LOA_AS_PG="runuser -u postgres --"; else LOA_AS_PG=""; fi
    $LOA_AS_PG "$pgbin/initdb" -D "$LOA_PGDATA" -U "$PGUSER" --pwfile="$pw" --auth-local=trust \
      --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pw"
    log "starting PostgreSQL on 127.0.0.1:$PGPORT"
    $LOA_AS_PG "$pgbin/pg_ctl" -D "$LOA_PGDATA" -l "$LOA_PGDATA/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $LOA_PGDATA -c fsync=off" start >/dev/null
    LOA_PGBIN=$pgbin
  fi
  export LOA_TEST_POSTGRES_URL="postgres://$PGUSER:$PGPASSWORD@$PGHOST:${PGPORT:-5432}/${PGDATABASE:-postgres}"
}

stop_postgres() {
  if [ -n "${LOA_PGDATA:-}" ]; then
    $LOA_AS_PG "$LOA_PGBIN/pg_ctl" -D "$LOA_PGDATA" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$LOA_PGDATA"
  fi
}

# start_kannel: bearerbox + smsbox + fake SMSC on 127.0.0.1 (ops/kannel/start.sh); exports
# LOA_KANNEL_SENDSMS and LOA_KANNEL_FAKESMSC_LOG for the Kannel tests. stop_kannel stops them.
start_kannel() {
  LOA_KANNEL_DIR=$(mktemp -d /tmp/loa-kannel.XXXXXX)
  log "starting Kannel with a fake SMSC on 127.0.0.1:${LOA_KANNEL_PORT:-14100}+"
  local vars
  vars=$("$LOA_ROOT/ops/kannel/start.sh" "$LOA_KANNEL_DIR" "${LOA_KANNEL_PORT:-14100}")
  while IFS= read -r line; do export "${line?}"; done <<<"$vars"
}

stop_kannel() {
  if [ -n "${LOA_KANNEL_DIR:-}" ]; then "$LOA_ROOT/ops/kannel/stop.sh" "$LOA_KANNEL_DIR"; rm -rf "$LOA_KANNEL_DIR"; fi
}

# record_figure SCRIPT NAME LOA PEER RATIO UNIT COMMAND: one row of ops/bench/results/SCRIPT.tsv
# (the first figure a script records in a run replaces the file), and ops/BENCHMARKS.md rebuilt.
record_figure() {
  local file="$LOA_ROOT/ops/bench/results/$1.tsv"
  if [ -z "${_loa_recorded:-}" ] || [[ " $_loa_recorded " != *" $1 "* ]]; then : >"$file"; _loa_recorded="${_loa_recorded:-} $1"; fi
  local machine; machine="$(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(. /etc/os-release; echo "$PRETTY_NAME")"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$2" "$3" "$4" "$5" "$6" "$(date -u +%Y-%m-%d)" "$machine" "$7" >>"$file"
  python3 "$LOA_ROOT/ops/bench/publish.py"
  echo "$2: loa $3, peer ${4:--}, ratio ${5:--} ($6)"
}

# build_loa_release: builds loa in release and sets LOA to its path (the benchmarks).
build_loa_release() {
  log "building loa (release)"
  swift build -c release --product loa >/dev/null
  LOA="$(swift build -c release --show-bin-path)/loa"
}

# bench_venv PACKAGE…: a virtualenv under .build holding these PyPI packages; sets venv.
bench_venv() {
  venv="$LOA_ROOT/.build/bench-venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "$@"
}
