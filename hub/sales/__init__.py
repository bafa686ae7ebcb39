"""Sales ingest: exactly-once acceptance of the tills' journals, quarantine, journal integrity."""
