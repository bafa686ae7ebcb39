"""The catalog-sync benchmark's code path at a tiny size: correctness only, never timing."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import catalog_hub, catalog_sync, feed_client, run

PRODUCTS = 500


@pytest.fixture(scope="module")
def measured() -> catalog_sync.Measured:
    return catalog_sync.measure(PRODUCTS, repeats=1, delta_repeats=2, changes=100)


def test_the_full_feed_delivers_every_product_exactly_once(
    measured: catalog_sync.Measured,
) -> None:
    for pulled in (*measured.full, *measured.full_max_page):
        assert sorted(pulled.product_ids) == list(range(1, PRODUCTS + 1))
        assert pulled.cashiers == 3
        assert pulled.categories > 0
    assert measured.client_rss["products"] == PRODUCTS


def test_the_delta_holds_exactly_the_changed_products(measured: catalog_sync.Measured) -> None:
    assert len(measured.changed) == 100
    for pulled in measured.delta:
        assert sorted(pulled.product_ids) == sorted(measured.changed)
        assert pulled.pages == 1


def test_polls_after_the_delta_answer_not_modified(measured: catalog_sync.Measured) -> None:
    assert measured.poll_statuses == {304}
    assert measured.first_poll_status == 304


def test_small_pages_follow_the_cursor_without_gaps_or_repeats(tmp_path: Path) -> None:
    hub = catalog_hub.build_hub(tmp_path, 230)
    with (
        catalog_hub.serve(hub) as base_url,
        feed_client.till_client(base_url, hub.token) as client,
    ):
        pulled = feed_client.fetch(client, limit=37)
    assert pulled.pages > 230 // 37
    assert sorted(pulled.product_ids) == hub.product_ids


def test_the_report_renders_a_verdict_table(measured: catalog_sync.Measured) -> None:
    report = catalog_sync.report(measured)
    assert [m.verdict for m in report.metrics[:2]] in (
        ["pass", "pass"],
        ["pass", "FAIL"],
        ["FAIL", "pass"],
        ["FAIL", "FAIL"],
    )
    text = run.render([(report, 1.0)], run.machine())
    assert "| metric | goal | measured | baseline | verdict |" in text
    assert "## Machine" in text
    assert "SQLite" in text
    assert "catalog_sync" in run.modules()
    assert not {"catalog_hub", "feed_client"} & set(run.modules())
