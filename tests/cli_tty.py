#!/usr/bin/env python3
"""sbkctl's terminal behaviours through a pseudo-terminal (the pty module),
and sbkd's log prefixes with and without JOURNAL_STREAM.

A real sbkd ($SBKD) runs on a socket in a temporary directory whose read
and write roots are that directory; $SBKCTL is the client under test.
Every wait has a generous hang guard; nothing asserts speed.
"""

import fcntl
import os
import pty
import random
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import termios
import time
import unittest

SBKD = os.environ.get("SBKD", "sbkd")
SBKCTL = os.environ.get("SBKCTL", "sbkctl")
GUARD_S = 30.0


def spawn_on_pty(args, env, cols=80, stdout_pipe=False, stderr_null=False,
                 stdin_null=False):
    """Run args with the pty as controlling terminal (and stdin, stdout,
    stderr unless redirected).  Returns (pid, master fd, stdout pipe)."""
    rfd = wfd = None
    if stdout_pipe:
        rfd, wfd = os.pipe()
    pid, master = pty.fork()
    if pid == 0:
        try:
            if stdout_pipe:
                os.dup2(wfd, 1)
            if stderr_null:
                null = os.open("/dev/null", os.O_WRONLY)
                os.dup2(null, 2)
            if stdin_null:
                null = os.open("/dev/null", os.O_RDONLY)
                os.dup2(null, 0)
            os.execve(args[0], args, env)
        finally:
            os._exit(127)
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    if wfd is not None:
        os.close(wfd)
    return pid, master, rfd


def read_until(fd, want, guard=GUARD_S):
    """Read fd until want (bytes) is in what was read; returns it all."""
    got = b""
    end = time.monotonic() + guard
    while want not in got:
        left = end - time.monotonic()
        if left <= 0:
            raise AssertionError("never saw %r; got %r" % (want, got[-300:]))
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            got += chunk
    return got


def drain(fd, guard=GUARD_S):
    """Everything until end of file (or EIO when the pty's child exits)."""
    got = b""
    end = time.monotonic() + guard
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.5)
        if not r:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        got += chunk
    return got


def wait_exit(pid, guard=GUARD_S):
    end = time.monotonic() + guard
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError("the process did not exit")


class Tty(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sbk-tty-")
        cls.sock = os.path.join(cls.tmp, "sbkd.sock")
        conf = os.path.join(cls.tmp, "sbkd.conf")
        with open(conf, "w") as f:
            f.write("[argon2]\nt_cost = 1\nm_cost_kib = 1024\n"
                    "[files]\nread_roots = %s\nwrite_roots = %s\n"
                    % (cls.tmp, cls.tmp))
        cls.log = open(os.path.join(cls.tmp, "sbkd.log"), "w")
        cls.proc = subprocess.Popen([SBKD, "-c", conf, "-s", cls.sock],
                                    stdout=cls.log, stderr=cls.log)
        end = time.monotonic() + GUARD_S
        while not os.path.exists(cls.sock):
            if cls.proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError("sbkd did not start")
            time.sleep(0.05)
        cls.env = dict(os.environ, SBK_SOCKET=cls.sock, TERM="xterm")
        # Data that takes zstd a while at a high level: random words.
        rnd = random.Random(7)
        words = [bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz")
                       for _ in range(rnd.randint(2, 9)))
                 for _ in range(5000)]
        cls.big = os.path.join(cls.tmp, "big.txt")
        with open(cls.big, "wb") as f:
            for _ in range(8):
                f.write(b" ".join(rnd.choice(words) for _ in range(60000)))

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        try:
            cls.proc.wait(10)
        except subprocess.TimeoutExpired:
            cls.proc.kill()
        cls.log.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_prompt_on_dev_tty(self):
        # stderr to /dev/null: the prompt still shows, on the terminal.
        pid, master, out = spawn_on_pty([SBKCTL, "hash"], self.env,
                                        stdout_pipe=True, stderr_null=True)
        read_until(master, b"Password: ")
        os.write(master, b"tty secret\n")
        after = drain(master, 10)
        status = wait_exit(pid)
        result = drain(out, 10)
        os.close(out)
        os.close(master)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, result)
        self.assertTrue(result.startswith(b"$argon2id$"), result)
        self.assertNotIn(b"tty secret", after)  # no echo

    def progress_run(self, cols, interrupt=False):
        out = os.path.join(self.tmp, "big.%d.zst" % cols)
        pid, master, _ = spawn_on_pty(
            [SBKCTL, "compress", "-f", "-l", "19", self.big, "-o", out],
            self.env, cols=cols, stdin_null=True)
        seen = read_until(master, b"ETA")
        if interrupt:
            os.kill(pid, signal.SIGINT)
        seen += drain(master)
        status = wait_exit(pid)
        os.close(master)
        return seen, status

    def test_progress_bar_fits(self):
        seen, status = self.progress_run(50)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, seen[-300:])
        bars = [seg for seg in seen.split(b"\r") if b"ETA" in seg]
        self.assertTrue(bars, seen[-300:])
        for bar in bars:
            self.assertIn(b"/s", bar)
            self.assertLess(len(bar.split(b"\n")[0]), 50, bar)

    def test_progress_cleared_on_interrupt(self):
        seen, status = self.progress_run(80, interrupt=True)
        self.assertTrue(os.WIFSIGNALED(status))
        self.assertEqual(os.WTERMSIG(status), signal.SIGINT)
        tail = seen[seen.rindex(b"ETA"):]
        self.assertIn(b"\r\x1b[K", tail)

    def test_stats_watch(self):
        pid, master, _ = spawn_on_pty(
            [SBKCTL, "stats", "--watch", "200ms"], self.env, stdin_null=True)
        seen = read_until(master, b"connections")
        seen += read_until(master, b"\x1b[H\x1b[2J")
        os.kill(pid, signal.SIGINT)
        seen += drain(master)
        status = wait_exit(pid)
        os.close(master)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        self.assertGreaterEqual(seen.count(b"\x1b[H\x1b[2J"), 2)


class LogPrefix(unittest.TestCase):
    def run_sbkd(self, journal):
        tmp = tempfile.mkdtemp(prefix="sbk-log-")
        try:
            path = os.path.join(tmp, "log")
            sock = os.path.join(tmp, "s")
            conf = os.path.join(tmp, "c")
            open(conf, "w").close()
            with open(path, "w") as log:
                env = dict(os.environ)
                env.pop("JOURNAL_STREAM", None)
                if journal:
                    st = os.fstat(log.fileno())
                    env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
                p = subprocess.Popen([SBKD, "-c", conf, "-s", sock],
                                     stderr=log, stdout=log, env=env)
                end = time.monotonic() + GUARD_S
                while not os.path.exists(sock) and time.monotonic() < end:
                    time.sleep(0.05)
                p.terminate()
                p.wait(GUARD_S)
            with open(path) as f:
                return f.read()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_plain_without_journal(self):
        text = self.run_sbkd(False)
        self.assertIn("sbkd: info: listening on", text)
        self.assertNotIn("<6>", text)

    def test_prefixes_with_journal(self):
        text = self.run_sbkd(True)
        self.assertIn("<6>listening on", text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
