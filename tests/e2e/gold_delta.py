"""Gold's Delta tables read by independent readers, for gold_delta.sh:
deltalake (delta-rs: strict about sizes and actions) and DuckDB's delta
extension, both from scripts/pyenv.sh delta.

  gold_delta.py readable LAKE [orphans-ok]
      every table of LAKE/gold opens at its latest version in deltalake;
      every file on disk is in the log (added or removed: no orphan; with
      orphans-ok, files a killed commit left are allowed); prints
      "TABLE VERSION TXN" per table (TXN: the ps-gold/admissions txn)
  gold_delta.py rows TABLE
      the number of rows of TABLE's latest version, read by deltalake
  gold_delta.py same LAKE1 LAKE2
      the same tables, row for row (deltalake, and DuckDB's delta_scan),
      and within each lake every table at the same gold commit (txn)
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "interop"))
from delta_check import duck  # noqa: E402

import deltalake as dl  # noqa: E402

APP = "ps-gold/admissions"


def done(code):
    # os._exit: deltalake's and DuckDB's threads, both loaded, can abort
    # at interpreter teardown ("terminate called without an active
    # exception") after the work is done
    sys.stdout.flush()
    os._exit(code)


def fail(msg):
    print(msg)
    done(1)


def tables(lake):
    g = os.path.join(lake, "gold")
    return sorted(t for t in os.listdir(g)
                  if os.path.isdir(os.path.join(g, t, "_delta_log")))


def logged(tdir):
    """Every path an add or remove of the log names."""
    out = set()
    log = os.path.join(tdir, "_delta_log")
    for f in sorted(os.listdir(log)):
        if not f.endswith(".json"):
            continue
        for line in open(os.path.join(log, f)):
            a = json.loads(line)
            for k in ("add", "remove"):
                if k in a:
                    out.add(a[k]["path"])
    return out


def readable(lake, orphans_ok):
    for t in tables(lake):
        tdir = os.path.join(lake, "gold", t)
        d = dl.DeltaTable(tdir)
        d.to_pyarrow_table()
        known = logged(tdir)
        for root, dirs, files in os.walk(tdir):
            dirs[:] = [x for x in dirs if not x.startswith(("_", "."))]
            for f in files:
                if f.startswith((".", "_")):
                    continue
                rel = os.path.relpath(os.path.join(root, f), tdir)
                if rel not in known and not orphans_ok:
                    fail("%s: %s is in no version (an orphan)" % (t, rel))
        print(t, d.version(), d.transaction_version(APP))


def rows_dl(tdir):
    tab = dl.DeltaTable(tdir).to_pyarrow_table()
    return sorted(json.dumps(r, sort_keys=True, default=str)
                  for r in tab.to_pylist())


def rows_duck(con, tdir):
    desc = con.execute("DESCRIBE SELECT * FROM delta_scan('%s')" % tdir).fetchall()
    # timestamps and dates as text (no pytz needed)
    sel = ", ".join('CAST("%s" AS VARCHAR) AS "%s"' % (r[0], r[0])
                    if "TIME" in r[1] or "DATE" in r[1] else '"%s"' % r[0]
                    for r in desc)
    res = con.execute("SELECT %s FROM delta_scan('%s')" % (sel, tdir))
    names = [c[0] for c in res.description]
    return sorted(json.dumps(dict(zip(names, r)), sort_keys=True, default=str)
                  for r in res.fetchall())


def same(a, b):
    ta, tb = tables(a), tables(b)
    if ta != tb:
        fail("tables differ: %s vs %s" % (ta, tb))
    con = duck()
    for lake in (a, b):
        txns = {dl.DeltaTable(os.path.join(lake, "gold", t))
                .transaction_version(APP) for t in ta}
        if len(txns) != 1:
            fail("%s: tables at different gold commits: %s" % (lake, txns))
    n = 0
    for t in ta:
        da, db = (os.path.join(x, "gold", t) for x in (a, b))
        ra, rb = rows_dl(da), rows_dl(db)
        if ra != rb:
            fail("%s: deltalake rows differ (%d vs %d)" % (t, len(ra), len(rb)))
        qa, qb = rows_duck(con, da), rows_duck(con, db)
        if qa != qb or len(qa) != len(ra):
            fail("%s: DuckDB rows differ (%d vs %d; deltalake %d)" %
                 (t, len(qa), len(qb), len(ra)))
        n += len(ra)
    con.close()
    print("%d tables, %d rows equal" % (len(ta), n))


if __name__ == "__main__":
    if sys.argv[1] == "readable":
        readable(sys.argv[2], len(sys.argv) > 3)
    elif sys.argv[1] == "rows":
        print(dl.DeltaTable(sys.argv[2]).to_pyarrow_table().num_rows)
    elif sys.argv[1] == "same":
        same(sys.argv[2], sys.argv[3])
    else:
        fail("usage: gold_delta.py readable LAKE | rows TABLE | same LAKE1 LAKE2")
    done(0)
