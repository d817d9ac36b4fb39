"""``{{ cookiecutter.strategy_name }}`` as installed: discovered through its entry point with both
backends, and the Rust plugin trading exactly like the pure-Python reference.

Needs the wheel installed (``maturin develop`` or ``pip install`` of the built wheel) next to
omega-core's; nothing here is skipped, a missing piece is a failure.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import omega
import pyarrow as pa
import pytest
from omega.data import generate_market
from omega.errors import InvalidConfigError
from omega.results import trades_to_table

from {{ cookiecutter.package_name }} import PACKAGE, STRATEGY_NAME, STRATEGY_VERSION, _native
from {{ cookiecutter.package_name }}.reference import REASON

MARKETS: dict[str, dict[str, Any]] = {
    "mean_reverting": {"n_bars": 6_000, "seed": 11},
    "trending": {"n_bars": 6_000, "seed": 5, "regime": "trending"},
    "gaps": {"n_bars": 6_000, "seed": 3, "gap_every": 500, "weekend_gaps": True},
}


@pytest.fixture(scope="module", params=sorted(MARKETS))
def market(request: pytest.FixtureRequest) -> pa.Table:
    """Deterministic generated M1 markets of different shapes."""
    return generate_market(**MARKETS[request.param])


def _run(config: dict[str, Any], market: pa.Table, backend: str) -> Any:
    return omega.run_backtest(STRATEGY_NAME, config, market, backend=backend)


def test_discovered_with_both_backends() -> None:
    entry = next((s for s in omega.list_strategies() if s["name"] == STRATEGY_NAME), None)
    assert entry is not None, f"{STRATEGY_NAME} not discovered: {omega.list_strategies()}"
    assert entry["backends"] == ["rust", "python"]
    assert entry["package"] == PACKAGE
    assert entry["version"] == STRATEGY_VERSION
    assert (_native.STRATEGY_NAME, _native.__version__) == (STRATEGY_NAME, STRATEGY_VERSION)
    assert _native.ABI_MAJOR == 1


@pytest.mark.parity
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"ema_length": 10, "atr_length": 5, "band_atr": 0.5, "sl_atr": 2.0, "tp_atr": 2.5, "max_bars": 15},
        {"band_atr": 0.0, "breakeven_r": None},
    ],
    ids=["defaults", "fast", "ema-cross"],
)
@pytest.mark.parametrize("direction_filter", ["both", "short"])
def test_rust_and_reference_trade_identically(market: pa.Table, params: dict[str, Any], direction_filter: str) -> None:
    config = {"symbol": "EURUSD", "timeframe": "M1", "params": params, "direction_filter": direction_filter}
    rust = _run(config, market, "rust")
    python = _run(config, market, "python")
    assert (rust.backend, python.backend) == ("rust", "python")
    rust_trades, python_trades = trades_to_table(rust), trades_to_table(python)
    assert rust_trades.num_rows > 0
    assert rust_trades.to_pylist() == python_trades.to_pylist()
    assert np.array_equal(np.asarray(rust.equity_curve), np.asarray(python.equity_curve))
    assert rust.bars_processed == python.bars_processed == market.num_rows
    assert set(rust_trades.column("reason").to_pylist()) == {REASON}
    if direction_filter == "short":
        assert set(rust_trades.column("direction").to_pylist()) == {"short"}
    if params.get("max_bars") == 15:
        assert "timeout" in rust_trades.column("exit_reason").to_pylist()
    trades = rust_trades.to_pylist()
    moved_to_entry = [t for t in trades if t["stop_loss"] == t["entry_price"] != t["initial_stop_loss"]]
    if params.get("breakeven_r", 1.0) is None:  # break-even disabled
        assert not moved_to_entry
    else:
        assert moved_to_entry, "no stop-loss was moved to break-even"


@pytest.mark.parametrize("backend", ["rust", "python"])
@pytest.mark.parametrize(("params", "key"), [({"bogus": 1}, "bogus"), ({"sl_atr": 0}, "sl_atr")])
def test_invalid_params_are_refused_on_both_backends(backend: str, params: dict[str, Any], key: str) -> None:
    config = {"symbol": "EURUSD", "timeframe": "M1", "params": params}
    with pytest.raises(InvalidConfigError, match=key) as err:
        _run(config, generate_market(500, seed=1), backend)
    assert err.value.code == "E4002"
