"""The demo backtest: a synthetic market, one strategy, every available backend, an HTML report.

Used by ``omega demo`` / ``python -m omega demo`` and ``nox -s demo``. It says what it ran (the
market, the account, the parameters), lists the first trades with their times, checks that the
backends agree and writes the report. Returns a process exit code: 0 on success, 1 when nothing
can run or the backends disagree on the trades.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omega import data, plugins
from omega.api import run_backtest
from omega.config import normalize_config
from omega.errors import InvalidConfigError
from omega.results import BacktestResult, trades_to_table

DEMO_SCENARIOS = [1, 2]
"""Scenarios the demo enables: the basic ones, so its config draws no "never fires" warnings."""

_TIME = "%Y-%m-%d %H:%M"


def _pick(strategy: str | None) -> dict[str, Any] | None:
    available = [s for s in plugins.list_strategies() if s["backends"]]
    if strategy is not None:
        return next((s for s in available if s["name"] == strategy), None)
    with_rust = [s for s in available if "rust" in s["backends"]]
    candidates = with_rust or available
    return candidates[0] if candidates else None


def _params_text(spec_params: dict[str, Any], given: dict[str, Any]) -> str:
    if not spec_params:
        return "none"
    parts = [f"{k}={v!r}" + ("*" if k in given else "") for k, v in spec_params.items()]
    return ", ".join(parts) + ("  (* set by you, the rest are the strategy's defaults)" if given else "  (defaults)")


def _all_params(name: str, given: dict[str, Any]) -> dict[str, Any]:
    model = plugins.get_strategy(name).params_model
    if model is None:
        return dict(given)
    try:
        return dict(model(**given).model_dump(mode="json"))
    except Exception:  # the run validates and reports bad params with their code
        return dict(given)


def _describe_run(result: BacktestResult, out: Callable[[str], None]) -> None:
    m = result.metrics
    cur = result.account_currency
    ret = m.get("return_pct")
    dd = m.get("max_drawdown_pct")
    wr = m.get("win_rate")
    out(
        f"  {result.backend:<6} {result.trades.num_rows} trades in {result.execution_time_ms:,.0f} ms: "
        f"net {m.get('net_profit') or 0.0:+,.2f} {cur}"
        + (f" ({ret:+.2f} %)" if ret is not None else "")
        + (f", max drawdown {dd:.2f} %" if dd is not None else "")
        + (f", win rate {wr * 100:.1f} %" if wr is not None else "")
    )


def _show_trades(result: BacktestResult, out: Callable[[str], None], n: int) -> None:
    rows = result.trades.slice(0, n).to_pylist()
    if not rows:
        out("  no trades")
        return
    out(f"  first {len(rows)} of {result.trades.num_rows} trades ({result.backend}):")
    for t in rows:
        out(
            f"    #{t['id']:<4} {t['direction']:<5} {t['entry_time'].strftime(_TIME)} @ {t['entry_price']:.5f} → "
            f"{t['exit_time'].strftime(_TIME)} @ {t['exit_price']:.5f} {t['exit_reason']:<11} "
            f"pnl {t['pnl']:+,.2f} {result.account_currency}"
        )


def run_demo(
    bars: int = 20_000,
    strategy: str | None = None,
    *,
    seed: int = 7,
    timeframe: str = "M1",
    params: dict[str, Any] | None = None,
    trades_shown: int = 5,
    report: str | Path | None = None,
    out: Callable[[str], None] = print,
) -> int:
    """Generate `bars` bars, run `strategy` (default: the first with a Rust backend) on each
    available backend, print what ran and the first trades, and write the HTML `report`."""
    tf = timeframe.strip().upper()
    if tf not in data.TIMEFRAME_MINUTES:
        raise InvalidConfigError(
            f"unknown timeframe {timeframe!r} (one of {', '.join(data.TIMEFRAME_MINUTES)})", {"key": "timeframe"}
        )
    if bars < 1:
        raise InvalidConfigError(f"--bars {bars}: want at least 1 bar", {"key": "bars"})
    pick = _pick(strategy)
    if pick is None:
        names = ", ".join(s["name"] for s in plugins.list_strategies()) or "none installed"
        out(f"omega demo: no runnable strategy {strategy or ''} (strategies: {names})")
        return 1
    given = params or {}
    candles = data.generate_market(bars, seed, tf)
    config = normalize_config(
        {"symbol": "EURUSD", "timeframe": tf, "enabled_scenarios": DEMO_SCENARIOS, "params": given},
        plugins.get_strategy(pick["name"]).params_model,
    ).to_dict()
    eng = config["engine"]
    costs = ", ".join(f"{k}={v}" for k, v in eng["costs"].items() if v) or "none"
    runs: dict[str, BacktestResult] = {}
    for backend in pick["backends"]:
        runs[backend] = run_backtest(pick["name"], config, candles, backend=backend)
    first = next(iter(runs.values()))
    span = first.span()
    when = f"{span[0].strftime(_TIME)} → {span[1].strftime(_TIME)} UTC" if span else ""
    out(f"omega demo: {pick['name']} {pick['version']} ({pick['package']})")
    out(f"  market    synthetic EURUSD {tf} bars (generated, seed {seed}, not real prices): {bars:,} bars, {when}")
    out(
        f"  account   balance {eng['initial_balance']:,.2f} {eng['account_currency']}, "
        f"risk {eng['risk_per_trade']:,.2f} {eng['account_currency']} per trade, costs: {costs}"
    )
    out(f"  scenarios {config['enabled_scenarios']}, direction {config['direction_filter']}")
    text = _params_text(_all_params(pick["name"], given), given)
    out(textwrap.fill(text, width=110, initial_indent="  params    ", subsequent_indent=" " * 12))
    for result in runs.values():
        _describe_run(result, out)
    _show_trades(first, out, trades_shown)
    if len(runs) == 2:
        rust, python = (trades_to_table(runs[b]) for b in ("rust", "python"))
        keys = ["direction", "entry_index", "exit_index", "exit_reason"]
        if rust.select(keys).equals(python.select(keys)):
            out(f"  backends agree on all {rust.num_rows} trades")
        else:
            out(f"  BACKENDS DIFFER: rust {rust.num_rows} trades, python {python.num_rows} trades")
            return 1
    if report is not None:
        title = f"Omega demo · {pick['name']} · synthetic EURUSD {tf}"
        out(f"  report    {first.report(report, title=title)}")
    return 0
