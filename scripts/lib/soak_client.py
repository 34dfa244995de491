#!/usr/bin/env python3
"""scripts/soak's Linux client: mixed HTTP load against riptide-httpd, paced.

  soak_client.py SERVER --seconds S --status FILE [--port 80] [--crr-rate 200]
                 [--rr-conns 16] [--rr-rate 200] [--stream-bytes 4194304]
                 [--stream-every 5] [--timeout 30]

Three kinds of work run side by side for S seconds, each at a fixed pace (so the
offered load is the same every minute, whatever the server does):
  CRR     a new connection per request: "GET /" with Connection: close, the 64-byte
          body checked, then the server's FIN (riptide-httpd closes first);
  RR      --rr-conns keep-alive connections, --rr-rate requests/s over all of them,
          each body checked; a connection that fails is counted and reopened;
  STREAM  every --stream-every seconds a new connection downloads
          "GET /bytes/N" and the body's SHA-256 is compared with the expected one
          (riptide-httpd's body byte i is "\\n" when i % 64 == 63, else "x").
Every operation has a deadline (--timeout s). Failures are counted by kind:
timeout, reset, refused, eof (closed early), bad_status, bad_body, sha_mismatch,
other. The client also counts "late" CRR starts (the pace slipped because
--max-inflight operations were already running) instead of queueing them.

Every 5 s it rewrites FILE (JSON, atomically): cumulative counts per kind and
latency percentiles over the last 60 s; with "done": true at the end. Exit status
0 when it ran to the end (the checks are the caller's: scripts/soak).
"""
import argparse
import asyncio
import hashlib
import json
import os
import time
from collections import deque

KINDS = ("crr", "rr", "stream")
ERRORS = ("timeout", "reset", "refused", "eof", "bad_status", "bad_body", "sha_mismatch", "other")


def pattern_body(n):
    """riptide-httpd's body of n bytes: byte i is '\\n' when i % 64 == 63, else 'x'."""
    line = b"x" * 63 + b"\n"
    return (line * (n // 64 + 1))[:n]


def pattern_sha(n):
    h = hashlib.sha256()
    line = b"x" * 63 + b"\n"
    block = line * 1024  # 64 KiB
    left = n
    while left > 0:
        take = min(left, len(block))
        h.update(block[:take])
        left -= take
    return h.hexdigest()


class BadResponse(Exception):
    def __init__(self, kind, text):
        super().__init__(text)
        self.kind = kind


class Stats:
    def __init__(self):
        self.ok = {k: 0 for k in KINDS}
        self.err = {k: {e: 0 for e in ERRORS} for k in KINDS}
        self.bytes = 0
        self.late = 0
        self.conns = 0
        self.lat = {k: deque() for k in KINDS}  # (time, seconds) over the last 60 s
        self.last_error = ""

    def done(self, kind, started):
        now = time.monotonic()
        self.ok[kind] += 1
        self.lat[kind].append((now, now - started))

    def failed(self, kind, e):
        if isinstance(e, BadResponse):
            name = e.kind
        elif isinstance(e, asyncio.TimeoutError):
            name = "timeout"
        elif isinstance(e, ConnectionRefusedError):
            name = "refused"
        elif isinstance(e, ConnectionResetError):
            name = "reset"
        elif isinstance(e, asyncio.IncompleteReadError):
            name = "eof"
        else:
            name = "other"
        self.err[kind][name] += 1
        self.last_error = f"{kind}: {name}: {e!r}"[:300]

    def percentiles(self):
        out = {}
        now = time.monotonic()
        for k in KINDS:
            q = self.lat[k]
            while q and q[0][0] < now - 60:
                q.popleft()
            v = sorted(x for _, x in q)
            if v:
                out[k] = {"p50_ms": round(1000 * v[len(v) // 2], 2), "p99_ms": round(1000 * v[min(len(v) - 1, int(len(v) * 0.99))], 2),
                          "max_ms": round(1000 * v[-1], 2)}
        return out

    def write(self, path, done=False):
        d = {"ok": self.ok, "errors": self.err, "bytes": self.bytes, "late": self.late, "connections": self.conns,
             "latency_last_60s": self.percentiles(), "last_error": self.last_error, "done": done, "time": time.time()}
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(d, f)
        os.replace(tmp, path)


async def read_response(reader, expect_len=None):
    """Reads one response; returns (status, body bytes or a SHA-256 hasher, length)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise BadResponse("bad_status", lines[0])
    status = int(parts[1])
    length = None
    for h in lines[1:]:
        if h.lower().startswith("content-length:"):
            length = int(h.split(":", 1)[1])
    if status != 200 or length is None:
        raise BadResponse("bad_status", lines[0])
    if expect_len is not None and length != expect_len:
        raise BadResponse("bad_status", f"Content-Length {length}, expected {expect_len}")
    return length


async def open_conn(a, st):
    r, w = await asyncio.open_connection(a.server, a.port)
    st.conns += 1
    return r, w


async def close_conn(w):
    w.close()
    try:
        await w.wait_closed()
    except OSError:
        pass


async def crr_one(a, st, body):
    started = time.monotonic()
    w = None
    try:
        async with asyncio.timeout(a.timeout):
            r, w = await open_conn(a, st)
            w.write(b"GET / HTTP/1.1\r\nHost: riptide\r\nConnection: close\r\n\r\n")
            n = await read_response(r)
            got = await r.readexactly(n)
            if got != body[:n]:
                raise BadResponse("bad_body", "CRR body differs")
            st.bytes += n
            rest = await r.read()  # riptide-httpd closes after the response
            if rest:
                raise BadResponse("bad_body", f"{len(rest)} bytes after the body")
        st.done("crr", started)
    except Exception as e:  # noqa: BLE001 (every failure is counted by kind)
        st.failed("crr", e)
    finally:
        if w is not None:
            await close_conn(w)


async def crr_pacer(a, st, body, stop_at, inflight):
    if a.crr_rate <= 0:
        return
    interval = 1.0 / a.crr_rate
    nxt = time.monotonic()
    tasks = set()
    while time.monotonic() < stop_at:
        nxt += interval
        if len(tasks) >= a.max_inflight:
            st.late += 1
        else:
            t = asyncio.create_task(crr_one(a, st, body))
            tasks.add(t)
            t.add_done_callback(tasks.discard)
        delay = nxt - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -1.0:
            nxt = time.monotonic()  # more than a second behind: do not burst to catch up
    if tasks:
        await asyncio.gather(*tasks)


async def rr_conn(a, st, body, stop_at, index):
    if a.rr_rate <= 0 or a.rr_conns <= 0:
        return
    interval = a.rr_conns / a.rr_rate
    nxt = time.monotonic() + interval * index / a.rr_conns  # spread the connections out
    r = w = None
    while time.monotonic() < stop_at:
        delay = nxt - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        nxt = max(nxt + interval, time.monotonic() - 1.0)
        started = time.monotonic()
        try:
            async with asyncio.timeout(a.timeout):
                if w is None:
                    r, w = await open_conn(a, st)
                w.write(b"GET / HTTP/1.1\r\nHost: riptide\r\n\r\n")
                n = await read_response(r)
                got = await r.readexactly(n)
                if got != body[:n]:
                    raise BadResponse("bad_body", "RR body differs")
                st.bytes += n
            st.done("rr", started)
        except Exception as e:  # noqa: BLE001
            st.failed("rr", e)
            if w is not None:
                await close_conn(w)
            r = w = None
    if w is not None:
        await close_conn(w)


async def stream_one(a, st, sha):
    started = time.monotonic()
    w = None
    try:
        async with asyncio.timeout(a.timeout):
            r, w = await open_conn(a, st)
            w.write(f"GET /bytes/{a.stream_bytes} HTTP/1.1\r\nHost: riptide\r\nConnection: close\r\n\r\n".encode())
            n = await read_response(r, a.stream_bytes)
            h = hashlib.sha256()
            left = n
            while left > 0:
                chunk = await r.read(min(left, 1 << 16))
                if not chunk:
                    raise asyncio.IncompleteReadError(b"", left)
                h.update(chunk)
                left -= len(chunk)
            st.bytes += n
            if h.hexdigest() != sha:
                raise BadResponse("sha_mismatch", f"SHA-256 {h.hexdigest()} != {sha}")
            await r.read()
        st.done("stream", started)
    except Exception as e:  # noqa: BLE001
        st.failed("stream", e)
    finally:
        if w is not None:
            await close_conn(w)


async def stream_pacer(a, st, stop_at):
    if a.stream_every <= 0 or a.stream_bytes <= 0:
        return
    sha = pattern_sha(a.stream_bytes)
    tasks = set()
    nxt = time.monotonic() + 1.0
    while time.monotonic() < stop_at:
        delay = nxt - time.monotonic()
        if delay > 0:
            await asyncio.sleep(min(delay, max(0.0, stop_at - time.monotonic())))
            continue
        nxt += a.stream_every
        t = asyncio.create_task(stream_one(a, st, sha))
        tasks.add(t)
        t.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)


async def reporter(a, st, stop):
    while not stop.is_set():
        st.write(a.status)
        try:
            await asyncio.wait_for(stop.wait(), 5)
        except asyncio.TimeoutError:
            pass


async def main_async(a):
    st = Stats()
    body = pattern_body(1 << 16)
    stop_at = time.monotonic() + a.seconds
    stop = asyncio.Event()
    rep = asyncio.create_task(reporter(a, st, stop))
    await asyncio.gather(crr_pacer(a, st, body, stop_at, None), stream_pacer(a, st, stop_at),
                         *(rr_conn(a, st, body, stop_at, i) for i in range(a.rr_conns)))
    stop.set()
    await rep
    st.write(a.status, done=True)
    print("soak_client:", json.dumps({"ok": st.ok, "errors": st.err, "late": st.late}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("server")
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--status", required=True)
    ap.add_argument("--crr-rate", type=float, default=200)
    ap.add_argument("--rr-conns", type=int, default=16)
    ap.add_argument("--rr-rate", type=float, default=200)
    ap.add_argument("--stream-bytes", type=int, default=4 << 20)
    ap.add_argument("--stream-every", type=float, default=5)
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--max-inflight", type=int, default=2000)
    a = ap.parse_args()
    asyncio.run(main_async(a))


if __name__ == "__main__":
    main()
