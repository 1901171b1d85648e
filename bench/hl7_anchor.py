"""The anchor of bench/hl7.sh: python-hl7 parses the same messages and
extracts the fields ps-hl7 convert maps (unescaped), one core."""
import sys

import hl7

FIELDS = [("MSH", 9, 1, 2, 1), ("MSH", 10, 1, 1, 1), ("EVN", 6, 1, 1, 1),
          ("EVN", 2, 1, 1, 1), ("PID", 3, 1, 1, 1), ("PID", 3, 1, 5, 1),
          ("PID", 7, 1, 1, 1), ("PID", 8, 1, 1, 1), ("PV1", 2, 1, 1, 1),
          ("PV1", 3, 1, 1, 1), ("PV1", 3, 1, 3, 1), ("PV1", 3, 1, 4, 1),
          ("PV1", 10, 1, 1, 1), ("PV1", 19, 1, 1, 1), ("PV1", 36, 1, 1, 1),
          ("PV1", 44, 1, 1, 1), ("PV1", 45, 1, 1, 1), ("ZPS", 1, 1, 1, 1),
          ("ZPS", 2, 1, 1, 1), ("ZPS", 3, 1, 1, 1), ("ZPS", 4, 1, 1, 1),
          ("ZPS", 5, 1, 1, 1)]


def main(path):
    n = 0
    for raw in open(path, newline="").read().split("\n"):
        if not raw:
            continue
        m = hl7.parse(raw)
        out = []
        for seg, f, r, c, s in FIELDS:
            try:
                out.append(m.extract_field(seg, 1, f, r, c, s))
            except (IndexError, KeyError):
                out.append("")
        n += 1
    print(n)


main(sys.argv[1])
