"""Analytics: aggregates over the versioned hierarchy from one engine (DuckDB), DHIS2's analytics API,
pivot tables, charts and dashboards."""
