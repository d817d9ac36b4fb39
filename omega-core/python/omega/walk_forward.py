"""`omega.walk_forward`: sweep on a training span, trade the best config on the span after it,
window by window (docs/sweeps.md "Walk-forward")."""

from __future__ import annotations

import re
from collections.abc import Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from omega import data, plugins
from omega.api import run_backtest
from omega.config import normalize_config
from omega.errors import InsufficientDataError, InvalidConfigError
from omega.hookspecs import StrategySpec
from omega.results import trades_to_table
from omega.sweeps import Grid, SweepResult, apply_partial, is_count_metric, sweep, value_column

__all__ = ["WalkForwardResult", "Window", "parse_span", "plan_windows", "walk_forward"]

_UNITS_US = {
    "us": 1,
    "ms": 1_000,
    "s": 1_000_000,
    "min": 60_000_000,
    "m": 60_000_000,
    "h": 3_600_000_000,
    "d": 86_400_000_000,
    "w": 7 * 86_400_000_000,
}
_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$")


def parse_span(span: int | str, name: str) -> tuple[str, int]:
    """``("bars", n)`` for a bar count, ``("us", µs)`` for a duration such as ``"90D"``/``"12h"``."""
    if isinstance(span, bool):
        raise InvalidConfigError(f"{name}={span!r} is not a bar count or a duration", {"key": name})
    if isinstance(span, int):
        if span < 1:
            raise InvalidConfigError(f"{name}={span} must be >= 1 bar", {"key": name})
        return "bars", span
    m = _SPAN.match(str(span))
    unit = m.group(2).lower() if m else ""
    if m is None or unit not in _UNITS_US:
        raise InvalidConfigError(
            f"{name}={span!r} is not a bar count or a duration like '90D', '12h', '30min', '2W'", {"key": name}
        )
    us = int(float(m.group(1)) * _UNITS_US[unit])
    if us < 1:
        raise InvalidConfigError(f"{name}={span!r} must be positive", {"key": name})
    return "us", us


@dataclass(frozen=True)
class Window:
    """Bar index ranges (end exclusive) of one walk-forward window."""

    index: int
    train: tuple[int, int]
    test: tuple[int, int]


def plan_windows(
    ts: np.ndarray[Any, Any], train: int | str, test: int | str, step: int | str | None, anchored: bool
) -> list[Window]:
    """The windows over bars with open times `ts` (docs/sweeps.md).

    Bar counts: window k trains on ``[k·step, k·step + train)`` and tests on the next `test` bars,
    while a full test span fits. Durations: the same on the clock from the first bar's open time,
    each span holding the bars that open inside it; a window whose training or test span holds no
    bar (a data gap) is skipped, and the last test span may be cut by the data's end.
    """
    tr, te = parse_span(train, "train"), parse_span(test, "test")
    st = te if step is None else parse_span(step, "step")
    kinds = {tr[0], te[0], st[0]}
    if len(kinds) != 1:
        raise InvalidConfigError("train, test and step must all be bar counts or all be durations", {"key": "step"})
    n = len(ts)
    spans: list[tuple[tuple[int, int], tuple[int, int]]] = []
    if tr[0] == "bars":
        start = 0
        while start + tr[1] + te[1] <= n:
            spans.append(((0 if anchored else start, start + tr[1]), (start + tr[1], start + tr[1] + te[1])))
            start += st[1]
    elif n:
        t0 = int(ts[0])
        t = t0
        while t + tr[1] <= int(ts[-1]):
            a = int(np.searchsorted(ts, t0 if anchored else t, side="left"))
            b = int(np.searchsorted(ts, t + tr[1], side="left"))
            d = int(np.searchsorted(ts, t + tr[1] + te[1], side="left"))
            if a < b < d:
                spans.append(((a, b), (b, d)))
            t += st[1]
    if not spans:
        raise InsufficientDataError(
            f"{n} bars hold no walk-forward window of train={train!r} + test={test!r}", {"key": "train"}
        )
    return [Window(k, train_span, test_span) for k, (train_span, test_span) in enumerate(spans)]


@dataclass
class WalkForwardResult:
    """Per-window rows, the chosen configs, and the stitched out-of-sample trades and equity."""

    windows: pa.Table
    trades: pa.Table
    equity: pa.Table
    configs: list[dict[str, Any]]
    sweeps: list[SweepResult] = field(default_factory=list, repr=False)


def _best_row(res: SweepResult, metric: str, minimize: bool) -> dict[str, Any]:
    row: dict[str, Any] = res.best(metric, 1, minimize=minimize).to_pylist()[0]
    return row


def walk_forward(
    strategy: str | StrategySpec,
    base_config: Any,
    grid: Grid,
    candles: Any,
    *,
    train: int | str,
    test: int | str,
    step: int | str | None = None,
    anchored: bool = False,
    metric: str = "net_profit",
    minimize: bool = False,
    n_jobs: int | None = None,
    executor: Executor | None = None,
    progress: bool | None = None,
    backend: str | None = None,
    conversion: Mapping[str, Any] | None = None,
) -> WalkForwardResult:
    """Walk-forward analysis in one call (docs/sweeps.md "Walk-forward").

    For each window: `omega.sweep` of `grid` on the training span, the best row by `metric`
    (highest, or lowest with `minimize`), then that config over training + test span with trading
    allowed from the test span's first bar (the training bars are its warm-up). `conversion`
    (pair name → candles, as for `run_backtest`) serves every window: conversion bars are matched
    by time, so they may cover more than the market.
    """
    spec = strategy if isinstance(strategy, StrategySpec) else plugins.get_strategy(strategy)
    table = data.to_arrow_table(candles)
    ts = np.asarray(table.column("timestamp_us").to_numpy(), dtype=np.int64)
    windows = plan_windows(ts, train, test, step, anchored)
    base = normalize_config(base_config, spec.params_model).to_dict()

    def one(w: Window) -> tuple[SweepResult, dict[str, Any], Any]:
        a, b = w.train
        res = sweep(
            spec,
            base,
            grid,
            table.slice(a, b - a),
            n_jobs=n_jobs,
            executor=executor,
            progress=progress,
            backend=backend,
            conversion=conversion,
        )
        if metric not in res.table.column_names:
            raise InvalidConfigError(f"unknown metric '{metric}'", {"key": "metric"})
        best = _best_row(res, metric, minimize)
        chosen = res.config(best["config_id"])
        test_start = int(ts[w.test[0]])
        run_cfg = apply_partial(
            chosen, {"engine.start_time_us": max(test_start, chosen["engine"].get("start_time_us") or test_start)}
        )
        oos = run_backtest(spec, run_cfg, table.slice(a, w.test[1] - a), backend=res.backend, conversion=conversion)
        return res, best, (chosen, oos)

    if executor is not None and len(windows) > 1:
        with ThreadPoolExecutor(max_workers=len(windows)) as pool:
            outs = list(pool.map(one, windows))
    else:
        outs = [one(w) for w in windows]

    rows: dict[str, list[Any]] = {
        k: []
        for k in (
            "window",
            "train_start_us",
            "train_end_us",
            "test_start_us",
            "test_end_us",
            "train_bars",
            "test_bars",
            "config_id",
        )
    }
    keys = outs[0][0].keys
    chosen_values: dict[str, list[Any]] = {k: [] for k in keys}
    is_metrics: list[dict[str, Any]] = []
    oos_metrics: list[dict[str, Any]] = []
    trade_parts: list[pa.Table] = []
    eq_ts: list[np.ndarray[Any, Any]] = []
    eq_vals: list[np.ndarray[Any, Any]] = []
    eq_win: list[np.ndarray[Any, Any]] = []
    carried = None
    configs: list[dict[str, Any]] = []
    for w, (res, best, (chosen, oos)) in zip(windows, outs, strict=True):
        (a, b), (c, d) = w.train, w.test
        for k, v in zip(
            rows,
            (w.index, int(ts[a]), int(ts[b - 1]), int(ts[c]), int(ts[d - 1]), b - a, d - c, best["config_id"]),
            strict=True,
        ):
            rows[k].append(v)
        for k in keys:
            chosen_values[k].append(best[k])
        is_metrics.append({m: best[m] for m in res.table.column_names[1 + len(keys) :]})
        oos_metrics.append(dict(oos.metrics))
        configs.append(chosen)
        t = trades_to_table(oos)
        trade_parts.append(
            t.add_column(
                0, pa.field("window", pa.int64(), nullable=False), pa.array([w.index] * t.num_rows, pa.int64())
            )
        )
        equity = np.asarray(oos.equity_curve, dtype=np.float64)[c - a :]
        initial = float(chosen["engine"]["initial_balance"])
        shift = 0.0 if carried is None else carried - initial
        eq_vals.append(equity + shift)
        eq_ts.append(ts[c:d])
        eq_win.append(np.full(d - c, w.index, dtype=np.int64))
        carried = float(equity[-1] + shift)

    cols: dict[str, pa.Array] = {k: pa.array(v, pa.int64()) for k, v in rows.items()}
    for k in keys:
        cols[k] = value_column(chosen_values[k])
    for prefix, ms in (("is_", is_metrics), ("oos_", oos_metrics)):
        for name in sorted({n for m in ms for n in m}):
            vals = [m.get(name) for m in ms]
            if is_count_metric(name):
                fill = 0 if name.startswith("trades_scenario_") else None
                cols[prefix + name] = pa.array([fill if v is None else int(v) for v in vals], pa.int64())
            else:
                cols[prefix + name] = pa.array([None if v is None or v != v else float(v) for v in vals], pa.float64())
    equity_table = pa.table(
        {
            "window": pa.array(np.concatenate(eq_win)),
            "timestamp_us": pa.array(np.concatenate(eq_ts)),
            "equity": pa.array(np.concatenate(eq_vals)),
        }
    )
    return WalkForwardResult(
        windows=pa.table(cols),
        trades=pa.concat_tables(trade_parts),
        equity=equity_table,
        configs=configs,
        sweeps=[o[0] for o in outs],
    )
