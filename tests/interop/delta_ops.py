"""Independent readers for tests/interop/delta_ops.sh and upload_delta.sh:
deltalake (delta-rs) and DuckDB's delta extension read Delta tables that
lib/delta wrote, maintained (ps-silver/ps-gold --compact/--vacuum) or
uploaded (ps-upload), version by version.

  delta_ops.py versions TABLE DUMPDIR FROM
      for every version V >= FROM of TABLE: deltalake and DuckDB (ATTACH
      ... (TYPE delta, VERSION V)) read the same rows as DUMPDIR/V.ndjson
      (`ps-silver --dump --version-as-of V`); prints the versions checked
  delta_ops.py valid URL LOCAL
      the table at URL is a valid table now (or none at all yet): its
      latest version V and every one before it read as LOCAL's do;
      prints "none" or V
  delta_ops.py remote URL LOCAL
      the table at URL (az://CONTAINER/PATH on the Azurite that
      scripts/azurite.sh started: $AZURITE_PORT, $AZURITE_ACCOUNT,
      $AZURITE_KEY) has the versions of the local table LOCAL, each with
      the same files and rows
"""
import datetime
import json
import os
import sys

import pyarrow as pa

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from delta_check import duck  # noqa: E402


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
    # through Arrow: fetchall() needs pytz for TIMESTAMP WITH TIME ZONE
    rows = con.sql("SELECT * FROM %s" % name).fetch_arrow_table().to_pylist()
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


def azurite():
    # object_store's emulator mode: http://127.0.0.1:10000 unless
    # AZURITE_BLOB_STORAGE_URL says where Azurite listens.
    os.environ["AZURITE_BLOB_STORAGE_URL"] = ("http://127.0.0.1:%s" %
                                              os.environ["AZURITE_PORT"])
    opts = {"account_name": os.environ["AZURITE_ACCOUNT"],
            "account_key": os.environ["AZURITE_KEY"],
            "use_emulator": "true", "allow_http": "true"}
    return opts


def actions(t):
    """(path, size) of the active files of t's loaded version."""
    a = pa.table(t.get_add_actions(flatten=True)).to_pydict()
    return sorted(zip(a["path"], a["size_bytes"]))


def same_versions(url, local, opts, last):
    """Every version 0..last of url holds the files (paths, sizes) of the
    local one; the rows of the last one and of every tenth are equal."""
    rt = dl_table(url, opts)
    lt = dl_table(local, None)
    for v in range(0, last + 1):
        rt.load_as_version(v)
        lt.load_as_version(v)
        if actions(rt) != actions(lt):
            fail("version %d: remote files differ from the local ones" % v)
        if (v == last or v % 10 == 0) and canon(
                rt.to_pyarrow_table().to_pylist()) != canon(
                lt.to_pyarrow_table().to_pylist()):
            fail("version %d: remote rows differ from the local ones" % v)


def dl_table(uri, opts):
    import deltalake as dl

    return dl.DeltaTable(uri, storage_options=opts)


def valid(url, local):
    import deltalake as dl

    opts = azurite()
    try:
        rt = dl.DeltaTable(url, storage_options=opts)
    except dl.exceptions.TableNotFoundError:
        print("none")
        return
    except OSError as e:
        # Paused before its first request created the container: nothing
        # is there yet, which is a valid remote (no table).
        if "ContainerNotFound" not in str(e):
            raise
        print("none")
        return
    same_versions(url, local, opts, rt.version())
    print(rt.version())


def remote(url, local):
    import deltalake as dl

    opts = azurite()
    rt = dl.DeltaTable(url, storage_options=opts)
    lt = dl.DeltaTable(local)
    if rt.version() != lt.version():
        fail("remote version %d, local %d" % (rt.version(), lt.version()))
    same_versions(url, local, opts, lt.version())
    print("remote table: versions 0..%d equal to the local table" %
          lt.version())


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {"versions": versions, "remote": remote, "valid": valid}[cmd](*args)
    # Native threads (DuckDB, Arrow) may abort the interpreter's teardown:
    # the check is done, leave without it.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
