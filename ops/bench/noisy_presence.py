#!/usr/bin/env python3
"""Makes `loa demo-data` output look like files a province receives, for ops/bench/vs-duckdb.sh.

Rewrites presence-*.csv and do-not-call.csv in DIR in place (deterministic, seed 16):
- numbers in every form a carrier export or a spreadsheet produces: 0912345678, +84912345678,
  84912345678, "0912 345 678", "(+84) 912.345.678", the pre-2018 11-digit form (01623456789 for
  0323456789) and the leading zero lost (912345678), mixed within one subscriber's rows;
- ties: a second row at the same second in another cell (the higher cell id must win);
- rows after the run time (ignored by the most-recent rule, not bad);
- bad lines: landline, foreign, short, letters, a cell not in the list, a date that is not ISO
  8601, a missing field;
- do-not-call entries in the same mixed forms, and a few bad ones.

Usage: noisy_presence.py DIR RUN_TIME_EPOCH
Prints what it changed as `name: value` lines.
"""
import glob
import os
import random
import sys
from datetime import datetime, timedelta, timezone

OLD = {"32": "162", "33": "163", "34": "164", "35": "165", "36": "166", "37": "167", "38": "168", "39": "169",
       "83": "123", "84": "124", "85": "125", "81": "127", "82": "129",
       "70": "120", "79": "121", "77": "122", "76": "126", "78": "128",
       "56": "186", "58": "188", "59": "199"}
ICT = timezone(timedelta(hours=7))


def form(number: str, rng: random.Random) -> str:
    """One of the ways the 10-digit number `number` (0 + 9 digits) is written."""
    n = number[1:]
    r = rng.random()
    if r < 0.03:
        return "+84" + n
    if r < 0.06:
        return "84" + n
    if r < 0.08:
        return f"{number[:4]} {number[4:7]} {number[7:]}"
    if r < 0.09:
        return f"(+84) {n[:3]}.{n[3:6]}.{n[6:]}"
    if r < 0.11:
        return n
    if r < 0.14 and n[:2] in OLD:
        return "0" + OLD[n[:2]] + n[2:]
    return number


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, ICT).isoformat()


def main() -> None:
    directory, run_time = sys.argv[1], int(sys.argv[2])
    rng = random.Random(16)
    cells = [line.split(",")[0] for line in open(os.path.join(directory, "cells.csv"), encoding="utf-8")][1:]
    counts = {"rows rewritten": 0, "ties added": 0, "rows after the run time": 0, "bad lines added": 0}
    bad_lines = [
        "02438123456,{cgi},{t}",           # landline
        "+12025550100,{cgi},{t}",          # foreign
        "0912345,{cgi},{t}",               # too short
        "09x2345678,{cgi},{t}",            # letter
        "{n},452-04-65000-1,{t}",          # cell not in the list
        "{n},{cgi},01/12/2026 08:00",      # not ISO 8601
        "{n},{cgi}",                       # a field missing
    ]
    for path in sorted(glob.glob(os.path.join(directory, "presence-*.csv"))):
        out = []
        with open(path, encoding="utf-8") as f:
            out.append(f.readline().rstrip("\n"))
            for line in f:
                line = line.rstrip("\n")
                number, cgi, seen = line.split(",")
                if not (len(number) == 10 and number.isdigit()):
                    out.append(line)   # demo-data's own bad lines stay as they are
                    continue
                written = form(number, rng)
                if written != number:
                    counts["rows rewritten"] += 1
                out.append(f"{written},{cgi},{seen}")
                r = rng.random()
                if r < 0.01:
                    out.append(f"{form(number, rng)},{rng.choice(cells)},{seen}")
                    counts["ties added"] += 1
                elif r < 0.015:
                    out.append(f"{form(number, rng)},{rng.choice(cells)},{iso(run_time + rng.randrange(1, 20 * 3600))}")
                    counts["rows after the run time"] += 1
                elif r < 0.0155:
                    out.append(rng.choice(bad_lines).format(n=form(number, rng), cgi=rng.choice(cells), t=seen))
                    counts["bad lines added"] += 1
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(out) + "\n")
    dnc_path = os.path.join(directory, "do-not-call.csv")
    lines = [line.rstrip("\n") for line in open(dnc_path, encoding="utf-8")]
    dnc = [lines[0]] + [form(n, rng) if n.isdigit() else n for n in lines[1:]] + ["0243812345", "not a number", "+4420 7946 0958"]
    with open(dnc_path, "w", encoding="utf-8") as f:
        f.write("\n".join(dnc) + "\n")
    counts["do-not-call entries"] = len(dnc) - 1
    for k, v in counts.items():
        print(f"{k}: {v}")


if __name__ == "__main__":
    main()
