"""Hostile and careless clients against ps-dash --serve; used by
tests/e2e/dash_server.sh.

    python dash_abuse.py PORT LAKE MAX_CLIENTS SERVER_PID

Each check prints "ok - ..." or "FAIL - ..."; after every abuse the server
must still answer /healthz.  Exit 1 when any check failed.
"""
import glob
import os
import socket
import sys
import threading
import time

import pyarrow.parquet as pq
from prometheus_client.parser import text_string_to_metric_families

port, lake, max_clients = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
server_pid = int(sys.argv[4])
failed = 0


def conn(timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return s


def read_until(s, done):
    """Read from s until the peer closes, an error, or done(text)."""
    out = b""
    try:
        while not done(out):
            b = s.recv(65536)
            if not b:
                break
            out += b
    except OSError:
        pass
    s.close()
    return out


def exchange(data, timeout=5):
    """Send data; return (status or None when dropped, whole response)."""
    s = conn(timeout)
    try:
        s.sendall(data)
    except OSError:
        pass
    out = read_until(s, lambda o: False)
    if not out.startswith(b"HTTP/1."):
        return None, out
    return int(out.split(b" ", 2)[1]), out


def get(path, extra=b""):
    return exchange(b"GET " + path + b" HTTP/1.0\r\n" + extra + b"\r\n")


def check(title, ok):
    global failed
    alive, _ = get(b"/healthz")
    if ok and alive == 200:
        print("ok - " + title)
    else:
        failed += 1
        print("FAIL - %s%s" % (title, "" if alive == 200 else
                                " (and /healthz no longer answers)"))


def refused(status):
    """4xx, or the connection dropped without an answer."""
    return status is None or 400 <= status < 500


for m in (b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS", b"TRACE", b"CONNECT"):
    st, out = exchange(m + b" / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    check("%s gets 405 with Allow" % m.decode(),
          st == 405 and b"Allow: GET, HEAD" in out)
st, _ = exchange(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n" +
                 b"x" * 65536)
check("POST with a 100 MB body: refused", refused(st))
st, _ = get(b"/" + b"a" * 100000)
check("100 KB URL: 4xx or dropped (%s)" % st, refused(st))
st, _ = get(b"/", b"".join(b"X-Flood-%d: %s\r\n" % (i, b"v" * 20)
                            for i in range(5000)))
check("5000 headers: 4xx or dropped (%s)" % st, refused(st))
st, _ = get(b"/", b"X-Big: " + b"v" * 100000 + b"\r\n")
check("one 100 KB header: 4xx or dropped (%s)" % st, refused(st))
for p in (b"/../../../../etc/passwd", b"/%2e%2e/%2e%2e/etc/passwd",
          b"/..%2f..%2fetc%2fpasswd", b"//etc/passwd", b"/api/../../etc/passwd",
          b"/index.html/../../../etc/passwd", b"/.%00./etc/passwd"):
    st, out = get(p)
    check("%s: 404, nothing from the file system" % p.decode(),
          st in (400, 404) and b"root:" not in out)
st, _ = exchange(b"\x00\x01\x02 garbage\r\n\r\n")
check("garbage request line: refused (%s)" % st, refused(st))
st, _ = exchange(b"GET /\r\n\r\n")
check("HTTP/0.9 request: refused (%s)" % st, refused(st))
st, out = exchange(b"HEAD / HTTP/1.0\r\n\r\n")
check("HEAD: 200, no body", st == 200 and out.split(b"\r\n\r\n", 1)[1] == b"")

# Slow clients: they trickle a request; others are served meanwhile, and
# the server drops them after its 10 s request timeout.
slow = []
for i in range(20):
    s = conn(30)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    slow.append(s)
t0 = time.time()
st, _ = get(b"/healthz")
check("20 slow clients: others still served (%.0f ms)" % ((time.time() - t0) * 1000),
      st == 200 and time.time() - t0 < 1)
dropped = []


def trickle(s):
    try:
        for _ in range(60):
            s.sendall(b"X: y\r\n")
            time.sleep(0.5)
        dropped.append(False)
    except OSError:
        dropped.append(True)


ths = [threading.Thread(target=trickle, args=(s,)) for s in slow]
for t in ths:
    t.start()
for t in ths:
    t.join()
for s in slow:
    s.close()
check("slow clients dropped by the request timeout (%d of %d)" %
      (sum(dropped), len(dropped)), all(dropped) and len(dropped) == 20)

# More connections than allowed: the server holds at most the limit (the
# rest wait unanswered in the kernel's backlog), and serves again once
# they are gone.
def sockets(pid):
    n = 0
    for f in os.listdir("/proc/%d/fd" % pid):
        try:
            n += os.readlink("/proc/%d/fd/%s" % (pid, f)).startswith("socket:")
        except OSError:
            pass
    return n


base = sockets(server_pid)
idle = []
for i in range(max_clients + 20):
    try:
        idle.append(conn(2))
    except OSError:
        break
time.sleep(0.5)
held = sockets(server_pid) - base
for s in idle:
    s.close()
time.sleep(0.5)
check("%d connections against a limit of %d: the server holds %d" %
      (len(idle), max_clients, held), held <= max_clients and len(idle) > max_clients)

# SSE: Last-Event-ID resume.
def sse(last):
    s = conn(3)
    s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n" +
              (b"Last-Event-ID: " + last + b"\r\n" if last else b"") + b"\r\n")
    return read_until(s, lambda o: b"retry: 1000\n\n" in o and
                      (b"data:" in o or time.time() >= t_end))


t_end = time.time() + 1
first = sse(None)
ident = first.split(b"id: ", 1)[1].split(b"\n", 1)[0] if b"id: " in first else b""
check("SSE: a new client gets the latest event at once (id %s)" % ident.decode(),
      b"event: commit\n" in first and ident)
t_end = time.time() + 1
check("SSE: Last-Event-ID up to date: no event replayed",
      b"data:" not in sse(ident))
t_end = time.time() + 1
check("SSE: Last-Event-ID behind: the latest event at once",
      b"id: " + ident + b"\n" in sse(b"0"))

# /metrics parses with the Prometheus client library, and says what the
# gold tables say.
st, out = get(b"/metrics")
body = out.split(b"\r\n\r\n", 1)[1].decode()
fams = {f.name: f for f in text_string_to_metric_families(body)}
census = {}
for f in glob.glob(os.path.join(lake, "gold", "kpi_occupancy", "*.parquet")):
    for r in pq.read_table(f).to_pylist():
        census[(r["department"], str(r["hospital_id"]))] = r["census"]
got = {(s.labels["department"], s.labels["hospital_id"]): s.value
       for s in fams["pulsestream_census"].samples}
check("/metrics parses (%d families) and census equals kpi_occupancy (%d series)"
      % (len(fams), len(got)),
      st == 200 and got == census and len(got) > 10 and
      "pulsestream_alerts_firing" in fams and
      "pulsestream_quarantined_records" in fams and
      "pulsestream_stage_lag_records" in fams)
print("abuse: %d failed" % failed)
sys.exit(1 if failed else 0)
