"""`omega.sweep(..., conversion=)` and `omega.walk_forward(..., conversion=)` (issue 12, docs/sweeps.md):
conversion candles reach every config exactly as they reach `omega.run_backtest`, on both backends.

USDJPY in a USD account converts through its own price and needs no conversion candles; EURJPY
needs USDJPY's (docs/engine.md "Account currency"). Each sweep row must equal the single run of
its config with the same conversion candles.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import omega
import pyarrow as pa
import pytest
from omega.data import generate_market
from omega.errors import InsufficientDataError, InvalidConfigError

BACKENDS = ("rust", "python")
STRATEGY = "mean_reversion_z_score"
START = "2024-02-05T00:00:00+00:00"
GRID = {"params.window_length": [30, 50], "params.z_score_long": [-1.5, -2.0]}


@pytest.fixture(autouse=True)
def _mrz(zscore_plugin: str) -> None:
    """MRZ on both backends (skip/fail when the wheel is missing)."""


def market(symbol: str, seed: int, base_price: float, n: int = 4_000) -> pa.Table:
    return generate_market(n, seed, "M1", start=START, symbol=symbol, base_price=base_price)


def base(symbol: str) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "timeframe": "M1",
        "enabled_scenarios": [1],
        "params": {"z_score_long": -1.5, "z_score_short": 1.5, "window_length": 40, "htf_tf": "NONE"},
        "engine": {"risk_per_trade": 100.0, "costs": {"commission_per_million": 20.0}},
    }


@pytest.fixture(scope="module")
def eurjpy() -> pa.Table:
    return market("EURJPY", 21, 160.0)


@pytest.fixture(scope="module")
def usdjpy() -> pa.Table:
    return market("USDJPY", 22, 150.0)


def rows_equal_single_runs(res: omega.SweepResult, candles: pa.Table, conversion: Any, backend: str) -> None:
    assert res.table.num_rows == 4
    for i in range(res.table.num_rows):
        single = omega.run_backtest(STRATEGY, res.config(i), candles, backend=backend, conversion=conversion)
        row = res.table.slice(i, 1).to_pylist()[0]
        assert row["total_trades"] == single.metrics["total_trades"]
        assert row["net_profit"] == single.metrics["net_profit"], (i, backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_eurjpy_sweep_needs_and_uses_usdjpy(backend: str, eurjpy: pa.Table, usdjpy: pa.Table) -> None:
    with pytest.raises(InsufficientDataError, match="USDJPY") as e:
        omega.sweep(STRATEGY, base("EURJPY"), GRID, eurjpy, progress=False, backend=backend)
    assert e.value.code == "E4004"
    conversion = {"USDJPY": usdjpy}
    res = omega.sweep(STRATEGY, base("EURJPY"), GRID, eurjpy, progress=False, backend=backend, conversion=conversion)
    assert sum(res.table.column("total_trades").to_pylist()) > 0
    rows_equal_single_runs(res, eurjpy, conversion, backend)
    # `run(i)` re-runs with the sweep's conversion candles
    assert res.run(2).metrics["net_profit"] == res.table.column("net_profit")[2].as_py()


def test_eurjpy_sweep_rows_agree_across_backends(eurjpy: pa.Table, usdjpy: pa.Table) -> None:
    tables = [
        omega.sweep(STRATEGY, base("EURJPY"), GRID, eurjpy, progress=False, backend=b, conversion={"USDJPY": usdjpy})
        for b in BACKENDS
    ]
    assert tables[0].table.equals(tables[1].table)


@pytest.mark.parametrize("backend", BACKENDS)
def test_usdjpy_sweep_needs_no_conversion(backend: str, usdjpy: pa.Table) -> None:
    res = omega.sweep(STRATEGY, base("USDJPY"), GRID, usdjpy, progress=False, backend=backend)
    rows_equal_single_runs(res, usdjpy, None, backend)


def test_conversion_through_an_executor_equals_the_local_sweep(eurjpy: pa.Table, usdjpy: pa.Table) -> None:
    conversion = {"USDJPY": usdjpy}
    local = omega.sweep(STRATEGY, base("EURJPY"), GRID, eurjpy, progress=False, conversion=conversion)
    with ThreadPoolExecutor(max_workers=2) as pool:
        remote = omega.sweep(
            STRATEGY, base("EURJPY"), GRID, eurjpy, progress=False, conversion=conversion, executor=pool
        )
    assert remote.table.equals(local.table)


def test_conversion_must_be_a_mapping(eurjpy: pa.Table, usdjpy: pa.Table) -> None:
    with pytest.raises(InvalidConfigError, match="conversion"):
        omega.sweep(STRATEGY, base("EURJPY"), GRID, eurjpy, progress=False, conversion=[usdjpy])  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", BACKENDS)
def test_walk_forward_passes_conversion_to_every_window(backend: str, eurjpy: pa.Table, usdjpy: pa.Table) -> None:
    kwargs: dict[str, Any] = {"train": 1_500, "test": 1_000, "backend": backend, "progress": False}
    with pytest.raises(InsufficientDataError, match="USDJPY"):
        omega.walk_forward(STRATEGY, base("EURJPY"), GRID, eurjpy, **kwargs)
    wf = omega.walk_forward(STRATEGY, base("EURJPY"), GRID, eurjpy, conversion={"USDJPY": usdjpy}, **kwargs)
    assert wf.windows.num_rows == 2
    # window 0's out-of-sample run is the chosen config over train + test, trading from the test span
    a, c, d = 0, 1_500, 2_500
    chosen = dict(wf.configs[0])
    test_start = eurjpy.column("timestamp_us")[c].as_py()
    chosen["engine"] = {**chosen["engine"], "start_time_us": test_start}
    single = omega.run_backtest(
        STRATEGY, chosen, eurjpy.slice(a, d - a), backend=backend, conversion={"USDJPY": usdjpy}
    )
    assert wf.windows.column("oos_net_profit")[0].as_py() == single.metrics["net_profit"]
