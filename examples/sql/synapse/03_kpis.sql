-- Corrected KPIs in T-SQL, the same definitions as
-- examples/sql/duckdb/03_kpis.sql (exact percentiles: PERCENTILE_CONT).
USE pulsestream;
GO
CREATE OR ALTER VIEW dbo.o_flow AS
	SELECT f.*, p.gender, p.age_band, d.beds, d.overstay_hours AS threshold,
	       n.now,
	       CASE WHEN f.admission_time <= n.now AND (f.discharge_time IS NULL
			OR f.discharge_time > n.now) THEN 1 ELSE 0 END AS cur
	FROM dbo.fact_patient_flow f
	JOIN dbo.dim_patient p ON p.patient_key = f.patient_key
		AND p.is_current = 1
	JOIN dbo.dim_department d ON d.department_sk = f.department_sk
	CROSS JOIN (SELECT MAX(as_of) AS now FROM dbo.kpi_occupancy) n;
GO
CREATE OR ALTER VIEW dbo.o_occupancy AS
	SELECT d.department, d.hospital_id, SUM(ISNULL(f.cur, 0)) AS census,
	       d.beds, CASE WHEN d.beds > 0 THEN SUM(ISNULL(f.cur, 0)) * 100.0
		       / d.beds END AS occupancy_pct
	FROM dbo.dim_department d
	LEFT JOIN dbo.o_flow f ON f.department_sk = d.department_sk
	GROUP BY d.department, d.hospital_id, d.beds;
GO
CREATE OR ALTER VIEW dbo.o_waiting AS
	SELECT DISTINCT department, hospital_id,
	       COUNT(*) OVER (PARTITION BY department, hospital_id) AS waits,
	       PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY waiting_minutes)
		       OVER (PARTITION BY department, hospital_id)
		       AS wait_median_minutes,
	       PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY waiting_minutes)
		       OVER (PARTITION BY department, hospital_id)
		       AS wait_p90_minutes
	FROM dbo.o_flow
	WHERE admission_time > DATEADD(HOUR, -24, now)
	  AND admission_time <= now AND waiting_minutes IS NOT NULL;
GO
CREATE OR ALTER VIEW dbo.o_los AS
	SELECT department, gender, COUNT(length_of_stay_hours) AS discharges,
	       AVG(length_of_stay_hours) AS avg_los_hours
	FROM dbo.o_flow WHERE discharge_time <= now
	GROUP BY department, gender;
GO
CREATE OR ALTER VIEW dbo.o_demographics AS
	SELECT age_band, gender, SUM(cur) AS currently_admitted,
	       COUNT(*) AS encounters
	FROM dbo.o_flow GROUP BY age_band, gender;
GO
