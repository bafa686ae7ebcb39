"""The warehouse reads the hub by name, without importing it: every table and column it
extracts must exist in the hub's SQLAlchemy metadata with a matching type, so a hub migration
that renames or drops one fails here, not in a night's refresh. Secrets are never extracted."""

from __future__ import annotations

import sqlalchemy as sa

import hub.models  # noqa: F401 - registers every table
from hub.db import Base, UTCDateTime
from warehouse.sources import SOURCES

SECRETS = {"token_hash", "password_hash", "pin_hash"}


def duck_type(column: sa.Column) -> str:  # type: ignore[type-arg]
    kind = column.type
    if isinstance(kind, UTCDateTime):
        return "TIMESTAMP"
    if isinstance(kind, sa.Boolean):
        return "BOOLEAN"
    if isinstance(kind, sa.Integer):
        return "BIGINT"
    if isinstance(kind, sa.Uuid):
        return "UUID"
    if isinstance(kind, sa.Date):
        return "DATE"
    if isinstance(kind, sa.String | sa.Text):
        return "VARCHAR"
    raise AssertionError(f"{column.table.name}.{column.name}: no warehouse type for {kind!r}")


def test_every_extracted_column_exists_in_the_hub_with_its_type() -> None:
    tables = Base.metadata.tables
    for source in SOURCES:
        assert source.table in tables, f"the hub has no table {source.table}"
        table = tables[source.table]
        assert "change_seq" in table.c, f"{source.table} has no change_seq to extract by"
        assert source.key == tuple(c.name for c in table.primary_key), source.table
        for name, ty in source.columns:
            assert name in table.c, f"{source.table}.{name} is gone from the hub"
            assert duck_type(table.c[name]) == ty, f"{source.table}.{name}: {ty}"
            assert name not in SECRETS, f"{source.table}.{name} is a secret"


def test_every_hub_table_with_a_change_sequence_is_extracted() -> None:
    """A new hub table the warehouse should see is noticed: it has a change_seq but no source."""
    extracted = {s.table for s in SOURCES}
    with_seq = {name for name, t in Base.metadata.tables.items() if "change_seq" in t.c}
    assert with_seq == extracted
