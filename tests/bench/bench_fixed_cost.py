"""Fixed cost of one `omega.run_backtest` call (issue 11 item 2), and where it goes.

A run on a small market (default 200 M1 bars, seed 11) is almost all fixed cost: config
validation, backend choice, candle conversion, the native call's own setup and the result object.
Prints, per strategy, the median and minimum wall time of one whole call over many calls, then the
median time of each stage measured the same way (the stages are the ones `omega.api.run_backtest`
performs, called one by one), and the per-bar cost at the larger sizes given by --bars.

    python tests/bench/bench_fixed_cost.py [--bars 200 30000 1000000] [--calls 2000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import omega
from omega import api, bridge, data, plugins
from omega.config import normalize_config
from omega.results import BacktestResult

STRATEGIES = {
    "test plugin `omega_test_sma_cross`": ("omega_test_sma_cross", {"fast": 5, "slow": 20}),
    "MRZ, all scenarios": ("mean_reversion_z_score", {}),
}


def timed(fn: Callable[[], Any], calls: int) -> list[float]:
    """Wall times of `calls` calls of `fn`, in ms (after 20 untimed warm-up calls)."""
    for _ in range(min(20, calls)):
        fn()
    out = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def stages(name: str, config: dict[str, Any], candles: Any, calls: int) -> dict[str, float]:
    """Median ms of each stage of a Rust-backend `run_backtest` call."""
    rust = bridge._get_rust_module()
    assert rust is not None, "omega._native is required"
    spec = plugins.get_strategy(name)
    cfg = normalize_config(config, spec.params_model)
    cfg_dict = cfg.to_dict()
    native_config = rust.StrategyConfig.from_json(cfg.to_json())
    table = data.to_arrow_table(candles)
    raw = rust.run_backtest_rust(name, native_config, table, None)
    parts: dict[str, Callable[[], Any]] = {
        "plugins.get_strategy": lambda: plugins.get_strategy(name),
        "normalize_config (pydantic)": lambda: normalize_config(config, spec.params_model),
        "resolve_backend": lambda: api.resolve_backend(spec, "rust"),
        "config to_dict + to_json": lambda: (cfg.to_dict(), cfg.to_json()),
        "to_arrow_table": lambda: data.to_arrow_table(candles),
        "warn_config": lambda: api.warn_config(spec, cfg_dict),
        "StrategyConfig.from_json": lambda: rust.StrategyConfig.from_json(cfg.to_json()),
        "native run_backtest_rust": lambda: rust.run_backtest_rust(name, native_config, table, None),
        "BacktestResult.from_backend": lambda: BacktestResult.from_backend(
            raw, strategy=name, config=cfg_dict, market=table
        ),
    }
    return {k: statistics.median(timed(f, calls)) for k, f in parts.items()}


def main() -> None:
    """Parse arguments, measure, print Markdown tables."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bars", type=int, nargs="+", default=[200, 30_000, 1_000_000])
    ap.add_argument("--calls", type=int, default=2000, help="timed calls on the smallest market")
    args = ap.parse_args()
    markets = {n: data.generate_market(n_bars=n, seed=11) for n in args.bars}
    installed = {s["name"] for s in omega.list_strategies()}
    for label in [k for k, (name, _) in STRATEGIES.items() if name not in installed]:
        print(f"skipped (not installed): {label}")
        del STRATEGIES[label]
    small = min(args.bars)
    print("| strategy | bars | calls | median ms/call | min ms/call | ns/bar (median) |")
    print("|---|---|---|---|---|---|")
    for label, (name, params) in STRATEGIES.items():
        config = {"symbol": "EURUSD", "timeframe": "M1", "params": params}
        for n, candles in markets.items():
            calls = max(3, args.calls * small // n)
            t = timed(lambda s=name, k=config, c=candles: omega.run_backtest(s, k, c, backend="rust"), calls)
            med = statistics.median(t)
            print(f"| {label} | {n:,} | {calls} | {med:.4f} | {min(t):.4f} | {med * 1e6 / n:.0f} |")
    for label, (name, params) in STRATEGIES.items():
        config = {"symbol": "EURUSD", "timeframe": "M1", "params": params}
        parts = stages(name, config, markets[small], args.calls)
        print(f"\nStages of one call, {label}, {small} bars (median ms):\n")
        print("| stage | median ms |")
        print("|---|---|")
        for k, v in parts.items():
            print(f"| {k} | {v:.4f} |")
        print(f"| sum | {sum(parts.values()):.4f} |")


if __name__ == "__main__":
    main()
