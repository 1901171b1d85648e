/*
 * clean.h - the clean record: what ps-silver writes (Parquet columns and
 * NDJSON members, in this order) and ps-gold reads (NDJSON on stdin, or
 * the silver Parquet files on catch-up).  The one definition of it.
 *
 * PS_CLEAN_COLUMNS(X) calls X(ID, name, TYPE, nullable, no_dict, GOLD)
 * once per column: ID names the column (PS_CLEAN_<ID> below), TYPE is a
 * PS_PQ_<TYPE> Parquet type, and GOLD says what ps-gold does with it:
 * G_STR(member), G_TIME(member), G_INT(member), G_POS(member) store it in
 * that member of struct ps_gold_rec (lib/gold.h), G_NONE ignores it.
 * Users define the G_* macros they need before expanding the list.
 */
#ifndef PS_CLEAN_H
#define PS_CLEAN_H

#define PS_CLEAN_COLUMNS(X)						\
	X(SOURCE, "source", STRING, 0, 0, G_STR(source))		\
	X(POSITION, "position", INT64, 0, 1, G_POS(position))		\
	X(INGEST_TIME, "ingest_time", TIMESTAMP, 0, 0,			\
	  G_TIME(ingest_time))						\
	X(EVENT_ID, "event_id", STRING, 1, 1, G_NONE)			\
	X(ENCOUNTER_ID, "encounter_id", STRING, 0, 1,			\
	  G_STR(encounter_id))						\
	X(EVENT_TYPE, "event_type", STRING, 1, 0, G_STR(event_type))	\
	X(EVENT_TIME, "event_time", TIMESTAMP, 1, 0, G_TIME(event_time)) \
	X(PATIENT_ID, "patient_id", STRING, 0, 1, G_STR(patient_id))	\
	X(GENDER, "gender", STRING, 0, 0, G_STR(gender))		\
	X(AGE, "age", INT32, 0, 0, G_INT(age))				\
	X(AGE_BAND, "age_band", STRING, 0, 0, G_STR(age_band))		\
	X(DEPARTMENT, "department", STRING, 0, 0, G_STR(department))	\
	X(HOSPITAL_ID, "hospital_id", INT32, 0, 0, G_INT(hospital_id))	\
	X(BED_ID, "bed_id", INT32, 1, 0, G_INT(bed_id))			\
	X(ARRIVAL_TIME, "arrival_time", TIMESTAMP, 1, 0,		\
	  G_TIME(arrival_time))						\
	X(ADMISSION_TIME, "admission_time", TIMESTAMP, 0, 0,		\
	  G_TIME(admission_time))					\
	X(DISCHARGE_TIME, "discharge_time", TIMESTAMP, 1, 0,		\
	  G_TIME(discharge_time))					\
	X(ADMISSION_DATE, "admission_date", DATE, 0, 0, G_NONE)		\
	X(LOS_HOURS, "los_hours", DOUBLE, 1, 0, G_NONE)			\
	X(WAIT_MINUTES, "wait_minutes", DOUBLE, 1, 0, G_NONE)		\
	X(TRIAGE_LEVEL, "triage_level", INT32, 1, 0,			\
	  G_INT(triage_level))						\
	X(SEEN_TIME, "seen_time", TIMESTAMP, 1, 0, G_TIME(seen_time))	\
	X(DECISION_TIME, "decision_time", TIMESTAMP, 1, 0,		\
	  G_TIME(decision_time))					\
	X(DISPOSITION, "disposition", STRING, 1, 0, G_STR(disposition))	\
	X(UNKNOWN_DEPARTMENT, "unknown_department", BOOL, 0, 0, G_NONE)	\
	X(FLAGS, "flags", STRING, 1, 0, G_NONE)				\
	X(EXTRA, "extra", STRING, 1, 1, G_NONE)

enum ps_clean_col {
#define PS_CLEAN_ENUM(id, name, type, nullable, no_dict, gold)	\
	PS_CLEAN_##id,
	PS_CLEAN_COLUMNS(PS_CLEAN_ENUM)
#undef PS_CLEAN_ENUM
	PS_CLEAN_NCOLS
};

#endif
