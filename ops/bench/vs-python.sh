#!/usr/bin/env bash
# Side by side: encoding and segmentation of one mixed corpus (Vietnamese with and without
# diacritics, GSM-7 extension characters, emoji, Lao, Chinese) by `loa inspect text --json
# --batch` and by PyPI's smsutil (over gsm0338). Both must give every message the same encoding
# and number of parts (the script exits 1 otherwise). Medians of ROUNDS alternating rounds.
# Usage: ops/bench/vs-python.sh [LINES, default 300000] [ROUNDS, default 3]
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$LOA_ROOT"
LINES=${1:-300000}; ROUNDS=${2:-3}
ensure_packages libcurl4-openssl-dev libsqlite3-dev libssl-dev libpq-dev pkg-config python3 python3-venv time
ensure_swift
build_loa_release
bench_venv smsutil gsm0338
work=$(mktemp -d "${TMPDIR:-/tmp}/loa-vs-python.XXXXXX")
trap 'rm -rf "$work"' EXIT
python3 ops/bench/corpus.py "$LINES" >"$work/corpus.ndjson"
bytes=$(stat -c %s "$work/corpus.ndjson")
log "corpus: $LINES messages, $((bytes / 1048576)) MiB"

run() {  # run NAME COMMAND… : seconds and peak KiB on stdout's last line
  /usr/bin/time -f "%e %M" -o "$work/$1.time" "${@:2}" <"$work/corpus.ndjson" >"$work/$1.out"
  cat "$work/$1.time"
}
loa_s=(); py_s=(); loa_kb=0; py_kb=0
for r in $(seq "$ROUNDS"); do
  read -r s kb < <(run loa "$LOA" inspect text --json --batch); loa_s+=("$s"); [ "$kb" -gt "$loa_kb" ] && loa_kb=$kb
  read -r s kb < <(run python "$venv/bin/python" ops/bench/python_segments.py); py_s+=("$s"); [ "$kb" -gt "$py_kb" ] && py_kb=$kb
  echo "  round $r: loa ${loa_s[-1]} s, python ${py_s[-1]} s" >&2
done
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
lm=$(median "${loa_s[@]}"); pm=$(median "${py_s[@]}")

# The same answer for every message.
python3 -c '
import json, sys
loa = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
py = [l.split() for l in open(sys.argv[2], encoding="utf-8")]
assert len(loa) == len(py), (len(loa), len(py))
bad = [i + 1 for i, (a, b) in enumerate(zip(loa, py)) if [a.get("encoding"), str(a.get("segments"))] != b]
print(len(bad))
for i in bad[:10]:
    print(f"line {i}: loa {loa[i-1]}, python {py[i-1]}", file=sys.stderr)
' "$work/loa.out" "$work/python.out" >"$work/disagreements"
disagree=$(cat "$work/disagreements")

cmd="ops/bench/vs-python.sh $LINES $ROUNDS"
mbps() { awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.1f", b / 1048576 / s }'; }
record_figure vs-python "inspect text --json --batch, MB/s" "$(mbps "$lm")" "$(mbps "$pm")" "$(awk -v a="$pm" -v b="$lm" 'BEGIN { printf "%.1f×", a / b }')" \
  "MiB/s of JSON lines, median of $ROUNDS" "$cmd"
record_figure vs-python "inspect text --json --batch, messages/s" "$(awk -v n="$LINES" -v s="$lm" 'BEGIN { printf "%.0f", n / s }')" \
  "$(awk -v n="$LINES" -v s="$pm" 'BEGIN { printf "%.0f", n / s }')" "$(awk -v a="$pm" -v b="$lm" 'BEGIN { printf "%.1f×", a / b }')" "messages/s" "$cmd"
record_figure vs-python "inspect text --json --batch, peak memory" "$((loa_kb / 1024))" "$((py_kb / 1024))" "" "MiB" "$cmd"
record_figure vs-python "messages answered differently" "$disagree" "" "" "of $LINES (must be 0)" "$cmd"
[ "$disagree" -eq 0 ] || { echo "loa and smsutil disagree on $disagree messages" >&2; exit 1; }
