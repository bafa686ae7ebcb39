"""DuckDB warehouse: extract, staging, facts, marts and quality suites (issue 5)."""
