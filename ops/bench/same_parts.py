#!/usr/bin/env python3
"""Whether two records of ops/bench/smpp_smsc.py hold the same parts, (destination, data_coding,
esm_class, short_message) in any order (the concatenation reference Kannel picks per message is
already masked by the recorder). Exit 0 when the same; the first differences on stderr.

Usage: same_parts.py RECORD_A RECORD_B
"""
import collections
import sys


def parts(path):
    return collections.Counter(line.rstrip("\n").split("\t", 1)[1] for line in open(path, encoding="utf-8"))


a, b = parts(sys.argv[1]), parts(sys.argv[2])
for k in list((a - b).keys())[:3]:
    print(f"only in {sys.argv[1]}: {k[:160]}", file=sys.stderr)
for k in list((b - a).keys())[:3]:
    print(f"only in {sys.argv[2]}: {k[:160]}", file=sys.stderr)
print(f"{sum(a.values())} and {sum(b.values())} parts, {sum((a - b).values()) + sum((b - a).values())} different", file=sys.stderr)
sys.exit(0 if a == b else 1)
