"""Prefect flows and deployments around the warehouse (issue 5)."""
