"""A hospital's sender for tests/e2e/hl7_listen.sh: python-hl7's MLLP client.

send MSGS PORTFILE ACKED CONNS [CA [CERT KEY]]: send the messages of MSGS
(HL7 v2, one
after the other, as ps-simulate --format hl7 writes them) over CONNS
connections in parallel, each message until it is acknowledged: on a
refused or broken connection, a timeout or an incomplete ACK the sender
reconnects (re-reading PORTFILE) and sends the same message again -- a
retransmission after a lost ACK.  Every MSH-10 whose ACK was MSA|AA|MSH-10
is appended to ACKED.  Exits non-zero when a message got AE or AR, or could
not be delivered within a minute.  With CA: MLLP over TLS (Python's ssl,
TLS 1.2 or later, the server certificate checked against CA for
"localhost"), presenting the client certificate CERT with KEY when given.

probe MSGS PORTFILE [CA [CERT KEY]]: send the first message of MSGS once
(plain MLLP without CA) and print what came back: "MSA|CODE|ID" and the
ERR segment, or "no ACK: REASON" when the connection failed or closed.
"""
import socket
import ssl
import sys
import threading
import time

from hl7.client import MLLPClient


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
    return msgs


def control_id(msg):
    msh = msg.split("\r", 1)[0]
    return msh.split(msh[3])[9]


def tls_context(ca, cert=None, key=None):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def main(path, portfile, acked_path, conns, tls=None):
    msgs = split(open(path, newline="").read())
    out = open(acked_path, "a")
    lock = threading.Lock()
    failures = []
    stats = {"retransmits": 0, "reconnects": 0}

    def worker(k):
        client = None
        for msg in msgs[k::conns]:
            mid = control_id(msg)
            deadline = time.time() + 60
            while True:
                if time.time() > deadline:
                    failures.append("%s: not delivered in 60 s" % mid)
                    return
                try:
                    if client is None:
                        port = int(open(portfile).read())
                        client = MLLPClient("127.0.0.1", port)
                        client.socket.settimeout(10)
                        if tls:
                            client.socket = tls.wrap_socket(
                                client.socket, server_hostname="localhost")
                        with lock:
                            stats["reconnects"] += 1
                    ack = client.send_message(msg.encode())
                except (OSError, ValueError):
                    ack = b""
                if ack.endswith(b"\x1c\r") and b"\rMSA|" in ack:
                    msa = ack.split(b"\rMSA|", 1)[1].split(b"\r")[0]
                    code, _, ackid = msa.partition(b"|")
                    if code == b"AA" and ackid == mid.encode():
                        with lock:
                            out.write(mid + "\n")
                            out.flush()
                        break
                    failures.append("%s: %r" % (mid, msa))
                    return
                # no ACK: the listener died, or the ACK was cut short
                with lock:
                    stats["retransmits"] += 1
                if client is not None:
                    client.close()
                    client = None
                time.sleep(0.05)
        if client is not None:
            client.close()

    threads = [threading.Thread(target=worker, args=(k,))
               for k in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("sender: %d messages over %d connections, %d connects, %d "
          "retransmits" % (len(msgs), conns, stats["reconnects"],
                           stats["retransmits"]))
    for f in failures[:5]:
        print("sender: " + f)
    return 1 if failures else 0


def probe(path, portfile, tls=None):
    msg = split(open(path, newline="").read())[0]
    try:
        client = MLLPClient("127.0.0.1", int(open(portfile).read()))
        client.socket.settimeout(10)
        if tls:
            client.socket = tls.wrap_socket(client.socket,
                                            server_hostname="localhost")
        ack = client.send_message(msg.encode())
        client.close()
    except (OSError, ValueError) as e:
        print("no ACK: %s" % type(e).__name__)
        return 0
    if b"\rMSA|" not in ack:
        print("no ACK: %r" % ack[:40])
        return 0
    print(ack.split(b"\rMSA|", 1)[1].rstrip(b"\r\x1c").replace(
        b"\r", b" ").decode())
    return 0


if __name__ == "__main__":
    a = sys.argv
    if a[1] == "probe":
        sys.exit(probe(a[2], a[3], tls_context(*a[4:7]) if len(a) > 4
                       else None))
    sys.exit(main(a[2], a[3], a[4], int(a[5]),
                  tls_context(*a[6:9]) if len(a) > 6 else None))
