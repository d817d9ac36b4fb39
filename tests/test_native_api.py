"""The native module's Python surface (`omega._native`, stubs in `_native.pyi`): `StrategyConfig`
against the pydantic mirror, result shapes and tables, determinism, the `IndicatorCache`,
versions, and that every native export is stubbed and surfaced by `omega` or deliberately private."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import omega
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from omega import bridge, config, errors, results
from pydantic import BaseModel

STUB = Path(omega.__file__).with_name("_native.pyi")


# --- config -----------------------------------------------------------------------------------


def test_strategy_config_defaults_and_json(native: ModuleType) -> None:
    cfg = native.StrategyConfig("EURUSD", "M1")
    assert cfg.enabled_scenarios == [1, 2, 3, 4, 5, 6]
    assert cfg.direction_filter == "both"
    assert cfg.params == {}
    again = native.StrategyConfig.from_json(cfg.to_json())
    assert again == cfg
    assert json.loads(cfg.to_json()) == cfg.to_dict()
    full = native.StrategyConfig(
        "USDJPY", "H1", [1, 3], "long", {"fast": 3, "nested": {"a": [1, 2]}}, {"seed": 7, "sizing": "fixed"}
    )
    assert full.params == {"fast": 3, "nested": {"a": [1, 2]}}
    assert full.engine["seed"] == 7
    assert full.engine["sizing"] == "fixed"
    assert "USDJPY" in repr(full)


def test_engine_defaults_mirror_pydantic(native: ModuleType) -> None:
    """`omega.EngineSettings` has the Rust `EngineConfig`'s keys and defaults, exactly."""
    assert native.StrategyConfig("EURUSD", "M1").engine == config.EngineSettings().model_dump(mode="json")
    py = omega.BacktestConfig(symbol="EURUSD", timeframe="m5", params={"x": 1.5})
    rust = native.StrategyConfig.from_json(py.to_json())
    assert json.loads(rust.to_json()) == py.to_dict()
    assert rust.timeframe == "M5"
    # every value the pydantic model accepts for an enumerated key, Rust accepts under the same spelling
    for key, values in (("sizing", ("risk", "fixed")), ("htf_anchor", ("utc", "new_york_1700"))):
        for value in values:
            engine = config.EngineSettings.model_validate({key: value}).model_dump(mode="json")
            assert native.StrategyConfig("EURUSD", "M1", engine=engine).engine[key] == value
    assert native.IndicatorCache(omega.data.generate_market(10, 1), htf_anchor="new_york_1700").htf_anchor == (
        "new_york_1700"
    )


@pytest.mark.parametrize(
    "engine",
    [
        {"sessions": [["9:05", "10:00"]]},
        {"sessions": [["9:5", "10:00"]]},
        {"sessions": [["24:00", "01:00"]]},
        {"sessions": [["０9:00", "10:00"]]},
        {"symbol_spec": {"max_lot": 0.001}},
        {"symbol_spec": {"pip_size": 0.0}},
        {"risk_per_trade": 0},
        {"costs": {"slippage_fixed_pips": -0.1}},
        {"seed": -1},
        {"seed": 2**64 - 1},
        {"max_open_positions": 0},
        {"cooldown_candles": 3, "cooldown_minutes": 1.5},
        {"start_time_us": -5},
        {"sizing": "Fixed"},
        {"htf_anchor": "new_york1700"},
        {"stop_out_level": -0.5},
        {"stop_out_level": 0.0, "swaps": False, "margin": False},
        {"symbol_spec": {"margin_rate": 1.5}},
    ],
)
def test_engine_validation_mirrors_rust(native: ModuleType, engine: dict[str, Any]) -> None:
    """The pydantic `EngineSettings` accepts exactly what the Rust `EngineConfig` accepts."""
    try:
        config.EngineSettings.model_validate(engine)
        python_ok = True
    except ValueError:
        python_ok = False
    try:
        native.StrategyConfig("EURUSD", "M1", engine=engine)
        rust_ok = True
    except errors.InvalidConfigError:
        rust_ok = False
    assert python_ok == rust_ok, f"python accepts: {python_ok}, rust accepts: {rust_ok}"


def test_strategy_config_setters_validate(native: ModuleType) -> None:
    cfg = native.StrategyConfig("EURUSD", "M1")
    cfg.symbol = "GBPUSD"
    cfg.params = {"fast": 4}
    cfg.engine = {"max_open_positions": 2}
    assert (cfg.symbol, cfg.params, cfg.engine["max_open_positions"]) == ("GBPUSD", {"fast": 4}, 2)
    for attr, value, key in [
        ("timeframe", "W1", "timeframe"),
        ("direction_filter", "sideways", "direction_filter"),
        ("symbol", "  ", "symbol"),
        ("engine", {"max_open_positions": 0}, "engine.max_open_positions"),
        ("engine", {"bogus": 1}, "bogus"),
        ("params", {"x": float("nan")}, "params"),
    ]:
        with pytest.raises(errors.InvalidConfigError, match="E4002") as info:
            setattr(cfg, attr, value)
        assert key in str(info.value), attr
    assert cfg.timeframe == "M1"
    assert cfg.symbol == "GBPUSD"
    with pytest.raises(errors.InvalidConfigError):
        native.StrategyConfig("EURUSD", "M1", direction_filter="up")
    with pytest.raises(errors.InvalidConfigError, match="JSON"):
        native.StrategyConfig.from_json("{not json")


@pytest.mark.parametrize(
    ("cfg", "key"),
    [
        ({"symbol": "EURUSD", "timeframe": "M1", "bogus": 1}, "bogus"),
        ({"symbol": "EURUSD", "timeframe": "M1", "engine": {"risk_per_trade": -1}}, "engine.risk_per_trade"),
        ({"symbol": "EURUSD", "timeframe": "M1", "engine": {"costs": {"oops": 1}}}, "engine.costs.oops"),
        ({"symbol": "EURUSD", "timeframe": "M1", "engine": {"sessions": [["25:00", "01:00"]]}}, "engine.sessions"),
        ({"symbol": "EURUSD", "timeframe": "W1"}, "timeframe"),
        ({"symbol": "EURUSD"}, "timeframe"),
        ({"symbol": "EURUSD", "timeframe": "M1", "direction_filter": "up"}, "direction_filter"),
        ({"symbol": "EURUSD", "timeframe": "M1", "params": {"fast": "x"}}, "params.fast"),
        ({"symbol": "EURUSD", "timeframe": "M1", "params": {"fats": 5}}, "params.fats"),
        ('{"symbol": "EURUSD", "timeframe": ', "config"),
        (["not", "a", "dict"], "config"),
    ],
)
def test_python_config_errors_name_the_key(cfg: Any, key: str) -> None:
    class Params(BaseModel):
        fast: int = 10

    with pytest.raises(errors.InvalidConfigError) as info:
        config.normalize_config(cfg, Params)
    assert info.value.code == "E4002"
    assert info.value.context["key"] == key
    assert key in str(info.value)


def test_params_are_validated_and_coerced(sma_plugin: str) -> None:
    spec = omega.get_strategy(sma_plugin)
    cfg = config.normalize_config({"symbol": "EURUSD", "timeframe": "M1", "params": {"fast": 4.0}}, spec.params_model)
    assert cfg.params == {"fast": 4}  # coerced, and unset keys left to the strategy's defaults
    with pytest.raises(errors.InvalidConfigError, match=r"params\.slow"):
        config.normalize_config({"symbol": "EURUSD", "timeframe": "M1", "params": {"slow": 0}}, spec.params_model)


# --- results ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run(sma_plugin: str, market: pa.Table) -> Any:
    cfg = {"symbol": "EURUSD", "timeframe": "M1", "params": {"fast": 5, "slow": 20}}
    return bridge.run_rust_backtest(sma_plugin, cfg, market)


def test_result_shapes(run: Any, market: pa.Table) -> None:
    assert run.backend == "rust"
    assert run.strategy == "omega_test_sma_cross"
    assert run.bars_processed == market.num_rows
    assert run.execution_time_ms > 0
    eq = run.equity_curve
    assert isinstance(eq, np.ndarray)
    assert eq.dtype == np.float64
    assert eq.shape == (market.num_rows,)
    assert not eq.flags.writeable
    assert isinstance(run.metrics, dict)
    assert run.metrics["bars_processed"] == market.num_rows
    assert all(v is None or (isinstance(v, float) and math.isfinite(v)) for v in run.metrics.values())
    assert run.metrics["total_trades"] == len(run.trades) > 0
    assert run.open_positions == []
    assert "BacktestResult" in repr(run)


def test_trade_result_fields(run: Any) -> None:
    t = run.trades[0]
    as_dict = t.to_dict()
    assert tuple(as_dict) == results.TRADE_FIELDS
    for field in results.TRADE_FIELDS:
        assert getattr(t, field) == as_dict[field]
    assert t.direction in ("long", "short")
    assert t.exit_reason in ("stop_loss", "take_profit", "timeout", "strategy_close", "end_of_data")
    assert t.tags == ["sma", "cross"]
    assert isinstance(t.tags, list)
    assert t.scenario in (1, 2)
    assert t == run.trades[0]
    assert t != run.trades[1]
    assert "TradeResult" in repr(t)


def test_trades_table(run: Any) -> None:
    table = run.trades_table()
    assert table.schema.equals(results.TRADE_SCHEMA)
    assert table.num_rows == len(run.trades)
    assert table.slice(0, 1).to_pylist()[0] == run.trades[0].to_dict()
    assert run.open_positions_table().num_rows == 0
    assert results.records_to_table(run.trades).equals(table)


def test_open_positions_when_not_closed_at_end(sma_plugin: str, market: pa.Table) -> None:
    # stops 50 ATRs away and no timeout: the first position is still open at the end
    params = {"fast": 5, "slow": 20, "max_bars": 100_000, "sl_atr": 50.0, "tp_atr": 50.0}
    cfg = {"symbol": "EURUSD", "timeframe": "M1", "params": params, "engine": {"close_at_end": False}}
    r = bridge.run_rust_backtest(sma_plugin, cfg, market.slice(0, 700))
    assert len(r.open_positions) == 1
    assert r.open_positions[0].exit_reason == "open"
    assert r.open_positions[0].exit_index == 699
    assert results.trades_to_table(r, "open_positions").num_rows == len(r.open_positions)


def test_no_trades_gives_none_metrics(sma_plugin: str, market: pa.Table) -> None:
    # the SMA strategy trades scenarios 1 (long) and 2 (short) only; an empty list is E4002 (issue 13)
    cfg = {"symbol": "EURUSD", "timeframe": "M1", "enabled_scenarios": [3]}
    r = bridge.run_rust_backtest(sma_plugin, cfg, market.slice(0, 300))
    assert r.trades == []
    assert r.metrics["win_rate"] is None
    assert r.metrics["total_trades"] == 0


def test_determinism_byte_identical(sma_plugin: str, market: pa.Table) -> None:
    costs = {"slippage_random_pips": 0.3, "commission_per_lot": 3.5}
    cfg = {"symbol": "EURUSD", "timeframe": "M1", "params": {"fast": 5, "slow": 20}, "engine": {"costs": costs}}
    a = bridge.run_rust_backtest(sma_plugin, cfg, market)
    b = bridge.run_rust_backtest(sma_plugin, cfg, market)
    assert a.equity_curve.tobytes() == b.equity_curve.tobytes()
    assert omega.data.table_to_ipc_bytes(a.trades_table()) == omega.data.table_to_ipc_bytes(b.trades_table())
    assert json.dumps(a.metrics, sort_keys=True) == json.dumps(b.metrics, sort_keys=True)


def test_rust_and_python_results_have_the_same_shape(
    sma_plugin: str, market: pa.Table, sma_config: dict[str, Any]
) -> None:
    rust = omega.run_backtest(sma_plugin, sma_config, market, backend="rust")
    python = omega.run_backtest(sma_plugin, sma_config, market, backend="python")
    for attr in ("trades", "open_positions", "equity_curve", "metrics", "bars_processed", "execution_time_ms"):
        assert hasattr(rust, attr)
        assert hasattr(python, attr)
    assert results.trades_to_table(python).schema.equals(results.TRADE_SCHEMA)
    assert sorted(rust.metrics) == sorted(python.metrics)
    assert results.trades_to_table(rust).num_rows == results.trades_to_table(python).num_rows


def test_write_results(tmp_path: Path, run: Any, market: pa.Table) -> None:
    ts = market.column("timestamp_us").to_numpy()
    written = results.write_results(run, tmp_path / "out", timestamps_us=ts)
    names = sorted(p.name for p in written)
    assert names == sorted(
        [f"{t}.{f}" for t in ("trades", "open_positions", "equity") for f in results.FORMATS] + ["metrics.json"]
    )
    assert pq.read_table(tmp_path / "out" / "trades.parquet").equals(run.trades_table())
    equity = pq.read_table(tmp_path / "out" / "equity.parquet")
    assert equity.column_names == ["index", "timestamp_us", "equity"]
    assert np.array_equal(equity.column("equity").to_numpy(), run.equity_curve)
    rows = json.loads((tmp_path / "out" / "trades.json").read_text())
    assert rows[0]["tags"] == ["sma", "cross"]
    assert len(rows) == len(run.trades)
    csv_text = (tmp_path / "out" / "trades.csv").read_text()
    assert "sma|cross" in csv_text
    summary = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert summary["backend"] == "rust"
    assert summary["trades"] == len(run.trades)
    with pytest.raises(ValueError, match="format"):
        results.write_results(run, tmp_path / "x", formats=["xlsx"])
    frames = results.to_pandas(run)
    assert len(frames["trades"]) == len(run.trades)


# --- indicators -----------------------------------------------------------------------------------


def test_indicator_cache(native: ModuleType, market: pa.Table) -> None:
    cache = native.IndicatorCache(market)
    assert len(cache) == market.num_rows
    assert cache.timeframe == "M1"
    assert cache.symbol == "EURUSD"
    close = market.column("bid_close").to_numpy()
    sma = cache.series(("sma", "bid", None, [20]))
    expected = np.convolve(close, np.ones(20) / 20, mode="valid")
    assert np.isnan(sma[:19]).all()
    assert np.allclose(sma[19:], expected, rtol=0, atol=1e-12)
    assert np.array_equal(cache.series((2, 0, 0, [20])), sma, equal_nan=True)  # kind/side by ABI number
    assert cache.computed_series == 1  # memoised: the same key is computed once
    ask_close = cache.series(("close", "ask"))
    assert np.array_equal(ask_close, market.column("ask_close").to_numpy())
    one_shot = native.indicator_series(market, ("atr", "bid", None, [14]))
    assert np.array_equal(one_shot, cache.series(("atr", "bid", None, [14])), equal_nan=True)
    assert dict(native.indicator_kinds())["zscore_ema"] == 8


def test_indicator_cache_higher_timeframes(native: ModuleType, market: pa.Table) -> None:
    cache = native.IndicatorCache(market)
    h1 = cache.bars("H1")
    assert len(h1["open_time_us"]) == market.num_rows // 60
    vis = h1["visible"]
    assert vis.shape == (market.num_rows,)
    assert vis.dtype == np.int64
    assert vis[0] == -1
    assert vis[59] == 0
    assert vis[-1] == len(h1["open_time_us"]) - 1
    h1_close = cache.series(("close", "bid", "H1"))
    assert np.array_equal(h1_close, h1["bid_close"])
    assert np.array_equal(cache.series(("close", "bid", 60)), h1_close)
    assert "visible" not in cache.bars()
    with pytest.raises(errors.IndicatorNotAvailableError):
        cache.series(("sma", "mid", None, [5]))
    with pytest.raises(errors.IndicatorNotAvailableError):
        cache.series("sma")
    with pytest.raises(errors.InsufficientDataError):
        native.IndicatorCache(market.slice(0, 0))
    with pytest.raises(errors.InvalidConfigError, match="htf_anchor"):
        native.IndicatorCache(market, htf_anchor="tokyo")


def test_indicator_cache_shared_by_a_sweep(native: ModuleType, sma_plugin: str, market: pa.Table) -> None:
    """An IndicatorCache in place of candles: one validated market, each series computed once."""
    cache = native.IndicatorCache(market)

    def cfg(fast: int, **extra: Any) -> dict[str, Any]:
        return {"symbol": "EURUSD", "timeframe": "M1", "params": {"fast": fast, "slow": 20}, **extra}

    sweep = [bridge.run_rust_backtest(sma_plugin, cfg(fast), cache) for fast in (3, 5, 8)]
    direct = bridge.run_rust_backtest(sma_plugin, cfg(5), market)
    assert sweep[1].trades_table().equals(direct.trades_table())
    assert sweep[1].equity_curve.tobytes() == direct.equity_curve.tobytes()
    assert cache.computed_series == 5  # SMA 3, 5, 8 and 20 and ATR 14, each once for the whole sweep
    via_api = omega.run_backtest(sma_plugin, cfg(8), cache, backend="rust")
    assert results.trades_to_table(via_api).equals(sweep[2].trades_table())
    assert via_api.timestamps_us is None  # a cache carries no candle table
    for bad, key in [
        ({"timeframe": "M5"}, "timeframe"),
        ({"symbol": "GBPUSD"}, "symbol"),
        ({"engine": {"htf_anchor": "new_york_1700"}}, "engine.htf_anchor"),
    ]:
        with pytest.raises(errors.InvalidConfigError, match=key):
            bridge.run_rust_backtest(sma_plugin, {**cfg(5), **bad}, cache)
    with pytest.raises(errors.InsufficientDataError, match="Rust backend"):
        omega.run_backtest(sma_plugin, cfg(5), cache, backend="python")


def test_shared_cache_revalidates_crossed_quotes(native: ModuleType, sma_plugin: str, market: pa.Table) -> None:
    t = market.slice(0, 300)
    ask = t.column("ask_close").to_pylist()
    ask[7] = t.column("bid_close")[7].as_py() - 0.001
    low = t.column("ask_low").to_pylist()
    low[7] = min(low[7], ask[7])
    t = t.set_column(t.column_names.index("ask_close"), "ask_close", pa.array(ask))
    t = t.set_column(t.column_names.index("ask_low"), "ask_low", pa.array(low))
    cache = native.IndicatorCache(t, allow_crossed_quotes=True)
    base = {"symbol": "EURUSD", "timeframe": "M1"}
    with pytest.raises(errors.InsufficientDataError, match="ask < bid at row 7"):
        bridge.run_rust_backtest(sma_plugin, base, cache)
    ok = bridge.run_rust_backtest(sma_plugin, {**base, "engine": {"allow_crossed_quotes": True}}, cache)
    assert ok.bars_processed == 300


# --- module surface ---------------------------------------------------------------------------


def test_versions(native: ModuleType) -> None:
    assert native.abi_version() == (1, 1)
    assert native.core_version() == native.__version__
    assert native.CAPSULE_NAME == "omega.strategy_plugin.v1"
    assert omega.__version__


def _stub_names() -> set[str]:
    tree = ast.parse(STUB.read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names if a.asname)
    return names


# Native exports used only through `omega`'s own modules, not re-exported under the same name.
PRIVATE = {
    "run_backtest_rust": "called by omega.bridge / omega.run_backtest",
    "scan_signals_rust": "called by omega.scan_signals",
    "register_plugin": "low-level single registration (first come, first served)",
    "register_plugins": "called by omega.plugins during discovery (one all-or-nothing batch per plugin)",
    "valid_strategy_name": "the strategy-name rule; omega.hookspecs must agree (tests/test_plugin_boundary.py)",
    "STRATEGY_REGISTRY": "read by omega.bridge / omega.plugins",
    "StrategyRegistry": "type of STRATEGY_REGISTRY",
    "StrategyConfig": "the native config; omega.StrategyConfig is its pydantic mirror",
    "BacktestResult": "returned by omega.run_backtest",
    "TradeResult": "items of BacktestResult.trades",
    "IndicatorCache": "advanced use: omega._native.IndicatorCache",
    "indicator_series": "advanced use",
    "indicator_kinds": "advanced use",
    "validate_candles": "advanced use: check candles without running",
    "native_call_count": "diagnostics (the two-crossings test)",
    "abi_version": "diagnostics",
    "core_version": "diagnostics (omega version command)",
    "CAPSULE_NAME": "for plugin authors",
    "run_sweep_rust": "called by omega.sweep",
    "SweepControl": "progress and cancel of a running omega.sweep",
    "default_cache_bytes": "the sweep store's default budget (docs/sweeps.md)",
}


def test_every_native_export_is_stubbed_and_surfaced(native: ModuleType) -> None:
    exported = {n for n in dir(native) if not n.startswith("_")}
    stubbed = _stub_names()
    assert exported - stubbed == set(), "native exports missing from _native.pyi"
    assert {n for n in stubbed if not n.startswith("_")} - exported == set(), "stubbed names missing at runtime"
    for name in exported:
        assert name in PRIVATE or getattr(omega, name, None) is getattr(native, name), name
