#!/usr/bin/env bash
# Side by side: one campaign's targeting in loa and in DuckDB (PyPI `duckdb`) from the same CSV
# files: cells, five carriers' presence (~2 rows per subscriber, numbers in every common form,
# old 11-digit numbers, ties, bad lines) and a do-not-call list. The rules are loa's (README,
# "Audience rules"); ops/bench/duckdb_targeting.py writes them in SQL. Both must select the same
# recipients with the same language, commune and cell (the script exits 1 otherwise).
#   from the files: loa import (cells, presence ×5, do-not-call) + audience, vs one DuckDB run
#                   that reads the CSV files and selects;
#   again:          loa audience on its store, vs DuckDB selecting from its loaded tables.
# Medians of ROUNDS alternating rounds; peak memory of the largest process on each side.
# Usage: ops/bench/vs-duckdb.sh [SUBSCRIBERS, default 5000000 (about 10M presence rows)] [ROUNDS, default 3]
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$LOA_ROOT"
SUBSCRIBERS=${1:-5000000}; ROUNDS=${2:-3}
ensure_packages libcurl4-openssl-dev libsqlite3-dev libssl-dev libpq-dev pkg-config python3 python3-venv time
ensure_swift
build_loa_release
bench_venv duckdb
work=$(mktemp -d "${TMPDIR:-/tmp}/loa-vs-duckdb.XXXXXX")
trap 'rm -rf "$work"' EXIT
NOW=2026-12-01T09:00:00+07:00
run_epoch=$(date -d "$NOW" +%s)

# The files a province receives: clear numbers (demo-data writes clear numbers when no carrier
# key is set), then made messy.
log "generating $SUBSCRIBERS subscribers"
unset LOA_KEY_VIETTEL LOA_KEY_VINAPHONE LOA_KEY_MOBIFONE LOA_KEY_VIETNAMOBILE LOA_KEY_GMOBILE
"$LOA" demo-data --subscribers "$SUBSCRIBERS" --provinces 51 --out "$work/data" --now "$NOW" 2>/dev/null | head -1
rm -f "$work"/data/preferences-*.csv "$work"/data/contacts-*.csv
python3 ops/bench/noisy_presence.py "$work/data" "$run_epoch" | sed 's/^/  /'
rows=$(cat "$work"/data/presence-*.csv | wc -l)
bytes=$(cat "$work"/data/*.csv | wc -c)
log "input: $((rows - 5)) presence lines, $((bytes / 1048576)) MiB of CSV"

# Demo keys only: real keys come from the carriers, never from the repository.
for c in VIETTEL VINAPHONE MOBIFONE VIETNAMOBILE GMOBILE; do export "LOA_KEY_$c=$(printf '%s' "$c" | sha256sum | cut -c1-64)"; done
export LOA_CONTACT_KEY=$(printf 'vs-duckdb' | sha256sum | cut -c1-64)

# The campaign: every second commune of the province, a language for every third of those.
python3 - "$work" "$run_epoch" <<'EOF'
import json, sys
work, run = sys.argv[1], int(sys.argv[2])
communes = sorted({int(l.rstrip("\n").split(",")[3]) for l in list(open(f"{work}/data/cells.csv", encoding="utf-8"))[1:]})
audience = communes[::2]
by_commune = {str(c): ("jra" if i % 2 else "sed") for i, c in enumerate(audience) if i % 3 == 0}
json.dump({"run": run, "seen_within": 72 * 3600, "communes": audience, "by_commune": by_commune, "default": "vi"},
          open(f"{work}/audience.json", "w"))
lines = ["serialization_version: 1", "id: vs-duckdb", "title: Thông báo thử (so sánh với DuckDB)", "purpose: disaster",
         "office: Sở Văn hóa, Thể thao và Du lịch", "legal_basis: \"ops/bench/vs-duckdb.sh\"", "channel: sms", "sender: LOA", "priority: urgent",
         "audience:", f"  communes: [{', '.join(str(c) for c in audience)}]", "  seen_within: 72h",
         "languages:", "  default: vi", "  by_commune:"] + [f"    {c}: {l}" for c, l in by_commune.items()] + [
         "variants:", '  vi: "UBND {commune}: thông báo thử."',
         "  jra:", '    text: "[Gia-Rai] {commune}: thông báo thử."', "    review: needs-native-review",
         "  sed:", '    text: "[Xơ Đăng] {commune}: thông báo thử."', "    review: needs-native-review",
         "schedule:", "  start: 2026-12-01T07:30:00+07:00", "  end: 2026-12-03T20:00:00+07:00", '  windows: ["07:30-11:00", "14:00-20:00"]']
open(f"{work}/campaign.yaml", "w", encoding="utf-8").write("\n".join(lines) + "\n")
print(f"  campaign: {len(audience)} of {len(communes)} communes, {len(by_commune)} with their own language")
EOF

timed() {  # timed FILE COMMAND…: appends "seconds peakKiB" of one process to FILE
  /usr/bin/time -f "%e %M" -o "$work/one.time" "${@:2}" >"$work/one.out" 2>"$work/one.err" || {
    echo "failed: ${*:2}" >&2; cat "$work/one.err" >&2; exit 1; }
  cat "$work/one.time" >>"$1"
}
loa_from_files() {
  export LOA_DATABASE="$work/loa.sqlite"; rm -f "$work"/loa.sqlite*
  : >"$work/loa.times"
  timed "$work/loa.times" "$LOA" import cells "$work/data/cells.csv"
  for c in viettel vinaphone mobifone vietnamobile gmobile; do
    timed "$work/loa.times" "$LOA" import presence "$work/data/presence-$c.csv" --carrier "$c" --retention 3650d
  done
  timed "$work/loa.times" "$LOA" import do-not-call "$work/data/do-not-call.csv"
  timed "$work/loa.times" "$LOA" audience "$work/campaign.yaml" --at "$NOW" --out "$work/loa.csv" --force
}
loa_again() { : >"$work/loa-again.times"; timed "$work/loa-again.times" "$LOA" audience "$work/campaign.yaml" --at "$NOW" --out "$work/loa.csv" --force; cp "$work/one.out" "$work/audience.out"; }
duck_from_files() { : >"$work/duck.times"; timed "$work/duck.times" "$venv/bin/python" ops/bench/duckdb_targeting.py csv "$work/data" "$work/audience.json" "$work/duck.csv"; }
duck_again() { : >"$work/duck-again.times"; timed "$work/duck-again.times" "$venv/bin/python" ops/bench/duckdb_targeting.py query "$work/duck.db" "$work/audience.json" "$work/duck.csv"; }
total() { awk '{ s += $1 } END { printf "%.2f", s }' "$1"; }
peak() { awk '$2 > m { m = $2 } END { print int(m / 1024) }' "$1"; }

loa_s=(); duck_s=(); loa_again_s=(); duck_again_s=(); loa_kb=0; duck_kb=0
for r in $(seq "$ROUNDS"); do
  loa_from_files; loa_s+=("$(total "$work/loa.times")"); p=$(peak "$work/loa.times"); [ "$p" -gt "$loa_kb" ] && loa_kb=$p
  duck_from_files; duck_s+=("$(total "$work/duck.times")"); p=$(peak "$work/duck.times"); [ "$p" -gt "$duck_kb" ] && duck_kb=$p
  echo "  round $r from the files: loa ${loa_s[-1]} s (import $(head -n -1 "$work/loa.times" | awk '{ s += $1 } END { printf "%.2f", s }') s + audience $(tail -1 "$work/loa.times" | cut -d' ' -f1) s), duckdb ${duck_s[-1]} s" >&2
done
"$venv/bin/python" ops/bench/duckdb_targeting.py load "$work/data" "$work/duck.db"
for r in $(seq "$ROUNDS"); do
  loa_again; loa_again_s+=("$(total "$work/loa-again.times")")
  duck_again; duck_again_s+=("$(total "$work/duck-again.times")")
  echo "  round $r again: loa ${loa_again_s[-1]} s, duckdb ${duck_again_s[-1]} s" >&2
done
sed 's/^/  loa audience: /' "$work/audience.out" | head -12 >&2

# The same recipients: DuckDB's numbers through each carrier's key are loa's pseudonyms.
python3 - "$work/loa.csv" "$work/duck.csv" >"$work/compare" <<'EOF'
import csv, hashlib, hmac, os, sys
keys = {c.lower(): bytes.fromhex(os.environ[f"LOA_KEY_{c}"]) for c in ["VIETTEL", "VINAPHONE", "MOBIFONE", "VIETNAMOBILE", "GMOBILE"]}
def rows(path, pseudonymize):
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f); next(reader)
        for r in reader:
            if pseudonymize:
                r[1] = "h:" + hmac.new(keys[r[0]], ("+84" + r[1]).encode(), hashlib.sha256).hexdigest()
                r = [r[1], r[0], r[2], r[3], r[4]]
            yield (r[0], r[1], r[2], int(r[3]), r[4])
loa = set(rows(sys.argv[1], False)); duck = set(rows(sys.argv[2], True))
print(len(loa), len(duck), len(loa - duck), len(duck - loa))
for r in sorted(loa - duck)[:5]: print("only loa:", r, file=sys.stderr)
for r in sorted(duck - loa)[:5]: print("only duckdb:", r, file=sys.stderr)
EOF
read -r n_loa n_duck only_loa only_duck <"$work/compare"
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
lm=$(median "${loa_s[@]}"); dm=$(median "${duck_s[@]}"); la=$(median "${loa_again_s[@]}"); da=$(median "${duck_again_s[@]}")
ratio() { awk -v peer="$1" -v loa="$2" 'BEGIN { printf "%.1f×", peer / loa }'; }
cmd="ops/bench/vs-duckdb.sh $SUBSCRIBERS $ROUNDS"
lines="$((rows - 5)) presence lines"
record_figure vs-duckdb "targeting from the CSV files (import + select), s" "$lm" "$dm" "$(ratio "$dm" "$lm")" "s, $lines, median of $ROUNDS (ratio: peer time / loa time)" "$cmd"
record_figure vs-duckdb "targeting again on loaded data, s" "$la" "$da" "$(ratio "$da" "$la")" "s, $lines, median of $ROUNDS" "$cmd"
record_figure vs-duckdb "targeting, peak memory of one process" "$loa_kb" "$duck_kb" "" "MiB" "$cmd"
record_figure vs-duckdb "recipients selected differently" "$((only_loa + only_duck))" "" "" "of $n_loa (loa) and $n_duck (DuckDB) (must be 0)" "$cmd"
[ "$only_loa" -eq 0 ] && [ "$only_duck" -eq 0 ] || { echo "loa and DuckDB selected different recipients: $only_loa only by loa, $only_duck only by DuckDB" >&2; exit 1; }
