"""Pure-Python reference backend: the same semantics as the Rust engine, in plain loops.

It never imports Rust (`omega._native`): parity tests compare two independent implementations.
Modules: `engine` (bar loop), `strategy` (the `Strategy` base class mirroring `RustStrategy`),
`types`, `market` (validated bars, resampling), `cache` (`MarketHost`, `IndicatorCache`),
`indicators`, `keys`, `sessions`, `rng`, `metrics`.
"""

from omega.reference.engine import run_reference_backtest
from omega.reference.strategy import Strategy

__all__ = ["Strategy", "run_reference_backtest"]
