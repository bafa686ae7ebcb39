"""wire.canonical and wire.ids: canonical bytes, the journal hash chain, UUIDv7.

Expected bytes and digests below were written out by hand and hashed with coreutils sha256sum,
not produced by the code under test.
"""

import json
import random
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire.canonical import GENESIS_HASH, canonical_json, journal_hash
from wire.ids import new_uuid7

FAST = settings(deadline=None, max_examples=150)

# "Привет" in UTF-8 is d0 9f d1 80 d0 b8 d0 b2 d0 b5 d1 82
SAMPLE = {"name": "Привет", "b": {"z": 1, "a": [True, None, "x"]}, "a": -5}
SAMPLE_BYTES = (
    b'{"a":-5,"b":{"a":[true,null,"x"],"z":1},"name":"'
    b'\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"}'
)
SAMPLE_SHA256 = "902e2dc4a88c013c7a55ee82aafb9789cd8a5de7b86ba0320ef5269d9564f41e"
# sha256(b"0" * 64 + SAMPLE_BYTES)
SAMPLE_GENESIS_LINK = "9b3d7824447946fbecda38c6ccf53e2bcd22c8b7d41a9d3355f9ecca77c2fb7c"
# sha256(SAMPLE_GENESIS_LINK.encode() + b'{"n":2}')
SECOND_LINK = "dcb9d8d51c125d20a358437e25515c3c07a1e6b35553e0abaa403d67f1709b15"


def test_canonical_json_known_answer() -> None:
    assert canonical_json(SAMPLE) == SAMPLE_BYTES


def test_canonical_json_of_scalars_and_empties() -> None:
    assert canonical_json({}) == b"{}"
    assert canonical_json([]) == b"[]"
    assert canonical_json(None) == b"null"
    assert canonical_json('a"b\\c\n') == b'"a\\"b\\\\c\\n"'
    assert canonical_json(2**70) == b"1180591620717411303424"
    assert canonical_json(("x", 1)) == b'["x",1]'


@pytest.mark.parametrize(
    "value",
    [
        0.1,
        1.0,
        float("nan"),
        {"amount": 1.5},
        [1, [2, [3.0]]],
        Decimal("1.5"),
        datetime(2025, 1, 1, tzinfo=UTC),
        uuid.UUID(int=1),
        {1: "int key"},
        {"s": {1, 2}},
        b"bytes",
        object(),
    ],
)
def test_canonical_json_refuses_non_plain_data(value: Any) -> None:
    with pytest.raises(TypeError):
        canonical_json(value)


def test_float_error_names_the_path() -> None:
    with pytest.raises(TypeError, match=r"\$\.lines\.0\.qty: floats are not allowed"):
        canonical_json({"lines": [{"qty": 0.5}]})


def test_journal_hash_known_answers() -> None:
    assert GENESIS_HASH == "0" * 64
    first = journal_hash(GENESIS_HASH, {**SAMPLE, "hash": "ignored: a record's own hash"})
    assert first == SAMPLE_GENESIS_LINK
    assert journal_hash(first, {"n": 2}) == SECOND_LINK


def test_journal_hash_ignores_only_the_top_level_hash_key() -> None:
    nested = {"inner": {"hash": "kept"}}
    assert journal_hash(GENESIS_HASH, nested) != journal_hash(GENESIS_HASH, {"inner": {}})


@pytest.mark.parametrize("prev", ["", "0" * 63, "A" * 64, "g" * 64, "0" * 65])
def test_journal_hash_refuses_a_malformed_prev_hash(prev: str) -> None:
    with pytest.raises(ValueError, match="64 lowercase hex"):
        journal_hash(prev, {})


json_scalars = st.none() | st.booleans() | st.integers() | st.text()
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@FAST
@given(st.dictionaries(st.text(max_size=6), json_values, max_size=6), st.randoms())
def test_canonical_json_ignores_insertion_order(data: dict[str, Any], rnd: random.Random) -> None:
    def reshuffled(value: Any) -> Any:
        if isinstance(value, dict):
            items = list(value.items())
            rnd.shuffle(items)
            return {key: reshuffled(item) for key, item in items}
        if isinstance(value, list):
            return [reshuffled(item) for item in value]
        return value

    assert canonical_json(reshuffled(data)) == canonical_json(data)


@FAST
@given(json_values)
def test_canonical_json_round_trips(value: Any) -> None:
    encoded = canonical_json(value)
    assert json.loads(encoded.decode("utf-8")) == value
    assert canonical_json(json.loads(encoded)) == encoded


# --- ids -------------------------------------------------------------------------------------


def test_new_uuid7_is_a_plain_version_7_uuid() -> None:
    value = new_uuid7()
    assert type(value) is uuid.UUID
    assert value.version == 7
    assert value.variant == uuid.RFC_4122


def test_new_uuid7_is_time_ordered() -> None:
    values = [new_uuid7() for _ in range(1000)]
    assert values == sorted(values)
    assert len(set(values)) == 1000
    assert [str(v) for v in values] == sorted(str(v) for v in values)
