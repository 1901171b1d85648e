-- Time travel in DuckDB: a Delta table as of an earlier version, through
-- the delta extension's ATTACH (delta_scan reads the latest version only).
-- The same rows as `ps-silver --dump --version-as-of 0 gold/kpi_occupancy`.
-- Versions older than the vacuum retention (ps-gold --vacuum --retain,
-- 7 days by default) may have lost their files.
ATTACH 'gold/kpi_occupancy' AS kpi_occupancy_v0 (TYPE delta, VERSION 0);

-- The census of each department at gold's first commit and now.
CREATE OR REPLACE VIEW census_since_first_commit AS
	SELECT n.department, n.hospital_id, o.census AS census_first,
	       n.census AS census_now, n.census - o.census AS change
	FROM delta_scan('gold/kpi_occupancy') n
	LEFT JOIN kpi_occupancy_v0 o USING (department, hospital_id);
