#!/usr/bin/env python3
"""Checks a loa audit export (loa audit export --out FILE) without loa: python3 audit-verify.py FILE [SEALED_HASH]"""
import hashlib, json, sys

prev, seq, sealed = "0" * 64, 0, sys.argv[2].lower() if len(sys.argv) > 2 else None
with open(sys.argv[1], encoding="utf-8") as f:
    for n, line in enumerate(f, 1):
        entry = json.loads(line)
        stated = entry.pop("hash")
        canonical = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        if hashlib.sha256(canonical.encode("utf-8")).hexdigest() != stated:
            sys.exit(f"line {n}: entry {entry['seq']} was edited (its content does not match its hash)")
        if entry["prev"] != prev or entry["seq"] != seq + 1:
            sys.exit(f"line {n}: entry {entry['seq']} does not follow entry {seq} (removed, inserted or moved)")
        prev, seq = stated, entry["seq"]
        sealed = None if stated == sealed else sealed
if sealed:
    sys.exit(f"the sealed head {sealed} is not in the export (truncated or rewritten)")
print(f"intact: {seq} entries, head {prev}")
