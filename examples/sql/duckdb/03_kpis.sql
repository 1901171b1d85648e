-- The corrected KPIs, computed from the fact table and the dimensions
-- only: an independent oracle for ps-gold's kpi_* tables.  "Now" is the
-- as_of of the last commit; currently admitted is recomputed from the
-- admission and discharge times (admission <= now < discharge or no
-- discharge), not read from the fact column.  The trailing window of the
-- waiting and inflow KPIs is ps-gold's default, 24 hours.  Percentiles
-- are exact: quantile_cont (linear interpolation), as in ps-gold.

CREATE OR REPLACE VIEW o_flow AS
	SELECT f.*, p.gender, p.age_band, d.beds,
	       d.overstay_hours AS threshold, gold_now() AS now,
	       (f.discharge_time <= gold_now()) AS discharged,
	       (f.admission_time <= gold_now() AND
		(f.discharge_time IS NULL OR f.discharge_time > gold_now()))
		       AS cur
	FROM fact_patient_flow f
	JOIN dim_patient p ON p.patient_key = f.patient_key AND p.is_current
	JOIN dim_department d ON d.department_sk = f.department_sk;

CREATE OR REPLACE VIEW o_occupancy AS
	SELECT d.department, d.hospital_id, d.department_sk,
	       count(f.fact_sk) FILTER (WHERE f.cur) AS census, d.beds,
	       CASE WHEN d.beds > 0 THEN count(f.fact_sk) FILTER (WHERE f.cur)
		    * 100.0 / d.beds END AS occupancy_pct,
	       count(f.fact_sk) FILTER (WHERE f.admission_time >
			gold_now() - INTERVAL 1 HOUR
			AND f.admission_time <= gold_now())
		       AS inflow_last_hour,
	       count(f.fact_sk) FILTER (WHERE f.discharge_time >
			gold_now() - INTERVAL 1 HOUR
			AND f.discharge_time <= gold_now())
		       AS discharges_last_hour,
	       gold_now() AS as_of
	FROM dim_department d LEFT JOIN o_flow f
	     ON f.department_sk = d.department_sk
	GROUP BY d.department, d.hospital_id, d.department_sk, d.beds;

CREATE OR REPLACE VIEW o_occupancy_hospital AS
	SELECT hospital_id, coalesce(sum(census) FILTER (WHERE beds > 0), 0)
		       AS census,
	       coalesce(sum(beds) FILTER (WHERE beds > 0), 0) AS beds,
	       CASE WHEN sum(beds) FILTER (WHERE beds > 0) > 0 THEN
		       sum(census) FILTER (WHERE beds > 0) * 100.0 /
		       sum(beds) FILTER (WHERE beds > 0)
	       END AS occupancy_pct,
	       coalesce(sum(census) FILTER (WHERE beds IS NULL OR beds <= 0),
			0) AS census_without_beds,
	       gold_now() AS as_of
	FROM o_occupancy GROUP BY hospital_id;

CREATE OR REPLACE VIEW o_inflow AS
	SELECT department, hospital_id,
	       date_trunc('hour', admission_time) AS hour,
	       count(*) AS admissions, gold_now() AS as_of
	FROM o_flow
	WHERE admission_time > gold_now() - INTERVAL 24 HOUR
	  AND admission_time <= gold_now()
	GROUP BY 1, 2, 3;

CREATE OR REPLACE VIEW o_waiting AS
	SELECT department, hospital_id, count(waiting_minutes) AS waits,
	       quantile_cont(waiting_minutes, 0.5) AS wait_median_minutes,
	       quantile_cont(waiting_minutes, 0.9) AS wait_p90_minutes,
	       gold_now() AS as_of
	FROM o_flow
	WHERE admission_time > gold_now() - INTERVAL 24 HOUR
	  AND admission_time <= gold_now() AND waiting_minutes IS NOT NULL
	GROUP BY 1, 2;

CREATE OR REPLACE VIEW o_los AS
	SELECT department, gender, count(length_of_stay_hours) AS discharges,
	       avg(length_of_stay_hours) AS avg_los_hours,
	       gold_now() AS as_of
	FROM o_flow WHERE discharged GROUP BY 1, 2;

CREATE OR REPLACE VIEW o_volume AS
	SELECT admission_date, gender, count(*) AS encounters,
	       gold_now() AS as_of
	FROM o_flow GROUP BY 1, 2;

CREATE OR REPLACE VIEW o_overstay AS
	SELECT d.department, d.hospital_id, d.overstay_hours,
	       count(f.fact_sk) FILTER (WHERE f.cur AND
		       epoch(gold_now() - f.admission_time) / 3600.0 >
		       d.overstay_hours) AS overstay_current,
	       count(f.fact_sk) FILTER (WHERE f.discharged AND
		       f.length_of_stay_hours > d.overstay_hours)
		       AS overstay_discharged,
	       gold_now() AS as_of
	FROM dim_department d LEFT JOIN o_flow f
	     ON f.department_sk = d.department_sk
	GROUP BY d.department, d.hospital_id, d.overstay_hours;

CREATE OR REPLACE VIEW o_demographics AS
	SELECT age_band, gender, count(*) FILTER (WHERE cur)
		       AS currently_admitted,
	       count(*) AS encounters, gold_now() AS as_of
	FROM o_flow GROUP BY 1, 2;

CREATE OR REPLACE VIEW o_bed_turnover AS
	SELECT d.department, d.hospital_id, d.beds,
	       count(f.fact_sk) FILTER (WHERE f.discharged) AS discharges,
	       CASE WHEN d.beds > 0 THEN count(f.fact_sk) FILTER (WHERE
		       f.discharged) * 1.0 / d.beds END AS turnover,
	       gold_now() AS as_of
	FROM dim_department d LEFT JOIN o_flow f
	     ON f.department_sk = d.department_sk
	GROUP BY d.department, d.hospital_id, d.beds;

-- Back to silver: every encounter of the clean records has one fact row.
CREATE OR REPLACE VIEW o_encounters_missing AS
	SELECT DISTINCT encounter_id FROM silver
	EXCEPT SELECT encounter_id FROM fact_patient_flow;
