#!/usr/bin/env python3
"""A fake, hostile sbkd for the client tests (check_hostile, hostile_sbkctl).

Usage: hostile_daemon.py SOCKET SCENARIO

Listens on the UNIX socket SOCKET, prints "ready" on stdout once it
listens, and answers every connection as SCENARIO says, until killed.
Python 3 standard library only.  Scenarios:

  stray-flood     read one request, then send replies to ids never sent,
                  as fast as the socket takes them, for ever
  batch-flood     the same, each stray reply inside a batch array
  progress-flood  read one request, then send "progress" notifications
                  for its id for ever, never the reply
  silent          read requests, never answer
  no-accept       listen with a backlog of 1 and never accept
  huge-line       read one request, then send bytes without a newline
                  for ever
  result-null     answer every request with "result": null
  wrong-shapes    argon2.hash -> {"hash": 12345}; zstd.* ->
                  {"bytes_in": -1, "bytes_out": "many"}; file.read ->
                  {"data_b64": "aGVsbG8=", "bytes": 5, "eof": 0}; stats ->
                  a number; ping -> {"pong": true}
  read-noeof      file.read -> 5 bytes ("hello") and "eof": false, always
  read-overflow   file.read -> 5 bytes but "bytes": INT64_MAX, eof false
  ctrl-error      answer every request with an error whose message and
                  data hold escape sequences, a newline and a forged line
  ctrl-result     answer with results whose strings and keys hold escape
                  sequences (stats keys, the hash, an error in a batch)
"""

import json
import os
import socket
import sys
import threading

SCENARIOS = ("stray-flood", "batch-flood", "progress-flood", "silent",
             "no-accept", "huge-line", "result-null", "wrong-shapes",
             "read-noeof", "read-overflow", "ctrl-error", "ctrl-result")
INT64_MAX = 9223372036854775807
# Clears the screen, sets the terminal title, bell, an 8-bit CSI (U+009B),
# a carriage return and a newline followed by a forged sbkctl line.
EVIL = "\x1b[2J\x1b]0;pwned\x07\x9b31m\rX\nsbkctl: all good"


def lines(conn):
    """Yield request lines (bytes) until the peer closes."""
    f = conn.makefile("rb")
    for line in f:
        yield line


def request_id(line):
    try:
        msg = json.loads(line)
    except ValueError:
        return None, None
    if isinstance(msg, dict):
        return msg.get("id"), msg.get("method")
    return None, None


def flood(conn, chunk):
    """Send chunk again and again until the peer goes away."""
    try:
        while True:
            conn.sendall(chunk)
    except OSError:
        pass


def send(conn, obj):
    conn.sendall(json.dumps(obj).encode() + b"\n")


def stray_chunk(batch):
    pad = "x" * 200
    out = []
    for i in range(2000):
        msg = {"jsonrpc": "2.0", "id": 1000000 + i, "result": {"pad": pad}}
        out.append(json.dumps([msg] if batch else msg))
    return ("\n".join(out) + "\n").encode()


def shaped(scenario, id_, method):
    """The reply a reply-per-request scenario sends."""
    ok = lambda result: {"jsonrpc": "2.0", "id": id_, "result": result}
    if scenario == "result-null":
        return ok(None)
    if scenario == "wrong-shapes":
        if method == "argon2.hash":
            return ok({"hash": 12345})
        if method in ("zstd.compress", "zstd.decompress"):
            return ok({"bytes_in": -1, "bytes_out": "many"})
        if method == "file.read":
            return ok({"data_b64": "aGVsbG8=", "bytes": 5, "eof": 0})
        if method == "stats":
            return ok(42)
        return ok({"pong": True})
    if scenario == "read-noeof":
        return ok({"data_b64": "aGVsbG8=", "bytes": 5, "eof": False})
    if scenario == "read-overflow":
        return ok({"data_b64": "aGVsbG8=", "bytes": INT64_MAX, "eof": False})
    if scenario == "ctrl-error":
        return {"jsonrpc": "2.0", "id": id_,
                "error": {"code": -32603, "message": EVIL,
                          "data": {"why": EVIL}}}
    if scenario == "ctrl-result":
        if method == "stats":
            return ok({"key" + EVIL: "value" + EVIL, "nested": {EVIL: 1}})
        if method == "argon2.hash":
            return ok({"hash": "$argon2id$" + EVIL})
        if method == "argon2.verify":
            return ok({"valid": True, "note": EVIL})
        if method in ("zstd.compress", "zstd.decompress"):
            return ok({"bytes_in": 1, "bytes_out": 2, "path": EVIL})
        return ok({"pong": True, "note": EVIL})
    raise SystemExit("unknown scenario " + scenario)


def serve(conn, scenario):
    try:
        if scenario == "silent":
            for _ in lines(conn):
                pass
            return
        if scenario in ("stray-flood", "batch-flood", "progress-flood",
                        "huge-line"):
            first = next(lines(conn), None)
            if first is None:
                return
            id_, _ = request_id(first)
            if scenario == "progress-flood":
                note = {"jsonrpc": "2.0", "method": "progress",
                        "params": {"id": id_, "done": 1, "total": 2,
                                   "pad": "p" * 16384}}
                chunk = ((json.dumps(note) + "\n") * 64).encode()
            elif scenario == "huge-line":
                chunk = b"[" + b"1," * 131072
            else:
                chunk = stray_chunk(scenario == "batch-flood")
            flood(conn, chunk)
            return
        for line in lines(conn):
            id_, method = request_id(line)
            if id_ is None:
                continue
            send(conn, shaped(scenario, id_, method))
    except OSError:
        pass
    finally:
        conn.close()


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: hostile_daemon.py SOCKET SCENARIO")
    path, scenario = sys.argv[1], sys.argv[2]
    if scenario not in SCENARIOS:
        sys.exit("unknown scenario " + scenario)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1 if scenario == "no-accept" else 64)
    print("ready", flush=True)
    if scenario == "no-accept":
        threading.Event().wait()
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, scenario),
                         daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
    finally:
        if len(sys.argv) == 3 and os.path.exists(sys.argv[1]):
            os.unlink(sys.argv[1])
