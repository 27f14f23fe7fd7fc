#!/usr/bin/env python3
"""A receipt storm against `loa serve`, for ops/chaos/receipt-storm.sh. Standard library only.

For every message the carriers accepted (their own record files), the storm decides a true final
outcome (delivered 80%, failed 15% with a reason, expired 5%) with a time, and sends:
- that final receipt, and a duplicate of it for 30% of messages;
- for 30% an intermediate receipt (`enroute`/`accepted`), for 10% `unknown` first;
- for 10% a *different* final receipt with an *earlier* `at` (the later one must win, whichever
  arrives first);
- 5% more lines naming messages that do not exist (they must be quarantined, not dropped);
all shuffled across requests of 20–200 lines, posted by several connections at once, each request
signed afresh (protocol version 2). Between them, hostile requests carrying receipts that contradict
the truth with a *later* `at` (so that one wrongly accepted would show in the store):
- forged: signed with a wrong secret;
- replayed: a request accepted before, sent again byte for byte with its headers;
- stale: signed correctly, but with a timestamp 6 minutes old;
- tampered: signed, then its body changed (Content-SHA256 no longer the body's);
- another carrier's: signed with carrier A's secret, posted to carrier B.
Every hostile request must get 401. A legitimate request that gets 503 or a cut connection is
signed afresh and sent again (as carriers/README.md asks).

Usage: receipt_storm.py URL RECORD_GLOB TRUTH_OUT [--seed N] [--connections N]
RECORD_GLOB names the carrier simulators' --record files (…-record-<carrier>.txt).
Prints a JSON summary on stdout; writes message_id,state,reason lines to TRUTH_OUT.
"""
import argparse
import glob
import hashlib
import hmac
import http.client
import json
import os
import random
import re
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone

ICT = timezone(timedelta(hours=7))
REASONS = ["absent subscriber", "memory capacity exceeded", "unknown subscriber"]


def iso(t):
    return datetime.fromtimestamp(t, ICT).isoformat()


def signed(secret, body, timestamp=None):
    ts = str(int(time.time()) if timestamp is None else timestamp)
    sha = hashlib.sha256(body).hexdigest()
    return {"Content-Type": "application/x-ndjson", "Content-SHA256": sha, "X-Loa-Timestamp": ts,
            "X-Loa-Signature-Version": "2",
            "X-Loa-Signature": hmac.new(secret, f"{ts}\n{sha}".encode(), hashlib.sha256).hexdigest()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url"); ap.add_argument("records"); ap.add_argument("truth")
    ap.add_argument("--seed", type=int, default=16); ap.add_argument("--connections", type=int, default=8)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    url = urllib.parse.urlparse(a.url)
    secrets = {}
    ids = {}
    for path in sorted(glob.glob(a.records)):
        carrier = re.search(r"record-([a-z]+)\.txt$", path).group(1)
        secrets[carrier] = os.environ[f"LOA_RECEIPT_{carrier.upper()}"].encode()
        ids[carrier] = sorted(set(l.strip() for l in open(path) if l.strip()))
    store_suffix = next(iter(next(iter(ids.values())))).split("-", 1)[1]
    base = int(time.time()) - 3600

    # The truth, and every legitimate line.
    lines = {c: [] for c in ids}
    counts = {"messages": 0, "final lines": 0, "duplicates": 0, "intermediate": 0, "unknown first": 0,
              "earlier conflicting finals": 0, "lines for messages that do not exist": 0}
    with open(a.truth, "w") as truth:
        for carrier, messages in ids.items():
            for m in messages:
                counts["messages"] += 1
                r = rng.random()
                state = "delivered" if r < 0.80 else ("failed" if r < 0.95 else "expired")
                at = base + rng.randrange(600, 3000)
                final = {"message_id": m, "status": state, "at": iso(at)}
                reason = ""
                if state == "failed":
                    reason = rng.choice(REASONS); final["reason"] = reason
                truth.write(f"{m},{state},{reason}\n")
                lines[carrier].append(final); counts["final lines"] += 1
                if rng.random() < 0.30:
                    lines[carrier].append(dict(final)); counts["duplicates"] += 1
                if rng.random() < 0.30:
                    lines[carrier].append({"message_id": m, "status": rng.choice(["enroute", "accepted"]), "at": iso(at - 300)})
                    counts["intermediate"] += 1
                if rng.random() < 0.10:
                    lines[carrier].append({"message_id": m, "status": "unknown", "at": iso(at - 200)}); counts["unknown first"] += 1
                if rng.random() < 0.10:
                    other = "failed" if state != "failed" else "delivered"
                    line = {"message_id": m, "status": other, "at": iso(at - 120)}
                    if other == "failed":
                        line["reason"] = "conflicting earlier receipt"
                    lines[carrier].append(line); counts["earlier conflicting finals"] += 1
            for k in range(max(1, len(messages) // 20)):
                lines[carrier].append({"message_id": f"m{900000000 + k}-{store_suffix}", "status": "delivered", "at": iso(base)})
                counts["lines for messages that do not exist"] += 1
    requests = []   # (carrier, body bytes)
    for carrier, ls in lines.items():
        rng.shuffle(ls)
        i = 0
        while i < len(ls):
            n = rng.randrange(20, 201)
            requests.append((carrier, "".join(json.dumps(l, ensure_ascii=False) + "\n" for l in ls[i:i + n]).encode()))
            i += n
    rng.shuffle(requests)

    # Hostile requests: receipts that contradict the truth with a later time.
    truth = {l.split(",")[0]: l.split(",")[1] for l in open(a.truth)}
    def harmful(carrier):
        sample = rng.sample(ids[carrier], min(50, len(ids[carrier])))
        return "".join(json.dumps({"message_id": m, "status": "failed" if truth[m] != "failed" else "delivered",
                                   "reason": "FORGED", "at": iso(base + 86400)}) + "\n" for m in sample).encode()
    carriers = sorted(ids)
    hostile = []
    for k in range(max(10, len(requests) // 10)):
        kind = ["forged", "replayed", "stale", "tampered", "another carrier's"][k % 5]
        hostile.append((kind, rng.choice(carriers)))

    lock = threading.Lock()
    sent = []                                   # legitimate (path, headers, body) accepted, for replays
    summary = {"legitimate requests": len(requests), "lines sent": sum(len(ls) for ls in lines.values()),
               "received by loa": 0, "applied": 0, "kept": 0, "quarantined": 0, "retries": 0,
               "hostile requests": len(hostile), "hostile refused (401)": 0, "hostile accepted": 0, "hostile other": {},
               "errors": []}
    summary.update(counts)
    work = [("legit",) + r for r in requests]
    # Hostile requests interleaved with the legitimate ones (a replay needs something to replay).
    for i, h in enumerate(hostile):
        work.insert(min(len(work), (i + 1) * len(work) // (len(hostile) + 1)), ("hostile",) + h)
    cursor = [0]

    def connection():
        return http.client.HTTPConnection(url.hostname, url.port, timeout=120)

    def post(conn, path, headers, body):
        for attempt in range(2):
            try:
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                return conn, resp.status, resp.read()
            except (OSError, http.client.HTTPException):
                conn.close(); conn = connection()
                if attempt == 1:
                    raise
        raise AssertionError

    def worker():
        conn = connection()
        while True:
            with lock:
                if cursor[0] >= len(work):
                    break
                item = work[cursor[0]]; cursor[0] += 1
            if item[0] == "legit":
                _, carrier, body = item
                path = f"{url.path.rstrip('/')}/receipts/{carrier}"
                for attempt in range(20):
                    headers = signed(secrets[carrier], body)
                    try:
                        conn, status, answer = post(conn, path, headers, body)
                    except (OSError, http.client.HTTPException):
                        status, answer = 0, b""
                    if status == 200:
                        result = json.loads(answer)
                        with lock:
                            for k in ("received", "applied", "kept", "quarantined"):
                                summary["received by loa" if k == "received" else k] += result[k]
                            sent.append((path, headers, body))
                        break
                    with lock:
                        summary["retries"] += 1
                    if status not in (0, 503):
                        with lock:
                            summary["errors"].append(f"{status} for a legitimate request: {answer[:200]!r}")
                        break
                    time.sleep(1)
                else:
                    with lock:
                        summary["errors"].append("a legitimate request was never accepted")
            else:
                _, kind, carrier = item
                path = f"{url.path.rstrip('/')}/receipts/{carrier}"
                body = harmful(carrier)
                if kind == "forged":
                    headers = signed(b"not-the-secret", body)
                elif kind == "replayed":
                    with lock:
                        previous = rng.choice(sent) if sent else None
                    if previous is None:
                        continue
                    path, headers, body = previous
                elif kind == "stale":
                    headers = signed(secrets[carrier], body, int(time.time()) - 360)
                elif kind == "tampered":
                    headers = signed(secrets[carrier], body)
                    body = body.replace(b'"FORGED"', b'"FORGED!"')
                else:
                    other = rng.choice([c for c in carriers if c != carrier] or carriers)
                    headers = signed(secrets[other], body)
                try:
                    conn, status, _ = post(conn, path, headers, body)
                except (OSError, http.client.HTTPException) as e:
                    status = f"connection error {e}"
                with lock:
                    if status == 401:
                        summary["hostile refused (401)"] += 1
                    elif status == 200:
                        summary["hostile accepted"] += 1
                    else:
                        summary["hostile other"][f"{kind} {status}"] = summary["hostile other"].get(f"{kind} {status}", 0) + 1
        conn.close()

    start = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(a.connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    summary["seconds"] = round(time.monotonic() - start, 2)
    summary["receipts per second"] = round(summary["received by loa"] / summary["seconds"])
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
