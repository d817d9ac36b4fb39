"""Omega: FX strategy backtesting with the hot loop in Rust, driven from Python.

`run_backtest` is the one entry point; strategies arrive as plugins (`omega.hookspecs`). This
package imports without the native extension: the pure-Python reference backend still works.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from omega import bridge, config, data, errors, hookspecs, plugins, progress, results, sweeps
from omega.api import list_strategies, resolve_backend, run_backtest
from omega.config import BacktestConfig, EngineSettings, StrategyConfig
from omega.errors import (
    IndicatorNotAvailableError,
    InsufficientDataError,
    InternalError,
    InvalidConfigError,
    InvalidSignalError,
    OmegaError,
    PluginIncompatibleError,
    PositionLimitExceededError,
    StrategyNotFoundError,
    StrategyPanicError,
    error_for_code,
    list_errors,
)
from omega.hookspecs import StrategySpec, hookimpl
from omega.htmlreport import report
from omega.plugins import get_strategy, register_plugin
from omega.results import BacktestResult, read_result
from omega.scan import scan_signals
from omega.sweeps import SweepResult, sweep
from omega.walk_forward import WalkForwardResult, walk_forward

try:
    __version__ = version("omega-core")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+source"

__all__ = [
    "BacktestConfig",
    "BacktestResult",
    "EngineSettings",
    "IndicatorNotAvailableError",
    "InsufficientDataError",
    "InternalError",
    "InvalidConfigError",
    "InvalidSignalError",
    "OmegaError",
    "PluginIncompatibleError",
    "PositionLimitExceededError",
    "StrategyConfig",
    "StrategyNotFoundError",
    "StrategyPanicError",
    "StrategySpec",
    "SweepResult",
    "WalkForwardResult",
    "__version__",
    "bridge",
    "config",
    "data",
    "error_for_code",
    "errors",
    "get_strategy",
    "hookimpl",
    "hookspecs",
    "list_errors",
    "list_strategies",
    "plugins",
    "progress",
    "read_result",
    "register_plugin",
    "report",
    "resolve_backend",
    "results",
    "run_backtest",
    "scan_signals",
    "sweep",
    "sweeps",
    "walk_forward",
]
