"""`omega.sweep` (docs/sweeps.md): grid expansion, up-front validation, rows equal to single runs,
one native call, parity of both backends, trades, pickling, progress and Ctrl-C."""

from __future__ import annotations

import _thread
import math
import pickle
import threading
from types import ModuleType
from typing import Any

import omega
import pyarrow as pa
import pytest
from omega import sweeps
from omega.errors import InvalidConfigError
from omega.sweeps import COUNT_METRICS, apply_partial, expand_grid

SMA_BASE: dict[str, Any] = {"symbol": "EURUSD", "timeframe": "M1", "params": {"fast": 5, "slow": 20}}
SMA_GRID: dict[str, list[Any]] = {"params.fast": [3, 5, 8], "params.slow": [20, 40]}
MRZ_BASE: dict[str, Any] = {
    "symbol": "EURUSD",
    "timeframe": "M1",
    "enabled_scenarios": [1],
    "params": {"window_length": 40, "htf_tf": "NONE", "z_score_long": -1.5, "z_score_short": 1.5},
    "engine": {"costs": {"commission_per_lot": 3.0, "slippage_fixed_pips": 0.2, "slippage_random_pips": 0.3}},
}
MRZ_GRID: dict[str, list[Any]] = {"params.z_score_long": [-1.5, -2.0], "params.window_length": [30, 40, 60]}


def _metric_rows(table: pa.Table) -> list[dict[str, Any]]:
    return table.to_pylist()


def test_grid_is_the_cartesian_product_last_key_fastest() -> None:
    keys, partials = expand_grid({"a.x": [1, 2], "b": ["p", "q", "r"]})
    assert keys == ["a.x", "b"]
    assert [(p["a.x"], p["b"]) for p in partials] == [(1, "p"), (1, "q"), (1, "r"), (2, "p"), (2, "q"), (2, "r")]
    keys, partials = expand_grid([{"params": {"fast": 3}}, {"params.slow": 9, "engine": {"seed": 1}}])
    assert keys == ["params.fast", "params.slow", "engine.seed"]
    assert partials == [{"params.fast": 3}, {"params.slow": 9, "engine.seed": 1}]
    assert apply_partial({"params": {"fast": 1, "slow": 2}}, {"params.fast": 3, "engine.seed": 4}) == {
        "params": {"fast": 3, "slow": 2},
        "engine": {"seed": 4},
    }
    with pytest.raises(InvalidConfigError):
        expand_grid({"params.fast": []})
    with pytest.raises(InvalidConfigError):
        expand_grid({"params.fast": 3})  # type: ignore[dict-item]


def test_a_bad_config_is_named_before_anything_runs(native: ModuleType, sma_plugin: str, market: pa.Table) -> None:
    calls = native.native_call_count()
    with pytest.raises(InvalidConfigError) as e:
        omega.sweep(sma_plugin, SMA_BASE, {"params.fast": [3, 5], "params.bogus": [1]}, market, progress=False)
    assert e.value.code == "E4002"
    assert e.value.context["config_index"] == 0
    assert e.value.context["key"] == "params.bogus"
    with pytest.raises(InvalidConfigError) as e:
        omega.sweep(sma_plugin, SMA_BASE, [{"params.fast": 3}, {"engine.risk_per_trade": -1.0}], market, progress=False)
    assert e.value.context["config_index"] == 1
    assert e.value.context["key"] == "engine.risk_per_trade"
    with pytest.raises(InvalidConfigError) as e:
        omega.sweep(sma_plugin, SMA_BASE, {"timeframe": ["M1", "M5"]}, market, progress=False)
    assert (e.value.context["config_index"], e.value.context["key"]) == (1, "timeframe")
    assert native.native_call_count() == calls


def test_rows_equal_single_runs_in_one_native_call(native: ModuleType, sma_plugin: str, market: pa.Table) -> None:
    calls = native.native_call_count()
    res = omega.sweep(sma_plugin, SMA_BASE, SMA_GRID, market, backend="rust", keep="trades", progress=False, n_jobs=2)
    assert native.native_call_count() == calls + 1
    assert res.table.num_rows == 6
    assert res.table.column_names[:3] == ["config_id", "params.fast", "params.slow"]
    assert res.table.column("params.fast").to_pylist() == [3, 3, 5, 5, 8, 8]
    assert res.trades is not None
    for i, row in enumerate(res.table.to_pylist()):
        cfg = res.config(i)
        assert cfg["params"] == {"fast": row["params.fast"], "slow": row["params.slow"]}
        single = omega.run_backtest(sma_plugin, cfg, market, backend="rust")
        assert single.trades, "each config must trade, or the comparison proves nothing"
        for name, value in single.metrics.items():
            assert row[name] == value, (i, name)
        mine = res.trades.filter(pa.compute.equal(res.trades.column("config_id"), i)).drop_columns(["config_id"])
        assert mine.equals(omega.results.trades_to_table(single))
    # counts are integers, everything else float
    for name in res.table.column_names[3:]:
        kind = res.table.schema.field(name).type
        assert kind == (pa.int64() if name in COUNT_METRICS or name.startswith("trades_scenario_") else pa.float64())


def test_stats_show_each_series_computed_once(sma_plugin: str, market: pa.Table) -> None:
    res = omega.sweep(sma_plugin, SMA_BASE, SMA_GRID, market, backend="rust", progress=False)
    # fast ∈ {3, 5, 8}, slow ∈ {20, 40}: five distinct SMA series, each computed once
    assert res.stats["distinct_series"] == res.stats["computations"]
    assert res.stats["evictions"] == 0


@pytest.mark.parity
@pytest.mark.parametrize("which", ["sma", "mrz"])
def test_sweep_parity(which: str, sma_plugin: str, zscore_plugin: str, market: pa.Table) -> None:
    name, base, grid = (sma_plugin, SMA_BASE, SMA_GRID) if which == "sma" else (zscore_plugin, MRZ_BASE, MRZ_GRID)
    rust = omega.sweep(name, base, grid, market, backend="rust", keep="trades", progress=False)
    ref = omega.sweep(name, base, grid, market, backend="python", keep="trades", progress=False)
    assert rust.trades is not None
    assert ref.trades is not None
    assert rust.trades.num_rows > 0
    assert rust.table.equals(ref.table), (_metric_rows(rust.table), _metric_rows(ref.table))
    assert rust.trades.equals(ref.trades)


def test_best_config_and_run(sma_plugin: str, market: pa.Table) -> None:
    res = omega.sweep(sma_plugin, SMA_BASE, SMA_GRID, market, backend="rust", progress=False)
    profits = res.table.column("net_profit").to_pylist()
    top = res.best("net_profit", n=2)
    assert top.column("net_profit").to_pylist() == sorted(profits, reverse=True)[:2]
    low = res.best("max_drawdown", minimize=True)
    assert low.column("max_drawdown").to_pylist() == [min(res.table.column("max_drawdown").to_pylist())]
    i = top.column("config_id")[0].as_py()
    full = res.run(i)
    assert full.metrics["net_profit"] == profits[i]
    assert len(full.equity_curve) == market.num_rows
    with pytest.raises(InvalidConfigError):
        res.best("no_such_metric")


def test_sweep_result_pickles(sma_plugin: str, market: pa.Table) -> None:
    res = omega.sweep(sma_plugin, SMA_BASE, SMA_GRID, market, backend="rust", keep="trades", progress=False)
    back = pickle.loads(pickle.dumps(res))
    assert back.table.equals(res.table)
    assert back.trades is not None
    assert res.trades is not None
    assert back.trades.equals(res.trades)
    assert back.config(4) == res.config(4)
    with pytest.raises(InvalidConfigError):
        back.run(0)  # candles are not pickled
    assert back.run(0, market).metrics == res.run(0).metrics


def test_shared_indicator_cache_as_market(native: ModuleType, sma_plugin: str, market: pa.Table) -> None:
    cache = native.IndicatorCache(market, timeframe="M1", symbol="EURUSD")
    a = omega.sweep(sma_plugin, SMA_BASE, SMA_GRID, cache, backend="rust", progress=False)
    b = omega.sweep(sma_plugin, SMA_BASE, SMA_GRID, market, backend="rust", progress=False)
    assert a.table.equals(b.table)


def test_progress_bar_counts_configs(sma_plugin: str, market: pa.Table, capsys: pytest.CaptureFixture[str]) -> None:
    omega.sweep(sma_plugin, SMA_BASE, SMA_GRID, market, backend="rust", progress=True)
    err = capsys.readouterr().err
    assert "6/6" in err
    assert "config" in err
    omega.sweep(sma_plugin, SMA_BASE, SMA_GRID, market, backend="rust", progress=False)
    assert capsys.readouterr().err == ""


def test_ctrl_c_cancels_and_the_process_stays_usable(sma_plugin: str) -> None:
    big = omega.data.generate_market(200_000, seed=5)
    grid = {"params.fast": list(range(2, 42)), "params.slow": [50, 60, 70, 80, 90]}  # 200 configs
    started = threading.Event()

    def interrupt() -> None:
        started.wait(10)
        _thread.interrupt_main()  # what Ctrl-C does: KeyboardInterrupt in the main thread

    seen: dict[str, Any] = {}
    killer = threading.Thread(target=interrupt, daemon=True)
    killer.start()
    original = sweeps._Progress.to

    def to(self: Any, done: int) -> None:
        started.set()
        seen["done"] = done
        original(self, done)

    sweeps._Progress.to = to  # type: ignore[method-assign]
    try:
        with pytest.raises(KeyboardInterrupt):
            omega.sweep(sma_plugin, SMA_BASE, grid, big, backend="rust", progress=False, n_jobs=2)
    finally:
        sweeps._Progress.to = original  # type: ignore[method-assign]
    killer.join(5)
    # the last report comes after the native sweep stopped: it did not run to the end
    assert seen["done"] < 200, "the sweep ran to the end: the cancel was not honoured"
    # the process is usable: the next sweep runs normally
    res = omega.sweep(
        sma_plugin, SMA_BASE, {"params.fast": [3, 5]}, big.slice(0, 5_000), backend="rust", progress=False
    )
    assert res.table.num_rows == 2
    assert all(not math.isnan(v) for v in res.table.column("net_profit").to_pylist())
