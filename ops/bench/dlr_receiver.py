#!/usr/bin/env python3
"""Kannel's dlr-url callbacks for ops/bench/vs-kannel.sh: an HTTP server on 127.0.0.1 that answers
every GET with 200 and appends its arrival time (time.time()) and path to OUT.

Usage: dlr_receiver.py PORT OUT   (stops on SIGTERM, flushing OUT)
"""
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, out = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()
record = open(out, "a", buffering=1 << 16)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True   # headers and body leave at once (no 40 ms delayed-ACK stall)

    def do_GET(self):
        now = time.time()
        with lock:
            record.write(f"{now:.6f}\t{self.path}\n")
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    def log_message(self, *args):
        pass


def flusher():
    while True:
        time.sleep(0.5)
        with lock:
            record.flush()


def stop(*_):
    with lock:
        record.flush()
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
threading.Thread(target=flusher, daemon=True).start()
ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
