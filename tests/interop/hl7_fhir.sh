#!/bin/bash
# ps-simulate --format hl7|fhir against independent readers and back:
# every FHIR Bundle is valid for fhir.resources (PyPI; its R4B models,
# which hold Bundle, Patient and Encounter as R4 defines them), and
# `ps-hl7 convert` of the HL7 messages and of the Bundles gives back the
# JSON events of the same seed, field for field.
. "$(dirname "$0")/../lib.sh"
py=$("$TOP/scripts/pyenv.sh") || { echo "FAIL: scripts/pyenv.sh" >&2; exit 1; }
map=$TOP/examples/hl7/map.ndjson
sim() { ps-simulate -q -m realistic --seed 5 --count 3000 --dirty none "$@"; }
sim >"$TMPD/json"
sim --format hl7 >"$TMPD/hl7"
sim --format fhir >"$TMPD/fhir"

check 'fhir.resources validates every Bundle' \
	"'$py' - '$TMPD/fhir' <<'EOF'
import sys
from fhir.resources.R4B.bundle import Bundle
n = 0
for line in open(sys.argv[1]):
    b = Bundle.model_validate_json(line)
    assert [e.resource.get_resource_type() for e in b.entry] == \
        ['Patient', 'Encounter']
    n += 1
assert n == 3000, n
EOF"
norm='del(.source_format, .trigger_event, .patient_class, .hospital_service,
	.event_id) | with_entries(select(.value != null))'
jq -cS "$norm" "$TMPD/json" >"$TMPD/json.n"
for f in hl7 fhir; do
	check "$f: ps-hl7 convert gives back the JSON events" \
		"ps-hl7 convert -q --map '$map' '$TMPD/$f' >'$TMPD/$f.ev' &&
		 jq -cS '$norm' '$TMPD/$f.ev' | cmp - '$TMPD/json.n'"
done
check 'hl7: event_id is MSH-10, the JSON event_id' \
	"jq -r .event_id '$TMPD/hl7.ev' | cmp - <(jq -r .event_id '$TMPD/json')"
done_testing
