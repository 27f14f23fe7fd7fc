# Writes ops/BENCHMARKS.md from the figures the scripts left in ops/bench/results/*.tsv (one row
# per figure: name, loa, peer, ratio, unit, date, machine, command). Nothing in it is typed by hand.
import glob
import os

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
rows = []
for path in sorted(glob.glob(os.path.join(root, "bench", "results", "*.tsv"))):
    with open(path, encoding="utf-8") as f:
        for line in f:
            cells = line.rstrip("\n").split("\t")
            if len(cells) == 8:
                rows.append(cells)
out = ["# Benchmarks and chaos runs", "",
       "Every figure below was written by the script named in its row (`ops/bench/*.sh`, `ops/chaos/*.sh`),",
       "on the machine named, on the date given; rerun the command to check it. `ops/bench/publish.py`",
       "rebuilds this file from `ops/bench/results/*.tsv`.", "",
       "| figure | loa | peer | ratio | unit | date | machine | how to rerun |",
       "|---|---|---|---|---|---|---|---|"]
for name, loa, peer, ratio, unit, date, machine, command in rows:
    out.append(f"| {name} | {loa} | {peer} | {ratio} | {unit} | {date} | {machine} | `{command}` |")
with open(os.path.join(root, "BENCHMARKS.md"), "w", encoding="utf-8") as f:
    f.write("\n".join(out) + "\n")
