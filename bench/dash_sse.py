"""Push latency of ps-dash --serve to many SSE clients; used by bench/dash.sh.

    python dash_sse.py URL CHECKPOINT SERVER_PID CLIENTS SECONDS

Opens CLIENTS connections to URL/events (one asyncio loop, raw sockets),
and for SECONDS records when each client receives each event.  A watcher
notes every change of ps-gold's checkpoint (the last step of a gold
commit) every 2 ms; the latency of an event at a client is the time it
arrived minus the modification time of the newest checkpoint before it.
The first event of each client (the catch-up one) is not counted.  Prints
one line: events, p50, p99, max in ms, and the server's RSS.
"""
import asyncio
import os
import sys
import time

url, ckpt, pid, nclients, secs = (sys.argv[1], sys.argv[2], int(sys.argv[3]),
                                  int(sys.argv[4]), float(sys.argv[5]))
host, port = url.split("//")[1].rstrip("/").split(":")
port = int(port)
commits = []            # checkpoint mtimes (s), ascending
arrivals = []           # (client, id, time)
connected = 0


async def client(i, stop):
    global connected
    r, w = await asyncio.open_connection(host, port)
    w.write(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    await w.drain()
    connected += 1
    first = True
    ident = None
    while not stop.is_set():
        try:
            line = await asyncio.wait_for(r.readline(), 0.5)
        except asyncio.TimeoutError:
            continue
        if not line:
            break
        if line.startswith(b"id: "):
            ident = line[4:].strip()
        elif line == b"\n" and ident is not None:
            if not first:
                arrivals.append((i, ident, time.time()))
            first = False
            ident = None
    w.close()


async def watch(stop):
    last = None
    while not stop.is_set():
        try:
            m = os.stat(ckpt).st_mtime_ns
        except OSError:
            m = None
        if m is not None and m != last:
            commits.append(m / 1e9)
            last = m
        await asyncio.sleep(0.002)


def rss():
    out = {}
    for line in open("/proc/%d/status" % pid):
        k, v = line.split(":", 1)
        if k in ("VmRSS", "VmHWM"):
            out[k] = int(v.split()[0]) / 1024
    return out


async def main():
    stop = asyncio.Event()
    tasks = [asyncio.create_task(watch(stop))]
    for i in range(nclients):
        tasks.append(asyncio.create_task(client(i, stop)))
    await asyncio.sleep(secs)
    mem = rss()
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    lat = []
    for _, _, t in arrivals:
        before = [c for c in commits if c <= t]
        if before:
            lat.append((t - before[-1]) * 1000)
    lat.sort()
    if not lat:
        print("sse: no events received")
        sys.exit(1)
    pct = lambda q: lat[min(len(lat) - 1, int(q * (len(lat) - 1) + 0.5))]
    print("sse: %d clients connected, %d gold commits, %d deliveries: "
          "push latency p50 %.0f ms, p99 %.0f ms, max %.0f ms (target p99 < 250 ms: %s); "
          "server RSS %.1f MiB (peak %.1f MiB)" %
          (connected, len(commits), len(lat), pct(0.5), pct(0.99), lat[-1],
           "met" if pct(0.99) < 250 else "NOT met", mem.get("VmRSS", 0),
           mem.get("VmHWM", 0)))


asyncio.run(main())
