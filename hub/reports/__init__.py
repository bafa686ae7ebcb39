"""Owner reports: who gets the report e-mails, and the published reports and withheld verdicts
the flows write to `KASSA_REPORTS_DIR` (read from files; the hub never opens the warehouse)."""
