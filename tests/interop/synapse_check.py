"""Check the Synapse serverless SQL examples (examples/sql/synapse) against a
lake, since no Synapse can run here: the documented rules of T-SQL batches
and of Delta in serverless SQL pools, and the tables' real Delta schemas.

  synapse_check.py SQLDIR LAKE

  - batches are split by GO lines; CREATE VIEW must be alone in its batch;
    parentheses and quotes balance in every batch;
  - every external data source LOCATION is https://<account>.dfs...
    /<container>[/AREA]: AREA is a lake directory;
  - every CREATE EXTERNAL TABLE uses a file format declared with
    FORMAT_TYPE = DELTA, its LOCATION is a Delta table (a folder with
    _delta_log) that is not partitioned (serverless pools do not support
    external tables over partitioned Delta folders: those are read through
    OPENROWSET), and every column exists in the table's schema with a
    matching type;
  - every OPENROWSET has FORMAT = 'DELTA' and a BULK path that is a Delta
    table's root folder (no wildcard, no file), and its WITH columns exist
    in that table with matching types;
  - every Delta table of the lake is reached by an external table or an
    OPENROWSET.
Prints one line per object checked; exits 1 on the first problem.
"""
import json
import os
import re
import sys

TYPES = {"long": ("BIGINT",), "integer": ("INT",), "short": ("SMALLINT",),
         "double": ("FLOAT",), "float": ("REAL", "FLOAT"),
         "boolean": ("BIT",), "string": ("NVARCHAR", "VARCHAR"),
         "timestamp": ("DATETIME2",), "date": ("DATE",)}


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def strip_comments(sql):
    return re.sub(r"--[^\n]*", "", sql)


def schema(table):
    """(columns {name: spark type}, partition columns) of the Delta table
    at table, from its last metaData action."""
    log = os.path.join(table, "_delta_log")
    meta = None
    for f in sorted(os.listdir(log)):
        if f.endswith(".json"):
            for line in open(os.path.join(log, f)):
                a = json.loads(line)
                if "metaData" in a:
                    meta = a["metaData"]
    if meta is None:
        fail("%s: no metaData in the log" % table)
    fields = json.loads(meta["schemaString"])["fields"]
    return {f["name"]: f["type"] for f in fields}, meta["partitionColumns"]


def columns(text):
    """[(name, T-SQL type)] of a column list "a BIGINT, b NVARCHAR(10)"."""
    out = []
    depth, cur = 0, ""
    for ch in text + ",":
        if ch == "," and depth == 0:
            cur = cur.strip()
            if cur:
                m = re.match(r"\[?(\w+)\]?\s+(\w+)", cur)
                if not m:
                    fail("cannot read column %r" % cur)
                out.append((m.group(1), m.group(2).upper()))
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    return out


def check_columns(what, cols, table):
    have, _ = schema(table)
    for name, t in cols:
        if name not in have:
            fail("%s: column %s is not in %s (%s)" %
                 (what, name, table, ", ".join(sorted(have))))
        if t not in TYPES.get(have[name], ()):
            fail("%s: column %s is %s, the Delta type is %s (expected %s)" %
                 (what, name, t, have[name],
                  " or ".join(TYPES.get(have[name], ("?",)))))


def paren_body(s, start):
    """The text inside the parenthesis that opens at s[start]."""
    depth = 0
    for i in range(start, len(s)):
        depth += s[i] == "("
        depth -= s[i] == ")"
        if depth == 0:
            return s[start + 1:i]
    fail("unbalanced parenthesis at %r" % s[start:start + 60])


def main(sqldir, lake):
    sources, formats, reached = {}, set(), set()
    files = sorted(f for f in os.listdir(sqldir) if f.endswith(".sql"))
    batches = []
    for f in files:
        text = strip_comments(open(os.path.join(sqldir, f)).read())
        for b in re.split(r"(?im)^\s*GO\s*$", text):
            if b.strip():
                batches.append((f, b))
    for f, b in batches:
        if b.count("(") != b.count(")") or b.count("'") % 2:
            fail("%s: unbalanced parentheses or quotes in %r" % (f, b[:80]))
        stmts = [s for s in b.split(";") if s.strip()]
        if re.search(r"(?i)\bCREATE\s+(OR\s+ALTER\s+)?VIEW\b", b) and \
                len(stmts) != 1:
            fail("%s: CREATE VIEW is not alone in its batch: %r" %
                 (f, b.strip()[:80]))
        for m in re.finditer(r"(?is)CREATE\s+EXTERNAL\s+DATA\s+SOURCE\s+(\w+)"
                             r"\s+WITH\s*\(\s*LOCATION\s*=\s*'([^']*)'", b):
            m2 = re.match(r"https://<account>\.dfs\.core\.windows\.net/"
                          r"<container>(/(.*))?$", m.group(2))
            if not m2:
                fail("%s: data source %s: LOCATION %s is not an ADLS Gen2 "
                     "container URL" % (f, m.group(1), m.group(2)))
            area = m2.group(2) or ""
            if not os.path.isdir(os.path.join(lake, area)):
                fail("%s: data source %s: %s is not in the lake" %
                     (f, m.group(1), area))
            sources[m.group(1)] = area
            print("ok data source %s -> lake/%s" % (m.group(1), area))
        for m in re.finditer(r"(?is)CREATE\s+EXTERNAL\s+FILE\s+FORMAT\s+(\w+)"
                             r"\s+WITH\s*\(\s*FORMAT_TYPE\s*=\s*DELTA\s*\)", b):
            formats.add(m.group(1))
        for m in re.finditer(r"(?is)CREATE\s+EXTERNAL\s+TABLE\s+([\w.]+)\s*\(",
                             b):
            name = m.group(1)
            body = paren_body(b, m.end() - 1)
            rest = b[m.end() + len(body):]
            w = re.match(r"(?is)\s*\)\s*WITH\s*\((.*?)\)", rest)
            if not w:
                fail("%s: %s has no WITH (...)" % (f, name))
            opts = dict((k.upper(), v.strip().strip("'")) for k, v in
                        re.findall(r"(\w+)\s*=\s*('[^']*'|\w+)", w.group(1)))
            if opts.get("FILE_FORMAT") not in formats:
                fail("%s: %s: file format %s is not a DELTA format" %
                     (f, name, opts.get("FILE_FORMAT")))
            if opts.get("DATA_SOURCE") not in sources:
                fail("%s: %s: unknown data source" % (f, name))
            table = os.path.join(lake, sources[opts["DATA_SOURCE"]],
                                 opts["LOCATION"].strip("/"))
            if not os.path.isdir(os.path.join(table, "_delta_log")):
                fail("%s: %s: %s is not a Delta table" % (f, name, table))
            _, part = schema(table)
            if part:
                fail("%s: %s: %s is partitioned by %s: serverless SQL "
                     "pools read partitioned Delta folders through "
                     "OPENROWSET, not external tables" %
                     (f, name, table, part))
            check_columns("%s: %s" % (f, name), columns(body), table)
            reached.add(os.path.realpath(table))
            print("ok external table %s over %s" % (name, table))
        for m in re.finditer(r"(?is)OPENROWSET\s*\(", b):
            body = paren_body(b, m.end() - 1)
            opts = dict((k.upper(), v.strip().strip("'")) for k, v in
                        re.findall(r"(\w+)\s*=\s*('[^']*'|\w+)", body))
            bulk = re.search(r"(?i)BULK\s+'([^']*)'", body)
            if opts.get("FORMAT", "").upper() != "DELTA" or not bulk:
                fail("%s: OPENROWSET without BULK and FORMAT = 'DELTA'" % f)
            path = bulk.group(1)
            if "*" in path or path.endswith(".parquet"):
                fail("%s: BULK %s: a Delta table is read from its root "
                     "folder, without wildcards" % (f, path))
            if path.startswith("https://"):
                m2 = re.match(r"https://<account>\.dfs\.core\.windows\.net/"
                              r"<container>/(.*)$", path)
                if not m2:
                    fail("%s: BULK %s is not an ADLS Gen2 URL" % (f, path))
                rel = m2.group(1)
            else:
                if opts.get("DATA_SOURCE") not in sources:
                    fail("%s: BULK %s: unknown data source" % (f, path))
                rel = os.path.join(sources[opts["DATA_SOURCE"]], path)
            table = os.path.join(lake, rel.strip("/"))
            if not os.path.isdir(os.path.join(table, "_delta_log")):
                fail("%s: BULK %s: %s is not a Delta table" %
                     (f, path, table))
            rest = b[m.end() + len(body):]
            w = re.match(r"(?is)\s*\)\s*WITH\s*\(", rest)
            if w:
                cols = columns(paren_body(rest, w.end() - 1))
                check_columns("%s: OPENROWSET %s" % (f, path), cols, table)
            reached.add(os.path.realpath(table))
            print("ok OPENROWSET %s (%s)" % (path, table))
    for area in ("silver", "gold"):
        for t in sorted(os.listdir(os.path.join(lake, area))):
            d = os.path.realpath(os.path.join(lake, area, t))
            if os.path.isdir(os.path.join(d, "_delta_log")) and \
                    d not in reached:
                fail("%s/%s: no external table or OPENROWSET reads it" %
                     (area, t))
    print("synapse examples: %d batches checked" % len(batches))


if __name__ == "__main__":
    main(*sys.argv[1:])
