"""The till CLI tests use the till tests' fixtures (tests/till_agent/fixtures.py)."""

from tests.till_agent.fixtures import live, shop, sim  # noqa: F401 - fixtures
