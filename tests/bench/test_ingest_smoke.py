"""The sales-ingest benchmark's code path at a tiny size (SQLite only): correctness, never timing."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, select

from bench import ingest, run

TILLS = 2
BATCH = 5
LINES = 3
RECEIPTS = 20  # 2 tills x 2 batches of 5
SOLO = 10  # one more till alone: 2 batches of 5
PRODUCTS = 40


@pytest.fixture(scope="module")
def measured() -> ingest.Measured:
    [result] = ingest.measure(
        receipts=RECEIPTS,
        tills=TILLS,
        batch=BATCH,
        lines=LINES,
        products=PRODUCTS,
        solo_receipts=SOLO,
        profile_batches=6,
    )
    return result


def test_every_sale_sent_is_on_the_hub_exactly_once(measured: ingest.Measured) -> None:
    sent = RECEIPTS + ingest.WARMUP_BATCHES * BATCH + SOLO  # the warm-up and solo tills' too
    assert (measured.receipts, measured.batches, measured.tills) == (RECEIPTS, 4, TILLS)
    assert measured.http.statuses == Counter({"created": sent})
    assert measured.verified.sales == sent
    assert measured.verified.lines == measured.verified.stock_moves == sent * LINES
    assert measured.verified.payments == sent
    assert len(measured.http.latencies) == measured.batches
    assert measured.solo_receipts == SOLO
    assert measured.raw_receipts == RECEIPTS
    assert measured.breakdown is not None
    assert measured.breakdown.batches == 2


def test_the_verification_fails_loudly_on_a_lost_or_foreign_sale(tmp_path: Path) -> None:
    from hub.db import Database
    from hub.sales.models import Sale, SaleLine, SalePayment

    target = ingest.sqlite_target(tmp_path)
    url, made = ingest.build(target, "raw", PRODUCTS, 1)
    catalog = ingest.read_catalog(url)
    workload = ingest.make_workload(
        catalog,
        made.cashier_ids,
        receipts=6,
        tills=1,
        batch=3,
        lines=2,
        warmup_batches=1,
        solo_receipts=0,
    )
    sales = workload.tills[0].sales
    ingest.raw_insert(url, ingest.raw_rows(workload, made.store_id, made.device_ids, {}))
    assert ingest.verify(url, made.store_id, sales, hub=False).sales == 6

    with pytest.raises(ingest.BenchError, match="7 sent"):
        ingest.verify(url, made.store_id, [*sales, *workload.warmup.sales[:1]], hub=False)
    with pytest.raises(ingest.BenchError, match="stock moves"):
        ingest.verify(url, made.store_id, sales, hub=True)  # raw rows have no stock moves

    db = Database(url)
    try:
        with db.write() as s:
            lost = s.scalars(select(Sale.id).order_by(Sale.id).limit(1)).one()
            s.execute(delete(SalePayment).where(SalePayment.sale_id == lost))
            s.execute(delete(SaleLine).where(SaleLine.sale_id == lost))
            s.execute(delete(Sale).where(Sale.id == lost))
    finally:
        db.dispose()
    with pytest.raises(ingest.BenchError, match="1 sent sales missing"):
        ingest.verify(url, made.store_id, sales, hub=False)


def test_busy_answers_are_retried_after_retry_after_and_counted() -> None:
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "0"}),
            httpx.Response(503, headers={"Retry-After": "0"}),
            httpx.Response(200, json={"results": [{"sale_uuid": "x", "status": "created"}]}),
        ]
    )
    transport = httpx.MockTransport(lambda _request: next(answers))
    with httpx.Client(transport=transport, base_url="http://hub") as client:
        result = ingest.post_batches(client, [b'{"sales": []}'])
    assert result.retries == Counter({429: 1, 503: 1})
    assert result.statuses == Counter({"created": 1})
    assert len(result.latencies) == 1


def test_an_error_answer_stops_the_run() -> None:
    transport = httpx.MockTransport(lambda _request: httpx.Response(422, json={"detail": "no"}))
    with (
        httpx.Client(transport=transport, base_url="http://hub") as client,
        pytest.raises(ingest.BenchError, match="422"),
    ):
        ingest.post_batches(client, [b"{}"])


def test_the_report_renders_verdicts_and_is_found_by_the_runner(
    measured: ingest.Measured,
) -> None:
    report = ingest.report([measured], postgres_note=ingest.postgres_skipped_note())
    assert [m.verdict for m in report.metrics[:2]] == [
        "pass" if measured.rate >= ingest.GOAL_RATE else "FAIL",
        "pass" if measured.ratio >= ingest.GOAL_RATIO else "FAIL",
    ]
    text = run.render([(report, 1.0)], run.machine())
    assert "## Sales ingest" in text
    assert "raw Core executemany" in text
    assert "KASSA_BENCH_POSTGRES_URL" in text
    assert "ingest" in run.modules()


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert ingest.percentile(values, 0.99) == 99.0
    assert ingest.percentile(values, 0.50) == 50.0
    assert ingest.percentile([3.0], 0.99) == 3.0
