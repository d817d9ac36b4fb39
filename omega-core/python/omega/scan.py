"""`omega.scan_signals`: evaluate a strategy on every bar as if flat and return the signals as a
pyarrow Table (docs/scan.md). Backend choice, config validation and candle input are exactly those
of `omega.run_backtest`; the Rust backend is one native call, the Python backend the reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from omega import bridge, data, plugins
from omega.api import resolve_backend, warn_config
from omega.config import normalize_config
from omega.errors import StrategyNotFoundError
from omega.hookspecs import StrategySpec

if TYPE_CHECKING:
    from omega.reference.scan import ScanRow

#: Columns every scan table starts with; `meta_<key>` float64 columns follow, sorted by key.
SCAN_SCHEMA = pa.schema(
    [
        ("bar_index", pa.int64()),
        ("timestamp_us", pa.int64()),
        ("direction", pa.string()),
        ("scenario", pa.int64()),
        ("entry_price", pa.float64()),
        ("stop_loss", pa.float64()),
        ("take_profit", pa.float64()),
        ("reason", pa.string()),
        ("tags", pa.list_(pa.string())),
        ("session_ok", pa.bool_()),
    ]
)


def rows_to_table(rows: Sequence[ScanRow]) -> pa.Table:
    """The scan table of reference `ScanRow`s (same layout as the Rust backend's table)."""
    columns: dict[str, list[Any]] = {
        "bar_index": [r.index for r in rows],
        "timestamp_us": [r.timestamp_us for r in rows],
        "direction": [r.direction for r in rows],
        "scenario": [r.scenario for r in rows],
        "entry_price": [r.entry_price for r in rows],
        "stop_loss": [r.stop_loss for r in rows],
        "take_profit": [r.take_profit for r in rows],
        "reason": [r.reason for r in rows],
        "tags": [list(r.tags) for r in rows],
        "session_ok": [r.session_ok for r in rows],
    }
    fields = list(SCAN_SCHEMA)
    keys = sorted({k for r in rows for k, _ in r.meta})
    for key in keys:
        columns[f"meta_{key}"] = [dict(r.meta).get(key) for r in rows]
        fields.append(pa.field(f"meta_{key}", pa.float64()))
    return pa.table(columns, schema=pa.schema(fields))


def scan_signals(strategy: str | StrategySpec, config: Any, candles: Any, *, backend: str | None = None) -> pa.Table:
    """Evaluate `strategy` on every bar as if flat; one row per signalling bar (docs/scan.md).

    Arguments are those of `omega.run_backtest`. The session window is reported per row
    (``session_ok``), not applied; cooldowns and the one-position rule play no part.
    """
    spec = strategy if isinstance(strategy, StrategySpec) else plugins.get_strategy(strategy)
    cfg = normalize_config(config, spec.params_model)
    if resolve_backend(spec, backend) == "rust":
        warn_config(spec, cfg.to_dict())
        rust = bridge._get_rust_module()
        if rust is None:  # resolve_backend checked this; kept for type narrowing
            raise StrategyNotFoundError("omega._native is not available", {"strategy": spec.name})
        table: pa.Table = rust.scan_signals_rust(
            spec.name, rust.StrategyConfig.from_json(cfg.to_json()), data.to_native_input(candles)
        )
        return table
    from omega.reference.scan import run_reference_scan

    if spec.reference is None:  # resolve_backend checked this; kept for type narrowing
        raise StrategyNotFoundError(f"strategy '{spec.name}' has no Python reference", {"strategy": spec.name})
    return rows_to_table(run_reference_scan(spec.reference, cfg.to_dict(), data.to_arrow_table(candles)))
