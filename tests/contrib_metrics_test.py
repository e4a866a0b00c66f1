#!/usr/bin/env python3
"""Every metric name that contrib/grafana/sbkd.json and
contrib/prometheus/sbk.rules.yml use must exist: a name with a colon is a
recording rule and must be recorded in the rules file; any other name must
appear in a real sbkd's /metrics output.  sbkd ($SBKD) is started with test
methods and metrics on a free loopback port, and a few jobs of each method
run first so that the per-method series exist.  A renamed metric fails
this test.  Exit 0 on success."""

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

# Names that Prometheus itself provides, not sbkd.
PROMETHEUS_OWN = {"ALERTS", "ALERTS_FOR_STATE", "up"}
# PromQL words that look like names.
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right",
            "bool", "and", "or", "unless", "offset", "inf", "nan", "atan2",
            # aggregations, which may be followed by `by (...)`
            "sum", "avg", "min", "max", "count", "stddev", "stdvar", "topk",
            "bottomk", "quantile", "count_values", "group"}
IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def metric_names(expr):
    """The metric names a PromQL expression selects: identifiers outside
    label matchers, strings and range brackets, not followed by '(' (a
    function or aggregation) and not a keyword or a Grafana $variable."""
    # Grafana's label_values(METRIC, LABEL): only METRIC is a name.
    expr = re.sub(r"label_values\(\s*([^,()]*),\s*[A-Za-z_]+\s*\)", r"\1", expr)
    names, i, n = set(), 0, len(expr)
    while i < n:
        c = expr[i]
        if c in "\"'`":
            j = expr.index(c, i + 1)
            while expr[j - 1] == "\\":
                j = expr.index(c, j + 1)
            i = j + 1
        elif c == "{":
            i = expr.index("}", i) + 1
        elif c == "[":
            i = expr.index("]", i) + 1
        elif c == "$":
            m = IDENT.match(expr, i + 1)
            i = m.end() if m else i + 1
        elif c == "(" and expr[:i].rstrip().endswith(("by", "without",
                                                      "on", "ignoring",
                                                      "group_left",
                                                      "group_right")):
            i = expr.index(")", i) + 1  # a label list
        elif IDENT.match(expr, i) and not (i > 0 and (expr[i - 1].isalnum()
                                                      or expr[i - 1] in "._")):
            m = IDENT.match(expr, i)
            word = m.group(0)
            rest = expr[m.end():].lstrip()
            if (word.lower() not in KEYWORDS and not rest.startswith("(")):
                names.add(word)
            i = m.end()
        else:
            i += 1
    return names


def rules_file(path):
    """(recorded names, expressions) of a rules file, read without a YAML
    library: `record: NAME` and `expr:` values, folded (>-) or plain."""
    records, exprs = set(), []
    lines = open(path).read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^(\s*)-?\s*record:\s*(\S+)\s*$", line)
        if m:
            records.add(m.group(2))
        m = re.match(r"^(\s*)expr:\s*(.*)$", line)
        if m:
            indent, value = len(m.group(1)), m.group(2).strip()
            if value in (">-", ">", "|", "|-"):
                value, i = "", i + 1
                while i < len(lines) and (not lines[i].strip() or
                        len(lines[i]) - len(lines[i].lstrip()) > indent):
                    value += " " + lines[i].strip()
                    i += 1
                i -= 1
            exprs.append(value.strip().strip("'\""))
        i += 1
    return records, exprs


def dashboard_exprs(node):
    """Every PromQL string of a Grafana dashboard: targets' and
    annotations' `expr`, template variables' label_values queries."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("expr", "definition") and isinstance(value, str):
                yield value
            elif key == "query" and isinstance(value, dict) and \
                    isinstance(value.get("query"), str):
                yield value["query"]
            else:
                yield from dashboard_exprs(value)
    elif isinstance(node, list):
        for v in node:
            yield from dashboard_exprs(v)


def self_test():
    """The extractor itself, so that it cannot silently find nothing."""
    got = metric_names(
        'histogram_quantile(0.99, sum by (le, method) (rate('
        'sbk_x_bucket{method=~"a|b",le!="+Inf"}[5m] offset 1h))) / '
        'on (instance) group_left sbk_y > 0.5 and a:b:c * '
        'label_values(sbk_z, instance)')
    check(got == {"sbk_x_bucket", "sbk_y", "a:b:c", "sbk_z"}, got)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def call(sock, buf, method, params=None, rid=[0]):
    rid[0] += 1
    msg = {"jsonrpc": "2.0", "id": rid[0], "method": method}
    if params is not None:
        msg["params"] = params
    sock.sendall(json.dumps(msg).encode() + b"\n")
    while b"\n" not in buf[0]:
        chunk = sock.recv(65536)
        check(chunk, "sbkd closed the connection")
        buf[0] += chunk
    line, buf[0] = buf[0].split(b"\n", 1)
    return json.loads(line)


def scrape_sbkd(sbkd, tmp):
    port, sock_path = free_port(), os.path.join(tmp, "s.sock")
    data = os.path.join(tmp, "data")
    os.mkdir(data)
    with open(os.path.join(data, "in.txt"), "w") as f:
        f.write("hello " * 100)
    conf = os.path.join(tmp, "sbkd.conf")
    with open(conf, "w") as f:
        f.write("[daemon]\nsocket = %s\nenable_test_methods = true\n"
                "metrics_listen = 127.0.0.1:%d\n[files]\nread_roots = %s\n"
                "write_roots = %s\n" % (sock_path, port, data, data))
    log = open(os.path.join(tmp, "sbkd.log"), "w+")
    proc = subprocess.Popen([sbkd, "-c", conf], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(sock_path):
            check(proc.poll() is None, "sbkd exited %r" % proc.returncode)
            check(time.monotonic() < deadline, "sbkd did not come up")
            time.sleep(0.05)
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(30)
        sock.connect(sock_path)
        buf = [b""]
        packed = base64.b64encode(b"abc" * 50).decode()
        jobs = [("ping", None), ("stats", None), ("sleep", {"ms": 1}),
                ("spin", {"ms": 1}),
                ("argon2.hash", {"password": "pw", "t_cost": 1,
                                 "m_cost_kib": 64}),
                ("zstd.compress", {"data_b64": packed}),
                ("file.read", {"path": os.path.join(data, "in.txt")}),
                ("sleep", {"ms": 2000, "timeout_ms": 10})]
        for method, params in jobs:
            for _ in range(2):
                call(sock, buf, method, params)
        r = call(sock, buf, "argon2.hash", {"password": "pw", "t_cost": 1,
                                            "m_cost_kib": 64})
        h = r["result"]["hash"]
        call(sock, buf, "argon2.verify", {"password": "pw", "hash": h})
        r = call(sock, buf, "zstd.compress", {"data_b64": packed})
        call(sock, buf, "zstd.decompress",
             {"data_b64": r["result"]["data_b64"]})
        with urllib.request.urlopen(
                "http://127.0.0.1:%d/metrics" % port, timeout=20) as resp:
            text = resp.read().decode()
        sock.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.seek(0)
        sys.stderr.write("--- sbkd log ---\n" + log.read())
    exported = set()
    for line in text.split("\n"):
        if line and not line.startswith("#"):
            exported.add(IDENT.match(line).group(0))
    check("sbk_jobs_total" in exported, "no per-method series: %s" %
          sorted(exported))
    return exported


def main():
    self_test()
    root = os.environ["SBK_SOURCE_ROOT"]
    rules = os.path.join(root, "contrib", "prometheus", "sbk.rules.yml")
    dash = os.path.join(root, "contrib", "grafana", "sbkd.json")
    records, exprs = rules_file(rules)
    check(len(records) >= 5 and len(exprs) >= 10,
          "rules file read wrong: %d records, %d exprs" %
          (len(records), len(exprs)))
    used = {}
    for e in exprs:
        for name in metric_names(e):
            used.setdefault(name, set()).add("sbk.rules.yml")
    with open(dash) as f:
        dash_exprs = list(dashboard_exprs(json.load(f)))
    check(len(dash_exprs) >= 10, "dashboard read wrong: %d" % len(dash_exprs))
    for e in dash_exprs:
        for name in metric_names(e):
            used.setdefault(name, set()).add("sbkd.json")

    tmp = tempfile.mkdtemp(prefix="sbk-contrib-")
    try:
        exported = scrape_sbkd(os.environ["SBKD"], tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    missing = []
    for name, where in sorted(used.items()):
        if ":" in name:
            ok = name in records
        else:
            ok = name in exported or name in PROMETHEUS_OWN
        if not ok:
            missing.append("%s (used in %s)" % (name, ", ".join(sorted(where))))
    check(not missing, "names that do not exist: " + "; ".join(missing))
    print("%d names checked, %d from /metrics" % (len(used),
          len([n for n in used if ":" not in n and n in exported])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
