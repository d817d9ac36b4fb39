"""`omega.walk_forward` (docs/sweeps.md "Walk-forward"): window planning, the choice per window,
and out-of-sample runs whose warm-up makes the test span trade as if the run had been going on."""

from __future__ import annotations

from typing import Any

import numpy as np
import omega
import pyarrow as pa
import pytest
from omega.errors import InsufficientDataError, InvalidConfigError
from omega.walk_forward import parse_span, plan_windows

SMA_BASE: dict[str, Any] = {"symbol": "EURUSD", "timeframe": "M1", "params": {"fast": 5, "slow": 20}}
GRID: dict[str, list[Any]] = {"params.fast": [3, 5, 8], "params.slow": [20, 30]}
MINUTE = 60_000_000


def test_spans_parse() -> None:
    assert parse_span(500, "train") == ("bars", 500)
    assert parse_span("90D", "train") == ("us", 90 * 86_400_000_000)
    assert parse_span("12h", "test") == ("us", 12 * 3_600_000_000)
    assert parse_span("30min", "step") == ("us", 30 * MINUTE)
    for bad in (0, "ten days", "3 parsecs", True):
        with pytest.raises(InvalidConfigError):
            parse_span(bad, "train")  # type: ignore[arg-type]


def test_windows_by_bars_and_by_time() -> None:
    ts = np.arange(10_000, dtype=np.int64) * MINUTE
    ws = plan_windows(ts, 4_000, 2_000, None, False)
    assert [(w.train, w.test) for w in ws] == [
        ((0, 4_000), (4_000, 6_000)),
        ((2_000, 6_000), (6_000, 8_000)),
        ((4_000, 8_000), (8_000, 10_000)),
    ]
    anchored = plan_windows(ts, 4_000, 3_000, 3_000, True)
    assert [(w.train, w.test) for w in anchored] == [((0, 4_000), (4_000, 7_000)), ((0, 7_000), (7_000, 10_000))]
    # durations follow the clock: bars at minutes 0..999, then a gap, then minutes 2000..3999
    gappy = np.concatenate([np.arange(1_000), np.arange(2_000, 4_000)]).astype(np.int64) * MINUTE
    ws = plan_windows(gappy, "1000min", "500min", None, False)
    spans = [(w.train, w.test) for w in ws]
    # clock windows (minutes) 0-1000 + 1000-1500 and 500-1500 + 1500-2000 test inside the gap, and
    # 1000-2000 trains inside it: skipped. 1500-2500 + 2500-3000 is the first, then 2000-3000 + …
    assert spans[0] == ((1_000, 1_500), (1_500, 2_000))
    assert spans[1] == ((1_000, 2_000), (2_000, 2_500))
    assert all(a < b < d for (a, b), (_, d) in spans)
    with pytest.raises(InvalidConfigError):
        plan_windows(ts, 4_000, "1D", None, False)
    with pytest.raises(InsufficientDataError):
        plan_windows(ts[:100], 80, 50, None, False)


def test_walk_forward_chooses_the_best_and_warms_up(sma_plugin: str, market: pa.Table) -> None:
    wf = omega.walk_forward(sma_plugin, SMA_BASE, GRID, market, train=2_000, test=1_000, backend="rust", progress=False)
    assert wf.windows.num_rows == 4
    rows = wf.windows.to_pylist()
    for k, row in enumerate(rows):
        a, c = k * 1_000, 2_000 + k * 1_000
        assert (row["train_bars"], row["test_bars"]) == (2_000, 1_000)
        ts = market.column("timestamp_us")
        assert (row["train_start_us"], row["test_start_us"]) == (ts[a].as_py(), ts[c].as_py())
        # the chosen config is the training sweep's best
        sweep = omega.sweep(sma_plugin, SMA_BASE, GRID, market.slice(a, 2_000), backend="rust", progress=False)
        assert row["is_net_profit"] == max(sweep.table.column("net_profit").to_pylist())
        assert wf.configs[k]["params"] == {"fast": row["params.fast"], "slow": row["params.slow"]}
        # warm-up: the SMA strategy's memory (≤ 30 bars) is inside the training span, so the test
        # span trades exactly like a run over the whole market entering only from the test span on;
        # compare the trades that close before the window's forced end-of-data close
        full_cfg = {**wf.configs[k], "engine": {**wf.configs[k]["engine"], "start_time_us": ts[c].as_py()}}
        full = omega.run_backtest(sma_plugin, full_cfg, market, backend="rust")
        end = c + 1_000 - 1
        expected = [
            (t["entry_index"] - a, t["exit_index"] - a, t["pnl"])
            for t in full.trades.to_pylist()
            if c <= t["entry_index"] and t["exit_index"] < end
        ]
        mine = wf.trades.filter(pa.compute.equal(wf.trades.column("window"), k)).to_pylist()
        got = [(t["entry_index"], t["exit_index"], t["pnl"]) for t in mine if t["exit_index"] < end - a]
        assert got, f"window {k} has no out-of-sample trade"
        assert got == expected
        assert row["oos_total_trades"] == len(mine)
    # stitched equity: one point per test bar, each window continuing from the previous end
    assert wf.equity.num_rows == 4_000
    eq = wf.equity.column("equity").to_pylist()
    total = sum(r["oos_net_profit"] for r in rows)
    assert eq[-1] == pytest.approx(100_000.0 + total, rel=1e-12)
    assert wf.equity.column("window").to_pylist() == [k for k in range(4) for _ in range(1_000)]


def test_walk_forward_by_duration(sma_plugin: str, market: pa.Table) -> None:
    wf = omega.walk_forward(sma_plugin, SMA_BASE, GRID, market, train="2000min", test="1000min", progress=False)
    ts = market.column("timestamp_us").to_numpy()
    expected = plan_windows(ts, "2000min", "1000min", None, False)
    assert wf.windows.num_rows == len(expected) >= 1
    assert wf.windows.column("test_bars").to_pylist() == [w.test[1] - w.test[0] for w in expected]
