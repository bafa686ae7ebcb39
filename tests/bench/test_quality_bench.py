"""The quality-gate and report benchmark's code path at a tiny size (SQLite only): on the clean
generated hub every gate publishes, its figures equal the hand-written baseline's and the
generator's, the reports are published whole, and the report states its goals. Never timing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from bench import quality, run
from bench import warehouse_hub as wh

# No never-received products: at ~45 lines per store and day one line without a cost is already
# more than the 1 % of a day's revenue the cost-coverage check allows (at 10M lines the
# generator's 0.5 % of such products stay under it).
SHAPE = wh.Shape(
    lines=20_000, increment_lines=2_500, products=300, suppliers=6, unsupplied_share=0.0
)


@pytest.fixture(scope="module")
def kept(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("quality_bench")


@pytest.fixture(scope="module")
def measured(kept: Path) -> quality.Measured:
    return quality.measure(shape=SHAPE, isolate=False, keep=kept)


def test_every_gate_publishes_on_the_clean_hub(measured: quality.Measured) -> None:
    for name, gate in measured.gates.items():
        failed = [c["id"] for c in gate.verdict["checks"] if not c["passed"]]
        blocking = [c["id"] for c in quality._failed(gate, "blocking")]
        assert gate.verdict["verdict"] == "published", (name, failed)
        assert blocking == [], name
    assert {name: (g.start, g.end) for name, g in measured.gates.items()} == {
        "weekly": (dt.date(2026, 11, 16), dt.date(2026, 11, 22)),
        "daily": (SHAPE.as_of, SHAPE.as_of),
        "history": (SHAPE.first_day, SHAPE.as_of),
    }
    assert measured.gates["daily"].warm_seconds > 0
    assert quality.GX_VALIDATION in measured.gates["daily"].parts
    # Every DuckDB query of the gate is named by the check it serves (the breakdown's names).
    names = {name for _key, name in quality.QUERIES}
    assert set(measured.gates["daily"].queries) == names


def test_the_gate_figures_equal_the_baseline_and_the_generator(
    measured: quality.Measured,
) -> None:
    assert measured.agreement == {name: [] for name in measured.agreement}
    assert set(measured.compared) == {
        "daily gate = hand-written baseline",
        "weekly gate = hand-written baseline",
        "history gate = hand-written baseline",
        "whole-history gate = generator",
    }
    for name, baseline in measured.baselines.items():  # the baseline computes every check
        checks = {key.rsplit(".", 1)[0] for key in baseline.figures}
        assert {c["id"] for c in measured.gates[name].verdict["checks"]} == checks
        assert measured.compared[f"{name} gate = hand-written baseline"] == len(baseline.figures)
    history = quality.gate_figures(measured.gates["history"].verdict)
    assert history["consistency.quantities.lines"] == SHAPE.lines
    assert history["reconciliation.store_day.hub_sales"] == measured.built.base.sales


def test_the_reports_are_published_whole_and_mailed_in_both_languages(
    measured: quality.Measured,
) -> None:
    for name, rendered in measured.renders.items():
        assert rendered.error == "", name
        assert quality._expected_files(rendered) == [], name
        assert rendered.seconds > 0
        assert {quality.GATHER, quality.CHARTS, quality.CSV, quality.HTML, quality.PARQUET} <= set(
            rendered.parts
        )
        assert set(rendered.email) == set(quality.LANGUAGES)
        assert all(size > 0 for size in rendered.email_bytes.values())
    assert measured.renders["weekly"].rows["ABC/XYZ"] > 0
    assert measured.renders["daily"].rows["ABC/XYZ"] == 0


def test_the_report_states_every_goal_and_is_found_by_the_runner(
    measured: quality.Measured,
) -> None:
    report = quality.report(measured)
    goals = [m.goal for m in report.metrics if m.verdict != "info"]
    assert goals == ["≤ 15 s", "≤ 10 s", "≤ 10 s", "published", "equal", "complete"]
    assert report.passed
    text = run.render([(report, 1.0)], run.machine())
    assert "## Quality gate and owner report over 20,000 sale lines" in text
    assert "hand-written DuckDB" in text
    assert "quality" in run.modules()


def test_a_withheld_gate_a_disagreement_or_a_missing_file_is_a_failure(
    measured: quality.Measured,
) -> None:
    daily = measured.gates["daily"]
    checks = [dict(c) for c in daily.verdict["checks"]]
    checks[0]["passed"] = False
    withheld = dataclasses.replace(
        daily, verdict={**daily.verdict, "verdict": "withheld", "checks": checks}
    )
    baseline = measured.baselines["weekly"]
    figures = dict(baseline.figures)
    figures["reconciliation.store_day.hub_revenue_minor"] += 1
    weekly = measured.renders["weekly"]
    files = {k: v for k, v in weekly.files.items() if k != "marts.parquet"}
    broken = dataclasses.replace(
        measured,
        gates={**measured.gates, "daily": withheld},
        baselines={**measured.baselines, "weekly": dataclasses.replace(baseline, figures=figures)},
        renders={**measured.renders, "weekly": dataclasses.replace(weekly, files=files)},
        agreement={},
        compared={},
    )
    quality._compare(broken)
    report = quality.report(broken)
    verdicts = {m.goal: m for m in report.metrics if m.verdict != "info"}
    assert verdicts["published"].verdict == "FAIL"
    assert "daily withheld" in verdicts["published"].measured
    assert verdicts["equal"].verdict == "FAIL"
    (problem,) = broken.agreement["weekly gate = hand-written baseline"]
    assert problem.startswith("reconciliation.store_day.hub_revenue_minor:")
    assert verdicts["complete"].verdict == "FAIL"
    assert "marts.parquet" in verdicts["complete"].measured
    assert not report.passed


def test_the_hub_holds_the_tills_journal_heads_and_no_over_return(
    measured: quality.Measured,
) -> None:
    with sqlite3.connect(measured.built.path) as con:
        heads = con.execute(
            "SELECT d.id, d.journal_sale_seq, t.max_sale_seq, d.journal_shift_seq, "
            "t.max_shift_seq, d.journal_reported_at >= t.last_contact_at, "
            "d.journal_reported_at >= (SELECT max(closed_at) FROM shift h WHERE h.device_id = d.id) "
            "FROM device d JOIN till_state t ON t.device_id = d.id"
        ).fetchall()
        over = con.execute(
            "SELECT count(*) FROM (SELECT r.original_sale_id, rl.product_id, sum(rl.qty_milli) q "
            "FROM sale r JOIN sale_line rl ON rl.sale_id = r.id WHERE r.kind = 'return' "
            "GROUP BY 1, 2) r JOIN (SELECT sale_id, product_id, sum(qty_milli) q FROM sale_line "
            "GROUP BY 1, 2) s ON s.sale_id = r.original_sale_id AND s.product_id IS r.product_id "
            "WHERE r.q > s.q"
        ).fetchone()[0]
    assert len(heads) == SHAPE.tills_per_store * 5 + 1
    assert all(row[1] == row[2] and row[3] == row[4] and row[5] and row[6] for row in heads)
    assert over == 0


def test_a_kept_hub_is_reused_only_for_the_same_shape(
    measured: quality.Measured, kept: Path
) -> None:
    again = quality._kept_hub(kept / "hub", SHAPE)
    assert again is not None and again.base == measured.built.base
    assert quality._kept_hub(kept / "hub", dataclasses.replace(SHAPE, seed=1)) is None


def test_timed_parts_adds_up_and_puts_the_originals_back() -> None:
    class Thing:
        def work(self) -> int:
            return 1

    original = Thing.__dict__["work"]
    with quality.timed_parts([(Thing, "work", "work"), (Thing, "absent", "x")]) as parts:
        assert Thing().work() + Thing().work() == 2
    assert set(parts) == {"work"} and parts["work"] >= 0
    assert Thing.__dict__["work"] is original


def test_the_scale_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(quality.LINES_ENV, "1000000")
    assert quality.shape_for(quality.default_lines()).lines == 1_000_000
    assert quality.last_sunday(dt.date(2026, 11, 26)) == dt.date(2026, 11, 22)  # a Thursday
    assert quality.last_sunday(dt.date(2026, 11, 22)) == dt.date(2026, 11, 22)
