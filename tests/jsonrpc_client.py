#!/usr/bin/env python3
"""A third-party JSON-RPC 2.0 client for sbkd, in plain Python 3 (socket and
json from the standard library only), so the protocol stays standard rather
than sbkctl-shaped.  Starts $SBKD on a socket in a temporary directory with
test methods enabled, then checks ping, a batch, error replies, a
notification, out-of-order replies and string ids.  Exit 0 on success."""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time


class Client:
    """Minimal NDJSON JSON-RPC 2.0 client over a UNIX stream socket."""

    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 1

    def send(self, obj):
        self.sock.sendall(json.dumps(obj).encode() + b"\n")

    def request(self, method, params=None, id_=None):
        if id_ is None:
            id_ = self.next_id
            self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": id_, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return id_

    def notify(self, method, params=None):
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)

    def recv(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, method, params=None):
        id_ = self.request(method, params)
        reply = self.recv()
        check(reply.get("id") == id_, "reply id %r for %r" % (reply.get("id"), id_))
        return reply

    def quiet_for(self, seconds):
        self.sock.settimeout(seconds)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return True
        finally:
            self.sock.settimeout(10.0)
        self.buf += data
        return False

    def close(self):
        self.sock.close()


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def valid_response(r):
    check(r.get("jsonrpc") == "2.0", "jsonrpc member: %r" % r)
    check(("result" in r) != ("error" in r), "exactly one of result/error: %r" % r)
    check("id" in r, "id member: %r" % r)
    if "error" in r:
        check(isinstance(r["error"].get("code"), int), "error code: %r" % r)
        check(isinstance(r["error"].get("message"), str), "error message: %r" % r)


def run(path):
    c = Client(path)

    # ping
    r = c.call("ping")
    valid_response(r)
    check(r["result"] == {"pong": True}, "ping result %r" % r)

    # error replies: unknown method, bad params (with data.param), parse error
    r = c.call("no.such.method")
    valid_response(r)
    check(r["error"]["code"] == -32601, "method not found: %r" % r)
    r = c.call("sleep", {"ms": "soon"})
    valid_response(r)
    check(r["error"]["code"] == -32602, "invalid params: %r" % r)
    check(r["error"].get("data", {}).get("param") == "ms", "data.param: %r" % r)
    c.sock.sendall(b"{this is not json\n")
    r = c.recv()
    valid_response(r)
    check(r["id"] is None and r["error"]["code"] == -32700, "parse error: %r" % r)

    # a notification is executed but never answered
    c.notify("sleep", {"ms": 1})
    check(c.quiet_for(0.3), "a notification was answered")

    # a batch: one array holding the replies of its non-notification members
    c.send([
        {"jsonrpc": "2.0", "id": "b1", "method": "ping"},
        {"jsonrpc": "2.0", "method": "ping"},
        {"jsonrpc": "2.0", "id": "b2", "method": "sleep", "params": {"ms": 5}},
        {"jsonrpc": "2.0", "id": "b3", "method": "nope"},
    ])
    r = c.recv()
    check(isinstance(r, list) and len(r) == 3, "batch reply %r" % r)
    for m in r:
        valid_response(m)
    by_id = {m["id"]: m for m in r}
    check(set(by_id) == {"b1", "b2", "b3"}, "batch ids %r" % r)
    check(by_id["b1"]["result"] == {"pong": True}, "batch ping %r" % r)
    check(by_id["b2"]["result"]["slept_ms"] >= 5, "batch sleep %r" % r)
    check(by_id["b3"]["error"]["code"] == -32601, "batch error %r" % r)
    c.send([])
    r = c.recv()
    check(isinstance(r, dict) and r["error"]["code"] == -32600, "empty batch %r" % r)

    # replies come as jobs end, not in request order; ids echoed exactly
    slow = c.request("sleep", {"ms": 300}, id_="slow \u00e9")
    fast = c.request("sleep", {"ms": 1}, id_=2**62)
    first, second = c.recv(), c.recv()
    check(first["id"] == fast and second["id"] == slow, "order %r %r" % (first, second))
    c.close()
    print("jsonrpc_client: ok")


def main():
    sbkd = os.environ.get("SBKD")
    if not sbkd:
        print("SBKD is not set", file=sys.stderr)
        return 77
    tmp = tempfile.mkdtemp(prefix="sbk-pyclient-")
    conf = os.path.join(tmp, "sbkd.conf")
    sock = os.path.join(tmp, "sbkd.sock")
    with open(conf, "w") as f:
        f.write("[daemon]\nenable_test_methods = true\n")
    log = open(os.path.join(tmp, "sbkd.log"), "w")
    proc = subprocess.Popen([sbkd, "-c", conf, "-s", sock], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(sock)
                s.close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("sbkd did not start")
                time.sleep(0.02)
        run(sock)
        return 0
    except Exception as e:
        print("jsonrpc_client: FAIL: %s" % e, file=sys.stderr)
        log.flush()
        with open(os.path.join(tmp, "sbkd.log")) as f:
            sys.stderr.write(f.read())
        return 1
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
