"""`omega.BacktestResult`: the one result type of `omega.run_backtest`, for both backends.

A result holds plain data only (Arrow tables, a NumPy equity curve, dicts), so it pickles and
compares without the backend that produced it. Trade tables carry every field of the trade record
(docs/engine.md "Trade record", in record order) followed by `TIME_COLUMNS`, the entry and exit
times as UTC timestamps. `write` / `read_result` store a result in a directory (docs/results.md).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from omega.errors import InsufficientDataError
from omega.reference.types import TradeResult

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
        ("swap", pa.float64()),
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
"""Types of the trade record fields (docs/engine.md "Trade record"); take_profit and scenario are nullable."""

TRADE_FIELDS: tuple[str, ...] = tuple(TRADE_SCHEMA.names)
TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")
TIME_COLUMNS: dict[str, str] = {"entry_time_us": "entry_time", "exit_time_us": "exit_time"}
"""Integer µs record field → the timestamp column derived from it and appended to trade tables."""

_REFERENCE_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(TradeResult))
FORMATS: tuple[str, ...] = ("parquet", "csv", "json")
RESULT_FILE = "result.json"
RESULT_FORMAT_VERSION = 1
MARKET_COLUMNS: tuple[str, ...] = (
    "bid_open",
    "bid_high",
    "bid_low",
    "bid_close",
    "ask_open",
    "ask_high",
    "ask_low",
    "ask_close",
)
"""Price columns a result keeps of its market (for the price chart of the report)."""

COUNT_METRICS: frozenset[str] = frozenset(
    {
        "total_trades",
        "wins",
        "losses",
        "longest_drawdown_bars",
        "signals",
        "signals_rejected",
        "signals_rejected_margin",
        "stop_outs",
        "bars_processed",
    }
)
"""Metrics that count something; `metrics` holds them as int (so does every ``trades_scenario_*``)."""


def is_count_metric(name: str) -> bool:
    """True for metrics that are counts (`COUNT_METRICS` and ``trades_scenario_*``)."""
    return name in COUNT_METRICS or name.startswith("trades_scenario_")


def _get(obj: Any, name: str) -> Any:
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def records_to_table(trades: Iterable[Any], names: Sequence[str] | None = None) -> pa.Table:
    """Trade records (dataclasses, native records or dicts) → a table of their fields in record order.

    Field names are `names`, else those of the records themselves (dataclass fields, dict keys, else
    `TRADE_FIELDS`), so a field added to the record flows through; known fields get their
    `TRADE_SCHEMA` type.
    """
    rows = list(trades)
    if names is None:
        if rows and dataclasses.is_dataclass(rows[0]):
            names = tuple(f.name for f in dataclasses.fields(rows[0]))
        elif rows and isinstance(rows[0], dict):
            names = tuple(rows[0])
        else:
            names = TRADE_FIELDS
    arrays = []
    for name in names:
        values = [_get(t, name) for t in rows]
        if name == "tags":
            values = [None if v is None else list(v) for v in values]
        typ = TRADE_SCHEMA.field(name).type if name in TRADE_SCHEMA.names else None
        arrays.append(pa.array(values, type=typ))
    return pa.Table.from_arrays(arrays, names=list(names))


def with_time_columns(table: pa.Table) -> pa.Table:
    """Append `TIME_COLUMNS` (UTC timestamps) to a table of trade records (zero-copy casts)."""
    names = table.column_names
    for src, dst in TIME_COLUMNS.items():
        if src in names and dst not in names:
            col = table.column(src)
            if col.type == pa.int64():  # a view of the same buffer: no compute kernel per call
                ts = pa.chunked_array([c.view(TIMESTAMP_TYPE) for c in col.chunks], type=TIMESTAMP_TYPE)
            else:
                ts = pc.cast(pc.cast(col, pa.int64()), TIMESTAMP_TYPE)
            table = table.append_column(dst, ts)
    return table


def _record_table(result: Any, which: str) -> pa.Table:
    """`which` trades of any result (ours, native or reference) as a record table with time columns."""
    if isinstance(result, BacktestResult):
        return result.trades if which == "trades" else result.open_positions
    native = getattr(result, f"{which}_table", None)
    if callable(native):
        return with_time_columns(native())
    # the reference's TradeResult fields name the columns, even when there is no trade
    return with_time_columns(records_to_table(_get(result, which), names=_REFERENCE_FIELDS))


def trades_to_table(result: Any, which: str = "trades") -> pa.Table:
    """Trades (or ``which="open_positions"``) of any result: the record fields only, `TRADE_SCHEMA` types."""
    if which not in ("trades", "open_positions"):
        raise ValueError("which must be 'trades' or 'open_positions'")
    table = _record_table(result, which)
    table = table.drop_columns([c for c in TIME_COLUMNS.values() if c in table.column_names])
    fields = [TRADE_SCHEMA.field(n) if n in TRADE_SCHEMA.names else table.field(n) for n in table.column_names]
    return table.cast(pa.schema(fields))


def timestamps_of(table: pa.Table) -> npt.NDArray[np.int64]:
    """The ``timestamp_us`` column of a candle table as int64 µs UTC (Arrow timestamps converted)."""
    col = table.column("timestamp_us")
    if pa.types.is_timestamp(col.type):
        col = pc.cast(pc.cast(col, pa.timestamp("us", tz=col.type.tz)), pa.int64())
    return np.asarray(col.to_numpy(), dtype=np.int64)


class Stats(dict[str, Any]):
    """Summary statistics in display order (the style of backtesting.py's ``Stats``)."""

    def _formatted(self) -> list[tuple[str, str]]:
        return [(k, _fmt(v, 2 if "[" in k else 3)) for k, v in self.items()]

    def __str__(self) -> str:
        rows = self._formatted()
        width = max((len(k) for k, _ in rows), default=0)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        from html import escape

        body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in self._formatted())
        return f'<table class="omega-stats">{body}</table>'

    def to_pandas(self) -> Any:
        """The stats as a ``pandas.Series`` (needs pandas)."""
        import pandas as pd

        return pd.Series(dict(self), dtype=object, name="stats")


def _fmt(v: Any, decimals: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.{decimals}f}"
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M")
    return str(v)


def _utc(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(us))


def _pct(v: Any) -> float | None:
    return None if v is None else float(v) * 100.0


@dataclasses.dataclass(eq=False)
class BacktestResult:
    """Result of one backtest, the same class for the Rust and the Python backend.

    Attributes: ``trades`` / ``open_positions`` (pyarrow Tables: record fields + ``entry_time``,
    ``exit_time``), ``equity`` (Table ``timestamp, equity``), ``equity_curve`` (NumPy, one value
    per bar), ``metrics`` (counts as int, undefined values as None), ``bars_processed``,
    ``execution_time_ms``, ``backend``, ``strategy``, ``config`` (the validated config as a dict),
    ``market`` (timestamps and bid/ask OHLC, or None when the run had no candle table).
    """

    strategy: str
    backend: str
    config: dict[str, Any]
    trades: pa.Table
    open_positions: pa.Table
    equity_curve: npt.NDArray[np.float64]
    metrics: dict[str, Any]
    bars_processed: int
    execution_time_ms: float
    timestamps_us: npt.NDArray[np.int64] | None = None
    market: pa.Table | None = None

    @classmethod
    def from_backend(
        cls, raw: Any, *, strategy: str, config: Mapping[str, Any], market: pa.Table | None = None
    ) -> BacktestResult:
        """Wrap a backend's raw result (native `_native.BacktestResult` or the reference's)."""
        equity = np.asarray(raw.equity_curve, dtype=np.float64)
        ts: npt.NDArray[np.int64] | None = None
        kept: pa.Table | None = None
        names = set(market.column_names) if market is not None else set()
        if market is not None and "timestamp_us" in names and market.num_rows == len(equity):
            ts = timestamps_of(market)
            cols = [c for c in MARKET_COLUMNS if c in names]
            kept = pa.table({"timestamp_us": pa.array(ts), **{c: market.column(c) for c in cols}})
        metrics = {k: _metric_value(k, v) for k, v in raw.metrics.items()}
        return cls(
            strategy=strategy,
            backend=str(raw.backend),
            config=dict(config),
            trades=_record_table(raw, "trades"),
            open_positions=_record_table(raw, "open_positions"),
            equity_curve=equity,
            metrics=metrics,
            bars_processed=int(raw.bars_processed),
            execution_time_ms=float(raw.execution_time_ms),
            timestamps_us=ts,
            market=kept,
        )

    # --- views ----------------------------------------------------------------------------------

    @property
    def equity(self) -> pa.Table:
        """Equity per bar: ``timestamp`` (bar open, UTC; null when unknown) and ``equity``."""
        n = len(self.equity_curve)
        if self.timestamps_us is not None:
            ts = pa.array(self.timestamps_us, pa.int64()).cast(TIMESTAMP_TYPE)
        else:
            ts = pa.nulls(n, TIMESTAMP_TYPE)
        return pa.table({"timestamp": ts, "equity": pa.array(self.equity_curve, pa.float64())})

    @property
    def timeframe(self) -> str:
        """The bars' timeframe (from the config)."""
        return str(self.config.get("timeframe", ""))

    @property
    def account_currency(self) -> str:
        """Currency of balances and PnL (``engine.account_currency``)."""
        return str(self.config.get("engine", {}).get("account_currency", "USD"))

    @property
    def initial_balance(self) -> float:
        """Starting balance (``engine.initial_balance``)."""
        return float(self.config.get("engine", {}).get("initial_balance", 100_000.0))

    def span(self) -> tuple[datetime, datetime] | None:
        """(first bar open, last bar close) in UTC, or None when timestamps are unknown."""
        if self.timestamps_us is None or len(self.timestamps_us) == 0:
            return None
        from omega.data import TIMEFRAME_MINUTES

        tf_us = TIMEFRAME_MINUTES.get(self.timeframe, 0) * 60_000_000
        return _utc(int(self.timestamps_us[0])), _utc(int(self.timestamps_us[-1]) + tf_us)

    def drawdown(self) -> npt.NDArray[np.float64]:
        """Drawdown per bar in % of the high-water mark (which starts at the initial balance), ≤ 0."""
        hwm = np.maximum.accumulate(np.concatenate([[self.initial_balance], self.equity_curve]))[1:]
        with np.errstate(divide="ignore", invalid="ignore"):
            dd = np.where(hwm > 0, (self.equity_curve - hwm) / hwm * 100.0, 0.0)
        return np.asarray(dd, dtype=np.float64)

    def summary(self) -> Stats:
        """Summary statistics: span, equity, return, drawdown, ratios and trade statistics."""
        m = self.metrics
        cur = self.account_currency
        stats = Stats()
        span = self.span()
        stats["Start"] = span[0] if span else None
        stats["End"] = span[1] if span else None
        stats["Duration"] = span[1] - span[0] if span else None
        stats["Bars"] = self.bars_processed
        stats["Exposure Time [%]"] = _pct(m.get("exposure"))
        stats[f"Equity Start [{cur}]"] = self.initial_balance
        stats[f"Equity Final [{cur}]"] = m.get("final_equity")
        stats[f"Equity Peak [{cur}]"] = float(max(self.initial_balance, self.equity_curve.max(initial=-np.inf)))
        stats["Return [%]"] = m.get("return_pct")
        stats["CAGR [%]"] = _pct(m.get("cagr"))
        stats["Sharpe Ratio"] = m.get("sharpe")
        stats["Sortino Ratio"] = m.get("sortino")
        stats["Max. Drawdown [%]"] = None if m.get("max_drawdown_pct") is None else -m["max_drawdown_pct"]
        stats[f"Max. Drawdown [{cur}]"] = None if m.get("max_drawdown") is None else -m["max_drawdown"]
        stats["Longest Drawdown [bars]"] = m.get("longest_drawdown_bars")
        stats["# Trades"] = m.get("total_trades")
        stats["Win Rate [%]"] = _pct(m.get("win_rate"))
        pnl = self.trades.column("pnl").to_numpy() if self.trades.num_rows else np.empty(0)
        stats[f"Best Trade [{cur}]"] = float(pnl.max()) if len(pnl) else None
        stats[f"Worst Trade [{cur}]"] = float(pnl.min()) if len(pnl) else None
        stats[f"Net Profit [{cur}]"] = m.get("net_profit")
        stats["Profit Factor"] = m.get("profit_factor")
        stats[f"Expectancy [{cur}]"] = m.get("expectancy")
        stats["Avg. R"] = m.get("avg_r")
        held = self.trades.column("bars_held").to_numpy() if self.trades.num_rows else np.empty(0, np.int64)
        stats["Avg. Trade Duration [bars]"] = float(held.mean()) if len(held) else None
        stats["Max. Trade Duration [bars]"] = int(held.max()) if len(held) else None
        stats[f"Commissions [{cur}]"] = m.get("commission_total")
        stats[f"Swaps [{cur}]"] = m.get("swap_total")
        stats["Signals"] = m.get("signals")
        stats["Signals Rejected"] = m.get("signals_rejected")
        stats["Signals Rejected (Margin)"] = m.get("signals_rejected_margin")
        stats["Stop-Outs"] = m.get("stop_outs")
        stats["Open Positions"] = self.open_positions.num_rows
        return stats

    def __repr__(self) -> str:
        return (
            f"BacktestResult(strategy={self.strategy!r}, backend={self.backend!r}, bars={self.bars_processed}, "
            f"trades={self.trades.num_rows}, open_positions={self.open_positions.num_rows}, "
            f"net_profit={self.metrics.get('net_profit')})"
        )

    def to_pandas(self) -> dict[str, Any]:
        """``{"trades", "open_positions", "equity"}`` as pandas DataFrames (needs pandas)."""
        return {
            "trades": self.trades.to_pandas(),
            "open_positions": self.open_positions.to_pandas(),
            "equity": self.equity.to_pandas(),
        }

    # --- files ----------------------------------------------------------------------------------

    def write(self, directory: str | Path) -> Path:
        """Store the result in `directory` (created): Parquet tables, ``trades.csv`` and ``result.json``.

        `read_result` reads it back into an equal result. Returns the directory.
        """
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        pq.write_table(self.trades, out / "trades.parquet")
        pq.write_table(self.open_positions, out / "open_positions.parquet")
        pq.write_table(self.equity, out / "equity.parquet")
        if self.market is not None:
            pq.write_table(self.market, out / "market.parquet")
        pacsv.write_csv(_flatten_tags(self.trades), out / "trades.csv")
        meta = {
            "format_version": RESULT_FORMAT_VERSION,
            "strategy": self.strategy,
            "backend": self.backend,
            "bars_processed": self.bars_processed,
            "execution_time_ms": self.execution_time_ms,
            "config": self.config,
            "metrics": {k: _clean(v) for k, v in sorted(self.metrics.items())},
        }
        (out / RESULT_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True, allow_nan=False))
        return out

    def report(self, path: str | Path | None = None, *, title: str | None = None) -> Path:
        """Write the HTML report (docs/report.md) to `path` (default ``report.html``); returns the path."""
        from omega.htmlreport import write_report

        return write_report(self, Path("report.html") if path is None else Path(path), title=title)

    def _repr_html_(self) -> str:
        from omega.htmlreport import render_report

        return render_report(self, inline=True)


def _metric_value(name: str, v: Any) -> Any:
    v = _clean(v)
    if v is not None and is_count_metric(name):
        return int(v)
    return v


def read_result(directory: str | Path) -> BacktestResult:
    """Read a result stored by `BacktestResult.write` (E4004 when the directory is not one)."""
    d = Path(directory)
    meta_path = d / RESULT_FILE
    if not meta_path.is_file():
        raise InsufficientDataError(f"{d} holds no Omega result (no {RESULT_FILE})", {"path": str(d)})
    try:
        meta = json.loads(meta_path.read_text())
        version = meta.get("format_version")
        if version != RESULT_FORMAT_VERSION:
            raise InsufficientDataError(
                f"{meta_path}: result format {version!r} is not {RESULT_FORMAT_VERSION}", {"path": str(meta_path)}
            )
        equity = pq.read_table(d / "equity.parquet")
        ts_col = equity.column("timestamp")
        ts = None if ts_col.null_count else np.asarray(pc.cast(ts_col, pa.int64()).to_numpy(), dtype=np.int64)
        market = pq.read_table(d / "market.parquet") if (d / "market.parquet").is_file() else None
        return BacktestResult(
            strategy=str(meta["strategy"]),
            backend=str(meta["backend"]),
            config=dict(meta["config"]),
            trades=pq.read_table(d / "trades.parquet"),
            open_positions=pq.read_table(d / "open_positions.parquet"),
            equity_curve=np.asarray(equity.column("equity").to_numpy(), dtype=np.float64),
            metrics={k: _metric_value(k, v) for k, v in meta["metrics"].items()},
            bars_processed=int(meta["bars_processed"]),
            execution_time_ms=float(meta["execution_time_ms"]),
            timestamps_us=ts,
            market=market,
        )
    except (OSError, KeyError, TypeError, ValueError, pa.ArrowException) as e:
        if isinstance(e, InsufficientDataError):
            raise
        raise InsufficientDataError(f"{d}: stored result is unreadable: {e}", {"path": str(d)}) from e


# --- functions over any result (the native class and the reference's included) ---------------------


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


def metrics_dict(result: Any) -> dict[str, Any]:
    """Metrics with NaN/inf as None and counts as int, sorted by name."""
    metrics = _get(result, "metrics")
    return {k: _metric_value(k, metrics[k]) for k in sorted(metrics)}


def _count(result: Any, which: str) -> int:
    v = _get(result, which)
    return v.num_rows if isinstance(v, pa.Table) else len(v)


def summary_dict(result: Any) -> dict[str, Any]:
    """Backend, bar count, timing, trade counts and metrics of any result in one JSON-ready dict
    (``metrics.json`` of `write_results`; the stats table is `BacktestResult.summary`)."""
    return {
        "backend": getattr(result, "backend", None),
        "bars_processed": _get(result, "bars_processed"),
        "execution_time_ms": _get(result, "execution_time_ms"),
        "trades": _count(result, "trades"),
        "open_positions": _count(result, "open_positions"),
        "metrics": metrics_dict(result),
    }


def to_pandas(result: Any) -> dict[str, Any]:
    """``{"trades", "open_positions", "equity"}`` of any result as pandas DataFrames (needs pandas)."""
    return {
        "trades": _record_table(result, "trades").to_pandas(),
        "open_positions": _record_table(result, "open_positions").to_pandas(),
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
    """Export trades, open positions and equity of any result in each of `formats` (parquet, csv,
    json) and ``metrics.json`` (the `summary_dict`) into `directory` (created); for spreadsheets
    and other tools. Returns the written paths. CSV joins trade tags with ``|``. (To store a result
    and read it back, use `BacktestResult.write` / `read_result`.)"""
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
    metrics_path.write_text(json.dumps(summary_dict(result), indent=1, sort_keys=True))
    written.append(metrics_path)
    return written
