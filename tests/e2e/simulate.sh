#!/bin/sh
# ps-simulate: determinism, record contract, dirty-data rates, realistic
# model invariants, pacing lower bound, clean stop on SIGTERM.
. "$(dirname "$0")/../lib.sh"
cd "$TMPD"

check 'count and seed: 1000 valid JSON lines' '
	ps-simulate --count 1000 --seed 1 | jq -c . | wc -l | grep -qx 1000'
check 'same seed, same bytes' '
	ps-simulate --count 20000 --seed 42 >a &&
	ps-simulate --count 20000 --seed 42 >b && cmp a b'
check 'same seed, same bytes (realistic)' '
	ps-simulate -m realistic --count 20000 --seed 42 >ra &&
	ps-simulate -m realistic --count 20000 --seed 42 >rb && cmp ra rb'
check 'different seeds differ' '
	ps-simulate --count 100 --seed 43 >c && ! cmp -s a c'
check 'without a seed, runs differ' '
	ps-simulate --count 50 >r1 && ps-simulate --count 50 >r2 &&
	! cmp -s r1 r2'

# Statistics over 200,000 compat events with their default dirty data.
ps-simulate -q --count 200000 --seed 7 >compat.ndjson
check 'compat schema, values and default dirty rates' '
python3 - compat.ndjson <<PY
import json, sys, math
from datetime import datetime, timedelta
n = 0; bad_age = 0; future = 0
start = datetime.fromisoformat("2025-01-01T00:00:00+00:00")
deps = {"Emergency","Surgery","ICU","Pediatrics","Maternity","Oncology","Cardiology"}
seen = set()
for i, line in enumerate(open(sys.argv[1])):
    e = json.loads(line); n += 1
    assert list(e) == ["patient_id","gender","age","department","admission_time","discharge_time","bed_id","hospital_id"], e
    assert e["gender"] in ("Male","Female") and e["department"] in deps
    assert 1 <= e["bed_id"] <= 500 and 1 <= e["hospital_id"] <= 7
    assert e["patient_id"] not in seen; seen.add(e["patient_id"])
    a = datetime.fromisoformat(e["admission_time"].replace("Z","+00:00"))
    d = datetime.fromisoformat(e["discharge_time"].replace("Z","+00:00"))
    now = start + timedelta(seconds=i)
    h = (d - a).total_seconds() / 3600
    assert h == int(h) and 1 <= h <= 72, h
    if e["age"] > 100: bad_age += 1; assert e["age"] <= 150
    else: assert e["age"] >= 1
    if a > now: future += 1; assert timedelta(hours=1) <= a - now <= timedelta(hours=72)
    else: assert timedelta(0) <= now - a <= timedelta(hours=72)
sd = math.sqrt(0.05 * 0.95 / n)
for name, k in (("invalid_age", bad_age), ("future_admission", future)):
    assert abs(k / n - 0.05) < 5 * sd, (name, k / n)
print(n, bad_age / n, future / n)
PY'

# Each dirty kind alone at 10 %, over 50,000 events.
cat >kinds.py <<'PY'
import json, sys, math
kind, path = sys.argv[1], sys.argv[2]
lines = open(path).read().splitlines()
n = len(lines); hit = 0
req = ["patient_id","gender","age","department","admission_time","hospital_id"]
deps = {"Emergency","Surgery","ICU","Pediatrics","Maternity","Oncology","Cardiology"}
seen = set(); prev = None
for line in lines:
    try: e = json.loads(line)
    except ValueError:
        assert kind == "malformed_json", line
        hit += 1; continue
    if kind == "missing_field": hit += sum(1 for f in req if f not in e)
    elif kind == "wrong_type":
        hit += isinstance(e["age"], str) or isinstance(e["hospital_id"], str) or isinstance(e["admission_time"], int)
    elif kind == "unknown_department": hit += e["department"] not in deps
    elif kind == "discharge_before_admission":
        hit += e["discharge_time"] is not None and e["discharge_time"] < e["admission_time"]
    elif kind == "duplicate":
        hit += line in seen; seen.add(line)
    elif kind == "late":
        t = e["event_time"]
        hit += prev is not None and t < prev
        prev = t if prev is None or t > prev else prev
    elif kind == "invalid_age": hit += e["age"] > 100
if kind == "late":
    # a late line shows as one step back in event time
    assert hit > 0.05 * n, hit
else:
    sd = math.sqrt(0.1 * 0.9 / n)
    # duplicates add lines: the rate is per generated event
    rate = hit / (n - hit) if kind == "duplicate" else hit / n
    assert abs(rate - 0.1) < 5 * sd, (kind, rate)
print(kind, hit, n)
PY
for k in invalid_age missing_field wrong_type malformed_json duplicate \
	unknown_department discharge_before_admission; do
	check "dirty kind $k at 10 %" "
		ps-simulate --count 50000 --seed 11 --dirty none --dirty $k=0.1 >k.ndjson &&
		wc -l <k.ndjson | grep -qx 50000 && python3 kinds.py $k k.ndjson"
done
check 'dirty kind late: out-of-order event times' '
	ps-simulate -m realistic --count 50000 --seed 11 --dirty none --dirty late=10% >k.ndjson &&
	python3 kinds.py late k.ndjson'
check 'duplicate lines are exact copies of an earlier line' '
	ps-simulate --count 20000 --seed 3 --dirty none --dirty duplicate=0.05 >d.ndjson &&
	test "$(sort d.ndjson | uniq -d | wc -l)" -gt 500'

ps-simulate -q -m realistic --dirty none --count 300000 --seed 5 >real.ndjson
check 'realistic model: lifecycle, beds, boarding, order' '
python3 - real.ndjson <<PY
import json, sys, collections
inbed = collections.defaultdict(dict)	# (hospital, dept) -> bed -> encounter
enc = {}; prev = ""; ids = set(); types = collections.Counter()
wards_by = {}	# (patient, arrival) -> ward admission time
ed_admitted = []
for line in open(sys.argv[1]):
    e = json.loads(line)
    assert e["event_time"] >= prev; prev = e["event_time"]
    assert e["event_id"] not in ids; ids.add(e["event_id"])
    t = e["event_type"]; types[t] += 1
    k = (e["hospital_id"], e["department"]); eid = e["encounter_id"]
    if e["department"] == "Emergency":
        assert e["admission_time"] == e["arrival_time"]
        assert t in ("ARRIVAL", "TRIAGE", "SEEN", "DECISION", "DISCHARGE", "TRANSFER", "LWBS"), t
        if t != "ARRIVAL": assert 1 <= e["triage_level"] <= 5
        if t == "SEEN":
            assert e["seen_time"] == e["event_time"] >= e["arrival_time"]
        if t in ("SEEN", "DECISION") and inbed[k].get(e["bed_id"]) != eid:
            # (a DECISION starts a visit in the census feed at the start)
            assert e["bed_id"] not in inbed[k]; inbed[k][e["bed_id"]] = eid
        if t in ("DISCHARGE", "TRANSFER"):
            assert inbed[k].pop(e["bed_id"]) == eid
            assert e["discharge_time"] == e["event_time"]
            if e["disposition"] == "ADMITTED":
                assert e["decision_time"] <= e["discharge_time"]
                ed_admitted.append((e["patient_id"], e["decision_time"], e["discharge_time"]))
            else:
                assert e["disposition"] in ("HOME", "TRANSFERRED"), e
        if t == "LWBS":
            assert e["bed_id"] is None and e["seen_time"] is None and e["disposition"] == "LWBS"
        continue
    if t == "ADMIT":
        assert e["discharge_time"] is None and e["event_time"] == e["admission_time"]
        assert e["arrival_time"] <= e["admission_time"]
        assert eid not in enc; enc[eid] = e
        assert e["bed_id"] not in inbed[k]; inbed[k][e["bed_id"]] = eid
        wards_by[(e["patient_id"], e["arrival_time"])] = e["admission_time"]
        if e["department"] == "Pediatrics": assert e["age"] < 18
        if e["department"] == "Maternity": assert e["gender"] == "Female" and 15 <= e["age"] <= 49
    else:
        assert t == "DISCHARGE", t
        a = enc.pop(eid)
        assert (a["patient_id"], a["bed_id"], a["admission_time"]) == (e["patient_id"], e["bed_id"], e["admission_time"])
        assert e["discharge_time"] > e["admission_time"] and e["event_time"] == e["discharge_time"]
        assert inbed[k].pop(e["bed_id"]) == eid
# a boarding patient leaves the ED when its ward bed is taken, and the
# ward counts its wait from the decision to admit
matched = sum(1 for p, d, dep in ed_admitted if wards_by.get((p, d)) == dep)
assert matched >= 0.95 * len(ed_admitted) > 0, (matched, len(ed_admitted))
assert types["LWBS"] > 0 and types["DECISION"] > 0 and types["TRIAGE"] > 0
assert types["DISCHARGE"] > 0.4 * types["ADMIT"]
print(types)
PY'

check 'the compat model is unchanged byte for byte (seed 7, 200000 lines)' '
	ps-simulate --count 200000 --seed 7 --start 2026-01-01T00:00:00Z 2>/dev/null |
		sha256sum | grep -q "^467072e863d0fca62751cccd30cb66caa8f179bd8c55f3f9bf1ab2d6790ef1b1 "'

check 'pacing: --rate 400 --count 800 takes at least ~2 s' '
	s=$(date +%s.%N); ps-simulate --rate 400 --count 800 --seed 1 | wc -l | grep -qx 800 &&
	python3 -c "import sys,time; sys.exit(0 if time.time() - $s >= 1.9 else 1)"'

check 'SIGTERM stops cleanly: status 0, only whole lines' '
	ps-simulate --rate 2000 --seed 1 >t.ndjson & pid=$!
	sleep 1; kill -TERM $pid; wait $pid; st=$?
	test $st = 0 && test -s t.ndjson && jq -c . t.ndjson >/dev/null'

check 'write error on a full device: status 74 and a message' '
	ps-simulate --count 100000 --seed 1 >/dev/full 2>err; st=$?
	test $st = 74 && grep -q "write error" err'

check 'an unseeded batch ends at the present, not in the future' '
	now=$(date -u +%s)
	last=$(ps-simulate -q --count 100000 --dirty none |
		jq -r ".admission_time | sub(\"Z\$\";\"\") | strptime(\"%Y-%m-%dT%H:%M:%S\") | mktime" | sort -n | tail -n 1)
	test "$last" -le "$((now + 5))" && test "$last" -ge "$((now - 73 * 3600))" &&
	rlast=$(ps-simulate -q -m realistic --count 50000 --dirty none | tail -n 1 |
		jq -r ".event_time | sub(\"\\\\.[0-9]+Z\$\";\"\") | strptime(\"%Y-%m-%dT%H:%M:%S\") | mktime") &&
	test "$rlast" -le "$((now + 5))"'

done_testing
