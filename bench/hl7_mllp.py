"""MLLP load for bench/hl7.sh: send the messages of FILE to 127.0.0.1:PORT
over CONNS connections, each one message at a time (send, wait for the
ACK: how interface engines send), and print the rate and the ACK latency
percentiles.  Every ACK must be MSA|AA."""
import socket
import sys
import threading
import time


def split(text):
    msgs, cur = [], []
    for seg in text.replace("\r\n", "\r").replace("\n", "\r").split("\r"):
        if not seg:
            continue
        if seg.startswith("MSH") and cur:
            msgs.append("\r".join(cur) + "\r")
            cur = []
        cur.append(seg)
    if cur:
        msgs.append("\r".join(cur) + "\r")
    return [b"\x0b" + m.encode() + b"\x1c\r" for m in msgs]


def main(path, port, conns):
    msgs = split(open(path, newline="").read())
    lat = []
    bad = []
    lock = threading.Lock()

    def worker(k):
        s = socket.create_connection(("127.0.0.1", port))
        mine = []
        buf = b""
        for m in msgs[k::conns]:
            t0 = time.perf_counter()
            s.sendall(m)
            while b"\x1c\r" not in buf:
                d = s.recv(65536)
                if not d:
                    bad.append("closed")
                    return
                buf += d
            ack, buf = buf.split(b"\x1c\r", 1)
            mine.append(time.perf_counter() - t0)
            if b"\rMSA|AA|" not in ack:
                bad.append(ack[:80])
        s.close()
        with lock:
            lat.extend(mine)

    t0 = time.perf_counter()
    th = [threading.Thread(target=worker, args=(k,)) for k in range(conns)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    secs = time.perf_counter() - t0
    lat.sort()
    n = len(lat)
    print("%d messages over %d connections in %.2f s: %.0f messages/s; "
          "ACK latency p50 %.1f ms, p99 %.1f ms" %
          (n, conns, secs, n / secs, lat[n // 2] * 1e3,
           lat[min(n - 1, n * 99 // 100)] * 1e3))
    if bad or n != len(msgs):
        print("bad ACKs: %r" % bad[:3])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
