"""Run metrics of the pure-Python reference, as defined in docs/engine.md ("Metrics").

Plain loops with left-to-right sums and IEEE semantics (a division by zero gives ±inf/NaN, never an
exception), so every value equals the Rust engine's bit for bit. NaN marks an undefined metric.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from omega.reference.market import htf_bin
from omega.reference.types import TradeResult

__all__ = [
    "DailyEquity",
    "Drawdown",
    "cagr",
    "compute_metrics",
    "daily_equity",
    "drawdown",
    "ieee_div",
    "sharpe_sortino",
]

NAN = math.nan
#: The 365.25-day year (µs) of CAGR and of the trading-days-per-year figure.
YEAR_US = 365.25 * 86400e6


def ieee_div(a: float, b: float) -> float:
    """``a / b`` with IEEE 754 semantics: ±inf or NaN instead of ``ZeroDivisionError``."""
    if b != 0.0:
        return a / b
    if a == 0.0 or math.isnan(a):
        return NAN
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


@dataclass(frozen=True, slots=True)
class Drawdown:
    """Drawdown statistics of an equity curve."""

    max_drawdown: float
    max_drawdown_pct: float
    longest_drawdown_bars: int


def drawdown(equity: Sequence[float], initial: float) -> Drawdown:
    """Max ``hwm − e``, max ``(hwm − e) / hwm`` × 100 and the longest run of bars with ``e < hwm``.

    The high-water mark starts at ``initial`` and is raised before each comparison.
    """
    hwm = initial
    worst = 0.0
    worst_pct = 0.0
    run = 0
    longest = 0
    for e in equity:
        hwm = max(hwm, e)
        gap = hwm - e
        worst = max(worst, gap)
        worst_pct = max(worst_pct, ieee_div(gap, hwm))
        run = run + 1 if e < hwm else 0
        longest = max(longest, run)
    return Drawdown(worst, worst_pct * 100.0, longest)


@dataclass(frozen=True, slots=True)
class DailyEquity:
    """The equity at the end of each FX trading day that has bars, and the span of those days."""

    day_end: list[float]
    #: From the start of the first of those days to the end of the last (µs; 0 without bars).
    span_us: int


def daily_equity(bar_open_us: Sequence[int], equity: Sequence[float]) -> DailyEquity:
    """Day-end equities: a bar's trading day is the D1 bin anchored at 17:00 New York (DST-aware)
    containing its open time, as the HTF resampler bins bars for ``new_york_1700``; a day's equity
    is its last bar's point. Days without bars (weekends, holidays) give no point."""
    day_end: list[float] = []
    first_start = 0
    day_close: int | None = None
    for t, e in zip(bar_open_us, equity, strict=False):
        if day_close is not None and t < day_close:
            day_end[-1] = e
            continue
        start, day_close = htf_bin(t, "D1", "new_york_1700")
        if not day_end:
            first_start = start
        day_end.append(e)
    span_us = 0 if day_close is None else day_close - first_start
    return DailyEquity(day_end, span_us)


def sharpe_sortino(initial: float, daily: DailyEquity) -> tuple[float, float]:
    """Sharpe and Sortino of the daily returns (``r_1 = d_1 / initial − 1``, ``r_k = d_k / d_{k−1} − 1``),
    annualised with ``sqrt(days / years spanned)``. NaN with fewer than two days or an equity at or
    below zero (returns of a wiped-out account mean nothing), for Sharpe when the returns do not vary,
    for Sortino when no day lost (docs/engine.md "Metrics")."""
    days = len(daily.day_end)
    if days < 2 or initial <= 0.0 or any(d <= 0.0 for d in daily.day_end):
        return NAN, NAN
    returns: list[float] = []
    prev = initial
    for d in daily.day_end:
        returns.append(ieee_div(d, prev) - 1.0)
        prev = d
    n = float(days)
    total = 0.0
    for r in returns:
        total += r
    mean = total / n
    squares = 0.0
    down = 0.0
    for r in returns:
        dev = r - mean
        squares += dev * dev
        if r < 0.0:
            down += r * r
    std = math.sqrt(squares / (n - 1.0))
    downside_dev = math.sqrt(down / n)
    ann = math.sqrt(n / (float(daily.span_us) / YEAR_US))
    sharpe = NAN if std == 0.0 else mean / std * ann
    sortino = NAN if downside_dev == 0.0 else mean / downside_dev * ann
    return sharpe, sortino


def cagr(final_equity: float, initial: float, first_open_us: int, last_close_us: int) -> float:
    """``(final / initial) ** (1 / years) − 1``; NaN for spans under 30 days or a negative ratio."""
    years = float(last_close_us - first_open_us) / YEAR_US
    ratio = final_equity / initial
    if years < 30.0 / 365.25 or ratio < 0.0 or math.isnan(ratio):
        return NAN
    try:
        grown = math.pow(ratio, 1.0 / years)
    except OverflowError:
        grown = math.inf
    return grown - 1.0


def compute_metrics(
    trades: Sequence[TradeResult],
    equity: Sequence[float],
    *,
    initial_balance: float,
    bar_open_us: Sequence[int],
    first_open_us: int,
    last_close_us: int,
    exposed_bars: int,
    signals: int,
    signals_rejected: int,
    signals_rejected_margin: int = 0,
    stop_outs: int = 0,
) -> dict[str, float]:
    """Every metric of a run keyed by name, sorted by name (NaN = undefined)."""
    total = len(trades)
    wins = losses = 0
    net = gross_profit = gross_loss = commission = sum_r = swap = 0.0
    scenarios: dict[str, float] = {}
    for t in trades:
        net += t.pnl
        if t.pnl > 0.0:
            wins += 1
            gross_profit += t.pnl
        elif t.pnl < 0.0:
            losses += 1
            gross_loss += t.pnl
        commission += t.commission
        swap += t.swap
        sum_r += t.r_multiple
        key = "trades_scenario_none" if t.scenario is None else f"trades_scenario_{t.scenario}"
        scenarios[key] = scenarios.get(key, 0.0) + 1.0

    def mean(value: float, count: int) -> float:
        return NAN if count == 0 else value / count

    final_equity = equity[-1] if len(equity) > 0 else initial_balance
    dd = drawdown(equity, initial_balance)
    sharpe, sortino = sharpe_sortino(initial_balance, daily_equity(bar_open_us, equity))
    n = len(equity)
    out: dict[str, float] = dict(scenarios)
    out.update(
        total_trades=float(total),
        wins=float(wins),
        losses=float(losses),
        win_rate=mean(float(wins), total),
        net_profit=net,
        gross_profit=gross_profit,
        gross_loss=gross_loss,
        profit_factor=NAN if losses == 0 else ieee_div(gross_profit, -gross_loss),
        avg_win=mean(gross_profit, wins),
        avg_loss=mean(gross_loss, losses),
        expectancy=mean(net, total),
        avg_r=mean(sum_r, total),
        commission_total=commission,
        swap_total=swap,
        final_equity=final_equity,
        return_pct=(final_equity / initial_balance - 1.0) * 100.0,
        max_drawdown=dd.max_drawdown,
        max_drawdown_pct=dd.max_drawdown_pct,
        longest_drawdown_bars=float(dd.longest_drawdown_bars),
        sharpe=sharpe,
        sortino=sortino,
        cagr=cagr(final_equity, initial_balance, first_open_us, last_close_us),
        exposure=mean(float(exposed_bars), n),
        signals=float(signals),
        signals_rejected=float(signals_rejected),
        signals_rejected_margin=float(signals_rejected_margin),
        stop_outs=float(stop_outs),
        bars_processed=float(n),
    )
    return dict(sorted(out.items()))
