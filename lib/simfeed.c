/* simfeed.c - see simfeed.h. */
#include <string.h>

#include "json.h"
#include "pstime.h"
#include "rand.h"
#include "simfeed.h"
#include "banned.h"

#define NONE INT64_MIN

void simfeed_uuid(char out[36], uint64_t x)
{
	static const char hexd[] = "0123456789abcdef";
	uint64_t hi = ps_mix64(x), lo = ps_mix64(x ^ 0x5bd1e9955bd1e995ULL);
	unsigned char u[16];
	int i;

	for (i = 0; i < 8; i++) {
		u[i] = (unsigned char)(hi >> (56 - 8 * i));
		u[8 + i] = (unsigned char)(lo >> (56 - 8 * i));
	}
	u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
	u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*out++ = '-';
		*out++ = hexd[u[i] >> 4];
		*out++ = hexd[u[i] & 15];
	}
}

static void uuid(struct ps_buf *b, uint64_t x)
{
	char u[36];

	simfeed_uuid(u, x);
	ps_buf_add(b, u, 36);
}

/* Point-of-care codes of examples/hl7/map.ndjson (escaped for HL7). */
static const char *poc_code(const char *dept)
{
	static const char *const map[][2] = {
		{ "Emergency", "ED" }, { "Surgery", "SURG" }, { "ICU", "ICU" },
		{ "Pediatrics", "PEDS" }, { "Maternity", "L\\T\\D" },
		{ "Oncology", "ONC" }, { "Cardiology", "CARD" },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(*map); i++)
		if (!strcmp(dept, map[i][0]))
			return map[i][1];
	return NULL;
}

/* An HL7 TS: YYYYMMDDHHMMSS[.ffffff]+0000. */
static void hl7_ts(struct ps_buf *b, int64_t t)
{
	char iso[PS_TIME_MAX], *q;
	size_t n;

	if (t == NONE)
		return;
	n = ps_time_format(t, iso, -1);
	for (q = iso; q < iso + n && *q != 'Z'; q++)
		if ((*q >= '0' && *q <= '9') || *q == '.')
			ps_buf_addc(b, *q);
	ps_buf_adds(b, "+0000");
}

/* The birth date of someone age years old at t: the day before the
 * birthday, so the age holds on any day of the stay's first day. */
static int64_t birth_day(int64_t t, int age)
{
	int64_t y, day = t >= 0 ? t / PS_USEC_PER_DAY :
			 -((-t + PS_USEC_PER_DAY - 1) / PS_USEC_PER_DAY);
	unsigned m, d;

	ps_civil_from_days(day, &y, &m, &d);
	if (m == 2 && d == 29)
		d = 28;
	return ps_days_from_civil(y - age, m, d) - 1;
}

static void date8(struct ps_buf *b, int64_t day, int dashes)
{
	int64_t y;
	unsigned m, d;

	ps_civil_from_days(day, &y, &m, &d);
	ps_buf_addf(b, dashes ? "%04lld-%02u-%02u" : "%04lld%02u%02u",
		    (long long)y, m, d);
}

static void fields(struct ps_buf *b, int *at, int to)
{
	for (; *at < to; (*at)++)
		ps_buf_addc(b, '|');
}

/* The ADT trigger event of an event type. */
static const char *trigger(const char *type)
{
	static const char *const map[][2] = {
		{ "ARRIVAL", "A04" }, { "TRIAGE", "A08" }, { "SEEN", "A08" },
		{ "DECISION", "A08" }, { "ADMIT", "A01" },
		{ "TRANSFER", "A02" }, { "DISCHARGE", "A03" },
		{ "LWBS", "A03" },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(*map); i++)
		if (!strcmp(type, map[i][0]))
			return map[i][1];
	return "A08";
}

/* The Encounter.status of an event type. */
static const char *fhir_status(const char *type)
{
	if (!strcmp(type, "ARRIVAL"))
		return "arrived";
	if (!strcmp(type, "TRIAGE"))
		return "triaged";
	if (!strcmp(type, "DISCHARGE") || !strcmp(type, "LWBS"))
		return "finished";
	return "in-progress";
}

void simfeed_hl7(struct ps_buf *b, const struct simfeed_ev *v)
{
	const char *trig = trigger(v->type);
	const char *code = poc_code(v->department);
	int at;

	ps_buf_adds(b, "MSH|^~\\&|PSSIM|");
	if (!(v->omit & SIMFEED_NO_HOSPITAL))
		ps_buf_addf(b, "HOSP%d", v->hospital);
	ps_buf_adds(b, "|PULSESTREAM|PS|");
	hl7_ts(b, v->event_time);
	ps_buf_addf(b, "||ADT^%s^ADT_%s|", trig, trig);
	uuid(b, v->event_id);
	ps_buf_adds(b, "|P|2.5\rEVN|");
	ps_buf_adds(b, trig);
	ps_buf_addc(b, '|');
	hl7_ts(b, v->event_time);
	ps_buf_adds(b, "||||");
	hl7_ts(b, v->event_time);
	ps_buf_adds(b, "\rPID|1||");
	if (!(v->omit & SIMFEED_NO_PATIENT)) {
		uuid(b, v->patient_id);
		ps_buf_adds(b, "^^^PS^MR");
	}
	ps_buf_adds(b, "||||");
	if (!(v->omit & SIMFEED_NO_AGE) && v->admission != NONE)
		date8(b, birth_day(v->admission, v->age), 0);
	ps_buf_addc(b, '|');
	if (!(v->omit & SIMFEED_NO_GENDER))
		ps_buf_addc(b, v->female ? 'F' : 'M');
	ps_buf_adds(b, "\rPV1|1|");
	ps_buf_addc(b, !strcmp(v->department, "Emergency") ? 'E' : 'I');
	ps_buf_addc(b, '|');
	if (!(v->omit & SIMFEED_NO_DEPARTMENT)) {
		if (code) {
			ps_buf_adds(b, code);
		} else {	/* an unknown department: its name */
			ps_buf_adds(b, v->department);
		}
	}
	ps_buf_adds(b, "^^");
	if (v->bed > 0)
		ps_buf_add_i64(b, v->bed);
	ps_buf_addc(b, '^');
	if (!(v->omit & SIMFEED_NO_HOSPITAL))
		ps_buf_addf(b, "HOSP%d", v->hospital);
	at = 3;
	fields(b, &at, 19);
	uuid(b, v->encounter_id);
	ps_buf_adds(b, "^^^PS^VN");
	fields(b, &at, 36);
	if (v->disposition)
		ps_buf_adds(b, v->disposition);
	fields(b, &at, 44);
	if (!(v->omit & SIMFEED_NO_ADMISSION))
		hl7_ts(b, v->admission);
	ps_buf_addc(b, '|');
	hl7_ts(b, v->discharge);
	ps_buf_adds(b, "\rZPS|");
	hl7_ts(b, v->arrival);
	ps_buf_addc(b, '|');
	if (v->triage)
		ps_buf_add_i64(b, v->triage);
	ps_buf_addc(b, '|');
	hl7_ts(b, v->seen);
	ps_buf_addc(b, '|');
	hl7_ts(b, v->decision);
	ps_buf_addc(b, '|');
	ps_buf_adds(b, v->type);
	ps_buf_add(b, "\r\n", 2);
}

static void json_time(struct ps_buf *b, int64_t t)
{
	char iso[PS_TIME_MAX];

	ps_buf_addc(b, '"');
	ps_buf_add(b, iso, ps_time_format(t, iso, -1));
	ps_buf_addc(b, '"');
}

void simfeed_fhir(struct ps_buf *b, const struct simfeed_ev *v)
{
	const char *code = poc_code(v->department);
	char pid[36];

	simfeed_uuid(pid, v->patient_id);
	ps_buf_adds(b, "{\"resourceType\":\"Bundle\",\"type\":\"collection\","
		    "\"entry\":[{\"fullUrl\":\"urn:uuid:");
	ps_buf_add(b, pid, 36);
	ps_buf_adds(b, "\",\"resource\":{\"resourceType\":\"Patient\","
		    "\"id\":\"");
	ps_buf_add(b, pid, 36);
	ps_buf_addc(b, '"');
	if (!(v->omit & SIMFEED_NO_PATIENT)) {
		ps_buf_adds(b, ",\"identifier\":[{\"type\":{\"coding\":[{"
			    "\"system\":\"http://terminology.hl7.org/"
			    "CodeSystem/v2-0203\",\"code\":\"MR\"}]},"
			    "\"value\":\"");
		ps_buf_add(b, pid, 36);
		ps_buf_adds(b, "\"}]");
	}
	if (!(v->omit & SIMFEED_NO_GENDER))
		ps_buf_adds(b, v->female ? ",\"gender\":\"female\"" :
			    ",\"gender\":\"male\"");
	if (!(v->omit & SIMFEED_NO_AGE) && v->admission != NONE) {
		ps_buf_adds(b, ",\"birthDate\":\"");
		date8(b, birth_day(v->admission, v->age), 1);
		ps_buf_addc(b, '"');
	}
	ps_buf_adds(b, "}},{\"resource\":{\"resourceType\":\"Encounter\","
		    "\"id\":\"");
	uuid(b, v->encounter_id);
	ps_buf_adds(b, "\",\"meta\":{\"versionId\":\"");
	uuid(b, v->event_id);
	ps_buf_addc(b, '"');
	if (v->event_time != NONE) {
		ps_buf_adds(b, ",\"lastUpdated\":");
		json_time(b, v->event_time);
	}
	ps_buf_adds(b, "},\"identifier\":[{\"value\":\"");
	uuid(b, v->encounter_id);
	ps_buf_adds(b, "\"}],\"status\":\"");
	ps_buf_adds(b, fhir_status(v->type));
	ps_buf_addc(b, '"');
	ps_buf_adds(b, ",\"class\":{\"system\":\"http://terminology.hl7.org/"
		    "CodeSystem/v3-ActCode\",\"code\":");
	ps_buf_adds(b, !strcmp(v->department, "Emergency") ? "\"EMER\"}" :
		    "\"IMP\"}");
	ps_buf_adds(b, ",\"subject\":{\"reference\":\"urn:uuid:");
	ps_buf_add(b, pid, 36);
	ps_buf_adds(b, "\"}");
	if (!(v->omit & SIMFEED_NO_ADMISSION) && v->admission != NONE) {
		ps_buf_adds(b, ",\"period\":{\"start\":");
		json_time(b, v->admission);
		if (v->discharge != NONE) {
			ps_buf_adds(b, ",\"end\":");
			json_time(b, v->discharge);
		}
		ps_buf_addc(b, '}');
	}
	if (v->arrival != NONE) {
		ps_buf_adds(b, ",\"statusHistory\":[{\"status\":\"arrived\","
			    "\"period\":{\"start\":");
		json_time(b, v->arrival);
		ps_buf_adds(b, "}}]");
	}
	if (!(v->omit & SIMFEED_NO_DEPARTMENT) || v->bed > 0)
		ps_buf_adds(b, ",\"location\":[");
	if (!(v->omit & SIMFEED_NO_DEPARTMENT)) {
		ps_buf_adds(b, "{\"location\":{\"identifier\":{\"value\":");
		if (code && !strcmp(code, "L\\T\\D"))
			code = "L&D";
		ps_json_add_str(b, code ? code : v->department,
				strlen(code ? code : v->department));
		ps_buf_adds(b, "},\"display\":");
		ps_json_add_str(b, v->department, strlen(v->department));
		ps_buf_adds(b, "},\"status\":\"active\"}");
		if (v->bed > 0)
			ps_buf_addc(b, ',');
	}
	if (v->bed > 0)
		ps_buf_addf(b, "{\"location\":{\"display\":\"%d\"},\"status\":"
			    "\"active\",\"physicalType\":{\"coding\":[{"
			    "\"system\":\"http://terminology.hl7.org/"
			    "CodeSystem/location-physical-type\",\"code\":"
			    "\"bd\"}]}}", v->bed);
	if (!(v->omit & SIMFEED_NO_DEPARTMENT) || v->bed > 0)
		ps_buf_addc(b, ']');
	if (!(v->omit & SIMFEED_NO_HOSPITAL))
		ps_buf_addf(b, ",\"serviceProvider\":{\"identifier\":{"
			    "\"value\":\"HOSP%d\"},\"display\":\"Hospital %d\"}",
			    v->hospital, v->hospital);
	if (v->disposition) {
		ps_buf_adds(b, ",\"hospitalization\":{\"dischargeDisposition\":"
			    "{\"coding\":[{\"system\":\"urn:pulsestream:fhir:"
			    "disposition\",\"code\":\"");
		ps_buf_adds(b, v->disposition);
		ps_buf_adds(b, "\"}]}}");
	}
	ps_buf_adds(b, ",\"extension\":[{\"url\":"
		    "\"urn:pulsestream:fhir:event-type\",\"valueCode\":\"");
	ps_buf_adds(b, v->type);
	ps_buf_addc(b, '"');
	ps_buf_addc(b, '}');
	if (v->triage)
		ps_buf_addf(b, ",{\"url\":\"urn:pulsestream:fhir:"
			    "triage-level\",\"valueInteger\":%d}", v->triage);
	if (v->seen != NONE) {
		ps_buf_adds(b, ",{\"url\":\"urn:pulsestream:fhir:seen-time\","
			    "\"valueDateTime\":");
		json_time(b, v->seen);
		ps_buf_addc(b, '}');
	}
	if (v->decision != NONE) {
		ps_buf_adds(b, ",{\"url\":\"urn:pulsestream:fhir:"
			    "decision-time\",\"valueDateTime\":");
		json_time(b, v->decision);
		ps_buf_addc(b, '}');
	}
	ps_buf_adds(b, "]}}]}\n");
}
