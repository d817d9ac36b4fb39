"""`omega.sweep`: one strategy, many configs, one market (docs/sweeps.md).

A grid (dotted keys → lists, or a list of partial configs) is expanded into full configs, each
validated up front. The Rust backend runs them all in **one** native call (`_native.run_sweep_rust`)
on a thread pool over one shared series store; that call runs on a background thread while this
thread polls its `SweepControl` for progress and turns Ctrl-C into a cancel. The Python backend
runs the reference engine per config. With ``executor=`` the configs are split into chunks, one
sweep per chunk on the executor's workers (a `concurrent.futures.Executor`, e.g. Dask's).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import os
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from omega import bridge, data, plugins
from omega.api import resolve_backend, run_backtest, warn_config
from omega.config import BacktestConfig, check_nesting, normalize_config
from omega.errors import InvalidConfigError, OmegaError, StrategyNotFoundError
from omega.hookspecs import StrategySpec
from omega.results import COUNT_METRICS, TRADE_SCHEMA, records_to_table

__all__ = ["COUNT_METRICS", "MARKET_KEYS", "SWEEP_TRADE_SCHEMA", "SweepResult", "apply_partial", "expand_grid", "sweep"]


MARKET_KEYS: tuple[str, ...] = ("symbol", "timeframe", "engine.htf_anchor", "engine.allow_crossed_quotes")
"""Config keys that shape the market itself: one sweep runs on one market, so they may not vary."""

SWEEP_TRADE_SCHEMA = pa.schema([pa.field("config_id", pa.int64(), nullable=False), *TRADE_SCHEMA])
"""Columns of `SweepResult.trades`: the config's row, then `omega.results.TRADE_SCHEMA`."""

Grid = Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]]


def is_count_metric(name: str) -> bool:
    """True for metrics that are counts (stored as integers in sweep tables)."""
    return name in COUNT_METRICS or name.startswith("trades_scenario_")


def _flatten(partial: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in partial.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out.update(_flatten(v, f"{key}."))
        else:
            out[key] = v
    return out


def expand_grid(grid: Grid) -> tuple[list[str], list[dict[str, Any]]]:
    """The varied keys and one partial config (dotted key → value) per config.

    A dict of dotted keys → lists is the Cartesian product in the dict's key order, the **last**
    key varying fastest (`itertools.product`). A list of partial configs (nested dicts or dotted
    keys) is taken as given; its varied keys are every key any of them sets, in first-seen order.
    """
    if isinstance(grid, Mapping):
        keys = [str(k) for k in grid]
        values: list[list[Any]] = []
        for k in keys:
            v = grid[k]
            if isinstance(v, str | bytes) or not isinstance(v, Iterable):
                raise InvalidConfigError(f"grid['{k}'] must be a list of values", {"key": k})
            vals = list(v)
            if not vals:
                raise InvalidConfigError(f"grid['{k}'] is empty", {"key": k})
            values.append(vals)
        return keys, [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]
    if isinstance(grid, str | bytes) or not isinstance(grid, Iterable):
        raise InvalidConfigError("grid must be a dict of key → list or a list of partial configs", {"key": "grid"})
    partials: list[dict[str, Any]] = []
    keys = []
    for i, p in enumerate(grid):
        if not isinstance(p, Mapping):
            raise InvalidConfigError(f"grid[{i}] must be a dict (a partial config)", {"key": "grid", "config_index": i})
        flat = _flatten(p)
        partials.append(flat)
        keys.extend(k for k in flat if k not in keys)
    return keys, partials


def apply_partial(base: Mapping[str, Any], partial: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with each dotted key of `partial` set (intermediate dicts created as needed)."""
    out = copy.deepcopy(dict(base))
    for dotted, value in partial.items():
        node = out
        *parents, leaf = dotted.split(".")
        for p in parents:
            nxt = node.get(p)
            if not isinstance(nxt, dict):
                nxt = {}
                node[p] = nxt
            node = nxt
        node[leaf] = copy.deepcopy(value)
    return out


def _get(config: Mapping[str, Any], dotted: str) -> Any:
    node: Any = config
    for p in dotted.split("."):
        if not isinstance(node, Mapping) or p not in node:
            return None
        node = node[p]
    return node


def _validate_all(
    spec: StrategySpec, base: Mapping[str, Any], partials: Sequence[Mapping[str, Any]]
) -> list[BacktestConfig]:
    configs: list[BacktestConfig] = []
    for i, partial in enumerate(partials):
        try:
            configs.append(normalize_config(apply_partial(base, partial), spec.params_model))
        except OmegaError as e:
            key = str(e.context.get("key", "config"))
            raise type(e)(f"sweep config {i}: {e.message}", {**e.context, "config_index": i, "key": key}) from e
    first = configs[0].to_dict()
    for i, c in enumerate(configs[1:], start=1):
        d = c.to_dict()
        for key in MARKET_KEYS:
            if _get(d, key) != _get(first, key):
                raise InvalidConfigError(
                    f"sweep config {i}: '{key}' differs from config 0 ({_get(d, key)!r} vs {_get(first, key)!r});"
                    " one sweep runs on one market",
                    {"key": key, "config_index": i},
                )
    return configs


def value_column(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else json.dumps(v, sort_keys=True) for v in values], pa.utf8())


def build_table(
    keys: Sequence[str], partials: Sequence[Mapping[str, Any]], metrics: Sequence[Mapping[str, Any]]
) -> pa.Table:
    """One row per config: ``config_id``, the varied keys, then every metric (sorted by name;
    counts as int64, a ``trades_scenario_*`` a config did not produce is 0, undefined values null)."""
    cols: dict[str, pa.Array] = {"config_id": pa.array(range(len(partials)), pa.int64())}
    for k in keys:
        cols[k] = value_column([p.get(k) for p in partials])
    names = sorted({name for m in metrics for name in m})
    for name in names:
        if is_count_metric(name):
            fill = 0 if name.startswith("trades_scenario_") else None
            vals = [m.get(name, fill) for m in metrics]
            cols[name] = pa.array([None if v is None else int(v) for v in vals], pa.int64())
        else:
            vals = [m.get(name) for m in metrics]
            cols[name] = pa.array(
                [None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v) for v in vals],
                pa.float64(),
            )
    return pa.table(cols)


@dataclass
class SweepResult:
    """The outcome of `omega.sweep`: `table` (one row per config) and, with ``keep="trades"``,
    `trades` (every config's closed trades with a leading ``config_id``). Pickles (without the
    candles: pass them to `run` after unpickling)."""

    strategy: str
    backend: str
    keys: list[str]
    base_config: dict[str, Any]
    partials: list[dict[str, Any]]
    table: pa.Table
    trades: pa.Table | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    candles: Any = field(default=None, repr=False, compare=False)
    conversion: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.partials)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["candles"] = None
        state["conversion"] = None
        return state

    def config(self, i: int) -> dict[str, Any]:
        """The full validated config of row `i` (a plain dict)."""
        if not 0 <= i < len(self.partials):
            raise IndexError(f"config {i} out of range (0..{len(self.partials) - 1})")
        spec = plugins.get_strategy(self.strategy)
        return normalize_config(apply_partial(self.base_config, self.partials[i]), spec.params_model).to_dict()

    def best(self, metric: str, n: int = 1, *, minimize: bool = False) -> pa.Table:
        """The `n` rows with the highest (or, with `minimize`, lowest) `metric`; nulls last, ties by row."""
        if metric not in self.table.column_names:
            raise InvalidConfigError(f"unknown metric '{metric}'", {"key": "metric"})
        values = self.table.column(metric).to_pylist()
        sign = 1.0 if minimize else -1.0
        order = sorted(range(len(values)), key=lambda i: (values[i] is None, sign * (values[i] or 0.0), i))
        return self.table.take(pa.array(order[: max(n, 0)], pa.int64()))

    def run(
        self, i: int, candles: Any = None, *, backend: str | None = None, conversion: Mapping[str, Any] | None = None
    ) -> Any:
        """Re-run row `i` as a full backtest (trades, equity curve, …) on the sweep's candles and
        conversion candles (or `candles`/`conversion`, required after unpickling)."""
        market = candles if candles is not None else self.candles
        if market is None:
            raise InvalidConfigError(
                "this SweepResult has no candles (it was unpickled): pass candles=", {"key": "candles"}
            )
        rates = conversion if conversion is not None else self.conversion
        return run_backtest(self.strategy, self.config(i), market, backend=backend or self.backend, conversion=rates)


# --- progress -----------------------------------------------------------------------------------


def _interactive() -> bool:
    """A terminal on stderr, or a Jupyter kernel."""
    if "ipykernel" in sys.modules:
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class _Progress:
    """A tqdm bar of configs done / total (or nothing)."""

    def __init__(self, enabled: bool | None, total: int, label: str) -> None:
        self.shown = 0
        self.bar: Any = None
        if enabled if enabled is not None else _interactive():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=label, unit="config", leave=True)

    def to(self, done: int) -> None:
        if self.bar is not None and done > self.shown:
            self.bar.update(done - self.shown)
            self.shown = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# --- backends -----------------------------------------------------------------------------------

POLL_SECONDS = 0.1
"""How often the calling thread checks a running native sweep (progress, Ctrl-C)."""


def _native_sweep(
    spec: StrategySpec,
    configs: Sequence[str],
    candles: Any,
    *,
    threads: int,
    cache_bytes: int | None,
    keep_trades: bool,
    progress: _Progress,
    conversion: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    rust = bridge._get_rust_module()
    if rust is None:
        raise StrategyNotFoundError("omega._native is not available", {"strategy": spec.name, "backend": "rust"})
    control = rust.SweepControl()
    kwargs: dict[str, Any] = {"threads": threads, "keep_trades": keep_trades, "control": control}
    if cache_bytes is not None:
        kwargs["cache_bytes"] = cache_bytes
    if conversion:
        kwargs["conversion"] = {pair: data.to_native_input(c) for pair, c in conversion.items()}
    native_input = data.to_native_input(candles)
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["out"] = rust.run_sweep_rust(spec.name, list(configs), native_input, **kwargs)
        except BaseException as e:  # handed to the calling thread
            box["error"] = e

    worker = threading.Thread(target=work, name="omega-sweep", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(POLL_SECONDS)
            progress.to(control.done)
    except KeyboardInterrupt:
        control.cancel()
        worker.join()
        progress.to(control.done)
        raise
    progress.to(control.done)
    if "error" in box:
        raise box["error"]
    out: dict[str, Any] = box["out"]
    return out


def _reference_one(
    strategy: str,
    config: dict[str, Any],
    candles: Any,
    keep_trades: bool,
    conversion: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], Any]:
    from omega.reference.engine import run_reference_backtest

    spec = plugins.get_strategy(strategy)
    if spec.reference is None:
        raise StrategyNotFoundError(f"strategy '{strategy}' has no Python reference", {"strategy": strategy})
    r = run_reference_backtest(spec.reference, config, candles, conversion)
    return dict(r.metrics), (r.trades if keep_trades else None)


def _python_sweep(
    spec: StrategySpec,
    configs: Sequence[BacktestConfig],
    candles: Any,
    *,
    n_jobs: int | None,
    keep_trades: bool,
    progress: _Progress,
    conversion: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    table = data.to_arrow_table(candles)
    rates = {pair: data.to_arrow_table(c) for pair, c in (conversion or {}).items()} or None
    dicts = [c.to_dict() for c in configs]
    results: list[tuple[dict[str, Any], Any]] = []
    if n_jobs is None or n_jobs <= 1 or len(dicts) == 1:
        for d in dicts:
            results.append(_reference_one(spec.name, d, table, keep_trades, rates))
            progress.to(len(results))
    else:
        with ProcessPoolExecutor(max_workers=n_jobs) as pool:
            futures = [pool.submit(_reference_one, spec.name, d, table, keep_trades, rates) for d in dicts]
            try:
                for f in futures:
                    results.append(f.result())
                    progress.to(len(results))
            except KeyboardInterrupt:
                for f in futures:
                    f.cancel()
                raise
    trades = None
    if keep_trades:
        parts = [records_to_table(t) for _, t in results]
        trades = _with_config_id(parts)
    metrics = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in m.items()} for m, _ in results]
    return {"metrics": metrics, "trades": trades, "stats": {"threads": 1 if n_jobs is None else n_jobs}}


def _with_config_id(parts: Sequence[pa.Table], offset: int = 0) -> pa.Table:
    tables = []
    for i, t in enumerate(parts):
        ids = pa.array([offset + i] * t.num_rows, pa.int64())
        tables.append(t.add_column(0, pa.field("config_id", pa.int64(), nullable=False), ids))
    if not tables:
        raise ValueError("no trade tables")
    return pa.concat_tables(tables)


# --- executors (Dask and friends) ---------------------------------------------------------------

_WORKER_MARKET: dict[str, Any] = {}
"""Per worker process: the market of the last chunk (digest → candles or native IndicatorCache)."""


def _market_on_worker(digest: str, ipc: bytes, backend: str, config: Mapping[str, Any]) -> Any:
    cached = _WORKER_MARKET.get(digest)
    if cached is not None:
        return cached
    table = data.to_arrow_table(ipc)
    market: Any = table
    if backend == "rust":
        rust = bridge._get_rust_module()
        if rust is not None:
            eng = config.get("engine", {})
            market = rust.IndicatorCache(
                table,
                timeframe=config["timeframe"],
                symbol=config["symbol"],
                htf_anchor=eng.get("htf_anchor", "utc"),
                allow_crossed_quotes=bool(eng.get("allow_crossed_quotes", False)),
            )
    _WORKER_MARKET.clear()
    _WORKER_MARKET[digest] = market
    return market


def run_chunk(
    strategy: str,
    backend: str,
    configs: list[str],
    digest: str,
    ipc: bytes,
    n_jobs: int | None,
    cache_bytes: int | None,
    keep_trades: bool,
    conversion: Mapping[str, bytes] | None = None,
) -> dict[str, Any]:
    """One chunk of a sweep on an executor's worker: configs (JSON) over the market `ipc` (Arrow
    IPC bytes, converted once per worker process and reused by its later chunks), with the
    conversion candles `conversion` (pair → Arrow IPC bytes)."""
    spec = plugins.get_strategy(strategy)
    cfgs = [normalize_config(c, spec.params_model) for c in configs]
    market = _market_on_worker(digest, ipc, backend, cfgs[0].to_dict())
    rates = {pair: data.to_arrow_table(b) for pair, b in (conversion or {}).items()} or None
    quiet = _Progress(False, len(cfgs), "")
    if backend == "rust":
        return _native_sweep(
            spec,
            configs,
            market,
            threads=n_jobs or 0,
            cache_bytes=cache_bytes,
            keep_trades=keep_trades,
            progress=quiet,
            conversion=rates,
        )
    return _python_sweep(spec, cfgs, market, n_jobs=1, keep_trades=keep_trades, progress=quiet, conversion=rates)


def _executor_workers(executor: Executor) -> int:
    client = getattr(executor, "_client", None)
    if client is not None:
        try:
            info: dict[str, Any] = client.scheduler_info()
            return max(1, len(info.get("workers", {})))
        except Exception:  # any client trouble: fall back to one worker
            return 1
    workers = getattr(executor, "_max_workers", None)
    return workers if isinstance(workers, int) and workers > 0 else os.cpu_count() or 1


def _ship(executor: Executor, ipc: bytes) -> Any:
    """The market as the executor's tasks should receive it: scattered once to every Dask worker
    (tasks then get the worker's copy), or the bytes themselves for other executors."""
    client = getattr(executor, "_client", None)
    if client is not None and hasattr(client, "scatter"):
        return client.scatter(ipc, broadcast=True, hash=True)
    return ipc


def _executor_sweep(
    executor: Executor,
    spec: StrategySpec,
    backend: str,
    configs: Sequence[BacktestConfig],
    candles: Any,
    *,
    n_jobs: int | None,
    cache_bytes: int | None,
    keep_trades: bool,
    progress: _Progress,
    conversion: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    ipc = data.table_to_ipc_bytes(data.to_arrow_table(candles))
    digest = hashlib.sha256(ipc).hexdigest()
    shipped = _ship(executor, ipc)
    # conversion candles go with each chunk: usually far fewer bytes than the market's
    rates = {pair: data.table_to_ipc_bytes(data.to_arrow_table(c)) for pair, c in (conversion or {}).items()} or None
    texts = [c.to_json() for c in configs]
    n_chunks = min(len(texts), 2 * _executor_workers(executor))
    size = math.ceil(len(texts) / n_chunks)
    bounds = [(s, min(s + size, len(texts))) for s in range(0, len(texts), size)]
    futures = [
        executor.submit(
            run_chunk, spec.name, backend, texts[a:b], digest, shipped, n_jobs, cache_bytes, keep_trades, rates
        )
        for a, b in bounds
    ]
    metrics: list[dict[str, Any]] = []
    trade_parts: list[pa.Table] = []
    try:
        for (a, _), f in zip(bounds, futures, strict=True):
            out = f.result()
            metrics.extend(out["metrics"])
            if keep_trades and out["trades"] is not None:
                t = out["trades"]
                ids = pc.add(t.column("config_id"), pa.scalar(a, pa.int64()))
                trade_parts.append(t.set_column(0, pa.field("config_id", pa.int64(), nullable=False), ids))
            progress.to(len(metrics))
    except KeyboardInterrupt:
        for f in futures:
            f.cancel()
        raise
    trades = pa.concat_tables(trade_parts) if trade_parts else None
    return {"metrics": metrics, "trades": trades, "stats": {"chunks": len(bounds)}}


# --- the entry point ----------------------------------------------------------------------------


def sweep(
    strategy: str | StrategySpec,
    base_config: Any,
    grid: Grid,
    candles: Any,
    *,
    n_jobs: int | None = None,
    executor: Executor | None = None,
    keep: str = "metrics",
    progress: bool | None = None,
    backend: str | None = None,
    cache_bytes: int | None = None,
    conversion: Mapping[str, Any] | None = None,
) -> SweepResult:
    """Backtest `strategy` on `candles` under every config of `grid` applied to `base_config`.

    Args:
        strategy: registered name or spec.
        base_config: the config every grid point starts from (any form `run_backtest` accepts).
        grid: dotted keys → lists (Cartesian product, last key fastest) or a list of partial configs.
        candles: as for `run_backtest` (an `_native.IndicatorCache` shares its market).
        n_jobs: worker threads (Rust; default: all cores) or processes (Python backend; default 1).
        executor: a `concurrent.futures.Executor` (e.g. ``dask.distributed.Client().get_executor()``)
            running the sweep in chunks on its workers.
        keep: ``"metrics"`` or ``"trades"`` (also keep every config's trades, see `SweepResult.trades`).
        progress: show a tqdm bar; default: only in a terminal or notebook.
        backend: ``"rust"``/``"python"`` as for `run_backtest`.
        cache_bytes: byte budget of the Rust backend's series store (default
            `_native.default_cache_bytes()`, 1 GiB).
        conversion: pair name → conversion candles, as for `run_backtest` (e.g. ``{"USDJPY": usdjpy}``
            for EURJPY in a USD account), shared by every config.

    Every config is validated before anything runs: a bad one is E4002 naming ``config_index`` and
    the key. Ctrl-C cancels a running sweep, running configs included (`KeyboardInterrupt`).
    """
    if conversion is not None and not isinstance(conversion, Mapping):
        raise InvalidConfigError(
            f"conversion must be a dict of pair name → candles, not {type(conversion).__name__}", {"key": "conversion"}
        )
    if keep not in ("metrics", "trades"):
        raise InvalidConfigError(f"keep={keep!r} is not 'metrics' or 'trades'", {"key": "keep"})
    if n_jobs is not None and n_jobs < 1:
        raise InvalidConfigError(f"n_jobs={n_jobs} must be >= 1 (or None: all cores)", {"key": "n_jobs"})
    if cache_bytes is not None and cache_bytes < 0:
        raise InvalidConfigError(f"cache_bytes={cache_bytes} must be >= 0", {"key": "cache_bytes"})
    spec = strategy if isinstance(strategy, StrategySpec) else plugins.get_strategy(strategy)
    base = normalize_config(base_config, spec.params_model).to_dict()
    check_nesting(grid, "grid")
    keys, partials = expand_grid(grid)
    if not partials:
        raise InvalidConfigError("the grid has no configs", {"key": "grid"})
    configs = _validate_all(spec, base, partials)
    chosen = resolve_backend(spec, backend)
    keep_trades = keep == "trades"
    bar = _Progress(progress, len(configs), f"sweep {spec.name}")
    try:
        if executor is not None:
            out = _executor_sweep(
                executor,
                spec,
                chosen,
                configs,
                candles,
                n_jobs=n_jobs,
                cache_bytes=cache_bytes,
                keep_trades=keep_trades,
                progress=bar,
                conversion=conversion,
            )
        elif chosen == "rust":
            for c in configs:
                warn_config(spec, c.to_dict())
            out = _native_sweep(
                spec,
                [c.to_json() for c in configs],
                candles,
                threads=n_jobs or 0,
                cache_bytes=cache_bytes,
                keep_trades=keep_trades,
                progress=bar,
                conversion=conversion,
            )
        else:
            out = _python_sweep(
                spec, configs, candles, n_jobs=n_jobs, keep_trades=keep_trades, progress=bar, conversion=conversion
            )
    finally:
        bar.close()
    trades = out.get("trades")
    if keep_trades:
        trades = SWEEP_TRADE_SCHEMA.empty_table() if trades is None else trades.cast(SWEEP_TRADE_SCHEMA)
    return SweepResult(
        strategy=spec.name,
        backend=chosen,
        keys=keys,
        base_config=base,
        partials=partials,
        table=build_table(keys, partials, out["metrics"]),
        trades=trades,
        stats=dict(out.get("stats", {})),
        candles=candles,
        conversion=conversion,
    )
