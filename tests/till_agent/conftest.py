"""The till tests' shared fixtures live in tests/till_agent/fixtures.py."""

from tests.till_agent.fixtures import clock, live, shop, sim  # noqa: F401 - fixtures
