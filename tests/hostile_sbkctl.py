#!/usr/bin/env python3
"""sbkctl against a fake, hostile daemon (tests/hostile_daemon.py).

Every command must end (by its -t timeout plus a generous margin), exit
with the documented code, print nothing from the wire unescaped (no
control character reaches the terminal but the newline ending a line),
and validate the shape of each result.  $SBKCTL is the binary under test.
Runs with unittest; each case starts its own fake daemon.
"""

import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
HOSTILE = os.path.join(HERE, "hostile_daemon.py")
SBKCTL = os.environ.get("SBKCTL", "sbkctl")
# A hang guard, never a speed check: what a command may take beyond -t.
SLACK_S = 8.0


def sanitized(path):
    """True for a binary built with ASan, which reserves terabytes of
    address space and so cannot run under RLIMIT_AS."""
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


LIMIT_AS = not sanitized(SBKCTL)


def limits():
    # A runaway sbkctl is stopped by these rather than by the machine.
    if LIMIT_AS:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 20, 16 << 20))


def bad_bytes(data):
    """The control characters in data (bytes) other than a newline."""
    text = data.decode("utf-8", "replace")
    return [c for c in text
            if (ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) <= 0x9f]


class Hostile(unittest.TestCase):
    scenario = None

    def start(self, scenario):
        self.tmp = tempfile.mkdtemp(prefix="sbk-hostile-ctl-")
        self.sock = os.path.join(self.tmp, "sock")
        self.proc = subprocess.Popen(
            [sys.executable, HOSTILE, self.sock, scenario],
            stdout=subprocess.PIPE)
        self.assertEqual(self.proc.stdout.readline().strip(), b"ready")

    def tearDown(self):
        if getattr(self, "proc", None) is not None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(getattr(self, "tmp", "/nonexistent"), ignore_errors=True)

    def ctl(self, args, timeout_s, stdin=b"", out_file=False):
        """Run sbkctl; returns (exit code, stdout, stderr, seconds)."""
        env = dict(os.environ, SBK_SOCKET=self.sock)
        out = tempfile.TemporaryFile() if out_file else subprocess.PIPE
        t0 = time.monotonic()
        p = subprocess.Popen([SBKCTL] + args, stdin=subprocess.PIPE,
                             stdout=out, stderr=subprocess.PIPE, env=env,
                             preexec_fn=limits)
        try:
            o, e = p.communicate(stdin, timeout=timeout_s + SLACK_S)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            self.fail("sbkctl %s did not end within %.0f s"
                      % (" ".join(args), timeout_s + SLACK_S))
        took = time.monotonic() - t0
        if out_file:
            out.seek(0)
            o = out.read()
            out.close()
        return p.returncode, o, e, took

    def assertClean(self, data):
        self.assertEqual(bad_bytes(data), [], "raw control bytes: %r" % data)

    def assertOneLine(self, err):
        self.assertTrue(err.endswith(b"\n"), err)
        self.assertEqual(err.count(b"\n"), 1, "more than one line: %r" % err)
        self.assertClean(err)


class Floods(Hostile):
    def test_stray_flood_ping(self):
        self.start("stray-flood")
        rc, _, err, _ = self.ctl(["-t", "1000", "ping"], 1)
        self.assertEqual(rc, 4, err)
        self.assertIn(b"within 1000 ms", err)

    def test_progress_flood_ping(self):
        self.start("progress-flood")
        rc, _, err, _ = self.ctl(["-t", "1000", "ping"], 1)
        self.assertEqual(rc, 4, err)

    def test_bench_progress_flood_ends(self):
        self.start("progress-flood")
        rc, out, err, _ = self.ctl(
            ["-t", "1000", "bench", "-c", "2", "-p", "4", "-n", "100",
             "--probe-ms", "0"], 1)
        self.assertEqual(rc, 4, err)
        self.assertClean(err)

    def test_bench_stray_flood_ends(self):
        self.start("stray-flood")
        rc, out, err, _ = self.ctl(
            ["-t", "1000", "bench", "-c", "1", "-p", "2", "-n", "10",
             "--probe-ms", "0"], 1)
        self.assertEqual(rc, 4, err)

    def test_connect_timeout_follows_t(self):
        self.start("no-accept")
        # Fill the listen backlog so the next connect has to wait.
        held = []
        for _ in range(64):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(self.sock)
            except (BlockingIOError, InterruptedError):
                s.close()
                break
            held.append(s)
        rc, _, err, took = self.ctl(["-t", "500", "ping"], 0.5)
        self.assertEqual(rc, 4, err)
        # 10 s was the fixed connect timeout; -t 500 must bound it.
        self.assertLess(took, 5.0, "connect took %.1f s with -t 500" % took)
        for s in held:
            s.close()


class Escaping(Hostile):
    def test_error_message_escaped(self):
        self.start("ctrl-error")
        rc, out, err, _ = self.ctl(["ping"], 10)
        self.assertEqual(rc, 3, err)
        self.assertOneLine(err)
        self.assertNotIn(b"\nsbkctl: all good", err)
        self.assertIn(b"\\x1b[2J", err)

    def test_call_json_error_escaped(self):
        self.start("ctrl-error")
        rc, out, err, _ = self.ctl(["--json", "call", "ping"], 10)
        self.assertEqual(rc, 3, err)
        self.assertClean(out)
        self.assertOneLine(err)

    def test_stats_escaped(self):
        self.start("ctrl-result")
        rc, out, err, _ = self.ctl(["stats"], 10)
        self.assertEqual(rc, 0, err)
        self.assertClean(out)
        self.assertNotIn(b"\nsbkctl: all good", out)
        rc, out, err, _ = self.ctl(["stats", "--json"], 10)
        self.assertEqual(rc, 0, err)
        self.assertClean(out)

    def test_hash_escaped(self):
        self.start("ctrl-result")
        rc, out, err, _ = self.ctl(["hash"], 10, stdin=b"pw\n")
        self.assertClean(out)
        self.assertClean(err.replace(b"\n", b""))

    def test_call_session_escaped(self):
        self.start("ctrl-error")
        rc, out, err, _ = self.ctl(
            ["call", "-"], 10,
            stdin=b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n')
        self.assertClean(out)


class Shapes(Hostile):
    def setUp(self):
        self.data = tempfile.mkdtemp(prefix="sbk-hostile-data-")
        self.file = os.path.join(self.data, "in")
        with open(self.file, "wb") as f:
            f.write(b"hello")

    def tearDown(self):
        super().tearDown()
        shutil.rmtree(self.data, ignore_errors=True)

    def expect3(self, args, stdin=b""):
        rc, out, err, _ = self.ctl(args, 10, stdin=stdin, out_file=True)
        self.assertEqual(rc, 3, "%s: exit %d, stdout %r, stderr %r"
                         % (args, rc, out[:200], err))
        self.assertOneLine(err)
        return out, err

    def test_compress_null(self):
        self.start("result-null")
        out, err = self.expect3(
            ["compress", self.file, "-o", os.path.join(self.data, "o.zst")])
        self.assertNotIn(b"0 -> 0 bytes", out)

    def test_hash_null(self):
        self.start("result-null")
        self.expect3(["hash"], stdin=b"pw\n")

    def test_verify_null(self):
        self.start("result-null")
        self.expect3(["verify", "$argon2id$x"], stdin=b"pw\n")

    def test_read_null(self):
        self.start("result-null")
        self.expect3(["read", self.file])

    def test_stats_ping_null(self):
        self.start("result-null")
        self.expect3(["stats"])
        self.expect3(["ping"])

    def test_hash_number(self):
        self.start("wrong-shapes")
        self.expect3(["hash"], stdin=b"pw\n")

    def test_compress_bad_sizes(self):
        self.start("wrong-shapes")
        self.expect3(
            ["compress", self.file, "-o", os.path.join(self.data, "o.zst")])

    def test_read_eof_not_boolean(self):
        self.start("wrong-shapes")
        self.expect3(["read", self.file])

    def test_stats_number(self):
        self.start("wrong-shapes")
        self.expect3(["stats"])

    def test_read_never_eof(self):
        self.start("read-noeof")
        out, err = self.expect3(["-t", "2000", "read", self.file])
        self.assertLessEqual(len(out), 5)

    def test_read_overflow(self):
        self.start("read-overflow")
        out, err = self.expect3(["-t", "2000", "read", self.file])
        self.assertLessEqual(len(out), 5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
