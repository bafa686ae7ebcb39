"""wire.v1.shifts: shift and cash-drawer events."""

import json
from typing import Any

import pytest
from pydantic import ValidationError

from wire.v1 import ShiftEventResult, ShiftEventsBatch, ShiftEventsBatchResult, ShiftEventV1


def event(**overrides: Any) -> dict[str, Any]:
    return {
        "event_uuid": "0192f0c1-0000-7000-8000-0000000000e1",
        "shift_uuid": "0192f0c1-0000-7000-8000-000000000001",
        "till_seq": 1,
        "kind": "open",
        "at": "2025-01-31T08:00:00+03:00",
        "cashier_id": 7,
        "amount_minor": 500000,
        "reason": None,
        **overrides,
    }


def locs(raw: bytes) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        ShiftEventV1.model_validate_json(raw)
    return [(tuple(err["loc"]), err["type"]) for err in caught.value.errors()]


@pytest.mark.parametrize("kind", ["open", "cash_in", "cash_out", "close"])
def test_each_kind_parses(kind: str) -> None:
    raw = json.dumps(event(kind=kind, reason="Размен для кассы"), ensure_ascii=False).encode()
    parsed = ShiftEventV1.model_validate_json(raw)
    assert parsed.kind == kind
    assert parsed.reason == "Размен для кассы"


def test_a_blind_count_of_zero_is_allowed() -> None:
    assert ShiftEventV1.model_validate(event(kind="close", amount_minor=0)).amount_minor == 0


@pytest.mark.parametrize(
    ("overrides", "loc", "error_type"),
    [
        ({"kind": "x_report"}, ("kind",), "literal_error"),
        ({"at": "2025-01-31T08:00:00"}, ("at",), "timezone_aware"),
        ({"at": 1738303200}, ("at",), "datetime_iso_required"),
        ({"till_seq": 0}, ("till_seq",), "greater_than_equal"),
        ({"amount_minor": 100.0}, ("amount_minor",), "int_type"),
        ({"amount_minor": -1}, ("amount_minor",), "greater_than_equal"),
        ({"reason": "a\x00"}, ("reason",), "text_nul"),
        ({"note": "?"}, ("note",), "extra_forbidden"),
    ],
)
def test_event_rejections(
    overrides: dict[str, Any], loc: tuple[str | int, ...], error_type: str
) -> None:
    assert locs(json.dumps(event(**overrides)).encode()) == [(loc, error_type)]


def test_batch_sizes() -> None:
    assert len(ShiftEventsBatch.model_validate({"events": [event()] * 200}).events) == 200
    for count in (0, 201):
        with pytest.raises(ValidationError) as caught:
            ShiftEventsBatch.model_validate({"events": [event()] * count})
        assert caught.value.errors()[0]["loc"] == ("events",)


def test_results_round_trip() -> None:
    result = ShiftEventsBatchResult(
        results=(
            ShiftEventResult.model_validate(
                {"event_uuid": event()["event_uuid"], "status": "duplicate"}
            ),
        )
    )
    assert ShiftEventsBatchResult.model_validate_json(result.model_dump_json()) == result
    assert result.results[0].errors == ()
