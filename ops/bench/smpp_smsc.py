#!/usr/bin/env python3
"""The receiving side of ops/bench/vs-kannel.sh: a minimal SMPP 3.4 SMSC that Kannel's bearerbox
binds to (`smsc = smpp`, so that Kannel's own `throughput` applies, as with a carrier's SMSC). It
answers binds, enquire_link and unbind, and takes every submit_sm (answered at once with a message
id), recording its arrival and content. Standard library only.

Each submit_sm appends one line to OUT:
"<arrival, time.time()>\\t<destination> <data_coding> <esm_class> <short_message as hex, with a
concatenation UDH's reference byte replaced by XX>"

With --hold-receipts, every accepted submit_sm is also kept, and on SIGUSR1 the SMSC sends a
delivery receipt (deliver_sm, "id:… stat:DELIVRD") for each, as fast as the connection takes them:
Kannel then has them all pending at once.

Usage: smpp_smsc.py PORT OUT [--hold-receipts]   (stops on SIGTERM or SIGINT, flushing OUT)
"""
import signal
import socket
import struct
import sys
import threading
import time

port, out = int(sys.argv[1]), sys.argv[2]
hold = "--hold-receipts" in sys.argv[3:]
release = threading.Event()
lock = threading.Lock()
record = open(out, "a", buffering=1 << 16)
counter = [0]


def cstring(body, i):
    end = body.index(b"\0", i)
    return body[i:end].decode("latin-1"), end + 1


def submit(body):
    i = 0
    _, i = cstring(body, i)                  # service_type
    i += 2                                   # source ton, npi
    _, i = cstring(body, i)                  # source_addr
    i += 2                                   # dest ton, npi
    dest, i = cstring(body, i)               # destination_addr
    esm_class = body[i]; i += 1
    i += 2                                   # protocol_id, priority_flag
    _, i = cstring(body, i)                  # schedule_delivery_time
    _, i = cstring(body, i)                  # validity_period
    i += 3                                   # registered_delivery, replace_if_present, data_coding (below)
    data_coding = body[i - 1]
    i += 1                                   # sm_default_msg_id
    length = body[i]; i += 1
    message = bytearray(body[i:i + length])
    if esm_class & 0x40 and len(message) >= 6 and message[1] == 0x00 and message[2] == 0x03:
        message[3] = 0                       # the concatenation reference: Kannel picks it per message
        text = message[:3].hex() + "XX" + message[4:].hex()
    else:
        text = message.hex()
    return dest, data_coding, esm_class, text


def receipts(conn, send, held):
    """After SIGUSR1: a deliver_sm receipt for every message this connection submitted."""
    release.wait()
    sequence = 1 << 20
    for message_id, handset, sender in held:
        text = f"id:{message_id} sub:001 dlvrd:001 submit date:2612031200 done date:2612031201 stat:DELIVRD err:000 text:".encode()
        body = (b"\0" + b"\x01\x01" + handset.encode() + b"\0" + b"\x05\x00" + sender.encode() + b"\0"
                + bytes([0x04, 0, 0]) + b"\0\0" + bytes([0, 0, 0, 0]) + bytes([len(text)]) + text)
        sequence += 1
        try:
            send(struct.pack(">IIII", 16 + len(body), 0x5, 0, sequence) + body)
        except OSError:
            return


def serve(conn):
    buffer = b""
    send_lock = threading.Lock()
    def send(data):
        with send_lock:
            conn.sendall(data)
    held = []
    if hold:
        threading.Thread(target=receipts, args=(conn, send, held), daemon=True).start()
    try:
        while True:
            while len(buffer) < 16 or len(buffer) < struct.unpack(">I", buffer[:4])[0]:
                data = conn.recv(1 << 16)
                if not data:
                    return
                buffer += data
            length, command, _, sequence = struct.unpack(">IIII", buffer[:16])
            body, buffer = buffer[16:length], buffer[length:]
            if command in (0x1, 0x2, 0x9):                    # bind_receiver, bind_transmitter, bind_transceiver
                reply = b"loa-bench\0"
            elif command == 0x4:                              # submit_sm
                now = time.time()
                dest, coding, esm, text = submit(body)
                with lock:
                    counter[0] += 1
                    record.write(f"{now:.6f}\t{dest} {coding} {esm} {text}\n")
                    reply = f"{counter[0]}\0".encode()
                    if hold:
                        held.append((counter[0], dest, "LOA"))
            elif command in (0x15, 0x6):                      # enquire_link, unbind
                reply = b""
            elif command & 0x80000000:                        # an answer (deliver_sm_resp): nothing to say
                continue
            else:
                send(struct.pack(">IIII", 16, 0x80000000, 0x3, sequence))   # generic_nack: invalid command
                continue
            send(struct.pack(">IIII", 16 + len(reply), command | 0x80000000, 0, sequence) + reply)
            if command == 0x6:
                return
    except OSError:
        return
    finally:
        conn.close()


def stop(*_):
    with lock:
        record.flush()
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
signal.signal(signal.SIGUSR1, lambda *_: release.set())
server = socket.create_server(("127.0.0.1", port), reuse_port=False)
server.settimeout(0.5)
while True:
    try:
        conn, _ = server.accept()
    except socket.timeout:
        with lock:
            record.flush()
        continue
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
