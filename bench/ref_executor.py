#!/usr/bin/env python3
"""ref_executor.py - a reference server for side-by-side benchmarks: the
same NDJSON JSON-RPC 2.0 framing as sbkd, with the jobs run through
asyncio's loop.run_in_executor on a ThreadPoolExecutor (the "Python
run_in_executor" pattern sbkd is compared with).  It implements only what
the benchmarks use: ping (inline), spin and sleep (in the executor), and
-32700/-32600/-32601 errors.  Not a product: no queue bound, no fairness,
no cancellation, no limits.

usage: ref_executor.py SOCKET [WORKERS]
"""
import asyncio
import concurrent.futures
import json
import os
import sys
import time


def spin(ms):
    start = time.monotonic()
    end = start + ms / 1000.0
    while time.monotonic() < end:
        pass
    return {"spun_ms": int((time.monotonic() - start) * 1000)}


def sleep(ms):
    start = time.monotonic()
    time.sleep(ms / 1000.0)
    return {"slept_ms": int((time.monotonic() - start) * 1000)}


JOBS = {"spin": spin, "sleep": sleep}


def reply(rid, result=None, error=None):
    msg = {"jsonrpc": "2.0", "id": rid}
    if error is not None:
        msg["error"] = {"code": error[0], "message": error[1]}
    else:
        msg["result"] = result
    return (json.dumps(msg, separators=(",", ":")) + "\n").encode()


async def handle(reader, writer, loop, pool):
    async def run(rid, fn, ms):
        result = await loop.run_in_executor(pool, fn, ms)
        writer.write(reply(rid, result))

    tasks = set()
    while True:
        line = await reader.readline()
        if not line:
            break
        if not line.strip():
            continue
        try:
            req = json.loads(line)
        except ValueError:
            writer.write(reply(None, error=(-32700, "Parse error")))
            continue
        if not isinstance(req, dict) or req.get("jsonrpc") != "2.0":
            writer.write(reply(None, error=(-32600, "Invalid request")))
            continue
        rid, method = req.get("id"), req.get("method")
        if method == "ping":
            writer.write(reply(rid, {"pong": True}))
        elif method in JOBS:
            ms = (req.get("params") or {}).get("ms", 0)
            t = asyncio.ensure_future(run(rid, JOBS[method], ms))
            tasks.add(t)
            t.add_done_callback(tasks.discard)
        else:
            writer.write(reply(rid, error=(-32601, "Method not found")))
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
    writer.close()


async def main():
    path = sys.argv[1]
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else os.cpu_count()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers)
    loop = asyncio.get_running_loop()
    if os.path.exists(path):
        os.unlink(path)
    server = await asyncio.start_unix_server(
        lambda r, w: handle(r, w, loop, pool), path, limit=1 << 22)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
