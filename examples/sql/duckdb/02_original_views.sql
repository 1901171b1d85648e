-- The seven views of the original Synapse scripts, over the fact joined
-- to the current patient version (and the department dimension), with
-- the original definitions (HEALTHCARE.md): currently admitted is the
-- fact's is_currently_admitted column, overstay is LOS > 50 hours.

CREATE OR REPLACE VIEW v_current_flow AS
	SELECT f.*, p.gender, p.age_band, d.department AS dept_name
	FROM fact_patient_flow f
	JOIN dim_patient p ON p.patient_key = f.patient_key AND p.is_current
	JOIN dim_department d ON d.department_sk = f.department_sk;

-- 1. bed occupancy: per gender, admitted rows with a bed / rows with a bed
CREATE OR REPLACE VIEW bed_occupancy AS
	SELECT gender,
	       count(*) FILTER (WHERE is_currently_admitted
				AND bed_id IS NOT NULL) * 100.0 /
	       nullif(count(*) FILTER (WHERE bed_id IS NOT NULL), 0)
		       AS bed_occupancy_percent
	FROM v_current_flow GROUP BY gender;

-- 2. bed turnover rate: per gender, distinct fact rows / distinct beds
CREATE OR REPLACE VIEW bed_turnover_rate AS
	SELECT gender,
	       count(DISTINCT fact_sk) * 1.0 /
	       nullif(count(DISTINCT bed_id), 0) AS bed_turnover_rate
	FROM v_current_flow GROUP BY gender;

-- 3. patient demographics: per gender, currently admitted rows
CREATE OR REPLACE VIEW patient_demographics AS
	SELECT gender, count(*) FILTER (WHERE is_currently_admitted)
		       AS current_patients
	FROM v_current_flow GROUP BY gender;

-- 4. average treatment duration: per department x gender, mean LOS
CREATE OR REPLACE VIEW avg_treatment_duration AS
	SELECT dept_name AS department, gender,
	       avg(length_of_stay_hours) AS avg_length_of_stay_hours
	FROM v_current_flow GROUP BY dept_name, gender;

-- 5. patient volume trend: per admission date x gender, distinct rows
CREATE OR REPLACE VIEW patient_volume_trend AS
	SELECT admission_date, gender, count(DISTINCT fact_sk) AS admissions
	FROM v_current_flow GROUP BY admission_date, gender;

-- 6. department inflow: per department x gender, currently admitted rows
CREATE OR REPLACE VIEW department_inflow AS
	SELECT dept_name AS department, gender,
	       count(*) FILTER (WHERE is_currently_admitted) AS current_patients
	FROM v_current_flow GROUP BY dept_name, gender;

-- 7. overstay patients: per department x gender, LOS over 50 hours
CREATE OR REPLACE VIEW overstay_patients AS
	SELECT dept_name AS department, gender,
	       count(*) FILTER (WHERE length_of_stay_hours > 50)
		       AS overstay_patients
	FROM v_current_flow GROUP BY dept_name, gender;
