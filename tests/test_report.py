"""The HTML report's content: downsampling, monthly returns, self-containment, determinism.

(That it renders in a browser is tests/test_report_browser.py.)
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import omega
import pyarrow as pa
import pytest
from conftest import ZSCORE
from omega import htmlreport, results

CONFIG: dict[str, Any] = {
    "symbol": "EURUSD",
    "timeframe": "M1",
    "enabled_scenarios": [1, 2],
    "params": {"window_length": 60, "htf_tf": "NONE"},
}


def _result(equity: list[float], ts_us: list[int], market: pa.Table | None = None) -> omega.BacktestResult:
    empty = results.with_time_columns(results.records_to_table([]))
    return omega.BacktestResult(
        strategy="hand",
        backend="python",
        config={"symbol": "EURUSD", "timeframe": "M1", "engine": {"initial_balance": 100.0}},
        trades=empty,
        open_positions=empty,
        equity_curve=np.asarray(equity, dtype=np.float64),
        metrics={},
        bars_processed=len(equity),
        execution_time_ms=1.0,
        timestamps_us=np.asarray(ts_us, dtype=np.int64),
        market=market,
    )


def _us(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp()) * 1_000_000  # type: ignore[misc]


def test_monthly_returns_hand_computed() -> None:
    # month-end equity: Jan 110, Feb 99, Mar 99 → +10 % (from the balance 100), −10 %, 0 %
    ts = [_us(2024, 1, 5), _us(2024, 1, 31), _us(2024, 2, 10), _us(2024, 2, 29), _us(2024, 3, 1)]
    r = _result([105.0, 110.0, 120.0, 99.0, 99.0], ts)
    got = htmlreport.monthly_returns(r)
    assert list(got) == [2024]
    assert got[2024] == pytest.approx({1: 10.0, 2: -10.0, 3: 0.0})
    html = htmlreport._monthly_html(r)
    assert "+10.00%" in html
    assert "-10.00%" in html
    assert "-1.00%" in html  # the year: 1.1 * 0.9 * 1.0 − 1


def test_downsampling_aggregates_whole_bars_exactly() -> None:
    n = 10
    ts = [_us(2024, 1, 1) + i * 60_000_000 for i in range(n)]
    high = [1.0 + i / 100 for i in range(n)]
    low = [0.5 - i / 100 for i in range(n)]
    side = {"open": [1.0 + i for i in range(n)], "high": high, "low": low, "close": [2.0 + i for i in range(n)]}
    market = pa.table({"timestamp_us": ts, **{f"{s}_{k}": v for s in ("bid", "ask") for k, v in side.items()}})
    equity = [100.0, 99.0, 101.0, 98.0, 102.0, 103.0, 97.0, 100.0, 104.0, 105.0]
    r = _result(equity, ts, market)
    assert htmlreport.bucket_starts(10, 4).tolist() == [0, 3, 6, 9]  # ceil(10/4) = 3 bars per point
    data = htmlreport._chart_data(r, max_points=4)
    assert data["bars_per_point"] == 3
    assert data["t"] == [ts[0] // 1_000_000, ts[3] // 1_000_000, ts[6] // 1_000_000, ts[9] // 1_000_000]
    assert data["o"] == [1.0, 4.0, 7.0, 10.0]  # first open of each bucket
    assert data["c"] == [4.0, 7.0, 10.0, 11.0]  # last close
    assert data["h"] == [1.02, 1.05, 1.08, 1.09]  # highest high
    assert data["l"] == [0.48, 0.45, 0.42, 0.41]  # lowest low (the last bar of each bucket)
    assert data["equity"] == [101.0, 103.0, 104.0, 105.0]  # last value
    # deepest drawdown per bucket, high-water mark starting at the balance 100
    dd = r.drawdown()
    assert data["drawdown"] == pytest.approx([min(dd[0:3]), min(dd[3:6]), min(dd[6:9]), dd[9]], abs=1e-3)
    assert min(dd[6:9]) == pytest.approx((97.0 - 103.0) / 103.0 * 100)


@pytest.fixture(scope="module")
def run(zscore_plugin: str) -> omega.BacktestResult:
    return omega.run_backtest(ZSCORE, CONFIG, omega.data.generate_market(6_000, seed=3), backend="rust")


def test_report_is_self_contained_and_deterministic(run: omega.BacktestResult, tmp_path: Path) -> None:
    a = run.report(tmp_path / "a.html").read_text()
    b = omega.report(run, tmp_path / "b.html").read_text()
    assert a == b
    # nothing is fetched: no external scripts, styles, images or fonts
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", a)
    assert "@import" not in a
    assert "url(" not in a
    assert a.count("<script") == 3  # data, the vendored library, the page's own code
    assert "TradingView Lightweight Charts" in a  # the library's notice (Apache-2.0)
    data = json.loads(re.search(r'<script type="application/json" id="omega-data">(.*?)</script>', a, re.S)[1])  # type: ignore[index]
    assert len(data["t"]) == run.bars_processed  # 6000 bars < MAX_POINTS: no downsampling
    assert len(data["markers"]) == 2 * run.trades.num_rows
    for section in ("Statistics", "Monthly returns", "Config", "Trades", "Equity", "Drawdown"):
        assert section in a
    span = run.span()
    assert span is not None
    assert span[0].strftime("%Y-%m-%d %H:%M") in a
    assert "&quot;window_length&quot;: 60" in a  # the config, HTML-escaped


def test_repr_html_is_an_isolated_frame(run: omega.BacktestResult) -> None:
    html = run._repr_html_()
    assert html.startswith("<iframe srcdoc=")
    assert "<script" not in html  # escaped inside srcdoc
    assert run.summary()._repr_html_().startswith('<table class="omega-stats">')


def test_report_of_a_result_directory(run: omega.BacktestResult, tmp_path: Path) -> None:
    run.write(tmp_path / "res")
    path = omega.report(tmp_path / "res")
    assert path == tmp_path / "res" / "report.html"
    assert path.read_text() == run.report(tmp_path / "direct.html").read_text()


def test_vendored_library_ships_with_its_license() -> None:
    base = resources.files("omega").joinpath("_vendor", "lightweight-charts")
    js = base.joinpath("lightweight-charts.standalone.production.js").read_text()
    assert "TradingView Lightweight Charts" in js[:300]
    assert "v4.1.3" in js[:300]
    assert "Apache License" in base.joinpath("LICENSE").read_text()
    assert "TradingView" in base.joinpath("NOTICE").read_text()
