"""Run metrics of the pure-Python reference, as defined in docs/engine.md ("Metrics").

Plain loops with left-to-right sums and IEEE semantics (a division by zero gives ±inf/NaN, never an
exception), so every value equals the Rust engine's bit for bit. NaN marks an undefined metric.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from omega.reference.types import TradeResult

__all__ = ["Drawdown", "cagr", "compute_metrics", "drawdown", "ieee_div", "sharpe_sortino"]

NAN = math.nan


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


def sharpe_sortino(equity: Sequence[float], tf_minutes: int) -> tuple[float, float]:
    """Annualised Sharpe (sample std, ddof 1) and Sortino of the per-bar returns ``e_k / e_{k−1} − 1``."""
    returns = [ieee_div(equity[k], equity[k - 1]) - 1.0 for k in range(1, len(equity))]
    count = len(returns)
    if count == 0:
        return NAN, NAN
    ann = math.sqrt(252.0 * 1440.0 / float(tf_minutes))
    total = 0.0
    for r in returns:
        total += r
    mean = total / count
    sharpe = NAN
    if count >= 2:
        squares = 0.0
        for r in returns:
            squares += (r - mean) * (r - mean)
        std = math.sqrt(squares / (count - 1))
        if std != 0.0:
            sharpe = ieee_div(mean, std) * ann
    downside = 0.0
    negatives = 0
    for r in returns:
        if r < 0.0:
            downside += r * r
            negatives += 1
    sortino = NAN if negatives == 0 else ieee_div(mean, math.sqrt(downside / count)) * ann
    return sharpe, sortino


def cagr(final_equity: float, initial: float, first_open_us: int, last_close_us: int) -> float:
    """``(final / initial) ** (1 / years) − 1``; NaN for spans under 30 days or a negative ratio."""
    years = float(last_close_us - first_open_us) / (365.25 * 86400e6)
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
    tf_minutes: int,
    first_open_us: int,
    last_close_us: int,
    exposed_bars: int,
    signals: int,
    signals_rejected: int,
) -> dict[str, float]:
    """Every metric of a run keyed by name, sorted by name (NaN = undefined)."""
    total = len(trades)
    wins = losses = 0
    net = gross_profit = gross_loss = commission = sum_r = 0.0
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
        sum_r += t.r_multiple
        key = "trades_scenario_none" if t.scenario is None else f"trades_scenario_{t.scenario}"
        scenarios[key] = scenarios.get(key, 0.0) + 1.0

    def mean(value: float, count: int) -> float:
        return NAN if count == 0 else value / count

    final_equity = equity[-1] if len(equity) > 0 else initial_balance
    dd = drawdown(equity, initial_balance)
    sharpe, sortino = sharpe_sortino(equity, tf_minutes)
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
        bars_processed=float(n),
    )
    return dict(sorted(out.items()))
