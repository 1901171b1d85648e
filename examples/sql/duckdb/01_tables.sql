-- PulseStream gold tables in DuckDB: run from the lake directory
-- (duckdb -c ".read examples/sql/duckdb/01_tables.sql" with cwd = LAKE).
-- Every gold table is a Delta table (gold/TABLE/_delta_log): delta_scan
-- reads the files of its latest version only, so a query never sees a
-- table half replaced nor the files a commit removed.  It needs DuckDB's
-- delta extension, once per database: INSTALL delta; LOAD delta;
-- (the tests load it from the duckdb-ext-delta wheel, offline).  The fact
-- table's files lie in admission_date=D folders and hold the column;
-- every file's statistics let a query on admission_date skip the others.
SET TimeZone = 'UTC';

CREATE OR REPLACE VIEW fact_patient_flow AS
	SELECT * FROM delta_scan('gold/fact_patient_flow');
CREATE OR REPLACE VIEW dim_patient AS
	SELECT * FROM delta_scan('gold/dim_patient');
CREATE OR REPLACE VIEW dim_department AS
	SELECT * FROM delta_scan('gold/dim_department');
-- Silver, for checks that go back to the clean records: the Delta table
-- of the admissions stream (silver/STREAM/_delta_log), partitioned by
-- admission_date, read at its latest version like the gold tables (never
-- the files of a batch still being committed, nor those a compaction
-- replaced).
CREATE OR REPLACE VIEW silver AS
	SELECT * FROM delta_scan('silver/admissions');

-- "Now" of the last ps-gold commit (every KPI row carries it as as_of).
CREATE OR REPLACE MACRO gold_now() AS
	(SELECT max(as_of) FROM delta_scan('gold/kpi_occupancy'));
