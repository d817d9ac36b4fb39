"""`omega.BacktestResult`: one class for both backends, tables with timestamps, files, pickling."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import omega
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import ZSCORE
from omega import results
from omega.reference.types import TradeResult

CONFIG: dict[str, Any] = {
    "symbol": "EURUSD",
    "timeframe": "M1",
    "enabled_scenarios": [1, 2],
    "params": {"z_score_long": -2.0, "z_score_short": 2.0, "window_length": 60, "htf_tf": "NONE"},
    "engine": {"risk_per_trade": 100.0, "costs": {"commission_per_lot": 3.0}},
}


@pytest.fixture(scope="module")
def candles() -> pa.Table:
    return omega.data.generate_market(8_000, seed=7)


@pytest.fixture(scope="module")
def runs(zscore_plugin: str, candles: pa.Table) -> dict[str, omega.BacktestResult]:
    return {b: omega.run_backtest(ZSCORE, CONFIG, candles, backend=b) for b in ("rust", "python")}


def test_both_backends_return_the_same_class(runs: dict[str, omega.BacktestResult]) -> None:
    for backend, r in runs.items():
        assert type(r) is omega.BacktestResult
        assert r.backend == backend
        assert r.strategy == ZSCORE
        assert r.config["params"]["window_length"] == 60
    rust, python = runs["rust"], runs["python"]
    assert rust.trades.schema.equals(python.trades.schema)
    assert rust.trades.equals(python.trades)  # parity holds through the new type
    assert rust.equity.equals(python.equity)
    assert rust.metrics == python.metrics


def test_trade_table_is_the_record_plus_timestamps(runs: dict[str, omega.BacktestResult], candles: pa.Table) -> None:
    r = runs["rust"]
    names = r.trades.column_names
    # docs/engine.md "Trade record", in order, then the derived time columns
    assert tuple(names[: len(results.TRADE_FIELDS)]) == results.TRADE_FIELDS
    assert names[len(results.TRADE_FIELDS) :] == ["entry_time", "exit_time"]
    assert r.trades.schema.field("entry_time").type == pa.timestamp("us", tz="UTC")
    ts = candles.column("timestamp_us").to_pylist()
    first = r.trades.slice(0, 1).to_pylist()[0]
    assert first["entry_time"] == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ts[first["entry_index"]])
    assert first["entry_time_us"] == ts[first["entry_index"]]
    assert r.trades is r.trades  # one table, built once, not a copy per access


def test_reference_record_fields_flow_through_generically() -> None:
    """A record's fields (whatever they are) become columns; known ones get their schema type."""
    fields = {f: None for f in results.TRADE_FIELDS}
    sample = TradeResult(**{**fields, "id": 1, "tags": ("a",), "scenario": None, "take_profit": None})  # type: ignore[arg-type]
    table = results.records_to_table([sample])
    assert tuple(table.column_names) == results.TRADE_FIELDS
    assert table.schema.field("tags").type == pa.list_(pa.utf8())
    as_dicts = results.records_to_table([{"id": 1, "pnl": 2.0, "new_field": "x"}])
    assert as_dicts.column_names == ["id", "pnl", "new_field"]
    assert as_dicts.schema.field("id").type == pa.int64()
    assert as_dicts.column("new_field").to_pylist() == ["x"]


def test_equity_table_has_timestamps(runs: dict[str, omega.BacktestResult], candles: pa.Table) -> None:
    r = runs["python"]
    eq = r.equity
    assert eq.column_names == ["timestamp", "equity"]
    assert eq.num_rows == candles.num_rows
    assert eq.column("timestamp").cast(pa.int64()).to_pylist() == candles.column("timestamp_us").to_pylist()
    assert np.array_equal(eq.column("equity").to_numpy(), r.equity_curve)


def test_metrics_counts_are_integers(runs: dict[str, omega.BacktestResult]) -> None:
    for r in runs.values():
        m = r.metrics
        for name in ("total_trades", "wins", "losses", "signals", "signals_rejected", "bars_processed"):
            assert type(m[name]) is int, name
        assert any(k.startswith("trades_scenario_") for k in m)
        for k, v in m.items():
            assert (type(v) is int) == results.is_count_metric(k) or v is None, k
        assert m["total_trades"] == r.trades.num_rows
        assert m["wins"] + m["losses"] <= m["total_trades"]
        assert isinstance(m["net_profit"], float)


def test_pickle_round_trip(runs: dict[str, omega.BacktestResult]) -> None:
    r = runs["rust"]
    back = pickle.loads(pickle.dumps(r))
    _assert_same(back, r)


def _assert_same(a: omega.BacktestResult, b: omega.BacktestResult) -> None:
    assert a.trades.equals(b.trades)
    assert a.open_positions.equals(b.open_positions)
    assert a.equity.equals(b.equity)
    assert a.equity_curve.tobytes() == b.equity_curve.tobytes()
    assert a.metrics == b.metrics
    assert (a.strategy, a.backend, a.config, a.bars_processed) == (b.strategy, b.backend, b.config, b.bars_processed)
    assert a.market is not None
    assert b.market is not None
    assert a.market.equals(b.market)


def test_write_and_read_back(runs: dict[str, omega.BacktestResult], tmp_path: Path) -> None:
    r = runs["python"]
    out = r.write(tmp_path / "res")
    assert sorted(p.name for p in out.iterdir()) == [
        "equity.parquet",
        "market.parquet",
        "open_positions.parquet",
        "result.json",
        "trades.csv",
        "trades.parquet",
    ]
    back = omega.read_result(out)
    _assert_same(back, r)
    assert back.summary() == r.summary()
    assert pq.read_table(out / "trades.parquet").equals(r.trades)


def test_read_result_rejects_other_directories(tmp_path: Path) -> None:
    with pytest.raises(omega.InsufficientDataError, match=r"no result\.json"):
        omega.read_result(tmp_path)
    (tmp_path / "result.json").write_text('{"format_version": 99}')
    with pytest.raises(omega.InsufficientDataError, match="format 99"):
        omega.read_result(tmp_path)
    (tmp_path / "result.json").write_text('{"format_version": 1, "strategy": "x"}')
    with pytest.raises(omega.InsufficientDataError, match="unreadable"):
        omega.read_result(tmp_path)


def test_to_pandas(runs: dict[str, omega.BacktestResult]) -> None:
    frames = runs["rust"].to_pandas()
    assert list(frames) == ["trades", "open_positions", "equity"]
    assert len(frames["trades"]) == runs["rust"].trades.num_rows
    assert str(frames["equity"]["timestamp"].dtype).startswith("datetime64[us, UTC]")


def _hand_result(equity: list[float], pnl: list[float], balance: float = 1_000.0) -> omega.BacktestResult:
    """A result built by hand: M1 bars from 2024-01-01 00:00 UTC, one trade per pnl value."""
    n = len(equity)
    start = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)
    ts = np.arange(n, dtype=np.int64) * 60_000_000 + start
    rows = [
        {f: None for f in results.TRADE_FIELDS}
        | {"id": i + 1, "pnl": p, "bars_held": i + 2, "entry_time_us": int(ts[0]), "exit_time_us": int(ts[1])}
        for i, p in enumerate(pnl)
    ]
    trades = results.with_time_columns(results.records_to_table(rows))
    metrics = {"total_trades": float(len(pnl)), "final_equity": equity[-1], "win_rate": 0.5, "exposure": 0.25}
    return omega.BacktestResult(
        strategy="hand",
        backend="python",
        config={"symbol": "EURUSD", "timeframe": "M1", "engine": {"initial_balance": balance}},
        trades=trades,
        open_positions=trades.slice(0, 0),
        equity_curve=np.asarray(equity, dtype=np.float64),
        metrics={k: results._metric_value(k, v) for k, v in metrics.items()},
        bars_processed=n,
        execution_time_ms=1.0,
        timestamps_us=ts,
    )


def test_summary_hand_computed() -> None:
    r = _hand_result([1_000.0, 1_100.0, 990.0, 1_050.0], pnl=[100.0, -110.0, 60.0])
    s = r.summary()
    assert s["Start"] == datetime(2024, 1, 1, tzinfo=UTC)
    assert s["End"] == datetime(2024, 1, 1, 0, 4, tzinfo=UTC)  # close of the 4th M1 bar
    assert s["Duration"] == timedelta(minutes=4)
    assert s["Bars"] == 4
    assert s["# Trades"] == 3
    assert s["Exposure Time [%]"] == pytest.approx(25.0)
    assert s["Win Rate [%]"] == pytest.approx(50.0)
    assert s["Equity Peak [USD]"] == 1_100.0
    assert s["Best Trade [USD]"] == 100.0
    assert s["Worst Trade [USD]"] == -110.0
    assert s["Avg. Trade Duration [bars]"] == pytest.approx(3.0)  # bars_held 2, 3, 4
    assert s["Max. Trade Duration [bars]"] == 4
    # drawdown from the high-water mark 1100: (990 - 1100) / 1100
    assert r.drawdown().tolist() == pytest.approx([0.0, 0.0, -10.0, -100 * 50 / 1100])
    text = str(s)
    assert "# Trades" in text
    assert "1,100.00" in text
    assert "<table" in s._repr_html_()
    series = s.to_pandas()
    assert series["# Trades"] == 3


def test_summary_without_trades_or_timestamps() -> None:
    r = _hand_result([1_000.0, 1_000.0], pnl=[])
    r.timestamps_us = None
    s = r.summary()
    assert s["Start"] is None
    assert s["Best Trade [USD]"] is None
    assert r.equity.column("timestamp").null_count == 2
