-- PulseStream gold tables in DuckDB: run from the lake directory
-- (duckdb -c ".read examples/sql/duckdb/01_tables.sql" with cwd = LAKE).
-- Every table is a folder of Parquet files that ps-gold replaces by atomic
-- renames; the fact table is partitioned by admission_date (the column is
-- also stored in the files, so hive partitioning is not needed).
SET TimeZone = 'UTC';

CREATE OR REPLACE VIEW fact_patient_flow AS
	SELECT * FROM read_parquet('gold/fact_patient_flow/*/*.parquet',
				   hive_partitioning = false);
CREATE OR REPLACE VIEW dim_patient AS
	SELECT * FROM read_parquet('gold/dim_patient/*.parquet');
CREATE OR REPLACE VIEW dim_department AS
	SELECT * FROM read_parquet('gold/dim_department/*.parquet');
-- Silver, for checks that go back to the clean records.
CREATE OR REPLACE VIEW silver AS
	SELECT * FROM read_parquet('silver/*/*/*.parquet',
				   hive_partitioning = false,
				   union_by_name = true);

-- "Now" of the last ps-gold commit (every KPI row carries it as as_of).
CREATE OR REPLACE MACRO gold_now() AS
	(SELECT max(as_of) FROM read_parquet('gold/kpi_occupancy/*.parquet'));
