"""warehouse.calc: given/expected figures for every function, worked out by hand.

Each expectation is written out (with its arithmetic in a comment) from DOMAIN.md and
docs/warehouse.md, never taken from the function under test. The moving-average cost is also
checked against a small pure-Python copy of the hub's rule, on a long series and on random moves.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from warehouse.calc import (
    abc_xyz,
    dead_stock,
    demand_stats,
    div_half_up,
    half_up,
    moving_average_cost,
    product_profit,
    reorder,
    service_z,
    stock_position,
)

D = dt.date
I64 = pl.Int64


def day(n: int) -> dt.date:
    """The n-th of March 2026 (n may run past the month or below 1)."""
    return D(2026, 3, 1) + dt.timedelta(days=n - 1)


# --- rounding helpers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (5, 2, 3),  # 2.5 -> 3
        (-5, 2, -3),  # -2.5 -> -3: halves away from zero, as the hub's round_half_up
        (7, 2, 4),  # 3.5 -> 4
        (-7, 2, -4),  # -3.5 -> -4
        (4, 3, 1),  # 1.333 -> 1
        (5, 3, 2),  # 1.667 -> 2
        (-4, 3, -1),  # -1.333 -> -1
        (-5, 3, -2),  # -1.667 -> -2
        (1, 3, 0),  # 0.333 -> 0
        (-1, 3, 0),  # -0.333 -> 0
        (0, 7, 0),
        (4_997_500, 1000, 4998),  # 4997.5 -> 4998
        (-499_500, 1000, -500),  # -499.5 -> -500
        (6000, 1000, 6),  # exact
    ],
)
def test_div_half_up_rounds_halves_away_from_zero(
    numerator: int, denominator: int, expected: int
) -> None:
    frame = pl.DataFrame({"n": [numerator], "d": [denominator]}, schema={"n": I64, "d": I64})
    by_int = frame.select(div_half_up(pl.col("n"), denominator)).item()
    by_column = frame.select(div_half_up(pl.col("n"), pl.col("d"))).item()
    assert by_int == by_column == expected


def test_div_half_up_keeps_null() -> None:
    frame = pl.DataFrame({"n": [None, 3]}, schema={"n": I64})
    assert frame.select(div_half_up(pl.col("n"), 2))["n"].to_list() == [None, 2]  # 1.5 -> 2


def test_half_up_posts_a_non_negative_float_as_an_integer_halves_up() -> None:
    values = pl.DataFrame({"v": [0.0, 2.4, 2.5, 3.5, 2600.74, 2601.5]})
    posted = values.select(half_up(pl.col("v")))["v"]
    assert posted.dtype == I64
    # 2.5 -> 3 and 3.5 -> 4 (not to even), 2600.74 -> 2601, 2601.5 -> 2602
    assert posted.to_list() == [0, 2, 3, 4, 2601, 2602]


# --- moving-average cost -------------------------------------------------------------------

MOVES_SCHEMA = {
    "store_id": I64,
    "product_id": I64,
    "stock_move_id": I64,
    "moved_at_utc": pl.Datetime,  # microseconds, as DuckDB's TIMESTAMP
    "kind": pl.String,
    "qty_milli": I64,
    "unit_cost_minor": I64,
}
COST_COLUMNS = [
    "store_id",
    "product_id",
    "stock_move_id",
    "valid_from_utc",
    "on_hand_before_milli",
    "received_milli",
    "received_unit_cost_minor",
    "avg_cost_minor",
    "valid_to_utc",
]


def at(move_id: int) -> dt.datetime:
    """Move n happens n minutes after 09:00 UTC on 1 March 2026."""
    return dt.datetime(2026, 3, 1, 9, 0) + dt.timedelta(minutes=move_id)


Move = tuple[int, int, int, str, int, int | None]  # id, store, product, kind, qty, unit cost


def moves_frame(moves: list[Move]) -> pl.DataFrame:
    return pl.DataFrame(
        [(s, p, i, at(i), kind, qty, cost) for i, s, p, kind, qty, cost in moves],
        schema=MOVES_SCHEMA,
        orient="row",
    )


def cost_rows(moves: list[Move]) -> list[tuple[Any, ...]]:
    result = moving_average_cost(moves_frame(moves))
    assert result.columns == COST_COLUMNS
    return result.rows()


def test_average_across_receipts_and_a_sale() -> None:
    """10 @ 50.00, sell 4, receive 4 @ 60.00: (6 x 5000 + 4 x 6000) / 10 = 5400."""
    rows = cost_rows(
        [
            (1, 1, 10, "receipt", 10_000, 5000),
            (2, 1, 10, "sale", -4000, 5000),  # a sale is valued at the average; not a receipt
            (3, 1, 10, "receipt", 4000, 6000),
        ]
    )
    assert rows == [
        # store, product, move, from, on hand before, received, unit cost, average, to
        (1, 10, 1, at(1), 0, 10_000, 5000, 5000, at(3)),  # nothing before: its own cost
        # (6000 x 5000 + 4000 x 6000) / (6000 + 4000) = 54_000_000 / 10_000 = 5400
        (1, 10, 3, at(3), 6000, 4000, 6000, 5400, None),
    ]


def test_average_rounds_half_up() -> None:
    rows = cost_rows(
        [
            (1, 1, 10, "receipt", 1000, 101),
            (2, 1, 10, "receipt", 1000, 100),  # (1000 x 101 + 1000 x 100) / 2000 = 100.5 -> 101
            (3, 1, 10, "receipt", 2000, 98),  # (2000 x 101 + 2000 x 98) / 4000 = 99.5 -> 100
            (4, 1, 10, "receipt", 4000, 101),  # (4000 x 100 + 4000 x 101) / 8000 = 100.5 -> 101
            (5, 1, 10, "receipt", 24_000, 100),  # (8000 x 101 + 24000 x 100) / 32000 = 100.25
        ]
    )
    assert [(r[4], r[7]) for r in rows] == [
        (0, 101),
        (1000, 101),
        (2000, 100),
        (4000, 101),
        (8000, 100),  # 100.25 -> 100
    ]


def test_a_stock_out_restarts_the_average_at_the_received_cost() -> None:
    rows = cost_rows(
        [
            (1, 1, 10, "receipt", 2000, 5000),
            (2, 1, 10, "count", -2000, 5000),  # counted 0: on hand 0
            (3, 1, 10, "receipt", 1000, 7000),  # on hand 0 -> restart at 7000
            (4, 1, 10, "sale", -1500, 7000),  # on hand 1000 - 1500 = -500
            # on hand -500 -> restart at 8000; averaging would have given
            # (-500 x 7000 + 2500 x 8000) / 2000 = 8250
            (5, 1, 10, "receipt", 2500, 8000),
            # on hand 2000 at 8000: (2000 x 8000 + 2000 x 9000) / 4000 = 8500
            (6, 1, 10, "receipt", 2000, 9000),
        ]
    )
    assert [(r[2], r[4], r[7]) for r in rows] == [
        (1, 0, 5000),
        (3, 0, 7000),
        (5, -500, 8000),
        (6, 2000, 8500),
    ]


def test_a_transfer_in_at_cost_averages_like_a_receipt() -> None:
    rows = cost_rows(
        [
            (1, 1, 10, "receipt", 3000, 4000),
            (2, 1, 10, "transfer_out", -2000, 4000),  # out at the average: no cost row
            # on hand 1000 at 4000: (1000 x 4000 + 3000 x 4400) / 4000 = 17_200_000 / 4000 = 4300
            (3, 1, 10, "transfer_in", 3000, 4400),
            (4, 1, 10, "return", 1000, 4300),  # a customer return is not a costed receipt
            (5, 1, 10, "write_off", -500, 4300),
        ]
    )
    assert rows == [
        (1, 10, 1, at(1), 0, 3000, 4000, 4000, at(3)),
        (1, 10, 3, at(3), 1000, 3000, 4400, 4300, None),
    ]


def test_a_receipt_without_cost_adds_stock_but_no_cost_row() -> None:
    rows = cost_rows(
        [
            (1, 1, 10, "receipt", 2000, 3000),
            (2, 1, 10, "receipt", 2000, None),  # on hand 4000, average stays 3000
            # (4000 x 3000 + 4000 x 3600) / 8000 = 26_400_000 / 8000 = 3300
            (3, 1, 10, "receipt", 4000, 3600),
        ]
    )
    assert rows == [
        (1, 10, 1, at(1), 0, 2000, 3000, 3000, at(3)),  # valid until the next costed receipt
        (1, 10, 3, at(3), 4000, 4000, 3600, 3300, None),
    ]


def test_series_of_two_stores_and_two_products_are_kept_apart() -> None:
    moves: list[Move] = [
        (1, 1, 10, "receipt", 1000, 100),
        (2, 1, 20, "receipt", 1000, 200),
        (3, 2, 10, "receipt", 1000, 300),
        (4, 1, 10, "sale", -1000, 100),  # store 1 product 10: on hand 0
        (5, 2, 10, "receipt", 1000, 500),  # (1000 x 300 + 1000 x 500) / 2000 = 400
        (6, 1, 10, "receipt", 2000, 150),  # on hand 0: restart at 150
        (7, 1, 20, "receipt", 3000, 240),  # (1000 x 200 + 3000 x 240) / 4000 = 230
        (8, 2, 20, "receipt", 500, 999),
    ]
    rows = moving_average_cost(moves_frame(moves[::-1])).rows()  # any row order: by move id
    assert rows == [
        (1, 10, 1, at(1), 0, 1000, 100, 100, at(6)),
        (1, 10, 6, at(6), 0, 2000, 150, 150, None),
        (1, 20, 2, at(2), 0, 1000, 200, 200, at(7)),
        (1, 20, 7, at(7), 1000, 3000, 240, 230, None),
        (2, 10, 3, at(3), 0, 1000, 300, 300, at(5)),
        (2, 10, 5, at(5), 1000, 1000, 500, 400, None),
        (2, 20, 8, at(8), 0, 500, 999, 999, None),
    ]


def test_cost_rows_chain_valid_from_to_valid_to() -> None:
    result = moving_average_cost(
        moves_frame(
            [
                (1, 1, 10, "receipt", 1000, 100),
                (2, 1, 10, "sale", -500, 100),
                (5, 1, 10, "receipt", 500, 200),  # (500 x 100 + 500 x 200) / 1000 = 150
                (9, 1, 10, "transfer_in", 1000, 250),  # (1000 x 150 + 1000 x 250) / 2000 = 200
            ]
        )
    )
    assert result.schema["valid_to_utc"] == pl.Datetime("us")
    assert result.select("valid_from_utc", "valid_to_utc", "avg_cost_minor").rows() == [
        (at(1), at(5), 100),
        (at(5), at(9), 150),
        (at(9), None, 200),  # the current cost
    ]


def test_no_costed_receipt_gives_an_empty_history() -> None:
    result = moving_average_cost(
        moves_frame([(1, 1, 10, "sale", -1000, None), (2, 1, 10, "receipt", 1000, None)])
    )
    assert result.columns == COST_COLUMNS
    assert result.is_empty()


# A tiny reference: the hub's rule, move by move, in plain Python.


def ref_round_half_up(numerator: int, denominator: int) -> int:
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return quotient if numerator >= 0 else -quotient


def ref_new_average(on_hand: int, avg: int | None, qty: int, unit_cost: int) -> int:
    if avg is None or on_hand <= 0 or qty <= 0:
        return unit_cost
    return ref_round_half_up(on_hand * avg + qty * unit_cost, on_hand + qty)


def reference_history(moves: list[Move]) -> list[tuple[Any, ...]]:
    levels: dict[tuple[int, int], tuple[int, int | None]] = {}
    found: list[tuple[Any, ...]] = []
    for move_id, store, product, kind, qty, cost in sorted(moves):
        on_hand, avg = levels.get((store, product), (0, None))
        if kind in ("receipt", "transfer_in") and cost is not None:
            avg = ref_new_average(on_hand, avg, qty, cost)
            found.append((store, product, move_id, at(move_id), on_hand, qty, cost, avg))
        levels[(store, product)] = (on_hand + qty, avg)
    found.sort(key=lambda r: (r[0], r[1], r[2]))
    chained = []
    for n, row in enumerate(found):
        following = found[n + 1] if n + 1 < len(found) else None
        valid_to = following[3] if following is not None and following[:2] == row[:2] else None
        chained.append((*row, valid_to))
    return chained


@pytest.mark.parametrize(
    ("on_hand", "avg", "qty", "unit_cost", "expected"),
    [
        (0, None, 1000, 5000, 5000),  # nothing before
        (6000, 5000, 4000, 6000, 5400),  # (6000 x 5000 + 4000 x 6000) / 10_000
        (1000, 101, 1000, 100, 101),  # 100.5 -> 101
        (-500, 7000, 2500, 8000, 8000),  # a stock-out restarts
    ],
)
def test_reference_is_the_hubs_rule(
    on_hand: int, avg: int | None, qty: int, unit_cost: int, expected: int
) -> None:
    from hub.stock.ledger import new_average

    assert ref_new_average(on_hand, avg, qty, unit_cost) == expected
    assert new_average(on_hand, avg, qty, unit_cost) == expected


def test_fifty_receipts_in_one_series_match_the_reference() -> None:
    moves: list[Move] = []
    for n in range(50):
        receipt_id, sale_id = 2 * n + 1, 2 * n + 2
        moves.append(
            (receipt_id, 3, 30, "receipt", 1000 + (n * 733) % 4000, 1000 + (n * 389) % 2000)
        )
        moves.append((sale_id, 3, 30, "sale", -(500 + (n * 911) % 6000), None))
    rows = cost_rows(moves)
    expected = reference_history(moves)
    assert len(rows) == 50
    assert rows == expected
    on_hand_before = [r[4] for r in expected[1:]]
    assert any(q <= 0 for q in on_hand_before) and any(q > 0 for q in on_hand_before)  # both rules


# Outgoing moves take up to twice what a receipt brings, so series often run out and restart.
move_strategy = st.tuples(
    st.sampled_from([(1, 10), (1, 20), (2, 10)]),
    st.sampled_from(
        [
            *("receipt", "receipt", "transfer_in", "return"),
            *("sale", "sale", "transfer_out", "write_off", "count"),
        ]
    ),
    st.integers(1, 10_000),
    st.one_of(st.integers(1, 100_000), st.integers(1, 100_000), st.none()),  # a third uncosted
    st.integers(-5000, 5000),  # a count's delta
)
OUTGOING = {"sale": -2, "transfer_out": -2, "write_off": -1}


@settings(max_examples=50, deadline=None)
@given(drawn=st.lists(move_strategy, min_size=10, max_size=40), data=st.data())
def test_random_moves_match_the_reference(drawn: list[Any], data: st.DataObject) -> None:
    moves: list[Move] = []
    for move_id, ((store, product), kind, qty, cost, delta) in enumerate(drawn, start=1):
        signed = delta if kind == "count" else qty * OUTGOING.get(kind, 1)
        moves.append((move_id, store, product, kind, signed, cost))
    shuffled = data.draw(st.permutations(moves))  # the row order must not matter: the id does
    assert moving_average_cost(moves_frame(shuffled)).rows() == reference_history(moves)


# --- demand --------------------------------------------------------------------------------

DEMAND_COLUMNS = {
    "store_id": I64,
    "product_id": I64,
    "window_days": I64,
    "days_counted": I64,
    "mean_daily_demand_milli": pl.Float64,
    "demand_std_milli": pl.Float64,
    "on_hand_milli": I64,
}


def demand_inputs(
    opening: list[tuple[int, int, int]],
    moves: list[tuple[int, int, dt.date, int]],
    sold: list[tuple[int, int, dt.date, int]],
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    return (
        pl.DataFrame(
            opening,
            schema={"store_id": I64, "product_id": I64, "opening_milli": I64},
            orient="row",
        ),
        pl.DataFrame(
            moves,
            schema={"store_id": I64, "product_id": I64, "day": pl.Date, "net_milli": I64},
            orient="row",
        ),
        pl.DataFrame(
            sold,
            schema={"store_id": I64, "product_id": I64, "day": pl.Date, "sold_milli": I64},
            orient="row",
        ),
    )


def expected_demand(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=DEMAND_COLUMNS, orient="row")


def test_demand_counts_zero_sale_days() -> None:
    """Sold 4 pieces on 7 of the 28 days, always in stock: d = 7 x 4000 / 28 = 1000, not 4000."""
    sale_days = [day(n) for n in (1, 5, 9, 13, 17, 21, 25)]
    opening, moves, sold = demand_inputs(
        [(1, 10, 100_000)],
        [(1, 10, d, -4000) for d in sale_days],
        [(1, 10, d, 4000) for d in sale_days],
    )
    result = demand_stats(opening, moves, sold, as_of=day(28), window_days=28)
    # sample deviation: 7 days at (4000 - 1000)^2 and 21 at (0 - 1000)^2
    # = (7 x 9_000_000 + 21 x 1_000_000) / 27 = 84_000_000 / 27 -> sqrt = 1763.83
    # on hand: 100_000 - 7 x 4000 = 72_000
    assert_frame_equal(
        result, expected_demand([(1, 10, 28, 28, 1000.0, math.sqrt(84_000_000 / 27), 72_000)])
    )


def test_demand_leaves_out_days_out_of_stock() -> None:
    """A week, 1..7 March, of a product that starts with nothing on hand."""
    opening, moves, sold = demand_inputs(
        [(1, 10, 0)],
        [
            (1, 10, day(2), 5000),  # opens at 0, receives 5000, sells nothing: counted, 0 sold
            (1, 10, day(3), -3000),  # sold 3000: closes 2000
            (1, 10, day(4), -2000),  # sold 2000: closes 0
            (1, 10, day(6), -1000),  # opens at 0, sells 1000 anyway: closes -1000, counted
        ],
        [(1, 10, day(3), 3000), (1, 10, day(4), 2000), (1, 10, day(6), 1000)],
    )
    result = demand_stats(opening, moves, sold, as_of=day(7), window_days=7)
    # out of stock (opened and closed with nothing, no sale): 1 March (0 -> 0), 5 March (0 -> 0),
    # 7 March (-1000 -> -1000). Counted: 2, 3, 4, 6 March selling 0, 3000, 2000, 1000.
    # d = 6000 / 4 = 1500; s^2 = (1500^2 + 1500^2 + 500^2 + 500^2) / 3 = 5_000_000 / 3
    assert_frame_equal(
        result, expected_demand([(1, 10, 7, 4, 1500.0, math.sqrt(5_000_000 / 3), -1000)])
    )


def test_demand_sample_deviation_by_hand() -> None:
    """Three days selling 1000, 2000 and 6000."""
    opening, moves, sold = demand_inputs(
        [(2, 20, 20_000)],
        [(2, 20, day(n), -q) for n, q in ((1, 1000), (2, 2000), (3, 6000))],
        [(2, 20, day(n), q) for n, q in ((1, 1000), (2, 2000), (3, 6000))],
    )
    result = demand_stats(opening, moves, sold, as_of=day(3), window_days=3)
    # d = 9000 / 3 = 3000; deviations -2000, -1000, 3000; squares 4e6 + 1e6 + 9e6 = 14e6
    # sample: 14e6 / (3 - 1) = 7e6 -> s = 2645.75 (the population figure would be 2160.25)
    # on hand 20_000 - 9000 = 11_000
    assert_frame_equal(
        result, expected_demand([(2, 20, 3, 3, 3000.0, math.sqrt(7_000_000), 11_000)])
    )
    assert result["demand_std_milli"].item() == pytest.approx(2645.751, abs=1e-3)


def test_demand_of_series_with_only_an_opening_balance_or_one_day() -> None:
    opening, moves, sold = demand_inputs(
        [(1, 10, 5000), (1, 20, 0)],  # 20: moved before the window, nothing left
        [(2, 30, day(7), 2000)],  # store 2: first stock on the last day (received 3000, sold 1000)
        [(2, 30, day(7), 1000)],
    )
    result = demand_stats(opening, moves, sold, as_of=day(7), window_days=7)
    assert_frame_equal(
        result,
        expected_demand(
            [
                (1, 10, 7, 7, 0.0, 0.0, 5000),  # in stock all week, never sold: d = 0, s = 0
                (1, 20, 7, 0, 0.0, 0.0, 0),  # out of stock every day: nothing counted
                (2, 30, 7, 1, 1000.0, 0.0, 2000),  # one counted day: s = 0 (fewer than two)
            ]
        ),
    )


# --- stock position ------------------------------------------------------------------------


def test_stock_position_values_at_cost_with_days_of_cover() -> None:
    levels = pl.DataFrame(
        [
            (1, 10, 2500, 1999, day(27), day(20)),
            (1, 20, 1000, None, day(25), None),  # never costed
            (1, 30, -1500, 333, day(28), day(1)),  # sold more than the books had
            (1, 40, 1234, 1001, None, day(2)),
            (2, 10, 7000, 250, day(28), day(10)),
            (2, 20, 0, 500, day(3), day(1)),  # no demand row
        ],
        schema={
            "store_id": I64,
            "product_id": I64,
            "on_hand_milli": I64,
            "avg_cost_minor": I64,
            "last_sale_date": pl.Date,
            "last_receipt_date": pl.Date,
        },
        orient="row",
    )
    demand = pl.DataFrame(
        [(1, 10, 1000.0), (1, 20, 300.0), (1, 30, 500.0), (1, 40, 0.0), (2, 10, 1500.0)],
        schema={"store_id": I64, "product_id": I64, "mean_daily_demand_milli": pl.Float64},
        orient="row",
    )
    result = stock_position(levels, demand, day(28))
    assert result.columns == [
        "store_id",
        "product_id",
        "as_of",
        "on_hand_milli",
        "avg_cost_minor",
        "value_at_cost_minor",
        "mean_daily_demand_milli",
        "days_of_cover",
        "last_sale_date",
        "last_receipt_date",
        "is_negative",
    ]
    assert result.rows() == [
        # 2500 x 1999 / 1000 = 4997.5 -> 4998; cover 2500 / 1000 = 2.5
        (1, 10, day(28), 2500, 1999, 4998, 1000.0, 2.5, day(27), day(20), False),
        # cost unknown: no value; cover 1000 / 300 = 3.33 -> 3.3
        (1, 20, day(28), 1000, None, None, 300.0, 3.3, day(25), None, False),
        # -1500 x 333 / 1000 = -499.5 -> -500; no stock: no cover; flagged negative
        (1, 30, day(28), -1500, 333, -500, 500.0, None, day(28), day(1), True),
        # 1234 x 1001 / 1000 = 1235.234 -> 1235; no demand: no cover
        (1, 40, day(28), 1234, 1001, 1235, 0.0, None, None, day(2), False),
        # 7000 x 250 / 1000 = 1750; cover 7000 / 1500 = 4.67 -> 4.7
        (2, 10, day(28), 7000, 250, 1750, 1500.0, 4.7, day(28), day(10), False),
        # nothing on hand: value 0; no demand row: d = 0
        (2, 20, day(28), 0, 500, 0, 0.0, None, day(3), day(1), False),
    ]


# --- reorder -------------------------------------------------------------------------------


def reorder_inputs(
    demand: list[tuple[int, int, float, float, int]],
    on_order: list[tuple[int, int, int]],
    terms: list[tuple[int, int, int, int, int, int, int | None]],
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """demand: store, product, d, s, on hand (28 of 28 days counted); terms: product, supplier,
    L, R, pack, minimum order, last cost."""
    return (
        pl.DataFrame(
            [(s, p, 28, 28, d, sd, on_hand) for s, p, d, sd, on_hand in demand],
            schema=DEMAND_COLUMNS,
            orient="row",
        ),
        pl.DataFrame(
            on_order,
            schema={"store_id": I64, "product_id": I64, "on_order_milli": I64},
            orient="row",
        ),
        pl.DataFrame(
            terms,
            schema={
                "product_id": I64,
                "supplier_id": I64,
                "lead_time_days": I64,
                "review_period_days": I64,
                "pack_size_milli": I64,
                "min_order_milli": I64,
                "last_cost_minor": I64,
            },
            orient="row",
        ),
    )


def test_reorder_formula_with_every_input_shown() -> None:
    demand, on_order, terms = reorder_inputs(
        [(1, 10, 2000.0, 500.0, 5000)],
        [(1, 10, 1000)],
        [(10, 7, 3, 7, 6000, 1000, 4550)],
    )
    [row] = reorder(demand, on_order, terms, day(28), 0.95).to_dicts()
    assert row.pop("z") == pytest.approx(1.6449, abs=5e-5)
    assert row == {
        "store_id": 1,
        "product_id": 10,
        "supplier_id": 7,
        "as_of": day(28),
        "window_days": 28,
        "days_counted": 28,
        "mean_daily_demand_milli": 2000.0,  # d
        "demand_std_milli": 500.0,  # s
        "lead_time_days": 3,  # L
        "review_period_days": 7,  # R
        "service_level": 0.95,
        "safety_stock_milli": 2601,  # z x s x sqrt(L + R) = 1.6449 x 500 x sqrt(10) = 2600.7
        "reorder_point_milli": 8601,  # d x L + SS = 2000 x 3 + 2601
        "order_up_to_milli": 22_601,  # d x (L + R) + SS = 2000 x 10 + 2601
        "on_hand_milli": 5000,
        "on_order_milli": 1000,
        "pack_size_milli": 6000,
        "min_order_milli": 1000,
        "needs_order": True,  # 5000 + 1000 = 6000 <= 8601
        "suggested_qty_milli": 18_000,  # 22_601 - 6000 = 16_601 -> 3 packs of 6000
        "last_cost_minor": 4550,
        "suggested_value_minor": 81_900,  # 18_000 x 4550 / 1000
    }


REORDER_VIEW = [
    "product_id",
    "reorder_point_milli",
    "order_up_to_milli",
    "needs_order",
    "suggested_qty_milli",
    "suggested_value_minor",
]


def test_reorder_packs_minimum_and_the_reorder_point() -> None:
    """s = 0 (SS = 0) to keep the arithmetic on d x L and d x (L + R)."""
    demand, on_order, terms = reorder_inputs(
        [
            (1, 20, 1000.0, 0.0, 1000),  # ROP 2000, OUT 7000; short 6000
            (1, 21, 1000.0, 0.0, 1000),  # the same with a pack of 2500
            (1, 30, 500.0, 0.0, 0),  # ROP 500, OUT 1000; short 1000
            (1, 40, 1000.0, 0.0, 1500),  # ROP 2000; 1500 + 1000 on order = 2500 > 2000
            (1, 41, 1000.0, 0.0, 2000),  # 2000 + 0 = 2000 <= 2000: orders
            (1, 50, 1234.5, 0.0, 0),  # d x 3 = 3703.5 -> 3704; d x 7 = 8641.5 -> 8642
        ],
        [(1, 40, 1000)],
        [
            (20, 1, 2, 5, 1000, 1000, 100),
            (21, 1, 2, 5, 2500, 1000, 100),
            (30, 1, 1, 1, 400, 2100, 100),
            (40, 1, 2, 5, 1000, 0, 100),
            (41, 1, 2, 5, 1000, 0, 100),
            (50, 2, 3, 4, 1000, 0, 333),
        ],
    )
    result = reorder(demand, on_order, terms, day(28), 0.95)
    assert result["safety_stock_milli"].to_list() == [0] * 6
    assert result.select(REORDER_VIEW).rows() == [
        (20, 2000, 7000, True, 6000, 600),  # 6000 is 6 whole packs of 1000: not rounded further
        (21, 2000, 7000, True, 7500, 750),  # 6000 / 2500 = 2.4 -> 3 packs = 7500
        # need 1000 -> 3 packs of 400 = 1200, but the minimum 2100 -> 6 packs = 2400 wins
        (30, 500, 1000, True, 2400, 240),
        (40, 2000, 7000, False, 0, 0),  # position above the reorder point: nothing
        (41, 2000, 7000, True, 5000, 500),  # position at the reorder point: 7000 - 2000
        (50, 3704, 8642, True, 9000, 2997),  # 8642 -> 9 packs of 1000; 9000 x 333 / 1000
    ]


def test_reorder_without_demand_and_with_stock_on_order_only() -> None:
    demand, on_order, terms = reorder_inputs(
        [(1, 60, 0.0, 0.0, 0), (1, 90, 1000.0, 0.0, 0)],  # 90 has no supplier: no row
        [(1, 80, 3000), (2, 95, 1000)],  # 80: ordered, never moved yet; 95: no supplier
        [(60, 4, 2, 5, 1000, 0, 100), (80, 4, 2, 5, 1000, 500, 100)],
    )
    result = reorder(demand, on_order, terms, day(28), 0.95)
    assert result.select(
        "store_id",
        "product_id",
        "window_days",
        "days_counted",
        "mean_daily_demand_milli",
        "demand_std_milli",
        "safety_stock_milli",
        "reorder_point_milli",
        "order_up_to_milli",
        "on_hand_milli",
        "on_order_milli",
        "needs_order",
        "suggested_qty_milli",
    ).rows() == [
        # d = 0: ROP = OUT = 0; 0 <= 0 but the order-up-to level is not above it: no order
        (1, 60, 28, 28, 0.0, 0.0, 0, 0, 0, 0, 0, False, 0),
        # no demand row: d, s, on hand and days counted taken as 0, the window as the others'
        (1, 80, 28, 0, 0.0, 0.0, 0, 0, 0, 0, 3000, False, 0),
    ]


@pytest.mark.parametrize(("level", "z"), [(0.5, 0.0), (0.95, 1.6449), (0.99, 2.3263)])
def test_service_z(level: float, z: float) -> None:
    assert service_z(level) == pytest.approx(z, abs=5e-5)


@pytest.mark.parametrize("level", [0.4, 1.0, 1.5, -0.95])
def test_service_level_out_of_range_is_refused(level: float) -> None:
    with pytest.raises(ValueError, match="service level"):
        service_z(level)
    demand, on_order, terms = reorder_inputs([], [], [])
    with pytest.raises(ValueError, match="service level"):
        reorder(demand, on_order, terms, day(28), level)


# --- ABC / XYZ -----------------------------------------------------------------------------

AS_OF = D(2026, 3, 29)  # a Sunday; 13 weeks back: 29 December 2025 .. 29 March 2026
DAILY_SCHEMA = {
    "store_id": I64,
    "product_id": I64,
    "sale_date": pl.Date,
    "qty_milli": I64,
    "revenue_ex_vat_minor": I64,
}


def week_day(bucket: int, back: int = 0) -> dt.date:
    """A day of the 7-day bucket counted back from AS_OF (bucket 0 ends on AS_OF)."""
    return AS_OF - dt.timedelta(days=7 * bucket + back)


def test_abc_classes_on_the_running_share_before_the_product() -> None:
    daily = pl.DataFrame(
        [
            (1, 10, week_day(0), 1000, 5000),
            (1, 20, week_day(1), 1000, 2000),
            (1, 20, week_day(2), 1000, 1000),  # 20: 3000 over two days
            (1, 30, week_day(0), 1000, 1000),
            (1, 41, week_day(0), 1000, 500),  # 40 and 41 tie at 500: the lower id ranks first
            (1, 40, week_day(0), 1000, 500),
            (1, 50, week_day(3), 1000, 300),
            (1, 50, week_day(1), -2000, -500),  # net -200: returns exceed sales
            (1, 60, week_day(3), 1000, 400),
            (1, 60, week_day(2), -1000, -400),  # net 0
            (1, 70, week_day(13), 1000, 90_000),  # the day before the window: not counted
            (2, 10, week_day(5), 1000, 100),  # store 2 is ranked on its own
        ],
        schema=DAILY_SCHEMA,
        orient="row",
    )
    result = abc_xyz(daily, AS_OF, 13)
    assert result["window_start"].unique().to_list() == [D(2025, 12, 29)]  # AS_OF - 90 days
    assert result["window_end"].unique().to_list() == [AS_OF]
    # store 1's revenue: 5000 + 3000 + 1000 + 500 + 500 = 10_000 (the negative one counts 0)
    assert result.select(
        "store_id", "product_id", "revenue_ex_vat_minor", "cumulative_share", "abc_class"
    ).rows() == [
        (1, 10, 5000, pytest.approx(0.50), "A"),  # before: 0 %
        (1, 20, 3000, pytest.approx(0.80), "A"),  # before: 50 %
        (1, 30, 1000, pytest.approx(0.90), "B"),  # before: exactly 80 %, not under it
        (1, 40, 500, pytest.approx(0.95), "B"),  # before: 90 %
        (1, 41, 500, pytest.approx(1.00), "C"),  # before: exactly 95 %
        (1, 50, -200, pytest.approx(1.00), "C"),  # negative net revenue
        (1, 60, 0, pytest.approx(1.00), "C"),  # nothing earned
        (2, 10, 100, pytest.approx(1.00), "A"),
    ]
    assert result["revenue_share"].to_list() == pytest.approx(
        [0.5, 0.3, 0.1, 0.05, 0.05, 0.0, 0.0, 1.0]
    )


def test_abc_boundaries_are_exact_where_a_float_running_sum_is_not() -> None:
    """Store 3: 78 + 50 + 48 = 176 of 220 before product 34: exactly 80 % -> B (a float running
    sum of shares gives 0.7999999999999999). Store 4: 81 + 75 + 27 + 26 = 209 of 220 before
    product 11: exactly 95 % -> C (the float sum gives 0.9499999999999998)."""
    daily = pl.DataFrame(
        [(3, r, AS_OF, 1000, r) for r in (78, 50, 48, 34, 10)]
        + [(4, r, AS_OF, 1000, r) for r in (81, 75, 27, 26, 11)],
        schema=DAILY_SCHEMA,
        orient="row",
    )
    classes = abc_xyz(daily, AS_OF, 13).select("store_id", "product_id", "abc_class").rows()
    assert classes == [
        (3, 10, "C"),  # before: 210 / 220 = 95.5 %
        (3, 34, "B"),  # before: exactly 80 %
        (3, 48, "A"),  # before: 128 / 220 = 58 %
        (3, 50, "A"),  # before: 78 / 220 = 35 %
        (3, 78, "A"),
        (4, 11, "C"),  # before: exactly 95 %
        (4, 26, "B"),  # before: 183 / 220 = 83 %
        (4, 27, "A"),  # before: 156 / 220 = 71 %
        (4, 75, "A"),
        (4, 81, "A"),
    ]


def weekly(store: int, product: int, quantities: list[int]) -> list[tuple[Any, ...]]:
    """One sale per 7-day bucket, bucket 0 first (a zero quantity: no row at all)."""
    return [
        (store, product, week_day(bucket, back=bucket % 7), q, q)
        for bucket, q in enumerate(quantities)
        if q
    ]


def test_xyz_classes_from_thirteen_weekly_buckets_with_zero_weeks() -> None:
    # cv 0.5 exactly: 0,0,4,4,4,4,4,4,4,5,5,7,7 thousand -> mean 52/13 = 4,
    # population variance 260/13 - 16 = 4, std 2: cv = 2 / 4 = 0.5 -> X
    at_half = [4000, 0, 4000, 7000, 4000, 5000, 4000, 0, 4000, 7000, 4000, 5000, 4000]
    # cv 1.0 exactly: 0 x 6, 3,3,3,3,4,4,6 thousand -> mean 26/13 = 2,
    # variance 104/13 - 4 = 4, std 2: cv = 2 / 2 = 1.0 -> Y
    at_one = [3000, 0, 3000, 0, 4000, 0, 6000, 0, 3000, 0, 4000, 0, 3000]
    # 10 weeks of 1300: mean 1000, std 1300 x sqrt(10 x 3) / 13 = 547.72, cv 0.548 -> Y
    above_half = [1300] * 10 + [0] * 3
    # 6 weeks of 1300: mean 600, std 1300 x sqrt(6 x 7) / 13 = 648.07, cv 1.080 -> Z
    above_one = [0, 1300] * 6 + [0]
    daily = pl.DataFrame(
        [
            *weekly(1, 10, [1000] * 13),  # steady: std 0, cv 0 -> X
            (1, 10, week_day(13), 5000, 5000),  # the day before the window: not counted
            (1, 20, week_day(0), 13_000, 13_000),  # one week of 13: see below
            *weekly(1, 30, at_half),
            (1, 30, week_day(0, back=6), 1000, 1000),  # bucket 0 is AS_OF - 6 .. AS_OF:
            (1, 30, week_day(0, back=3), -1000, -1000),  # 4000 + 1000 - 1000 = 4000 still
            *weekly(1, 40, at_one),
            *weekly(1, 50, above_half),
            *weekly(1, 60, above_one),
            (1, 70, week_day(3), 1000, 100),
            (1, 70, week_day(1), -1000, -100),  # net zero demand: no cv -> Z
        ],
        schema=DAILY_SCHEMA,
        orient="row",
    )
    result = abc_xyz(daily, AS_OF, 13)
    assert result["weeks"].to_list() == [13] * 7
    assert result.select(
        "product_id", "weekly_mean_milli", "weekly_std_milli", "cv", "xyz_class"
    ).rows() == [
        (10, 1000.0, 0.0, 0.0, "X"),
        # 13_000 in one week, 12 empty weeks: mean 1000,
        # std sqrt((12_000^2 + 12 x 1000^2) / 13) = sqrt(12_000_000) = 3464.10, cv 3.46 -> Z
        # (without the empty weeks it would be mean 13_000, cv 0 -> X)
        (20, 1000.0, pytest.approx(math.sqrt(12_000_000)), pytest.approx(3.4641, abs=1e-4), "Z"),
        (30, 4000.0, 2000.0, 0.5, "X"),
        (40, 2000.0, 2000.0, 1.0, "Y"),
        (50, 1000.0, pytest.approx(100 * math.sqrt(30)), pytest.approx(0.5477, abs=1e-4), "Y"),
        (60, 600.0, pytest.approx(100 * math.sqrt(42)), pytest.approx(1.0801, abs=1e-4), "Z"),
        # +1000 and -1000 in two weeks: mean 0, std sqrt(2 x 1000^2 / 13) = 392.23, no cv -> Z
        (70, 0.0, pytest.approx(math.sqrt(2_000_000 / 13)), None, "Z"),
    ]


# --- dead stock ----------------------------------------------------------------------------


def test_dead_stock_after_sixty_days_without_sale() -> None:
    as_of = D(2026, 3, 31)  # 60 days back: 30 January (1 + 28 + 31)
    position = pl.DataFrame(
        [
            (1, 10, 2000, 150, 300, D(2026, 1, 30), D(2025, 12, 1)),  # last sale 60 days ago
            (1, 20, 2000, 150, 300, D(2026, 1, 31), D(2025, 12, 1)),  # 59 days ago: not yet
            (1, 30, 1000, 400, 400, None, D(2026, 1, 1)),  # never sold, first move 89 days ago
            (1, 40, 1000, 400, 400, None, D(2026, 2, 15)),  # never sold, moved 44 days ago
            (1, 50, 0, 400, 0, D(2025, 12, 1), D(2025, 11, 1)),  # nothing on hand
            (1, 60, -500, 400, -200, None, D(2025, 11, 1)),  # negative: nothing to sell off
            (1, 70, 3000, 100, 300, D(2026, 3, 1), D(2026, 3, 1)),  # sold 30 days ago
            (2, 10, 1000, None, None, D(2025, 12, 31), None),  # 90 days, cost unknown
        ],
        schema={
            "store_id": I64,
            "product_id": I64,
            "on_hand_milli": I64,
            "avg_cost_minor": I64,
            "value_at_cost_minor": I64,
            "last_sale_date": pl.Date,
            "last_receipt_date": pl.Date,
        },
        orient="row",
    ).with_columns(pl.lit(as_of).alias("as_of"))
    first_move = pl.DataFrame(
        [
            (1, 10, D(2025, 6, 1)),
            (1, 20, D(2025, 6, 1)),
            (1, 30, D(2026, 1, 1)),
            (1, 40, D(2026, 2, 15)),
            (1, 50, D(2025, 6, 1)),
            (1, 60, D(2025, 6, 1)),
            (1, 70, D(2025, 6, 1)),  # counts from the last sale, not the first move
            (2, 10, D(2025, 12, 1)),
        ],
        schema={"store_id": I64, "product_id": I64, "first_move_date": pl.Date},
        orient="row",
    )
    result = dead_stock(position, first_move, as_of, 60)
    assert result.columns == [
        "store_id",
        "product_id",
        "as_of",
        "on_hand_milli",
        "avg_cost_minor",
        "value_at_cost_minor",
        "last_sale_date",
        "days_without_sale",
        "last_receipt_date",
    ]
    assert result.rows() == [
        (1, 10, as_of, 2000, 150, 300, D(2026, 1, 30), 60, D(2025, 12, 1)),
        (1, 30, as_of, 1000, 400, 400, None, 89, D(2026, 1, 1)),  # 31 + 28 + 30 days
        (2, 10, as_of, 1000, None, None, D(2025, 12, 31), 90, None),  # 31 + 28 + 31
    ]


# --- product profit ------------------------------------------------------------------------

PROFIT_SCHEMA = {
    "store_id": I64,
    "product_id": I64,
    "category_id": I64,
    "sale_date": pl.Date,
    "qty_milli": I64,
    "receipts": I64,
    "revenue_minor": I64,
    "vat_minor": I64,
    "revenue_ex_vat_minor": I64,
    "cogs_minor": I64,
    "gross_profit_minor": I64,
    "revenue_without_cost_minor": I64,
    "costed_revenue_ex_vat_minor": I64,
}
# store, product, category, day, qty, receipts, revenue, VAT, ex VAT, COGS, gross profit,
# revenue without cost, costed revenue ex VAT (one row per store, product and day)
PROFIT_DAYS: list[tuple[Any, ...]] = [
    (1, 10, 6, day(8), -1000, 0, -11_000, -1000, -10_000, -7000, -3000, 0, -10_000),  # Sunday
    (1, 10, 5, day(1), 2000, 2, 22_000, 2000, 20_000, 15_679, 4321, 0, 20_000),  # Sunday
    (1, 10, 5, day(2), 1000, 1, 11_000, 1000, 10_000, 7000, 3000, 0, 10_000),  # Monday
    # 10_000 ex VAT of it sold without a cost: gross profit on the costed 20_000 only
    (1, 10, 5, day(4), 3000, 2, 33_000, 3000, 30_000, 13_667, 6333, 11_000, 20_000),
    (1, 10, 6, day(9), 500, 1, 4400, 400, 4000, 4123, -123, 0, 4000),  # Monday
    (1, None, None, day(3), 1000, 1, 5000, 0, 5000, None, None, 5000, 0),  # unknown barcode
    (1, None, None, day(5), 2000, 1, 8000, 0, 8000, None, None, 8000, 0),
    (2, 10, 5, D(2026, 1, 1), 1000, 1, 11_000, 1000, 10_000, 6000, 4000, 0, 10_000),  # Thursday
]


def test_product_profit_per_day_and_iso_week() -> None:
    result = product_profit(pl.DataFrame(PROFIT_DAYS, schema=PROFIT_SCHEMA, orient="row"))
    assert result.columns == [
        "period",
        "period_start",
        "store_id",
        "product_id",
        "category_id",
        "qty_milli",
        "receipts",
        "revenue_minor",
        "vat_minor",
        "revenue_ex_vat_minor",
        "cogs_minor",
        "gross_profit_minor",
        "revenue_without_cost_minor",
        "margin_bp",
    ]
    assert result.rows() == [
        # margin_bp = gross profit x 10_000 / costed revenue ex VAT, halves away from zero
        ("day", day(1), 1, 10, 5, 2000, 2, 22_000, 2000, 20_000, 15_679, 4321, 0, 2161),  # 2160.5
        ("day", day(2), 1, 10, 5, 1000, 1, 11_000, 1000, 10_000, 7000, 3000, 0, 3000),
        # 6333 x 10_000 / 20_000 = 3166.5 -> 3167 (the uncosted 10_000 left out)
        ("day", day(4), 1, 10, 5, 3000, 2, 33_000, 3000, 30_000, 13_667, 6333, 11_000, 3167),
        # a net return day: no positive costed revenue, no margin
        ("day", day(8), 1, 10, 6, -1000, 0, -11_000, -1000, -10_000, -7000, -3000, 0, None),
        ("day", day(9), 1, 10, 6, 500, 1, 4400, 400, 4000, 4123, -123, 0, -308),  # -307.5
        ("day", day(3), 1, None, None, 1000, 1, 5000, 0, 5000, None, None, 5000, None),
        ("day", day(5), 1, None, None, 2000, 1, 8000, 0, 8000, None, None, 8000, None),
        ("day", D(2026, 1, 1), 2, 10, 5, 1000, 1, 11_000, 1000, 10_000, 6000, 4000, 0, 4000),
        # weeks start on Monday: Sunday 1 March belongs to the week of Monday 23 February
        ("week", D(2026, 2, 23), 1, 10, 5, 2000, 2, 22_000, 2000, 20_000, 15_679, 4321, 0, 2161),
        # 2, 4 and 8 March: qty 1000 + 3000 - 1000, receipts 1 + 2 + 0, COGS 7000 + 13_667 -
        # 7000, profit 3000 + 6333 - 3000 = 6333 on costed 10_000 + 20_000 - 10_000 = 20_000
        # -> 3166.5 -> 3167; the category of the last day (8 March): 6
        ("week", day(2), 1, 10, 6, 3000, 3, 33_000, 3000, 30_000, 13_667, 6333, 11_000, 3167),
        ("week", day(9), 1, 10, 6, 500, 1, 4400, 400, 4000, 4123, -123, 0, -308),
        # the unknown barcode is kept; nothing was costed: COGS, profit and margin stay NULL
        ("week", day(2), 1, None, None, 3000, 2, 13_000, 0, 13_000, None, None, 13_000, None),
        # Thursday 1 January 2026 is in ISO week 2026-W01, which starts Monday 29 December 2025
        ("week", D(2025, 12, 29), 2, 10, 5, 1000, 1, 11_000, 1000, 10_000, 6000, 4000, 0, 4000),
    ]


def test_weekly_sums_equal_the_sum_of_their_days() -> None:
    result = product_profit(pl.DataFrame(PROFIT_DAYS, schema=PROFIT_SCHEMA, orient="row"))
    sums = list(PROFIT_SCHEMA)[4:-1]  # qty .. revenue without cost, as posted
    weeks = result.filter(pl.col("period") == "week").to_dicts()
    assert len(weeks) == 5
    for week in weeks:
        start: dt.date = week["period_start"]
        days = [
            dict(zip(PROFIT_SCHEMA, row, strict=True))
            for row in PROFIT_DAYS
            if (row[0], row[1]) == (week["store_id"], week["product_id"])
            and start <= row[3] < start + dt.timedelta(days=7)
        ]
        for name in sums:
            values = [d[name] for d in days if d[name] is not None]
            assert week[name] == (sum(values) if values else None), (start, name)
