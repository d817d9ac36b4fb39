"""`omega.run_backtest`: resolve the strategy, validate the config, pick the backend, run.

The Rust backend is one call into `omega._native` (no Python runs until it returns); the Python
backend is the pure-Python reference engine. Both give an `omega.BacktestResult`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from omega import bridge, data, plugins
from omega.config import normalize_config
from omega.errors import InvalidConfigError, StrategyNotFoundError, config_warning_error
from omega.hookspecs import StrategySpec
from omega.progress import bar
from omega.results import BacktestResult

Backend = Literal["rust", "python"]


def resolve_backend(spec: StrategySpec, backend: str | None = None) -> Backend:
    """The backend a run of `spec` uses.

    `backend` (``"rust"``/``"python"``) overrides the flag; ``None`` or ``"auto"`` follows
    ``OMEGA_USE_RUST_STRATEGY`` (see `omega.bridge`): ``auto`` prefers Rust when it is available
    for this strategy, else Python. A forced backend that cannot run `spec` is E4001; an unknown
    `backend` value is E4002.
    """
    if backend is not None and not isinstance(backend, str):
        raise InvalidConfigError(
            f"backend={backend!r} is not one of 'rust', 'python', None (a {type(backend).__name__})", {"key": "backend"}
        )
    choice = "auto" if backend is None else backend.strip().lower()
    if choice not in ("auto", "rust", "python"):
        raise InvalidConfigError(f"backend={backend!r} is not one of 'rust', 'python', None", {"key": "backend"})
    if choice == "auto":
        flag = bridge.flag_value()
        choice = {"true": "rust", "false": "python"}.get(flag, "auto")
    rust_ok = spec.capsule is not None and bridge.is_rust_strategy_available(spec.name)
    if choice == "rust" or (choice == "auto" and rust_ok):
        if not rust_ok:
            why = "omega._native is not available" if bridge._get_rust_module() is None else "it has no Rust capsule"
            raise StrategyNotFoundError(
                f"strategy '{spec.name}' cannot run on the Rust backend: {why}",
                {"strategy": spec.name, "backend": "rust", "package": spec.package},
            )
        return "rust"
    if spec.reference is None:
        raise StrategyNotFoundError(
            f"strategy '{spec.name}' has no pure-Python reference implementation"
            + ("" if choice == "python" else " and its Rust implementation is not available"),
            {"strategy": spec.name, "backend": "python", "package": spec.package},
        )
    return "python"


def run_backtest(
    strategy: str | StrategySpec,
    config: Any,
    candles: Any,
    *,
    backend: str | None = None,
    conversion: Mapping[str, Any] | None = None,
    progress: bool | None = None,
) -> BacktestResult:
    """Run one backtest and return its `omega.BacktestResult` (the same class on both backends).

    Args:
        strategy: a registered strategy name (plugins are discovered on first use) or a spec.
        config: dict, `omega.BacktestConfig`, JSON text or `_native.StrategyConfig`; ``params``
            are validated by the strategy's params model (unknown keys: E4002 naming the key).
        candles: pyarrow Table/RecordBatch/reader, IPC bytes, a .parquet/.arrow path, a dict of
            columns, or any ``__arrow_c_stream__`` exporter (pandas, polars, …); on the Rust
            backend also a native ``IndicatorCache`` (the result then has no timestamps).
        backend: ``"rust"`` or ``"python"`` to override ``OMEGA_USE_RUST_STRATEGY``.
        conversion: pair name → candles of that pair (same forms as ``candles``, same timeframe),
            for an instrument quoted in neither the account currency nor convertible through
            itself, e.g. ``{"GBPUSD": gbpusd}`` for EURGBP in a USD account (docs/engine.md
            "Account currency"). A needed pair that is missing is E4004 naming it.
        progress: progress bar for Python-backend runs (`omega.progress`); None = when visible.

    Ctrl-C stops a run on either backend with `KeyboardInterrupt` (docs/errors.md "Interrupts").
    """
    if conversion is not None and not isinstance(conversion, Mapping):
        raise InvalidConfigError(
            f"conversion must be a dict of pair name → candles, not {type(conversion).__name__}", {"key": "conversion"}
        )
    spec = strategy if isinstance(strategy, StrategySpec) else plugins.get_strategy(strategy)
    cfg = normalize_config(config, spec.params_model)
    chosen = resolve_backend(spec, backend)
    config_dict = cfg.to_dict()
    # One conversion to a Table, shared by the run and the result.
    table = None if data._is_native_cache(candles) else data.to_arrow_table(candles)
    if chosen == "rust":
        warn_config(spec, config_dict)
        rust = bridge._get_rust_module()
        if rust is None:  # resolve_backend checked this; kept for type narrowing
            raise StrategyNotFoundError("omega._native is not available", {"strategy": spec.name})
        native_config = rust.StrategyConfig.from_json(cfg.to_json())
        native_conversion = {pair: data.to_native_input(c) for pair, c in (conversion or {}).items()}
        raw = rust.run_backtest_rust(
            spec.name, native_config, candles if table is None else table, native_conversion or None
        )
        return BacktestResult.from_backend(raw, strategy=spec.name, config=config_dict, market=table)
    from omega.reference.engine import run_reference_backtest

    if spec.reference is None:  # resolve_backend checked this; kept for type narrowing
        raise StrategyNotFoundError(f"strategy '{spec.name}' has no Python reference", {"strategy": spec.name})
    if table is None:
        table = data.to_arrow_table(candles)  # raises the clear E4004 for a native cache
    with bar(table.num_rows, f"{spec.name} (python)", progress) as update:
        tables = {pair: data.to_arrow_table(c) for pair, c in (conversion or {}).items()}
        ref = run_reference_backtest(spec.reference, config_dict, table, tables, progress=update)
    return BacktestResult.from_backend(ref, strategy=spec.name, config=config_dict, market=table)


def warn_config(spec: StrategySpec, config: dict[str, Any]) -> None:
    """Emit the strategy's config-time warnings before a Rust run (the reference warns in ``on_init``).

    A warning that the warnings filter turns into an exception (``python -W error``) is E4002, as
    on the reference backend (`omega.errors.config_warning_error`)."""
    if spec.warn_config is None:
        return
    try:
        spec.warn_config(config)
    except InvalidConfigError:
        # Not a warning: the run itself rejects the config, after the market checks, as the Python
        # backend does (one verdict: bad candles with a bad config are E4004 on both backends).
        return
    except Warning as w:
        raise config_warning_error(spec.name, w) from w


def list_strategies() -> list[dict[str, Any]]:
    """Every discovered strategy: ``{name, version, package, backends}``."""
    return plugins.list_strategies()
