#!/usr/bin/env python3
"""The peer of ops/bench/vs-kannel.sh: what a province scripting Kannel directly would run. Sends
every message of MESSAGES (lines "<to>\\t<text>") to smsbox's sendsms interface, CONNECTIONS at a
time over keep-alive HTTP, text as UTF-8 with coding=2 when it needs UCS-2 (as loa does), and
retries a request that fails or is not accepted (so that a gateway restart loses nothing here).

With DLR_URL, each message asks for its delivery report (dlr-mask=1, dlr-url=DLR_URL?to=…).

Usage: kannel_sendsms.py SENDSMS_URL MESSAGES [CONNECTIONS] [DLR_URL]
Prints a JSON summary: requests, accepted, retries, seconds.
"""
import http.client
import json
import sys
import threading
import time
import urllib.parse

GSM7 = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€")

url = urllib.parse.urlparse(sys.argv[1])
messages = [l.rstrip("\n").split("\t", 1) for l in open(sys.argv[2], encoding="utf-8")]
connections = int(sys.argv[3]) if len(sys.argv) > 3 else 16
dlr_url = sys.argv[4] if len(sys.argv) > 4 else None
lock = threading.Lock()
cursor = [0]
summary = {"requests": 0, "accepted": 0, "retries": 0}


def worker():
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    while True:
        with lock:
            if cursor[0] >= len(messages):
                break
            to, text = messages[cursor[0]]
            cursor[0] += 1
        query = {"username": "loa", "password": "loa-test", "from": "LOA", "to": to, "text": text, "charset": "UTF-8"}
        query["coding"] = "2" if any(c not in GSM7 for c in text) else "0"
        if dlr_url:
            query["dlr-mask"] = "1"
            query["dlr-url"] = f"{dlr_url}?to={to}&type=%d"
        path = f"{url.path}?{urllib.parse.urlencode(query)}"
        for attempt in range(600):
            try:
                conn.request("GET", path)
                r = conn.getresponse()
                body = r.read()
                if r.status in (200, 202):
                    with lock:
                        summary["requests"] += 1
                        summary["accepted"] += 1
                    break
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
            with lock:
                summary["retries"] += 1
            time.sleep(0.1)
    conn.close()


start = time.time()
threads = [threading.Thread(target=worker) for _ in range(connections)]
for t in threads:
    t.start()
for t in threads:
    t.join()
summary["seconds"] = round(time.time() - start, 3)
print(json.dumps(summary))
