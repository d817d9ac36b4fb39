"""The seed's Python bridge (the FFI seed specification's "Python Bridge API"), with its four
functions under their seed names, and the feature flag that picks the backend.

``OMEGA_USE_RUST_STRATEGY`` (read on every call, case-insensitive, surrounding blanks ignored):

- unset, empty or ``auto`` (default): use Rust when ``omega._native`` imports and the strategy has
  a Rust implementation; otherwise the pure-Python reference.
- ``true`` or ``1``: force Rust; a strategy without a Rust implementation (or no native module) is
  ``StrategyNotFoundError`` (E4001) when the backtest runs.
- ``false`` or ``0``: force the pure-Python reference backend.
- anything else: ``InvalidConfigError`` (E4002) naming the value.
"""

from __future__ import annotations

import contextlib
import os
from types import ModuleType
from typing import Any, Literal

from omega.errors import InvalidConfigError, StrategyNotFoundError

FLAG = "OMEGA_USE_RUST_STRATEGY"
"""Name of the environment variable that selects the backend."""

Flag = Literal["auto", "true", "false"]

_RUST_MODULE: ModuleType | None = None
_IMPORT_FAILED = False


def _get_rust_module() -> ModuleType | None:
    """`omega._native`, or None when the extension is not built/installed (cached)."""
    global _RUST_MODULE, _IMPORT_FAILED
    if _RUST_MODULE is None and not _IMPORT_FAILED:
        try:
            from omega import _native
        except ImportError:
            _IMPORT_FAILED = True
            return None
        _RUST_MODULE = _native
    return _RUST_MODULE


def flag_value() -> Flag:
    """The normalised value of ``OMEGA_USE_RUST_STRATEGY`` (E4002 for an unknown value)."""
    raw = os.environ.get(FLAG)
    value = (raw or "").strip().lower()
    if value in ("", "auto"):
        return "auto"
    if value in ("true", "1"):
        return "true"
    if value in ("false", "0"):
        return "false"
    raise InvalidConfigError(
        f"{FLAG}={raw!r} is not one of auto, true, 1, false, 0",
        {"key": FLAG, "value": raw},
    )


def is_rust_strategy_available(strategy_name: str) -> bool:
    """True when the native module is importable and a Rust implementation of `strategy_name` is
    registered in ``_native.STRATEGY_REGISTRY`` (plugins are discovered first). Ignores the flag."""
    rust = _get_rust_module()
    if rust is None:
        return False
    from omega import plugins

    plugins.discover()
    return hasattr(rust, "STRATEGY_REGISTRY") and strategy_name in rust.STRATEGY_REGISTRY


def should_use_rust_strategy() -> bool:
    """Whether the flag asks for Rust: ``false``/``0`` → False; ``true``/``1`` → True (even if Rust
    is unavailable: the run then fails with E4001); ``auto`` → True iff ``omega._native`` imports.
    An invalid flag value raises E4002."""
    flag = flag_value()
    if flag == "false":
        return False
    if flag == "true":
        return True
    return _get_rust_module() is not None


def run_rust_backtest(strategy_name: str, config: Any, candle_data: Any) -> Any:
    """Run a whole backtest in Rust: one native backtest call (`_native.run_backtest_rust`), during
    which no Python code runs.

    Args:
        strategy_name: name of a strategy registered with a Rust capsule.
        config: dict, `omega.config.BacktestConfig` or JSON text (validated here, E4002, and
            again by the core).
        candle_data: any container accepted by `omega.data.to_arrow_table`.

    Returns:
        `omega._native.BacktestResult` (trades, open_positions, equity_curve, metrics,
        bars_processed, execution_time_ms, backend="rust").

    Raises:
        StrategyNotFoundError (E4001): no native module, or no Rust strategy of that name.
        InvalidConfigError (E4002), InsufficientDataError (E4004), … as raised by the core.
    """
    rust = _get_rust_module()
    if rust is None:
        raise StrategyNotFoundError(
            f"cannot run '{strategy_name}' in Rust: the native module omega._native is not available",
            {"strategy": strategy_name, "backend": "rust"},
        )
    from omega import config as config_mod
    from omega import data, plugins

    plugins.discover()
    params_model = None
    with contextlib.suppress(StrategyNotFoundError):  # the core reports E4001 below
        params_model = plugins.get_strategy(strategy_name).params_model
    cfg = config_mod.normalize_config(config, params_model)
    native_config = rust.StrategyConfig.from_json(cfg.to_json())
    return rust.run_backtest_rust(strategy_name, native_config, data.to_native_input(candle_data))


def get_active_backend() -> str:
    """``"rust"`` or ``"python"``: what the flag selects right now (for CI checks)."""
    return "rust" if should_use_rust_strategy() else "python"
