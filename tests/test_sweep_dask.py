"""`omega.sweep(executor=...)` (docs/sweeps.md): a real Dask cluster of worker processes on
loopback, and a plain `ProcessPoolExecutor`, give the local result row for row."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from typing import Any

import omega
import pyarrow as pa
import pytest

BASE: dict[str, Any] = {
    "symbol": "EURUSD",
    "timeframe": "M1",
    "enabled_scenarios": [1, 2],
    "params": {"window_length": 40, "htf_tf": "NONE"},
    "engine": {"costs": {"slippage_fixed_pips": 0.2, "slippage_random_pips": 0.3}},
}
GRID: dict[str, list[Any]] = {"params.z_score_long": [-1.5, -2.0, -2.5], "params.window_length": [30, 40, 60]}


def test_dask_local_cluster_equals_local(zscore_plugin: str, market: pa.Table) -> None:
    distributed = pytest.importorskip("dask.distributed", reason="the dask extra (omega-core[dask]) is not installed")
    local = omega.sweep(zscore_plugin, BASE, GRID, market, keep="trades", progress=False)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = omega.sweep(
            zscore_plugin, BASE, GRID, market, keep="trades", progress=False, executor=client.get_executor()
        )
        # 9 configs over 2 workers: about two chunks per worker, each one native sweep
        assert remote.stats["chunks"] == 3
    assert remote.table.equals(local.table)
    assert remote.trades is not None
    assert local.trades is not None
    assert local.trades.num_rows > 0
    assert remote.trades.equals(local.trades)


def test_process_pool_equals_local(sma_plugin: str, market: pa.Table) -> None:
    base = {"symbol": "EURUSD", "timeframe": "M1", "params": {"fast": 5, "slow": 20}}
    grid = [{"params": {"fast": f, "slow": s}} for f in (3, 5, 8) for s in (20, 40)]
    local = omega.sweep(sma_plugin, base, grid, market, progress=False)
    with ProcessPoolExecutor(max_workers=2) as pool:
        remote = omega.sweep(sma_plugin, base, grid, market, progress=False, executor=pool)
    assert remote.table.equals(local.table)
