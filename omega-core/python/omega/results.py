"""Backtest results as tables and files, for both backends.

A result is anything with the `BacktestResult` attributes (``trades``, ``open_positions``,
``equity_curve``, ``metrics``, ``bars_processed``, ``execution_time_ms``, ``backend``): the native
class or the reference backend's. `TRADE_SCHEMA` is the one trade table layout both produce.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

TRADE_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("symbol", pa.utf8()),
        ("direction", pa.utf8()),
        ("entry_index", pa.int64()),
        ("exit_index", pa.int64()),
        ("entry_time_us", pa.int64()),
        ("exit_time_us", pa.int64()),
        ("entry_price", pa.float64()),
        ("exit_price", pa.float64()),
        ("initial_stop_loss", pa.float64()),
        ("stop_loss", pa.float64()),
        ("take_profit", pa.float64()),
        ("lots", pa.float64()),
        ("pnl_pips", pa.float64()),
        ("pnl_gross", pa.float64()),
        ("commission", pa.float64()),
        ("pnl", pa.float64()),
        ("slippage_pips", pa.float64()),
        ("r_multiple", pa.float64()),
        ("bars_held", pa.int64()),
        ("exit_reason", pa.utf8()),
        ("scenario", pa.int64()),
        ("reason", pa.utf8()),
        ("tags", pa.list_(pa.utf8())),
    ]
)
"""Columns of a trades table (docs/engine.md "Trade record"); take_profit and scenario are nullable."""

TRADE_FIELDS: tuple[str, ...] = tuple(TRADE_SCHEMA.names)
FORMATS: tuple[str, ...] = ("parquet", "csv", "json")


def _get(obj: Any, name: str) -> Any:
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


def trades_to_table(result: Any, which: str = "trades") -> pa.Table:
    """Trades (or ``which="open_positions"``) of any result as a `TRADE_SCHEMA` table."""
    if which not in ("trades", "open_positions"):
        raise ValueError("which must be 'trades' or 'open_positions'")
    native = getattr(result, f"{which}_table", None)
    if callable(native):
        table = native()
        if isinstance(table, pa.Table):
            return table.cast(TRADE_SCHEMA)
    return records_to_table(_get(result, which))


def records_to_table(trades: Iterable[Any]) -> pa.Table:
    """Trade objects or dicts (with `TRADE_FIELDS`) → `TRADE_SCHEMA` table."""
    cols: dict[str, list[Any]] = {f: [] for f in TRADE_FIELDS}
    for t in trades:
        for f in TRADE_FIELDS:
            v = _get(t, f)
            cols[f].append(list(v) if f == "tags" else v)
    return pa.table(cols, schema=TRADE_SCHEMA)


def equity_to_table(result: Any, timestamps_us: Sequence[int] | np.ndarray[Any, Any] | None = None) -> pa.Table:
    """The equity curve as a table: ``index``, optional ``timestamp_us`` (bar open), ``equity``."""
    equity = np.asarray(_get(result, "equity_curve"), dtype=np.float64)
    cols: dict[str, Any] = {"index": pa.array(np.arange(len(equity), dtype=np.int64))}
    if timestamps_us is not None:
        ts = np.asarray(timestamps_us, dtype=np.int64)
        if len(ts) != len(equity):
            raise ValueError(f"{len(ts)} timestamps for {len(equity)} equity points")
        cols["timestamp_us"] = pa.array(ts)
    cols["equity"] = pa.array(equity)
    return pa.table(cols)


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def metrics_dict(result: Any) -> dict[str, Any]:
    """Metrics with NaN/inf as None, sorted by name."""
    metrics = _get(result, "metrics")
    return {k: _clean(metrics[k]) for k in sorted(metrics)}


def summary(result: Any) -> dict[str, Any]:
    """Backend, bar count, timing, trade counts and metrics in one JSON-ready dict."""
    return {
        "backend": getattr(result, "backend", None),
        "bars_processed": _get(result, "bars_processed"),
        "execution_time_ms": _get(result, "execution_time_ms"),
        "trades": len(_get(result, "trades")),
        "open_positions": len(_get(result, "open_positions")),
        "metrics": metrics_dict(result),
    }


def to_pandas(result: Any) -> dict[str, Any]:
    """``{"trades", "open_positions", "equity"}`` as pandas DataFrames (needs pandas)."""
    return {
        "trades": trades_to_table(result).to_pandas(),
        "open_positions": trades_to_table(result, "open_positions").to_pandas(),
        "equity": equity_to_table(result).to_pandas(),
    }


def _flatten_tags(table: pa.Table) -> pa.Table:
    if "tags" not in table.column_names:
        return table
    joined = pa.array(["|".join(t or []) for t in table.column("tags").to_pylist()], pa.utf8())
    return table.set_column(table.column_names.index("tags"), "tags", joined)


def _write_table(table: pa.Table, path_stem: Path, fmt: str) -> Path:
    path = path_stem.with_suffix(f".{fmt}")
    if fmt == "parquet":
        pq.write_table(table, path)
    elif fmt == "csv":
        pacsv.write_csv(_flatten_tags(table), path)
    else:
        rows = [{k: _clean(v) for k, v in row.items()} for row in table.to_pylist()]
        path.write_text(json.dumps(rows, indent=1))
    return path


def write_results(
    result: Any,
    directory: str | Path,
    formats: Sequence[str] = FORMATS,
    *,
    timestamps_us: Sequence[int] | np.ndarray[Any, Any] | None = None,
) -> list[Path]:
    """Write trades, open positions and equity in each of `formats` (parquet, csv, json) and
    ``metrics.json`` (the `summary`) into `directory` (created). Returns the written paths.
    CSV joins trade tags with ``|``."""
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ValueError(f"unknown format(s) {bad}; choose from {FORMATS}")
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {
        "trades": trades_to_table(result),
        "open_positions": trades_to_table(result, "open_positions"),
        "equity": equity_to_table(result, timestamps_us),
    }
    written = [_write_table(t, out_dir / name, fmt) for name, t in tables.items() for fmt in formats]
    metrics_path = out_dir / "metrics.json"
    metrics_path.write_text(json.dumps(summary(result), indent=1, sort_keys=True))
    written.append(metrics_path)
    return written
