"""The till-agent benchmark's code path at a tiny size: correctness only, never timing."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bench import run, till
from till_agent.catalog import CatalogCache
from wire.barcodes import WeightTemplate, decode_weighted, is_valid_gtin
from wire.v1 import CatalogDelta

PRODUCTS = 300
SCANS = 250
COMMITS = 12


@pytest.fixture(scope="module")
def measured() -> till.Measured:
    return till.measure(
        PRODUCTS,
        load_repeats=1,
        scans=SCANS,
        commits=COMMITS,
        profile_scans=50,
        profile_commits_count=5,
    )


def test_every_pull_loads_the_whole_catalog(measured: till.Measured) -> None:
    for pulled in (*measured.pulls, measured.big_pull):
        assert pulled.products == PRODUCTS
        assert pulled.pages >= 1
        assert 0 < pulled.apply_seconds < pulled.seconds
    assert len(measured.fetches) == len(measured.pulls) == 1


def test_every_scan_is_timed_and_some_are_scale_labels(measured: till.Measured) -> None:
    scans = measured.scans
    assert len(scans.total) == len(scans.scan) == len(scans.is_label) == SCANS
    assert all(part <= whole for part, whole in zip(scans.scan, scans.total, strict=True))
    assert measured.labels == sum(scans.is_label) > 0
    assert len(measured.pk_lookups) == SCANS
    assert len(measured.scan_sql) == SCANS - measured.labels


def test_every_commit_is_timed_next_to_its_baseline(measured: till.Measured) -> None:
    commits = measured.commits
    assert len(commits.journal) == len(commits.bare) == len(commits.payload_bytes) == COMMITS
    assert min(commits.payload_bytes) > 500  # five lines and a payment


def test_scale_labels_decode_with_the_hub_template() -> None:
    label = till.scale_label(42, 1_250)
    assert is_valid_gtin(label)
    match = decode_weighted(label, [WeightTemplate(1, "22PPPPPWWWWWC")])
    assert match is not None
    assert (int(match.scale_code), match.qty_milli) == (42, 1_250)


def test_drafts_have_five_lines_and_are_paid(tmp_path: Path) -> None:
    codes = [f"46000000000{n:02d}" for n in range(1, 9)]
    products = [
        {
            "id": n,
            "sku": f"SKU-{n}",
            "name": f"Товар {n}",
            "category_id": None,
            "unit": "piece",
            "price_minor": 1_000 * n,
            "tax_rate_id": 1,
            "vat_rate_bp": 2_000,
            "barcodes": [code],
            "scale_code": None,
            "active": True,
        }
        for n, code in enumerate(codes, start=1)
    ]
    delta = CatalogDelta.model_validate(
        {
            "cursor": 0,
            "next_cursor": 8,
            "has_more": False,
            "store": None,
            "tax_rates": [],
            "categories": [],
            "products": products,
            "weight_templates": [],
            "cashiers": [],
        }
    )
    cache = CatalogCache(tmp_path / "cache.db")
    try:
        cache.apply(delta, None)
        drafts = till.sale_drafts(cache, codes, 6, random.Random(1))
    finally:
        cache.close()
    for draft in drafts:
        assert len(draft["lines"]) == till.SALE_LINES
        assert sum(p["amount_minor"] for p in draft["payments"]) >= draft["total_minor"]


def test_the_report_renders_verdicts_and_is_found_by_the_runner(measured: till.Measured) -> None:
    report = till.report(measured)
    assert [m.goal for m in report.metrics[:3]] == ["≤ 5 s", "p99 ≤ 5 ms", "p99 ≤ 10 ms"]
    assert all(m.verdict in ("pass", "FAIL") for m in report.metrics[:3])
    assert all(m.verdict == "info" for m in report.metrics[3:])
    text = run.render([(report, 1.0)], run.machine())
    assert "## Till agent" in text
    assert "bare SQLite primary-key lookup" in text
    assert "till" in run.modules()


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))
    assert till.percentile(values, 0.99) == 99
    assert till.percentile(values, 0.50) == 50
    assert till.percentile([3], 0.99) == 3
