"""Push latency of ps-dash --serve to many SSE clients; used by bench/dash.sh.

    python dash_sse.py URL CHECKPOINT SERVER_PID CLIENTS SECONDS

Opens CLIENTS connections to URL/events and, for SECONDS, notes when each
client receives each event (one thread, non-blocking sockets and epoll,
the receive time taken right after the read).  Between reads it looks at
ps-gold's checkpoint (the last file of a gold commit) every 2 ms; the
latency of an event at a client is the time it arrived minus the
modification time of the newest checkpoint before it.  The first event of
each client (the catch-up one) is not counted.  Prints one line: events,
p50, p99, max in ms, and the server's RSS.
"""
import os
import select
import socket
import sys
import time

url, ckpt, pid, nclients, secs = (sys.argv[1], sys.argv[2], int(sys.argv[3]),
                                  int(sys.argv[4]), float(sys.argv[5]))
host, port = url.split("//")[1].rstrip("/").split(":")
ep = select.epoll()
socks, bufs, seen = {}, {}, {}
for i in range(nclients):
    s = socket.create_connection((host, int(port)))
    s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    s.setblocking(False)
    socks[s.fileno()] = s
    bufs[s.fileno()] = b""
    seen[s.fileno()] = 0
    ep.register(s.fileno(), select.EPOLLIN)
commits, arrivals, last = [], [], None
t_end = time.time() + secs
while time.time() < t_end:
    for fd, _ in ep.poll(0.002):
        try:
            b = socks[fd].recv(65536)
        except BlockingIOError:
            continue
        t = time.time()
        if not b:
            ep.unregister(fd)
            continue
        bufs[fd] += b
        while b"\n\n" in bufs[fd]:
            ev, bufs[fd] = bufs[fd].split(b"\n\n", 1)
            if b"id: " in ev:
                if seen[fd]:
                    arrivals.append(t)
                seen[fd] += 1
    try:
        m = os.stat(ckpt).st_mtime_ns
    except OSError:
        m = None
    if m is not None and m != last:
        commits.append(m / 1e9)
        last = m
mem = {}
for line in open("/proc/%d/status" % pid):
    k, v = line.split(":", 1)
    if k in ("VmRSS", "VmHWM"):
        mem[k] = int(v.split()[0]) / 1024
for s in socks.values():
    s.close()
lat = []
for t in arrivals:
    before = [c for c in commits if c <= t]
    if before:
        lat.append((t - before[-1]) * 1000)
lat.sort()
if not lat:
    print("sse: no events received")
    sys.exit(1)
pct = lambda q: lat[min(len(lat) - 1, int(q * (len(lat) - 1) + 0.5))]
print("sse: %d clients, %d gold commits, %d deliveries: push latency p50 %.0f ms, "
      "p99 %.0f ms, max %.0f ms (target p99 < 250 ms: %s); server RSS %.1f MiB "
      "(peak %.1f MiB); load average %s" %
      (sum(1 for v in seen.values() if v), len(commits), len(lat), pct(0.5),
       pct(0.99), lat[-1], "met" if pct(0.99) < 250 else "NOT met",
       mem.get("VmRSS", 0), mem.get("VmHWM", 0),
       open("/proc/loadavg").read().split()[0]))
