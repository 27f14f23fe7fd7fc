# The Python peer of `loa inspect text --json --batch`: PyPI smsutil (over gsm0338) splits each
# JSON-string line of stdin into SMS parts; prints "<encoding> <parts>" per line.
import json
import sys

import smsutil

write = sys.stdout.write
for line in sys.stdin:
    r = smsutil.split(json.loads(line))
    write(("gsm7 " if r.encoding == "gsm0338" else "ucs2 ") + str(len(r.parts)) + "\n")
