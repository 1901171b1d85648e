-- Every gold KPI recomputed from silver, the clean records, with the
-- definitions of ps-gold(1): an independent oracle for ps-gold's kpi_*
-- tables (tests/interop/gold_duckdb.sh).  Only configuration is read from
-- gold: dim_department (beds, overstay and stale limits, which department
-- is the emergency department).  "Now" is the as_of of the last commit;
-- the trailing window is ps-gold's default, 24 hours; percentiles are
-- exact (quantile_cont) and null below 20 samples.

-- The event time of a record: event_time, or admission_time.
CREATE OR REPLACE VIEW o_rec AS
	SELECT *, coalesce(event_time, admission_time) AS t,
	       department || chr(31) || CAST(hospital_id AS VARCHAR) AS dkey
	FROM silver;

-- One row per encounter: the admission side from the latest record
-- (ties: larger admission time, department, patient id); each other
-- field from the latest record that has it (ties: the larger value).
CREATE OR REPLACE VIEW o_adm AS
	SELECT encounter_id, patient_id, department, hospital_id,
	       admission_time
	FROM (SELECT *, row_number() OVER (PARTITION BY encounter_id
		ORDER BY t DESC, admission_time DESC, dkey DESC,
			 patient_id DESC) AS rn FROM o_rec)
	WHERE rn = 1;

CREATE OR REPLACE MACRO o_latest(col) AS TABLE
	SELECT encounter_id, v FROM (
		SELECT encounter_id, col AS v, row_number() OVER (
			PARTITION BY encounter_id ORDER BY t DESC, col DESC)
			AS rn
		FROM o_rec WHERE col IS NOT NULL)
	WHERE rn = 1;

-- Cancels (HL7 A11, A13) win at equal event times.  The discharge: the
-- latest record with a discharge time or a CANCEL_DISCHARGE (null).
CREATE OR REPLACE VIEW o_discharge AS
	SELECT encounter_id, v FROM (
		SELECT encounter_id, CASE WHEN event_type = 'CANCEL_DISCHARGE'
			THEN NULL ELSE discharge_time END AS v,
		       row_number() OVER (PARTITION BY encounter_id ORDER BY t
			DESC, event_type = 'CANCEL_DISCHARGE' DESC,
			discharge_time DESC) AS rn
		FROM o_rec WHERE discharge_time IS NOT NULL
			      OR event_type = 'CANCEL_DISCHARGE')
	WHERE rn = 1;

-- Cancelled encounters: the latest of their ADMIT, ARRIVAL, untyped and
-- CANCEL_ADMIT records is a CANCEL_ADMIT.  They have no fact row and
-- count in no KPI.
CREATE OR REPLACE VIEW o_cancelled AS
	SELECT encounter_id FROM (
		SELECT encounter_id, event_type, row_number() OVER (
			PARTITION BY encounter_id ORDER BY t DESC,
			event_type = 'CANCEL_ADMIT' DESC) AS rn
		FROM o_rec WHERE event_type IS NULL OR event_type IN
			('ADMIT', 'ARRIVAL', 'CANCEL_ADMIT'))
	WHERE rn = 1 AND event_type = 'CANCEL_ADMIT';

CREATE OR REPLACE VIEW o_enc AS
	SELECT a.*, ar.v AS arrival_time, sn.v AS seen_time,
	       dc.v AS decision_time, ds.v AS discharge_time,
	       dp.v AS disposition,
	       d.beds, d.overstay_hours, d.stale_after_hours,
	       coalesce(d.emergency, false) AS ed, d.department_sk,
	       gold_now() AS now
	FROM o_adm a
	LEFT JOIN o_latest(arrival_time) ar USING (encounter_id)
	LEFT JOIN o_latest(seen_time) sn USING (encounter_id)
	LEFT JOIN o_latest(decision_time) dc USING (encounter_id)
	LEFT JOIN o_discharge ds USING (encounter_id)
	LEFT JOIN o_latest(disposition) dp USING (encounter_id)
	LEFT JOIN dim_department d USING (department, hospital_id)
	WHERE encounter_id NOT IN (SELECT encounter_id FROM o_cancelled);

-- SCD2: one observation per patient and instant (the smaller values),
-- versions are runs of equal values in time order.
CREATE OR REPLACE VIEW o_obs AS
	SELECT patient_id, t, gender, age_band FROM (
		SELECT patient_id, t, gender, age_band, row_number() OVER (
			PARTITION BY patient_id, t ORDER BY gender, age_band)
			AS rn FROM o_rec)
	WHERE rn = 1;

CREATE OR REPLACE VIEW o_versions AS
	WITH marked AS (
		SELECT *, CASE WHEN lag(gender) OVER w IS DISTINCT FROM gender
			OR lag(age_band) OVER w IS DISTINCT FROM age_band
			THEN 1 ELSE 0 END AS starts
		FROM o_obs WINDOW w AS (PARTITION BY patient_id ORDER BY t)),
	numbered AS (
		SELECT *, sum(starts) OVER (PARTITION BY patient_id ORDER BY t
			ROWS UNBOUNDED PRECEDING) AS version FROM marked)
	SELECT patient_id, version, any_value(gender) AS gender,
	       any_value(age_band) AS age_band, min(t) AS effective_from,
	       max(t) AS last_seen
	FROM numbered GROUP BY patient_id, version;

CREATE OR REPLACE VIEW o_dim_patient AS
	SELECT patient_id, CAST(version AS INTEGER) AS version, gender,
	       age_band, effective_from,
	       lead(effective_from) OVER (PARTITION BY patient_id
			ORDER BY version) AS effective_to,
	       version = max(version) OVER (PARTITION BY patient_id)
		       AS is_current,
	       last_seen
	FROM o_versions;

-- The encounter with its patient's current values and its states.
CREATE OR REPLACE VIEW o_flow AS
	SELECT e.*, p.gender, p.age_band,
	       coalesce(e.arrival_time, e.admission_time) AS door,
	       e.admission_time <= now AND (e.discharge_time IS NULL OR
		       e.discharge_time > now) AS open,
	       e.admission_time <= now AND e.discharge_time IS NULL AND
		       epoch(now - e.admission_time) / 3600.0 >
		       coalesce(e.stale_after_hours, 720) AS stale,
	       e.ed AND e.arrival_time IS NOT NULL AND
		       (e.seen_time IS NULL OR e.seen_time > now)
		       AS waiting_ed,
	       e.discharge_time <= now AS discharged
	FROM o_enc e JOIN o_dim_patient p
	     ON p.patient_id = e.patient_id AND p.is_current;

CREATE OR REPLACE VIEW o_flow2 AS
	SELECT *, open AND NOT stale AND NOT waiting_ed AS cur,
	       CASE WHEN ed THEN seen_time ELSE admission_time END
		       AS wait_end
	FROM o_flow;

CREATE OR REPLACE MACRO o_cur_at(f, ts) AS
	f.admission_time <= ts AND (f.discharge_time IS NULL OR
	f.discharge_time > ts) AND NOT (f.discharge_time IS NULL AND
	epoch(ts - f.admission_time) / 3600.0 >
	coalesce(f.stale_after_hours, 720)) AND NOT (f.ed AND
	f.arrival_time IS NOT NULL AND (f.seen_time IS NULL OR
	f.seen_time > ts));

CREATE OR REPLACE VIEW o_samples AS
	SELECT d.department, d.hospital_id, k,
	       count(f.encounter_id) FILTER (WHERE o_cur_at(f,
		       gold_now() - k * INTERVAL 15 MINUTE)) AS c
	FROM dim_department d CROSS JOIN range(0, 9) r(k)
	LEFT JOIN o_flow2 f USING (department, hospital_id)
	GROUP BY ALL;

CREATE OR REPLACE VIEW o_occupancy AS
	SELECT d.department, d.hospital_id, d.department_sk,
	       count(f.encounter_id) FILTER (WHERE f.cur) AS census,
	       count(f.encounter_id) FILTER (WHERE f.stale) AS census_stale,
	       count(f.encounter_id) FILTER (WHERE f.open AND NOT f.stale
		       AND f.waiting_ed) AS waiting,
	       d.beds,
	       CASE WHEN d.beds > 0 THEN count(f.encounter_id) FILTER (WHERE
		       f.cur) * 100.0 / d.beds END AS occupancy_pct,
	       CASE WHEN d.beds > 0 THEN greatest(d.beds -
		       count(f.encounter_id) FILTER (WHERE f.cur), 0) END
		       AS free_beds,
	       CASE WHEN d.beds > 0 THEN (SELECT min(c) FROM o_samples s
		       WHERE s.department = d.department AND
		       s.hospital_id = d.hospital_id) * 100.0 / d.beds END
		       AS occupancy_pct_2h_min,
	       CASE WHEN d.beds > 0 THEN greatest(d.beds - (SELECT min(c)
		       FROM o_samples s WHERE s.department = d.department AND
		       s.hospital_id = d.hospital_id), 0) END
		       AS free_beds_2h_max,
	       count(f.encounter_id) FILTER (WHERE f.admission_time >
		       gold_now() - INTERVAL 1 HOUR AND f.admission_time <=
		       gold_now()) AS inflow_last_hour,
	       count(f.encounter_id) FILTER (WHERE f.discharge_time >
		       gold_now() - INTERVAL 1 HOUR AND f.discharge_time <=
		       gold_now()) AS discharges_last_hour,
	       gold_now() AS as_of
	FROM dim_department d LEFT JOIN o_flow2 f
	     USING (department, hospital_id)
	GROUP BY d.department, d.hospital_id, d.department_sk, d.beds;

CREATE OR REPLACE VIEW o_occupancy_hospital AS
	SELECT hospital_id,
	       coalesce(sum(census) FILTER (WHERE beds > 0), 0) AS census,
	       coalesce(sum(beds) FILTER (WHERE beds > 0), 0) AS beds,
	       CASE WHEN sum(beds) FILTER (WHERE beds > 0) > 0 THEN
		       sum(census) FILTER (WHERE beds > 0) * 100.0 /
		       sum(beds) FILTER (WHERE beds > 0) END AS occupancy_pct,
	       coalesce(sum(census) FILTER (WHERE beds IS NULL OR
		       beds <= 0), 0) AS census_without_beds,
	       gold_now() AS as_of
	FROM o_occupancy GROUP BY hospital_id;

CREATE OR REPLACE VIEW o_inflow AS
	SELECT department, hospital_id,
	       date_trunc('hour', admission_time) AS hour,
	       count(*) AS admissions, gold_now() AS as_of
	FROM o_flow2
	WHERE admission_time > gold_now() - INTERVAL 24 HOUR
	  AND admission_time <= gold_now()
	GROUP BY 1, 2, 3;

-- Waits that ended in the window (24 h; widened to 72 h, then 168 h,
-- while fewer than 20).
CREATE OR REPLACE VIEW o_waits AS
	SELECT department, hospital_id, wait_end,
	       epoch(wait_end - arrival_time) / 60.0 AS m
	FROM o_flow2
	WHERE arrival_time IS NOT NULL AND wait_end IS NOT NULL AND
	      arrival_time <= wait_end AND wait_end <= gold_now() AND
	      wait_end > gold_now() - INTERVAL 168 HOUR;

CREATE OR REPLACE VIEW o_waiting AS
	WITH n AS (
		SELECT department, hospital_id,
		       count(*) FILTER (WHERE wait_end > gold_now() -
			       INTERVAL 24 HOUR) AS n24,
		       count(*) FILTER (WHERE wait_end > gold_now() -
			       INTERVAL 72 HOUR) AS n72,
		       count(*) AS n168
		FROM o_waits GROUP BY ALL),
	w AS (
		SELECT *, CASE WHEN n24 >= 20 THEN 24 WHEN n72 >= 20 THEN 72
			       WHEN n168 >= 20 THEN 168 ELSE 24 END AS wh
		FROM n)
	SELECT w.department, w.hospital_id, count(x.m) AS waits,
	       CAST(w.wh AS DOUBLE) AS window_hours,
	       CASE WHEN count(x.m) >= 20 THEN quantile_cont(x.m, 0.5) END
		       AS wait_median_minutes,
	       CASE WHEN count(x.m) >= 20 THEN quantile_cont(x.m, 0.9) END
		       AS wait_p90_minutes,
	       gold_now() AS as_of
	FROM w JOIN o_waits x ON x.department = w.department AND
	     x.hospital_id = w.hospital_id AND
	     x.wait_end > gold_now() - w.wh * INTERVAL 1 HOUR
	GROUP BY w.department, w.hospital_id, w.wh;

-- Emergency department visits that left in the window.
CREATE OR REPLACE VIEW o_ed_visits AS
	SELECT *, epoch(discharge_time - door) / 60.0 AS stay,
	       CASE WHEN seen_time >= door THEN
		       epoch(seen_time - door) / 60.0 END AS d2r,
	       CASE WHEN decision_time IS NOT NULL AND
		       discharge_time >= decision_time THEN
		       epoch(discharge_time - decision_time) / 60.0 END
		       AS board,
	       disposition = 'LWBS' AS lwbs,
	       coalesce(disposition = 'ADMITTED', disposition IS NULL AND
		       decision_time IS NOT NULL) AS admitted
	FROM o_flow2
	WHERE ed AND discharged AND discharge_time > gold_now() -
	      INTERVAL 24 HOUR;

CREATE OR REPLACE MACRO o_q(x, q) AS
	CASE WHEN count(x) >= 20 THEN quantile_cont(x, q) END;

CREATE OR REPLACE VIEW o_ed AS
	SELECT d.department, d.hospital_id, 24.0 AS window_hours,
	       count(v.encounter_id) AS visits,
	       count(*) FILTER (WHERE v.lwbs) AS left_without_being_seen,
	       CASE WHEN count(v.encounter_id) > 0 THEN count(*) FILTER (
		       WHERE v.lwbs) * 100.0 / count(v.encounter_id) END
		       AS lwbs_pct,
	       count(v.d2r) AS door_to_room_n,
	       o_q(v.d2r, 0.5) AS door_to_room_median_minutes,
	       o_q(v.d2r, 0.9) AS door_to_room_p90_minutes,
	       count(v.stay) FILTER (WHERE NOT v.admitted AND NOT v.lwbs AND
		       v.disposition IS DISTINCT FROM 'TRANSFERRED')
		       AS los_discharged_n,
	       CASE WHEN count(v.stay) FILTER (WHERE NOT v.admitted AND
		       NOT v.lwbs AND v.disposition IS DISTINCT FROM
		       'TRANSFERRED') >= 20 THEN quantile_cont(v.stay, 0.5)
		       FILTER (WHERE NOT v.admitted AND NOT v.lwbs AND
		       v.disposition IS DISTINCT FROM 'TRANSFERRED') END
		       AS los_discharged_median_minutes,
	       count(v.stay) FILTER (WHERE v.admitted) AS los_admitted_n,
	       CASE WHEN count(v.stay) FILTER (WHERE v.admitted) >= 20 THEN
		       quantile_cont(v.stay, 0.5) FILTER (WHERE v.admitted)
		       END AS los_admitted_median_minutes,
	       count(v.board) FILTER (WHERE v.admitted) AS boarding_n,
	       CASE WHEN count(v.board) FILTER (WHERE v.admitted) >= 20 THEN
		       quantile_cont(v.board, 0.5) FILTER (WHERE v.admitted)
		       END AS boarding_median_minutes,
	       CASE WHEN count(v.board) FILTER (WHERE v.admitted) >= 20 THEN
		       quantile_cont(v.board, 0.9) FILTER (WHERE v.admitted)
		       END AS boarding_p90_minutes,
	       CASE WHEN count(v.encounter_id) > 0 THEN count(*) FILTER (
		       WHERE v.stay <= 240) * 100.0 / count(v.encounter_id)
		       END AS within_4h_pct,
	       count(*) FILTER (WHERE v.stay > 720) AS over_12h,
	       count(*) FILTER (WHERE v.d2r > 60 OR v.lwbs OR
		       v.board > 240 OR v.stay > 480) AS ecat_visits,
	       CASE WHEN count(v.encounter_id) > 0 THEN count(*) FILTER (
		       WHERE v.d2r > 60 OR v.lwbs OR v.board > 240 OR
		       v.stay > 480) * 100.0 / count(v.encounter_id) END
		       AS ecat_pct,
	       (SELECT count(*) FROM o_flow2 f WHERE f.cur AND f.ed AND
		       f.department = d.department AND
		       f.hospital_id = d.hospital_id AND
		       f.decision_time <= gold_now()) AS boarding_now,
	       (SELECT count(*) FROM o_flow2 f WHERE f.cur AND f.ed AND
		       f.department = d.department AND
		       f.hospital_id = d.hospital_id AND
		       f.decision_time <= gold_now() AND
		       epoch(gold_now() - f.decision_time) > 240 * 60)
		       AS boarding_now_over_4h,
	       gold_now() AS as_of
	FROM dim_department d LEFT JOIN o_ed_visits v
	     USING (department, hospital_id)
	WHERE d.emergency
	GROUP BY d.department, d.hospital_id;

CREATE OR REPLACE VIEW o_los AS
	SELECT department, gender, count(*) AS discharges,
	       sum(epoch_us(discharge_time) - epoch_us(admission_time)) /
		       count(*) / 3600e6 AS avg_los_hours,
	       gold_now() AS as_of
	FROM o_flow2 WHERE discharged GROUP BY 1, 2;

CREATE OR REPLACE VIEW o_volume AS
	SELECT CAST(admission_time AS DATE) AS admission_date, gender,
	       count(*) AS encounters, gold_now() AS as_of
	FROM o_flow2 GROUP BY 1, 2;

CREATE OR REPLACE VIEW o_overstay AS
	SELECT d.department, d.hospital_id, d.overstay_hours,
	       count(f.encounter_id) FILTER (WHERE f.cur AND
		       epoch(gold_now() - f.admission_time) / 3600.0 >
		       d.overstay_hours) AS overstay_current,
	       count(f.encounter_id) FILTER (WHERE f.discharged AND
		       epoch(f.discharge_time - f.admission_time) / 3600.0 >
		       d.overstay_hours) AS overstay_discharged,
	       count(f.encounter_id) FILTER (WHERE f.cur AND
		       epoch(gold_now() - f.admission_time) >= 7 * 86400)
		       AS stranded_current,
	       count(f.encounter_id) FILTER (WHERE f.cur AND
		       epoch(gold_now() - f.admission_time) >= 21 * 86400)
		       AS super_stranded_current,
	       gold_now() AS as_of
	FROM dim_department d LEFT JOIN o_flow2 f
	     USING (department, hospital_id)
	GROUP BY d.department, d.hospital_id, d.overstay_hours;

CREATE OR REPLACE VIEW o_demographics AS
	SELECT age_band, gender, count(*) FILTER (WHERE cur)
		       AS currently_admitted,
	       count(*) AS encounters, gold_now() AS as_of
	FROM o_flow2 GROUP BY 1, 2;

CREATE OR REPLACE VIEW o_bed_turnover AS
	SELECT d.department, d.hospital_id, d.beds,
	       count(f.encounter_id) FILTER (WHERE f.discharged)
		       AS discharges,
	       CASE WHEN d.beds > 0 THEN count(f.encounter_id) FILTER (WHERE
		       f.discharged) * 1.0 / d.beds END AS turnover,
	       count(f.encounter_id) FILTER (WHERE f.discharged AND
		       f.discharge_time > gold_now() - INTERVAL 30 DAY)
		       AS discharges_30d,
	       CASE WHEN d.beds > 0 THEN count(f.encounter_id) FILTER (WHERE
		       f.discharged AND f.discharge_time > gold_now() -
		       INTERVAL 30 DAY) * 1.0 / d.beds END
		       AS turnover_per_bed_30d,
	       gold_now() AS as_of
	FROM dim_department d LEFT JOIN o_flow2 f
	     USING (department, hospital_id)
	GROUP BY d.department, d.hospital_id, d.beds;

-- Back to silver: every encounter of the clean records has one fact row,
-- except the cancelled ones, which have none.
CREATE OR REPLACE VIEW o_encounters_missing AS
	(SELECT DISTINCT encounter_id FROM silver
	 EXCEPT SELECT encounter_id FROM o_cancelled)
	EXCEPT SELECT encounter_id FROM fact_patient_flow;
CREATE OR REPLACE VIEW o_cancelled_present AS
	SELECT encounter_id FROM o_cancelled
	INTERSECT SELECT encounter_id FROM fact_patient_flow;
