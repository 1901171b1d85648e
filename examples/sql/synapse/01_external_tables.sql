-- PulseStream gold in Synapse serverless SQL: external tables over the gold
-- folders that ps-upload copies to ADLS Gen2 (same layout as LAKE/gold).
-- Replace <account> and <container>; the identity needs Storage Blob Data
-- Reader on the container.
CREATE DATABASE pulsestream;
GO
USE pulsestream;
GO
CREATE EXTERNAL DATA SOURCE gold_lake WITH (
	LOCATION = 'https://<account>.dfs.core.windows.net/<container>/gold'
);
-- Every gold table is a Delta table (TABLE/_delta_log): the DELTA format
-- reads the files of its latest version only, never a table half replaced.
CREATE EXTERNAL FILE FORMAT delta_format WITH (FORMAT_TYPE = DELTA);
GO
CREATE EXTERNAL TABLE dbo.fact_patient_flow (
	fact_sk BIGINT, encounter_id NVARCHAR(100), patient_sk BIGINT,
	patient_key BIGINT, department_sk BIGINT, patient_id NVARCHAR(100),
	department NVARCHAR(100), hospital_id INT, bed_id INT,
	triage_level INT, arrival_time DATETIME2, admission_time DATETIME2,
	discharge_time DATETIME2, admission_date DATE,
	length_of_stay_hours FLOAT, waiting_minutes FLOAT,
	is_currently_admitted BIT, is_overstay BIT,
	last_event_time DATETIME2, event_ingestion_time DATETIME2,
	as_of DATETIME2
) WITH (LOCATION = 'fact_patient_flow',
	DATA_SOURCE = gold_lake, FILE_FORMAT = delta_format);
CREATE EXTERNAL TABLE dbo.dim_patient (
	patient_sk BIGINT, patient_key BIGINT, patient_id NVARCHAR(100),
	version INT,
	gender NVARCHAR(50), age_band NVARCHAR(10), age INT,
	effective_from DATETIME2, effective_to DATETIME2, is_current BIT,
	last_seen DATETIME2
) WITH (LOCATION = 'dim_patient', DATA_SOURCE = gold_lake,
	FILE_FORMAT = delta_format);
CREATE EXTERNAL TABLE dbo.dim_department (
	department_sk BIGINT, department NVARCHAR(100), hospital_id INT,
	beds INT, overstay_hours FLOAT, known BIT
) WITH (LOCATION = 'dim_department', DATA_SOURCE = gold_lake,
	FILE_FORMAT = delta_format);
CREATE EXTERNAL TABLE dbo.kpi_occupancy (
	department NVARCHAR(100), hospital_id INT, department_sk BIGINT,
	census BIGINT, beds INT, occupancy_pct FLOAT,
	inflow_last_hour BIGINT, discharges_last_hour BIGINT,
	as_of DATETIME2
) WITH (LOCATION = 'kpi_occupancy', DATA_SOURCE = gold_lake,
	FILE_FORMAT = delta_format);
CREATE EXTERNAL TABLE dbo.kpi_waiting (
	department NVARCHAR(100), hospital_id INT, waits BIGINT,
	wait_median_minutes FLOAT, wait_p90_minutes FLOAT, as_of DATETIME2
) WITH (LOCATION = 'kpi_waiting', DATA_SOURCE = gold_lake,
	FILE_FORMAT = delta_format);
GO
-- Silver, the clean records of the admissions stream: a Delta table
-- partitioned by admission_date.  Serverless SQL pools do not support
-- external tables over partitioned Delta folders, so silver is a view over
-- OPENROWSET (which reads the partitions from the log: a query on
-- admission_date skips the other folders).
CREATE EXTERNAL DATA SOURCE silver_lake WITH (
	LOCATION = 'https://<account>.dfs.core.windows.net/<container>/silver'
);
GO
CREATE OR ALTER VIEW dbo.silver_admissions AS
	SELECT * FROM OPENROWSET(BULK 'admissions/',
		DATA_SOURCE = 'silver_lake', FORMAT = 'DELTA')
	WITH (source NVARCHAR(200), position BIGINT, ingest_time DATETIME2,
	      event_id NVARCHAR(100), encounter_id NVARCHAR(100),
	      event_type NVARCHAR(20), event_time DATETIME2,
	      patient_id NVARCHAR(100), gender NVARCHAR(50), age INT,
	      age_band NVARCHAR(10), department NVARCHAR(100),
	      hospital_id INT, bed_id INT, arrival_time DATETIME2,
	      admission_time DATETIME2, discharge_time DATETIME2,
	      admission_date DATE, los_hours FLOAT, wait_minutes FLOAT,
	      triage_level INT, unknown_department BIT,
	      flags NVARCHAR(400)) AS silver;
GO
-- A gold table read directly, without an external table (the latest
-- version; serverless SQL has no time travel):
--   SELECT TOP 10 * FROM OPENROWSET(
--       BULK 'https://<account>.dfs.core.windows.net/<container>/gold/kpi_occupancy/',
--       FORMAT = 'DELTA') AS kpi;
