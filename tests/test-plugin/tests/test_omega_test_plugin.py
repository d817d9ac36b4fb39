"""The test plugin as a wheel: its capsule, its parameter model, and both of its backends agreeing.

Uses the shared fixtures of ``tests/conftest.py`` (``sma_plugin`` skips locally / fails under
``OMEGA_REQUIRE_NATIVE=1`` when the wheels are not installed).
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from pydantic import ValidationError


def _params_model() -> Any:
    try:
        from omega_test_plugin.params import SmaCrossParams
    except ImportError as e:  # the package is not installed (its wheel was not built)
        if os.environ.get("OMEGA_REQUIRE_NATIVE", "").strip().lower() in ("1", "true", "yes"):
            pytest.fail(f"omega_test_plugin is not installed ({e}) but OMEGA_REQUIRE_NATIVE=1 requires it")
        pytest.skip(f"omega_test_plugin is not installed: {e}")
    return SmaCrossParams


def test_params_model_mirrors_the_rust_defaults_and_rules() -> None:
    model = _params_model()
    p = model()
    assert (p.fast, p.slow, p.atr_length, p.sl_atr, p.tp_atr, p.max_bars) == (10, 30, 14, 2.0, 3.0, 60)
    assert p.panic_at_bar is None
    assert p.fail_init is False
    with pytest.raises(ValidationError, match="bogus"):
        model(bogus=1)
    with pytest.raises(ValidationError, match="slow must be greater than fast"):
        model(fast=30, slow=10)
    with pytest.raises(ValidationError):
        model(sl_atr=0)
    with pytest.raises(ValidationError):
        model(fast=0)


def test_capsule_carries_the_abi(sma_plugin: str) -> None:
    native = importlib.import_module("omega_test_plugin._native")
    capsule = native.plugin_capsule()
    assert type(capsule).__name__ == "PyCapsule"
    assert native.ABI_MAJOR == 1
    assert sma_plugin == native.STRATEGY_NAME
    import omega

    entry = next(s for s in omega.list_strategies() if s["name"] == sma_plugin)
    assert entry["package"] == "omega-test-plugin"
    assert entry["backends"] == ["rust", "python"]


def _trades(result: Any) -> list[tuple[Any, ...]]:
    fields: tuple[str, ...] = ("direction", "entry_index", "exit_index", "entry_price", "exit_price", "stop_loss")
    fields += ("take_profit", "exit_reason", "reason", "scenario", "tags")

    def get(t: Any, k: str) -> Any:
        v = t[k] if isinstance(t, dict) else getattr(t, k)
        return tuple(v) if isinstance(v, list) else v

    return [tuple(get(t, k) for k in fields) for t in result.trades.to_pylist()]


@pytest.mark.parity
@pytest.mark.parametrize(
    "params",
    [
        {"fast": 5, "slow": 20},
        {"fast": 3, "slow": 8, "atr_length": 5, "sl_atr": 1.5, "tp_atr": 4.0, "max_bars": 7},
    ],
)
@pytest.mark.parametrize("direction_filter", ["both", "short"])
def test_rust_and_reference_trade_identically(
    sma_plugin: str, market: pa.Table, params: dict[str, Any], direction_filter: str
) -> None:
    import omega

    cfg = {"symbol": "EURUSD", "timeframe": "M1", "params": params, "direction_filter": direction_filter}
    rust = omega.run_backtest(sma_plugin, cfg, market, backend="rust")
    python = omega.run_backtest(sma_plugin, cfg, market, backend="python")
    assert len(rust.trades) > 10
    assert _trades(rust) == _trades(python)
    assert np.array_equal(np.asarray(rust.equity_curve), np.asarray(python.equity_curve))
    if direction_filter == "short":
        assert {t[0] for t in _trades(rust)} == {"short"}
    if params.get("max_bars") == 7:
        assert any(t[7] == "timeout" for t in _trades(rust))


@pytest.mark.parametrize("backend", ["rust", "python"])
def test_boundary_errors_on_both_backends(sma_plugin: str, market: pa.Table, backend: str) -> None:
    import omega
    from omega.errors import InvalidConfigError, StrategyPanicError

    base = {"symbol": "EURUSD", "timeframe": "M1"}
    with pytest.raises(StrategyPanicError) as panic:
        omega.run_backtest(sma_plugin, {**base, "params": {"panic_at_bar": 1}}, market, backend=backend)
    assert panic.value.code == "E4008"
    assert "panic_at_bar reached at bar 1" in str(panic.value)
    assert sma_plugin in str(panic.value)
    with pytest.raises(InvalidConfigError) as init:
        omega.run_backtest(sma_plugin, {**base, "params": {"fail_init": True}}, market, backend=backend)
    assert init.value.code == "E4002"
    assert "fail_init" in str(init.value)
