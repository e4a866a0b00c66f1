"""check - what a reply must look like, and the identities sbkd's `stats`
must keep, checked against the history the clients observed (Jepsen's
lesson: the server's account is one more thing to check, not the truth).

The stats identity (daemon/stats.c, daemon/dispatch.c): every job admitted
to a pool is counted once in jobs.accepted, and once more, when it is
answered or dropped, in exactly one outcome (dispatch.c answer() calls
stats_job_end() once per job):

    jobs.accepted = jobs.completed + jobs.failed + jobs.cancelled
                  + jobs.timed_out + jobs.dropped + jobs.shutdown
                  + (jobs admitted and not yet answered)

so at idle the last term is 0, and while running accepted is never below
the sum.  A job refused with -32000 is counted in jobs.rejected only, a
request refused before admission (-32600/-32601/-32602, and ping, stats,
job.cancel, which run on the event thread) in none of these.  Each global
outcome is also the sum of that outcome over the pool methods in
`methods` (stats_job_end() moves both).  Against the clients' history,
over a run between two idle points: for each outcome the change is at
least what the clients saw, and at most that plus the pool requests whose
reply nobody saw (notifications, closed connections).
"""

import base64
import json

from schedule import (EVENT_METHODS, MAX_READ_BYTES, file_data, frame_data)

OUTCOMES = ("completed", "failed", "cancelled", "timed_out", "dropped",
            "shutdown")


def outcome_of(reply):
    """The jobs.* counter a reply to a pool job moves."""
    if "result" in reply:
        return "completed"
    code = reply["error"]["code"]
    return {-32000: "rejected", -32001: "timed_out", -32002: "cancelled",
            -32006: "shutdown", -32600: None, -32601: None,
            -32602: None}.get(code, "failed")


def check_reply(seed, q, reply, cancels):
    """Problems with one reply to request q (a list of strings).
    cancels: dict id key -> True/False of job.cancel results, filled in
    here for the cancel consistency check."""
    bad = []
    what = "%s id %s" % (q["method"], json.dumps(q["id"]))
    if reply.get("jsonrpc") != "2.0":
        bad.append("%s: reply without jsonrpc 2.0" % what)
    has_r, has_e = "result" in reply, "error" in reply
    if has_r == has_e:
        return bad + ["%s: reply has %s" % (
            what, "both result and error" if has_r else "neither result "
            "nor error")]
    if has_e:
        err = reply["error"]
        code = err.get("code") if isinstance(err, dict) else None
        if not isinstance(code, int) or not isinstance(err.get("message"),
                                                         str):
            return bad + ["%s: malformed error %s" % (what, err)]
        if code != q["expect"] and code not in q["also"]:
            bad.append("%s: error %d %r, expected %s%s" % (
                what, code, err.get("message"), q["expect"],
                "" if not q["also"] else " or one of %s" %
                sorted(q["also"])))
        if code == -32000 and not isinstance(
                (err.get("data") or {}).get("retry_after_ms"), int):
            bad.append("%s: -32000 without data.retry_after_ms" % what)
        return bad
    res = reply["result"]
    if q["expect"] != "result":
        return bad + ["%s: a result, expected error %s" % (what,
                                                           q["expect"])]
    if not isinstance(res, dict):
        return bad + ["%s: result is not an object" % what]
    m, p, c = q["method"], q["params"], q["check"]
    try:
        if m == "ping":
            ok = res == {"pong": True}
        elif m == "stats":
            ok = isinstance(res["jobs"]["accepted"], int)
            bad += stats_running(res, what)
        elif m == "job.cancel":
            ok = isinstance(res["cancelled"], bool)
            if ok:
                cancels.setdefault(json.dumps(c["target"]), []).append(
                    res["cancelled"])
        elif m == "argon2.hash":
            ok = res["hash"].startswith(
                "$argon2id$v=19$m=%d,t=%d,p=1$" % (p["m_cost_kib"],
                                                    p["t_cost"]))
        elif m == "argon2.verify":
            ok = res["valid"] is c["valid"]
        elif m in ("zstd.compress", "zstd.decompress") and c.get(
                "path_mode"):
            ok = (isinstance(res["bytes_in"], int) and
                  isinstance(res["bytes_out"], int) and
                  res.get(("bytes_in" if "bytes_in" in c else "bytes_out"))
                  == c.get("bytes_in", c.get("bytes_out")))
        elif m == "zstd.compress":
            out = base64.b64decode(res["data_b64"], validate=True)
            ok = (res["bytes_in"] == c["bytes_in"] and
                  res["bytes_out"] == len(out) and
                  out[:4] == b"\x28\xb5\x2f\xfd")
        elif m == "zstd.decompress":
            out = base64.b64decode(res["data_b64"], validate=True)
            ok = (out == frame_data(seed, c["frame"]) and
                  res["bytes_out"] == len(out))
        elif m == "file.read":
            data = file_data(seed, c["file"])
            off = c.get("offset", 0)
            n = c.get("length", MAX_READ_BYTES)
            want = data[off:off + n]
            out = base64.b64decode(res["data_b64"], validate=True)
            ok = (out == want and res["bytes"] == len(want) and
                  res["size"] == len(data) and
                  res["eof"] is (off + len(want) >= len(data)))
        elif m == "sleep":
            ok = isinstance(res["slept_ms"], int) and \
                res["slept_ms"] >= p["ms"]
        elif m == "spin":
            ok = isinstance(res["spun_ms"], int) and \
                res["spun_ms"] >= p["ms"]
        else:
            ok = False
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        ok = False
        bad.append("%s: result of the wrong shape (%s)" % (what, e))
    if not ok:
        text = json.dumps(res)
        bad.append("%s: wrong result %s" % (
            what, text if len(text) < 300 else text[:300] + "..."))
    return bad


def stats_running(st, what="stats"):
    """The identity as far as it holds while jobs run."""
    j = st["jobs"]
    done = sum(j[o] for o in OUTCOMES)
    if j["accepted"] < done:
        return ["%s: jobs.accepted %d < %d answered or dropped (%s)" % (
            what, j["accepted"], done, json.dumps(j))]
    return []


def stats_idle(st):
    """The identity at idle: nothing admitted is left unanswered, and the
    per-method outcomes add up to the global ones."""
    bad = []
    j = st["jobs"]
    done = sum(j[o] for o in OUTCOMES)
    if j["accepted"] != done:
        bad.append("idle stats: jobs.accepted %d != %d answered or dropped "
                   "(%s)" % (j["accepted"], done, json.dumps(j)))
    for o in OUTCOMES:
        per = sum(m.get(o, 0) for name, m in st["methods"].items()
                  if name not in EVENT_METHODS and
                  not name.startswith("admin."))
        if per != j[o]:
            bad.append("idle stats: jobs.%s %d but the pool methods' %s "
                       "add up to %d" % (o, j[o], o, per))
    if st["queue"]["depth"] != 0:
        bad.append("idle stats: queue.depth %d" % st["queue"]["depth"])
    for lane in ("cpu", "io"):
        if st["workers"][lane]["busy"] != 0:
            bad.append("idle stats: workers.%s.busy %d" % (
                lane, st["workers"][lane]["busy"]))
    return bad


def stats_history(before, after, seen, unseen, ambiguous):
    """The change of jobs.* over the run against the clients' history.
    seen: counter name -> replies the clients saw; unseen: pool requests
    whose reply no client saw; ambiguous: errors (-32003, -32005) that
    the daemon may give before admission or from the job."""
    bad = []
    for name in OUTCOMES + ("rejected",):
        d = after["jobs"][name] - before["jobs"][name]
        lo = seen.get(name, 0)
        hi = lo + unseen + (ambiguous if name == "failed" else 0)
        if name == "shutdown":
            lo = hi = 0
        if not lo <= d <= hi:
            bad.append("stats vs history: jobs.%s moved by %d, the clients "
                       "saw %d such replies and %d pool requests went "
                       "unseen (allowed %d..%d)" % (name, d, seen.get(
                           name, 0), unseen, lo, hi))
    pings = (after["methods"].get("ping", {}).get("completed", 0) -
             before["methods"].get("ping", {}).get("completed", 0))
    if pings < seen.get("pong", 0):
        bad.append("stats vs history: methods.ping.completed moved by %d, "
                   "the clients saw %d pongs" % (pings, seen["pong"]))
    return bad


def children(pid):
    """sbkd's child processes from /proc/*/stat: (live, zombies) pids.
    Its only children are its isolated helpers (daemon/isolate.c)."""
    import os
    live, zombies = [], []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                # comm may hold spaces or ')': the fields follow the last ')'.
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) != pid:
            continue
        (zombies if fields[0] == "Z" else live).append(int(name))
    return sorted(live), sorted(zombies)


def idle_resources(before, after):
    """fds and child processes at idle after the run against the idle
    baseline.  Each live isolated helper holds two fds in sbkd (its channel
    and its pidfd), and a reload in the run legitimately changes how many
    are alive at idle ([isolation] helpers; with no kind isolated nothing
    grows the set back until a job needs one).  So the expected fds are the
    baseline's, minus its helpers', plus the helpers' now (isolation.helpers
    of `stats`, read at the same idle point).

    Children: every live child is a helper counted in isolation.helpers
    (none leaked, none forgotten).  Zombies are counted apart and must be
    0: whoever ends a helper SIGKILLs and reaps it at once, a worker or
    the keeper thread (isolate.c helper_retire); the event thread never
    waits."""
    bad = []
    hb = before["stats"]["isolation"]["helpers"]
    ha = after["stats"]["isolation"]["helpers"]
    want = before["fds"] - 2 * hb + 2 * ha
    if after["fds"] != want:
        bad.append("idle: fds %d after the run, %d before; expected %d "
                   "(%d - 2 x %d helpers before + 2 x %d after)" % (
                       after["fds"], before["fds"], want, before["fds"],
                       hb, ha))
    for what, fig in (("before the run", before), ("after the run", after)):
        n = fig["stats"]["isolation"]["helpers"]
        if len(fig["children"]) != n:
            bad.append("idle: %s: %d live child processes %s, "
                       "isolation.helpers %d" % (
                           what, len(fig["children"]), fig["children"], n))
        if fig["zombies"]:
            bad.append("idle: %s: zombie child processes %s" % (
                what, fig["zombies"]))
    return bad
