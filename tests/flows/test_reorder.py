"""Reorder suggestions become draft purchase orders on the REAL hub (FastAPI TestClient over a
SQLite hub database), from `rpt_reorder` rows the real warehouse pipeline built: grouped by
supplier, one draft per store, supplier and day, each line with the formula's inputs; a re-run
creates nothing; a refused group does not stop the others; a refused token, a busy hub and an
unreachable hub each end the way the flow needs. httpx.MockTransport stands in only for
transport faults (a 503, a dropped connection)."""

from __future__ import annotations

import datetime as dt
import json
import socket
from typing import Any

import duckdb
import httpx
import polars as pl
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from flows.hub_client import (
    NOT_TRANSIENT_ERRORS,
    USER_AGENT,
    HubAuthError,
    HubClient,
    HubRejectedError,
    HubUnavailableError,
    load_hub_settings,
)
from flows.reorder import (
    MAX_LINES,
    REASON_FIELDS,
    MartsNotReadyError,
    draft_orders,
    load_suggestions,
    source_key,
)
from flows.settings import FlowSettingsError
from hub.purchasing.models import PurchaseOrder, PurchaseOrderLine
from tests.flows.conftest import AS_OF, Chain, service_token
from warehouse.extract import open_warehouse

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def hub_token(db: Any) -> str:
    return service_token(db)


class Sleeps(list[float]):
    """Stands in for time.sleep: records the pauses instead of taking them."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def hub(client: Any, hub_token: str, sleeps: Sleeps) -> HubClient:
    """The flows' client, talking to the real hub app through FastAPI's TestClient."""
    return HubClient(token=SecretStr(hub_token), http=client, sleep=sleeps)


def _drafts(db: Any) -> dict[str, tuple[PurchaseOrder, list[PurchaseOrderLine]]]:
    """The hub's machine-made orders by key, with their lines by product."""
    with db.read() as s:
        orders = list(
            s.scalars(select(PurchaseOrder).where(PurchaseOrder.source_key.like("reorder:%")))
        )
        out = {}
        for order in orders:
            lines = list(
                s.scalars(
                    select(PurchaseOrderLine)
                    .where(PurchaseOrderLine.purchase_order_id == order.id)
                    .order_by(PurchaseOrderLine.id)
                )
            )
            out[str(order.source_key)] = (order, lines)
        s.expunge_all()
        return out


def _line_count(db: Any) -> int:
    with db.read() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(PurchaseOrderLine)
                .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
                .where(PurchaseOrder.source_key.like("reorder:%"))
            )
            or 0
        )


# --- drafts ----------------------------------------------------------------------------------


@sqlite_only
def test_drafts_are_grouped_by_supplier_and_keep_the_formula_inputs(
    chain: Chain, hub: HubClient
) -> None:
    suggestions = chain.close_day()
    mart = chain.mart_rows()
    assert sorted(suggestions["product_id"]) == [chain.milk, chain.bread, chain.cheese]
    assert mart[chain.milk]["on_order_milli"] == 24_000  # the sent order counts

    result = draft_orders(suggestions, AS_OF, hub)

    assert result.ok and not result.existing
    store = chain.world.store_a
    dairy_key = f"reorder:{store}:{chain.dairy}:2026-11-23"
    deli_key = f"reorder:{store}:{chain.deli}:2026-11-23"
    assert [(d.source_key, d.lines, d.status) for d in result.created] == [
        (dairy_key, 2, "draft"),
        (deli_key, 1, "draft"),
    ]
    drafts = _drafts(chain.db)
    assert set(drafts) == {dairy_key, deli_key}
    expected_cost = {
        chain.milk: (6_500, "supplier_last_cost"),
        chain.bread: (3_100, "supplier_last_cost"),
        chain.cheese: (61_000, "store_average_cost"),  # seed_shop received it at 610.00
    }
    for key, supplier, products in (
        (dairy_key, chain.dairy, [chain.milk, chain.bread]),
        (deli_key, chain.deli, [chain.cheese]),
    ):
        order, lines = drafts[key]
        assert (order.store_id, order.supplier_id, order.status) == (store, supplier, "draft")
        lead = mart[products[0]]["lead_time_days"]
        assert order.expected_at == AS_OF + dt.timedelta(days=1 + lead)
        assert order.note == (
            "Черновик по расчёту пополнения на 23.11.2026 / Reorder draft for 2026-11-23"
        )
        assert [line.product_id for line in lines] == sorted(products)  # ordered by product
        for line in lines:
            row = mart[line.product_id]
            assert line.qty_ordered_milli == row["suggested_qty_milli"] > 0
            assert line.qty_received_milli == 0
            cost, source = expected_cost[line.product_id]
            assert line.unit_cost_minor == cost
            assert line.reason is not None
            reason = json.loads(line.reason)
            assert list(reason) == [*REASON_FIELDS, "unit_cost_source"]
            assert reason == {
                **{name: row[name] for name in REASON_FIELDS},
                "as_of": "2026-11-23",
                "unit_cost_source": source,
            }
            for name in REASON_FIELDS:  # integers stay integers, fractions stay fractions
                if isinstance(row[name], int):
                    assert type(reason[name]) is int, name
            assert isinstance(reason["mean_daily_demand_milli"], float)
            assert ":" in line.reason and " " not in line.reason  # compact
    assert result.lines == 3
    assert result.value_minor == sum(d.total_minor for d in result.created)
    assert result.value_minor == sum(
        (2 * row["suggested_qty_milli"] * expected_cost[pid][0] + 1000) // 2000
        for pid, row in mart.items()
    )
    assert "2 created, 0 already there, 0 refused" in result.summary()


@sqlite_only
def test_a_rerun_of_the_day_creates_nothing_twice(chain: Chain, hub: HubClient) -> None:
    first = draft_orders(chain.close_day(), AS_OF, hub)
    assert len(first.created) == 2
    lines_before = _line_count(chain.db)

    # daily-close again: refresh and marts see the drafts (drafts are not on order: the same
    # suggestions), then the same keys
    again = draft_orders(chain.close_day(), AS_OF, hub)
    assert again.created == []
    assert [d.order_id for d in again.existing] == [d.order_id for d in first.created]
    assert [d.source_key for d in again.existing] == [d.source_key for d in first.created]
    assert again.ok and again.lines == first.lines and again.value_minor == first.value_minor

    drafts = _drafts(chain.db)
    assert len(drafts) == 2
    assert _line_count(chain.db) == lines_before == 3
    for _, lines in drafts.values():
        products = [line.product_id for line in lines]
        assert len(products) == len(set(products))  # no product twice on an order


@sqlite_only
def test_a_refused_group_is_reported_and_the_others_go_on(chain: Chain, hub: HubClient) -> None:
    suggestions = chain.close_day()
    chain.set_supplier_active(chain.dairy, False)  # deactivated after the marts were built

    result = draft_orders(suggestions, AS_OF, hub)

    assert not result.ok
    [failure] = result.failed
    assert (failure.store_id, failure.supplier_id, failure.status, failure.lines) == (
        chain.world.store_a,
        chain.dairy,
        422,
        2,
    )
    assert failure.source_key == source_key(chain.world.store_a, chain.dairy, AS_OF)
    [error] = failure.errors
    assert error.field == "supplier_id"
    assert f"supplier {chain.dairy} is inactive" in error.msg
    assert "supplier_id" in failure.message and "422" in failure.message
    assert [d.supplier_id for d in result.created] == [chain.deli]  # the next group went on
    assert "1 refused" in result.summary() and f"supplier {chain.dairy}" in result.summary()
    assert set(_drafts(chain.db)) == {source_key(chain.world.store_a, chain.deli, AS_OF)}

    # once the supplier is back, a re-run makes only what is missing
    chain.set_supplier_active(chain.dairy, True)
    again = draft_orders(suggestions, AS_OF, hub)
    assert again.ok
    assert [d.supplier_id for d in again.created] == [chain.dairy]
    assert [d.supplier_id for d in again.existing] == [chain.deli]
    assert _line_count(chain.db) == 3


@sqlite_only
def test_a_group_over_the_line_limit_is_split_into_keyed_parts(
    chain: Chain, hub: HubClient
) -> None:
    suggestions = chain.close_day()
    result = draft_orders(suggestions, AS_OF, hub, max_lines=1)  # milk and bread: two parts
    base = source_key(chain.world.store_a, chain.dairy, AS_OF)
    assert [d.source_key for d in result.created] == [
        base,
        f"{base}:part2",
        source_key(chain.world.store_a, chain.deli, AS_OF),
    ]
    drafts = _drafts(chain.db)
    assert [line.product_id for line in drafts[base][1]] == [chain.milk]
    assert [line.product_id for line in drafts[f"{base}:part2"][1]] == [chain.bread]
    assert drafts[f"{base}:part2"][0].note.endswith("(часть 2 из 2 / part 2 of 2)")
    again = draft_orders(suggestions, AS_OF, hub, max_lines=1)
    assert again.created == [] and len(again.existing) == 3


def test_the_line_limit_and_text_limits_are_the_hubs() -> None:
    from pydantic import TypeAdapter

    from hub.purchasing.schemas import SourceKey
    from hub.stock.schemas import MAX_LINES as HUB_MAX_LINES
    from hub.text import LongText

    assert MAX_LINES == HUB_MAX_LINES
    longest_key = source_key(2**63 - 1, 2**63 - 1, dt.date(9999, 12, 31), 999)
    TypeAdapter(SourceKey).validate_python(longest_key)  # fits the hub's 100 characters
    from flows.reorder import reason

    worst: dict[str, Any] = dict.fromkeys(REASON_FIELDS, -(2**63))
    worst.update(
        mean_daily_demand_milli=-1.2345678901234567e-300,
        demand_std_milli=1.2345678901234567e300,
        service_level=0.9999999999999999,
        z=3.7190164854556804,
        as_of=dt.date(2026, 11, 23),
    )
    text = reason(worst, "store_average_cost")
    TypeAdapter(LongText).validate_python(text)  # fits the hub's 2000 characters
    assert len(text) < 1000
    # a full order of such lines stays under the hub's default body limit
    from hub.settings import Settings

    line = {
        "product_id": 2**63 - 1,
        "qty_ordered_milli": 99_999_999,
        "unit_cost_minor": 999_999_999_999,
        "reason": text,
    }
    body = {"supplier_id": 2**63 - 1, "source_key": longest_key, "lines": [line] * MAX_LINES}
    assert len(json.dumps(body).encode()) < Settings().max_body_bytes


@sqlite_only
def test_without_any_cost_a_line_is_drafted_at_zero(chain: Chain, hub: HubClient) -> None:
    suggestions = chain.close_day().with_columns(
        pl.when(pl.col("product_id") == chain.cheese).then(None).otherwise(pl.col(c)).alias(c)
        for c in ("last_cost_minor", "avg_cost_minor")
    )
    result = draft_orders(suggestions, AS_OF, hub)
    assert result.ok and len(result.created) == 2  # the hub takes a unit cost of 0
    _, [line] = _drafts(chain.db)[source_key(chain.world.store_a, chain.deli, AS_OF)]
    assert line.unit_cost_minor == 0
    assert json.loads(str(line.reason))["unit_cost_source"] == "none"


# --- reading the marts -----------------------------------------------------------------------


@sqlite_only
def test_suggestions_come_from_parquet_without_duckdb(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain.close_day()
    duck = open_warehouse(chain.warehouse, read_only=True)
    try:
        from_duckdb = load_suggestions(duck, AS_OF)
        with pytest.raises(MartsNotReadyError, match="for 2026-11-23, not 2026-11-24"):
            load_suggestions(duck, AS_OF + dt.timedelta(days=1))
    finally:
        duck.close()

    def no_duckdb(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the Parquet reader opened DuckDB")

    monkeypatch.setattr(duckdb, "connect", no_duckdb)
    from_parquet = load_suggestions(chain.marts, AS_OF)
    assert from_parquet.equals(from_duckdb.select(from_parquet.columns))
    assert from_parquet.height == 3 and from_parquet["needs_order"].all()
    assert from_parquet.filter(pl.col("product_id") == chain.cheese)[
        "avg_cost_minor"
    ].to_list() == [61_000]
    with pytest.raises(MartsNotReadyError, match="are for 2026-11-23, not 2026-11-22"):
        load_suggestions(chain.marts, AS_OF - dt.timedelta(days=1))
    with pytest.raises(MartsNotReadyError, match="no marts in"):
        load_suggestions(chain.marts.parent / "nowhere", AS_OF)


@sqlite_only
def test_rows_that_order_nothing_are_left_out(chain: Chain, hub: HubClient) -> None:
    suggestions = chain.close_day().with_columns(
        needs_order=pl.col("product_id") != chain.bread,
        suggested_qty_milli=pl.when(pl.col("product_id") == chain.cheese)
        .then(0)
        .otherwise(pl.col("suggested_qty_milli")),
    )
    result = draft_orders(suggestions, AS_OF, hub)
    assert result.lines == 1
    assert [(d.supplier_id, d.lines) for d in result.created] == [(chain.dairy, 1)]


# --- the token, a busy hub, no hub -----------------------------------------------------------


@sqlite_only
def test_a_refused_token_stops_the_run_with_the_hint(chain: Chain, client: Any) -> None:
    suggestions = chain.close_day()
    wrong = HubClient(token="ka_not-a-token", http=client)
    with pytest.raises(HubAuthError) as refused:
        draft_orders(suggestions, AS_OF, wrong)
    assert refused.value.status == 401
    message = str(refused.value)
    assert "the hub refused the flows' token" in message
    assert "kassa hub service-token" in message and "KASSA_HUB_TOKEN" in message
    assert "ka_not-a-token" not in message
    assert _drafts(chain.db) == {}
    assert isinstance(refused.value, NOT_TRANSIENT_ERRORS)

    with pytest.raises(HubAuthError, match="KASSA_HUB_TOKEN is not set"):
        HubClient(token=None, http=client)


def _forward(client: Any, request: httpx.Request) -> httpx.Response:
    """Pass a request on to the real app, as if no fault had happened."""
    answer = client.send(request)
    headers = {
        k: v for k, v in answer.headers.items() if k not in ("content-encoding", "content-length")
    }
    return httpx.Response(answer.status_code, headers=headers, content=answer.content)


@sqlite_only
def test_a_busy_hub_is_waited_for_as_it_asks(
    chain: Chain, client: Any, hub_token: str, sleeps: Sleeps
) -> None:
    suggestions = chain.close_day()
    seen: list[httpx.Request] = []

    def busy_twice(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(503, headers={"Retry-After": "7"}, json={"detail": []})
        if len(seen) == 2:  # a proxy's answer: far too long a wait, cut to the bound
            return httpx.Response(429, headers={"Retry-After": "3600"})
        return _forward(client, request)

    transport = httpx.Client(
        transport=httpx.MockTransport(busy_twice), base_url=str(client.base_url)
    )
    with HubClient(token=SecretStr(hub_token), http=transport, sleep=sleeps) as flaky:
        result = draft_orders(suggestions, AS_OF, flaky)
    transport.close()
    assert sleeps == [7.0, 30.0]
    assert result.ok and len(result.created) == 2
    assert len(seen) == 4  # two refusals, then both groups
    for request in seen:
        assert request.headers["User-Agent"] == USER_AGENT
        assert request.headers["Authorization"] == f"Bearer {hub_token}"
    assert len(_drafts(chain.db)) == 2


@sqlite_only
def test_a_hub_busy_for_too_long_is_a_transient_error(
    chain: Chain, client: Any, hub_token: str, sleeps: Sleeps
) -> None:
    suggestions = chain.close_day()
    always = httpx.Client(
        transport=httpx.MockTransport(lambda _: httpx.Response(503)),
        base_url=str(client.base_url),
    )
    busy = HubClient(token=hub_token, http=always, sleep=sleeps)
    with pytest.raises(HubUnavailableError, match="after 4 tries"):
        draft_orders(suggestions, AS_OF, busy)
    assert sleeps == [1.0, 2.0, 4.0]  # no Retry-After: backoff


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_hub_is_a_transient_error_the_flow_retries(sleeps: Sleeps) -> None:
    from prefect.states import Failed

    from flows.tasks import is_transient

    url = f"http://127.0.0.1:{_closed_port()}"
    gone = HubClient(url, "ka_token", sleep=sleeps)
    with gone, pytest.raises(HubUnavailableError) as unreachable:
        gone.create_draft_order(1, {"supplier_id": 1, "source_key": "k", "lines": []})
    assert url in str(unreachable.value) and "is it running?" in str(unreachable.value)
    assert sleeps == [1.0, 2.0, 4.0]
    assert not isinstance(unreachable.value, NOT_TRANSIENT_ERRORS)
    assert is_transient(None, None, Failed(data=unreachable.value))


def test_a_post_without_a_key_is_not_repeated_after_a_lost_answer(sleeps: Sleeps) -> None:
    calls: list[str] = []

    def drop(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        raise httpx.ReadError("connection reset", request=request)

    http = httpx.Client(transport=httpx.MockTransport(drop), base_url="http://hub.test")
    keyless = HubClient(token="ka_token", http=http, sleep=sleeps)
    with pytest.raises(HubUnavailableError, match="not repeated"):
        keyless.create_draft_order(1, {"supplier_id": 1, "lines": []})
    assert len(calls) == 1
    with pytest.raises(HubUnavailableError, match="after 4 tries"):
        keyless.create_draft_order(1, {"supplier_id": 1, "source_key": "k", "lines": []})
    assert len(calls) == 5  # a keyed draft is safe to send again


# --- the client's other call and settings ----------------------------------------------------


@sqlite_only
def test_a_rejected_request_carries_the_hubs_field_errors(hub: HubClient, world: Any) -> None:
    with pytest.raises(HubRejectedError) as rejected:
        hub.create_draft_order(world.store_a, {"supplier_id": 1, "source_key": "k", "lines": []})
    assert rejected.value.status == 422
    assert [e.field for e in rejected.value.errors] == ["lines"]


@sqlite_only
def test_the_service_token_reads_recipients_and_nothing_else(
    hub: HubClient, client: Any, world: Any, hub_token: str
) -> None:
    owner = world.headers("owner")
    body = {"email": "Owner@Example.RU", "name": "Анна", "language": "en", "weekly": False}
    assert client.post("/api/v1/reports/recipients", json=body, headers=owner).status_code == 201
    [recipient] = hub.list_recipients()
    assert (recipient["email"], recipient["language"]) == ("owner@example.ru", "en")
    assert (recipient["daily"], recipient["weekly"], recipient["active"]) == (True, False, True)
    as_service = {"Authorization": f"Bearer {hub_token}"}
    assert client.get("/api/v1/catalog/products", headers=as_service).status_code == 403
    assert client.get("/api/v1/reports", headers=as_service).status_code == 403


def test_settings_name_their_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KASSA_HUB_URL", raising=False)
    monkeypatch.delenv("KASSA_HUB_TOKEN", raising=False)
    defaults = load_hub_settings()
    assert defaults.hub_url == "http://127.0.0.1:8000" and defaults.hub_token is None
    with pytest.raises(HubAuthError, match="KASSA_HUB_TOKEN is not set"):
        HubClient.from_settings(defaults)

    monkeypatch.setenv("KASSA_HUB_URL", "https://hub.example:8443")
    monkeypatch.setenv("KASSA_HUB_TOKEN", "ka_secret-value")
    settings = load_hub_settings()
    assert "ka_secret-value" not in repr(settings)
    with HubClient.from_settings(settings) as hub:
        assert hub.base_url == "https://hub.example:8443"

    monkeypatch.setenv("KASSA_HUB_URL", "hub.example")
    with pytest.raises(FlowSettingsError, match="KASSA_HUB_URL"):
        load_hub_settings()
