"""The demo backtest: a generated market, one strategy, every available backend, a short report.

Used by ``omega demo`` / ``python -m omega demo`` and ``nox -s demo``. Returns a process exit code:
0 on success, 1 when nothing can run or the backends disagree on the trades.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from omega import data, plugins, results
from omega.api import run_backtest

_SHOWN_METRICS = (
    "total_trades",
    "win_rate",
    "net_profit",
    "profit_factor",
    "max_drawdown",
    "sharpe",
    "final_equity",
    "signals",
    "signals_rejected",
)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:,.0f}" if v.is_integer() else f"{v:,.4f}"
    return str(v)


def _pick(strategy: str | None) -> dict[str, Any] | None:
    available = [s for s in plugins.list_strategies() if s["backends"]]
    if strategy is not None:
        return next((s for s in available if s["name"] == strategy), None)
    with_rust = [s for s in available if "rust" in s["backends"]]
    candidates = with_rust or available
    return candidates[0] if candidates else None


def _report(result: Any, out: Callable[[str], None], trades_shown: int) -> None:
    metrics = results.metrics_dict(result)
    out(
        f"  backend={result.backend} bars={result.bars_processed} trades={len(result.trades)} "
        f"time={result.execution_time_ms:.1f} ms"
    )
    for name in _SHOWN_METRICS:
        if name in metrics:
            out(f"    {name:<18} {_fmt(metrics[name])}")
    for t in list(result.trades)[:trades_shown]:
        out(
            f"    #{t.id:<4} {t.direction:<5} entry {t.entry_price:.5f} (bar {t.entry_index}) → "
            f"exit {t.exit_price:.5f} (bar {t.exit_index}, {t.exit_reason}) pnl {t.pnl:,.2f}"
        )


def run_demo(
    bars: int = 20_000,
    strategy: str | None = None,
    *,
    seed: int = 7,
    timeframe: str = "M1",
    params: dict[str, Any] | None = None,
    trades_shown: int = 5,
    out: Callable[[str], None] = print,
) -> int:
    """Generate `bars` bars, run `strategy` (default: the first with a Rust backend) on each
    available backend and print metrics and the first trades."""
    pick = _pick(strategy)
    if pick is None:
        names = ", ".join(s["name"] for s in plugins.list_strategies()) or "none installed"
        out(f"omega demo: no runnable strategy {strategy or ''} (strategies: {names})")
        return 1
    candles = data.generate_market(bars, seed, timeframe)
    config = {"symbol": "EURUSD", "timeframe": timeframe, "params": params or {}}
    out(f"omega demo: {pick['name']} {pick['version']} ({pick['package']}) on {bars} generated {timeframe} bars")
    runs = {}
    for backend in pick["backends"]:
        result = run_backtest(pick["name"], config, candles, backend=backend)
        runs[backend] = result
        _report(result, out, trades_shown)
    if len(runs) == 2:
        rust, python = (results.trades_to_table(runs[b]) for b in ("rust", "python"))
        keys = ["direction", "entry_index", "exit_index", "exit_reason"]
        if rust.select(keys).equals(python.select(keys)):
            out(f"  backends agree on all {rust.num_rows} trades")
        else:
            out(f"  BACKENDS DIFFER: rust {rust.num_rows} trades, python {python.num_rows} trades")
            return 1
    return 0
