-- The other gold tables as views over OPENROWSET ... FORMAT = 'DELTA':
-- serverless SQL reads the _delta_log of the table's root folder (BULK
-- names that folder, never a file or a wildcard) and only the files of
-- the latest version, and infers the columns from the Delta schema.
-- Views, unlike external tables, also work over partitioned Delta
-- folders, and Power BI reads them like tables.  (Serverless SQL has no
-- time travel: for an older version use ps-silver --dump --version-as-of
-- or DuckDB, examples/sql/duckdb/04_time_travel.sql.)
USE pulsestream;
GO
CREATE OR ALTER VIEW dbo.kpi_occupancy_hospital AS
	SELECT * FROM OPENROWSET(BULK 'kpi_occupancy_hospital/',
		DATA_SOURCE = 'gold_lake', FORMAT = 'DELTA') AS r;
GO
CREATE OR ALTER VIEW dbo.kpi_inflow AS
	SELECT * FROM OPENROWSET(BULK 'kpi_inflow/',
		DATA_SOURCE = 'gold_lake', FORMAT = 'DELTA') AS r;
GO
CREATE OR ALTER VIEW dbo.kpi_ed AS
	SELECT * FROM OPENROWSET(BULK 'kpi_ed/',
		DATA_SOURCE = 'gold_lake', FORMAT = 'DELTA') AS r;
GO
CREATE OR ALTER VIEW dbo.kpi_los AS
	SELECT * FROM OPENROWSET(BULK 'kpi_los/',
		DATA_SOURCE = 'gold_lake', FORMAT = 'DELTA') AS r;
GO
CREATE OR ALTER VIEW dbo.kpi_volume AS
	SELECT * FROM OPENROWSET(BULK 'kpi_volume/',
		DATA_SOURCE = 'gold_lake', FORMAT = 'DELTA') AS r;
GO
CREATE OR ALTER VIEW dbo.kpi_overstay AS
	SELECT * FROM OPENROWSET(BULK 'kpi_overstay/',
		DATA_SOURCE = 'gold_lake', FORMAT = 'DELTA') AS r;
GO
CREATE OR ALTER VIEW dbo.kpi_demographics AS
	SELECT * FROM OPENROWSET(BULK 'kpi_demographics/',
		DATA_SOURCE = 'gold_lake', FORMAT = 'DELTA') AS r;
GO
CREATE OR ALTER VIEW dbo.kpi_bed_turnover AS
	SELECT * FROM OPENROWSET(BULK 'kpi_bed_turnover/',
		DATA_SOURCE = 'gold_lake', FORMAT = 'DELTA') AS r;
GO
-- A query without a view, columns named and typed (a subset is fine):
-- the census against the beds of the last commit.
SELECT department, hospital_id, census, beds, occupancy_pct, as_of
FROM OPENROWSET(BULK 'kpi_occupancy/', DATA_SOURCE = 'gold_lake',
		FORMAT = 'DELTA')
	WITH (department NVARCHAR(100), hospital_id INT, census BIGINT,
	      beds INT, occupancy_pct FLOAT, as_of DATETIME2) AS occ
ORDER BY occupancy_pct DESC;
GO
