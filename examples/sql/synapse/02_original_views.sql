-- The seven views of the original lab (HEALTHCARE.md), over the fact
-- joined to the current patient version and the department dimension.
USE pulsestream;
GO
CREATE OR ALTER VIEW dbo.v_current_flow AS
	SELECT f.*, p.gender, p.age_band, d.department AS dept_name
	FROM dbo.fact_patient_flow f
	JOIN dbo.dim_patient p ON p.patient_key = f.patient_key
		AND p.is_current = 1
	JOIN dbo.dim_department d ON d.department_sk = f.department_sk;
GO
CREATE OR ALTER VIEW dbo.bed_occupancy AS
	SELECT gender,
	       SUM(CASE WHEN is_currently_admitted = 1 AND bed_id IS NOT NULL
			THEN 1 ELSE 0 END) * 100.0 /
	       NULLIF(SUM(CASE WHEN bed_id IS NOT NULL THEN 1 ELSE 0 END), 0)
		       AS bed_occupancy_percent
	FROM dbo.v_current_flow GROUP BY gender;
GO
CREATE OR ALTER VIEW dbo.bed_turnover_rate AS
	SELECT gender, COUNT(DISTINCT fact_sk) * 1.0 /
		       NULLIF(COUNT(DISTINCT bed_id), 0) AS bed_turnover_rate
	FROM dbo.v_current_flow GROUP BY gender;
GO
CREATE OR ALTER VIEW dbo.patient_demographics AS
	SELECT gender, SUM(CASE WHEN is_currently_admitted = 1 THEN 1 ELSE 0
			   END) AS current_patients
	FROM dbo.v_current_flow GROUP BY gender;
GO
CREATE OR ALTER VIEW dbo.avg_treatment_duration AS
	SELECT dept_name AS department, gender,
	       AVG(length_of_stay_hours) AS avg_length_of_stay_hours
	FROM dbo.v_current_flow GROUP BY dept_name, gender;
GO
CREATE OR ALTER VIEW dbo.patient_volume_trend AS
	SELECT admission_date, gender, COUNT(DISTINCT fact_sk) AS admissions
	FROM dbo.v_current_flow GROUP BY admission_date, gender;
GO
CREATE OR ALTER VIEW dbo.department_inflow AS
	SELECT dept_name AS department, gender,
	       SUM(CASE WHEN is_currently_admitted = 1 THEN 1 ELSE 0 END)
		       AS current_patients
	FROM dbo.v_current_flow GROUP BY dept_name, gender;
GO
CREATE OR ALTER VIEW dbo.overstay_patients AS
	SELECT dept_name AS department, gender,
	       SUM(CASE WHEN length_of_stay_hours > 50 THEN 1 ELSE 0 END)
		       AS overstay_patients
	FROM dbo.v_current_flow GROUP BY dept_name, gender;
GO
