#!/usr/bin/env python3
"""The Linux side of the interop suite: kernel-socket clients and a server, run in
the peer namespace by tests/interop/run. Only ever talks to 198.18.0.1 / from
198.18.0.2 (the addresses the suite's namespaces have).

  peer.py echo HOST PORT BYTES          send BYTES of the pattern, read the echo
                                        concurrently; shutdown(SHUT_WR) after the
                                        last byte, read to EOF; SHA-256 of both
                                        sides must match
  peer.py halfclose HOST PORT LEN       send an HTTP request, shutdown(SHUT_WR),
                                        read the response to EOF: body LEN bytes
  peer.py sequential HOST PORT N        N short HTTP connections one after the
                                        other ("Connection: close"), each a 200
  peer.py server HOST PORT N MODE LOG   accept N connections, one at a time:
                                        MODE eof: read to EOF, echo it all back,
                                        close (the client closed first);
                                        MODE eof-sha: the same, but answer with
                                        the SHA-256 (hex) of what came, not the data;
                                        MODE expect:B: read B bytes, echo them,
                                        close (we close first);
                                        MODE duplex:D: send D bytes of the pattern
                                        while reading to EOF, then send the SHA-256
                                        (hex, 64 bytes) of what came and close.
                                        MODE proxy-header: read to EOF, close; log
                                        "FIRST-LINE|bytes sha256" of what followed
                                        the first CRLF (a PROXY protocol v1 line)
                                        One line per connection to LOG:
                                        "bytes sha256 first-fin"
  peer.py send HOST PORT N [LINE]       send LINE + CRLF (if given) then N bytes of
                                        the pattern, shutdown(SHUT_WR), read to EOF
  peer.py duplex HOST PORT UP DOWN      riptide-proxy's client (against a server in
                                        MODE duplex:DOWN behind it): send UP bytes of
                                        the pattern while reading, shutdown(SHUT_WR),
                                        read to EOF: DOWN bytes of the pattern, then
                                        the SHA-256 of our UP bytes, which the server
                                        sends only after our FIN reached it
  peer.py tunnel HOST PORT TARGET UP DOWN  duplex through an HTTP CONNECT tunnel:
                                        "CONNECT TARGET HTTP/1.1" and the first
                                        1000 upload bytes in one send, the 200
                                        read, then as duplex (TARGET a server in
                                        MODE duplex:DOWN)
  peer.py expect-reset HOST PORT        connect, send a little, read: prints
                                        "reset" (ECONNRESET), "eof" or "data"
  peer.py loadserver HOST PORT MODE LOG  riptide-load's Linux server: many
                                        connections at once (a thread each), until
                                        killed; one line per connection to LOG:
                                        "requests N bytes_in N bytes_out N".
                                        MODE raw:REQ:RESP  read REQ bytes, answer
                                        RESP bytes, again until EOF, then close;
                                        raw:REQ:RESP:close  close after one answer
                                        (the server closes first);
                                        http:BODY  HTTP/1.1, keep-alive unless
                                        "Connection: close", Content-Length BODY;
                                        sink  read to EOF, then close

The pattern is byte[i] = i % 251, as riptide-client sends it.
Exit status 0 when everything matched, 1 otherwise; one line of result on stdout.
"""
import hashlib
import socket
import sys
import threading
import time

BLOCK = bytes(i % 251 for i in range(251 * 4096))  # ~1 MiB, a whole number of periods


def pattern_chunks(n):
    """Yields the first n bytes of the pattern, in blocks."""
    sent = 0
    while sent < n:
        k = min(len(BLOCK), n - sent)
        yield BLOCK[:k]
        sent += k


def pattern_sha(n):
    h = hashlib.sha256()
    for c in pattern_chunks(n):
        h.update(c)
    return h.hexdigest()


def connect(host, port, timeout=30):
    # The peer's own address of the family of `host` (IPv6: 2001:db8::2).
    source = ("2001:db8::2", 0) if ":" in host else ("198.18.0.2", 0)
    s = socket.create_connection((host, port), timeout=timeout, source_address=source)
    return s


def echo(host, port, nbytes):
    s = connect(host, port, timeout=60)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sent_sha = hashlib.sha256()
    err = []

    def sender():
        try:
            for c in pattern_chunks(nbytes):
                s.sendall(c)
                sent_sha.update(c)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=sender)
    t0 = time.monotonic()
    t.start()
    got = 0
    h = hashlib.sha256()
    try:
        while True:
            d = s.recv(1 << 20)
            if not d:
                break
            h.update(d)
            got += len(d)
    except OSError as e:
        err.append(e)
    t.join()
    s.close()
    dt = time.monotonic() - t0
    ok = not err and got == nbytes and h.hexdigest() == sent_sha.hexdigest()
    print(f"echo: sent {nbytes} sha256 {sent_sha.hexdigest()[:16]} received {got} sha256 {h.hexdigest()[:16]} "
          f"in {dt:.1f}s ({2 * nbytes / dt / 1e6:.1f} MB/s both ways){' error ' + str(err[0]) if err else ''} "
          f"{'ok' if ok else 'MISMATCH'}")
    return 0 if ok else 1


def read_to_eof(s):
    chunks = []
    while True:
        d = s.recv(1 << 20)
        if not d:
            return b"".join(chunks)
        chunks.append(d)


def halfclose(host, port, length):
    s = connect(host, port)
    s.sendall(b"GET /big HTTP/1.1\r\nHost: 198.18.0.1\r\n\r\n")
    s.shutdown(socket.SHUT_WR)
    data = read_to_eof(s)
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode(errors="replace")
    ok = status.startswith("HTTP/1.1 200") and len(body) == length
    print(f"halfclose: after our FIN read {len(data)} bytes to EOF: '{status}', body {len(body)} of {length} "
          f"{'ok' if ok else 'WRONG'}")
    return 0 if ok else 1


def sequential(host, port, n):
    bad = 0
    t0 = time.monotonic()
    req = b"GET / HTTP/1.1\r\nHost: 198.18.0.1\r\nConnection: close\r\n\r\n"
    for i in range(n):
        try:
            s = connect(host, port, timeout=10)
            s.sendall(req)
            data = read_to_eof(s)
            s.close()
            if not data.startswith(b"HTTP/1.1 200"):
                bad += 1
        except OSError as e:
            bad += 1
            if bad <= 3:
                print(f"sequential: connection {i + 1}: {e}")
    dt = time.monotonic() - t0
    print(f"sequential: {n} connections, {n - bad} answered 200, in {dt:.1f}s ({n / dt:.0f}/s)")
    return 0 if bad == 0 else 1


def server(host, port, n, mode, log):
    ls = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(16)
    print("server: listening", flush=True)
    with open(log, "w", buffering=1) as out:
        for _ in range(n):
            c, _addr = ls.accept()
            c.settimeout(60)
            reply = None
            if mode == "proxy-header":
                data = read_to_eof(c)
                c.close()
                line, _, rest = data.partition(b"\r\n")
                out.write(f"{line.decode(errors='replace')}|{len(rest)} {hashlib.sha256(rest).hexdigest()}\n")
                continue
            if mode.startswith("duplex:"):
                got, sha = duplex_serve(c, int(mode.split(":", 1)[1]))
                out.write(f"{got} {sha} client\n")
                continue
            if mode in ("eof", "eof-sha"):
                data = read_to_eof(c)  # the client's FIN came first
                first = "client"
                if mode == "eof-sha":
                    reply = hashlib.sha256(data).hexdigest().encode()
            else:
                want = int(mode.split(":", 1)[1])
                chunks, got = [], 0
                while got < want:
                    d = c.recv(min(1 << 20, want - got))
                    if not d:
                        break
                    chunks.append(d)
                    got += len(d)
                data = b"".join(chunks)
                first = "server"
            c.sendall(data if reply is None else reply)
            c.close()
            out.write(f"{len(data)} {hashlib.sha256(data).hexdigest()} {first}\n")
    ls.close()
    return 0


def duplex_serve(c, down):
    """Sends `down` pattern bytes while reading to EOF; then the SHA-256 of what
    came (after the peer's FIN: the half-close check) and closes."""
    err = []

    def sender():
        try:
            for chunk in pattern_chunks(down):
                c.sendall(chunk)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=sender)
    t.start()
    h = hashlib.sha256()
    got = 0
    while True:
        d = c.recv(1 << 20)
        if not d:
            break
        h.update(d)
        got += len(d)
    t.join()
    if not err:
        c.sendall(h.hexdigest().encode())
    c.close()
    return got, h.hexdigest()


def duplex(host, port, up, down):
    return duplex_on(connect(host, port, timeout=60), up, down, b"")


def duplex_on(s, up, down, first):
    """duplex over an open socket; `first`: bytes of the upload already sent."""
    err = []

    def sender():
        try:
            skip = len(first)
            for chunk in pattern_chunks(up):
                if skip >= len(chunk):
                    skip -= len(chunk)
                    continue
                s.sendall(chunk[skip:])
                skip = 0
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(e)

    t0 = time.monotonic()
    t = threading.Thread(target=sender)
    t.start()
    h = hashlib.sha256()
    got = 0
    tail = b""
    try:
        while True:
            d = s.recv(1 << 20)
            if not d:
                break
            take = max(0, min(len(d), down - got))
            h.update(d[:take])
            got += take
            tail += d[take:]
    except OSError as e:
        err.append(e)
    t.join()
    s.close()
    dt = time.monotonic() - t0
    want_up = pattern_sha(up)
    ok = not err and got == down and h.hexdigest() == pattern_sha(down) and tail.decode(errors="replace") == want_up
    print(f"duplex: sent {up} received {got} of {down} sha256 {'ok' if h.hexdigest() == pattern_sha(down) else 'WRONG'}; "
          f"after our FIN the server reported sha256 {tail[:16].decode(errors='replace')}... "
          f"({'matches' if tail.decode(errors='replace') == want_up else 'WRONG, want ' + want_up[:16]}) "
          f"in {dt:.1f}s{' error ' + str(err[0]) if err else ''} {'ok' if ok else 'FAILED'}")
    return 0 if ok else 1


def tunnel(host, port, target, up, down):
    """HTTP CONNECT through riptide-proxy to `target` (a peer.py duplex server):
    the request and the first 1000 upload bytes in one send (the proxy must relay
    what follows the request's empty line), the 200, then duplex as above."""
    s = connect(host, port, timeout=60)
    first = next(iter(pattern_chunks(up)))[:1000]
    s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode() + first)
    head = b""
    while b"\r\n\r\n" not in head:
        d = s.recv(1)  # byte by byte: nothing of the tunnel's is read here
        if not d:
            print(f"tunnel: EOF after {head!r}")
            return 1
        head += d
    status = head.split(b"\r\n", 1)[0].decode(errors="replace")
    print(f"tunnel: {status}")
    if status != "HTTP/1.1 200 Connection established":
        return 1
    return duplex_on(s, up, down, first)


def send(host, port, n, line=None):
    s = connect(host, port)
    if line is not None:
        s.sendall(line.encode() + b"\r\n")
    for chunk in pattern_chunks(n):
        s.sendall(chunk)
    s.shutdown(socket.SHUT_WR)
    got = read_to_eof(s)
    s.close()
    print(f"send: sent {n} bytes, read {len(got)} to EOF")
    return 0


def expect_reset(host, port):
    try:
        s = connect(host, port, timeout=20)
    except ConnectionResetError:
        # With a timeout, connect() polls and then reads SO_ERROR: a RST right
        # after the handshake can be reported there already.
        print("reset")
        return 0
    except OSError as e:
        print(f"connect failed: {type(e).__name__} {e}")
        return 1
    try:
        s.sendall(b"hello")
        d = s.recv(100)
        print("eof" if not d else "data")
    except (ConnectionResetError, BrokenPipeError):
        print("reset")
    except OSError as e:
        print(f"error {type(e).__name__} {e}")
    s.close()
    return 0


def loadserver(host, port, mode, log):
    import socketserver
    lock = threading.Lock()
    out = open(log, "w", buffering=1)
    parts = mode.split(":")

    def recv_exactly(c, n):
        got = 0
        while got < n:
            d = c.recv(min(1 << 20, n - got))
            if not d:
                return got
            got += len(d)
        return got

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            c = self.request
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c.settimeout(60)
            requests = bytes_in = bytes_out = 0
            try:
                if parts[0] == "sink":
                    while True:
                        d = c.recv(1 << 20)
                        if not d:
                            break
                        bytes_in += len(d)
                elif parts[0] == "raw":
                    req, resp = int(parts[1]), int(parts[2])
                    close_first = len(parts) > 3 and parts[3] == "close"
                    while True:
                        got = recv_exactly(c, req)
                        bytes_in += got
                        if got < req:
                            break
                        requests += 1
                        for chunk in pattern_chunks(resp):
                            c.sendall(chunk)
                        bytes_out += resp
                        if close_first:
                            break
                elif parts[0] == "http":
                    body = b"x" * int(parts[1])
                    buf = b""
                    while True:
                        while b"\r\n\r\n" not in buf:
                            d = c.recv(65536)
                            if not d:
                                break
                            bytes_in += len(d)
                            buf += d
                        if b"\r\n\r\n" not in buf:
                            break
                        head, buf = buf.split(b"\r\n\r\n", 1)
                        requests += 1
                        close = b"connection: close" in head.lower()
                        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n" %
                                  (len(body), b"Connection: close\r\n" if close else b"") + body)
                        bytes_out += len(body)
                        if close:
                            break
            except OSError:
                pass
            finally:
                c.close()
                with lock:
                    out.write(f"requests {requests} bytes_in {bytes_in} bytes_out {bytes_out} "
                              f"peer {self.client_address[0]}\n")

    class Server(socketserver.ThreadingTCPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        allow_reuse_address = True
        daemon_threads = True
        request_queue_size = 1024

    with Server((host, port), Handler) as srv:
        print("loadserver: listening", flush=True)
        srv.serve_forever()
    return 0


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = argv[1]
    if cmd == "echo":
        return echo(argv[2], int(argv[3]), int(argv[4]))
    if cmd == "halfclose":
        return halfclose(argv[2], int(argv[3]), int(argv[4]))
    if cmd == "sequential":
        return sequential(argv[2], int(argv[3]), int(argv[4]))
    if cmd == "server":
        return server(argv[2], int(argv[3]), int(argv[4]), argv[5], argv[6])
    if cmd == "loadserver":
        return loadserver(argv[2], int(argv[3]), argv[4], argv[5])
    if cmd == "duplex":
        return duplex(argv[2], int(argv[3]), int(argv[4]), int(argv[5]))
    if cmd == "tunnel":
        return tunnel(argv[2], int(argv[3]), argv[4], int(argv[5]), int(argv[6]))
    if cmd == "send":
        return send(argv[2], int(argv[3]), int(argv[4]), argv[5] if len(argv) > 5 else None)
    if cmd == "expect-reset":
        return expect_reset(argv[2], int(argv[3]))
    if cmd == "pattern-sha":
        print(pattern_sha(int(argv[2])))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
