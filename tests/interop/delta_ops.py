"""Independent readers for tests/interop/delta_ops.sh and upload_delta.sh:
deltalake (delta-rs) and DuckDB's delta extension read Delta tables that
lib/delta wrote, maintained (ps-silver/ps-gold --compact/--vacuum) or
uploaded (ps-upload), version by version.

  delta_ops.py versions TABLE DUMPDIR FROM
      for every version V >= FROM of TABLE: deltalake and DuckDB (ATTACH
      ... (TYPE delta, VERSION V)) read the same rows as DUMPDIR/V.ndjson
      (`ps-silver --dump --version-as-of V`); prints the versions checked
  delta_ops.py remote URL LOCAL
      the table at URL (az://CONTAINER/PATH on the Azurite of
      $AZURITE_BLOB, account devstoreaccount1) has the versions of the
      local table LOCAL, each with the same files and rows
"""
import datetime
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from delta_check import duck  # noqa: E402

ACCOUNT = "devstoreaccount1"
# Azurite's documented well-known development key (not a secret).
KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZF"
       "PTOtr/KBHBeksoGMGw==")


def fail(msg):
    print(msg)
    sys.stdout.flush()
    os._exit(1)


def norm(v):
    if isinstance(v, datetime.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        s = v.strftime("%Y-%m-%dT%H:%M:%S")
        if v.microsecond:
            s += ".%06d" % v.microsecond
        return s + "Z"
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, float) and v == int(v) and abs(v) < 2 ** 53:
        return int(v)
    return v


def canon(rows):
    return sorted(json.dumps({k: norm(v) for k, v in r.items()},
                             sort_keys=True) for r in rows)


def dump_rows(path):
    with open(path) as f:
        return canon(json.loads(line) for line in f if line.strip())


def dl_rows(table, version, opts=None):
    import deltalake as dl

    t = dl.DeltaTable(table, version=version, storage_options=opts)
    return canon(t.to_pyarrow_table().to_pylist())


def duck_rows(con, table, version):
    name = "t%d" % version
    con.sql("ATTACH '%s' AS %s (TYPE delta, VERSION %d)" % (table, name,
                                                             version))
    rel = con.sql("SELECT * FROM %s" % name)
    cols = rel.columns
    rows = [dict(zip(cols, r)) for r in rel.fetchall()]
    con.sql("DETACH %s" % name)
    return canon(rows)


def versions(table, dumpdir, first):
    import deltalake as dl

    latest = dl.DeltaTable(table).version()
    con = duck()
    checked = 0
    for v in range(int(first), latest + 1):
        want = dump_rows(os.path.join(dumpdir, "%d.ndjson" % v))
        got = dl_rows(table, v)
        if got != want:
            fail("version %d: deltalake read %d rows, ps-silver --dump %d "
                 "(first difference: %r)" % (
                     v, len(got), len(want),
                     next((a, b) for a, b in zip(got + [None], want + [None])
                          if a != b)))
        got = duck_rows(con, table, v)
        if got != want:
            fail("version %d: DuckDB read %d rows, ps-silver --dump %d" %
                 (v, len(got), len(want)))
        checked += 1
    print("versions %s..%d: deltalake, DuckDB and ps-silver --dump agree "
          "(%d versions)" % (first, latest, checked))


def remote(url, local):
    import deltalake as dl

    opts = {"account_name": ACCOUNT, "account_key": KEY,
            "use_emulator": "true",
            "azure_storage_endpoint": os.environ["AZURITE_BLOB"] + "/" +
            ACCOUNT, "allow_http": "true"}
    rt = dl.DeltaTable(url, storage_options=opts)
    lt = dl.DeltaTable(local)
    if rt.version() != lt.version():
        fail("remote version %d, local %d" % (rt.version(), lt.version()))
    for v in range(0, lt.version() + 1):
        r = dl.DeltaTable(url, version=v, storage_options=opts)
        lo = dl.DeltaTable(local, version=v)
        if sorted(r.file_uris()) and sorted(
                u.rsplit("/", 1)[-1] for u in r.file_uris()) != sorted(
                u.rsplit("/", 1)[-1] for u in lo.file_uris()):
            fail("version %d: remote files differ" % v)
        if dl_rows(url, v, opts) != dl_rows(local, v):
            fail("version %d: remote rows differ" % v)
    print("remote table: versions 0..%d equal to the local table" %
          lt.version())


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {"versions": versions, "remote": remote}[cmd](*args)
    # Native threads (DuckDB, Arrow) may abort the interpreter's teardown:
    # the check is done, leave without it.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
