"""Account currency on the pure-Python reference (docs/engine.md "Account currency"): the
hand-computed cases of the Rust unit tests in omega-core/crates/omega-core/src/engine/tests.rs,
with the same bars and the same expected numbers."""

from __future__ import annotations

import math
from typing import Any

import pytest
from omega.errors import InsufficientDataError, InvalidConfigError
from omega.reference.cache import IndicatorCache, MarketHost
from omega.reference.engine import run_backtest
from omega.reference.market import Market
from omega.reference.types import Close, Position, PositionAction, ReferenceBacktestResult
from test_reference_engine import Bar, Script, columns, hold, long, once, short


def market_of(symbol: str, spread: float, bid: list[Bar]) -> Market:
    """M1 bars of ``symbol`` from bid (open, high, low, close); ask = bid + ``spread``."""
    return Market.from_arrow(columns(bid, spread=spread), symbol, "M1")


def cfg(symbol: str, **engine: Any) -> dict[str, Any]:
    return {"symbol": symbol, "timeframe": "M1", "engine": {"sizing": "fixed", "fixed_lots": 1.0, **engine}}


def run(
    s: Script, m: Market, config: dict[str, Any], rates: dict[str, Market] | None = None
) -> ReferenceBacktestResult:
    return run_backtest(s, IndicatorCache(MarketHost(m)), m, config, rates)


def close_rel(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def test_usdjpy_in_usd_converts_through_its_own_quotes() -> None:
    # Long 1 lot at 150.02 (ask close of bar 0); TP 150.42 hit in bar 1: +40,000 JPY, a credit at the
    # exit bar's open rate = bar 0's close: 1 / ask 150.02. Bar 0's equity marks −2,000 JPY at 1 / bid 150.00.
    m = market_of("USDJPY", 0.02, [(150.00, 150.05, 149.95, 150.00), (150.00, 150.60, 149.98, 150.50)])
    r = run(Script(once(0, long(150.02, 149.82, 150.42))), m, cfg("USDJPY"))
    t = r.trades[0]
    assert t.exit_reason == "take_profit"
    assert close_rel(t.pnl_gross, 40_000.0 / 150.02)
    assert close_rel(t.pnl_pips, 40.0)
    assert close_rel(r.equity_curve[0], 100_000.0 - 2_000.0 / 150.00)
    assert close_rel(r.metrics["final_equity"], 100_000.0 + 40_000.0 / 150.02)
    assert close_rel(t.r_multiple, (40_000.0 / 150.02) / (20_000.0 / 150.00))


def test_eurgbp_in_usd_needs_gbpusd_and_converts_a_loss_at_the_debit_side() -> None:
    # Short 1 lot at 0.8500, SL 0.8520 hit in bar 1: −200 GBP at GBPUSD's ask close of bar 0 (1.2502).
    m = market_of("EURGBP", 0.0001, [(0.8500, 0.8505, 0.8495, 0.8500), (0.8502, 0.8530, 0.8500, 0.8525)])
    gbpusd = market_of("GBPUSD", 0.0002, [(1.2500, 1.2505, 1.2495, 1.2500), (1.2500, 1.2610, 1.2490, 1.2600)])
    with pytest.raises(InsufficientDataError, match="GBPUSD or USDGBP"):
        run(Script(once(0, short(0.8500, 0.8520))), m, cfg("EURGBP"))
    r = run(Script(once(0, short(0.8500, 0.8520))), m, cfg("EURGBP"), {"GBPUSD": gbpusd})
    t = r.trades[0]
    assert (t.exit_reason, t.exit_price) == ("stop_loss", 0.8520)
    assert close_rel(t.pnl_gross, -200.0 * 1.2502)
    assert close_rel(r.metrics["final_equity"], 100_000.0 - 250.04)


def test_eurusd_in_eur_converts_a_gain_at_the_credit_side() -> None:
    # EUR account; +480 USD closed by the strategy at bar 1's bid close, at 1 / ask 1.1052.
    m = market_of("EURUSD", 0.0002, [(1.1000, 1.1005, 1.0995, 1.1000), (1.1000, 1.1055, 1.0999, 1.1050)])

    def close(p: Position, s: Any) -> PositionAction:
        return Close("done")

    s = Script(once(0, long(1.1002, 1.0950)), close)
    r = run(s, m, cfg("EURUSD", account_currency="EUR"))
    t = r.trades[0]
    assert t.exit_reason == "strategy_close"
    assert close_rel(t.pnl_gross, 480.0 / 1.1052)
    assert close_rel(s.managed[0][1].pnl_usd, 480.0 / 1.1052)


def test_unknown_symbol_without_spec_is_e4002() -> None:
    m = market_of("EURUSD", 0.0001, [(1.1, 1.1005, 1.0995, 1.1)] * 2)
    with pytest.raises(InvalidConfigError, match="unknown instrument 'FOOBAR'"):
        run(Script(lambda s: None, hold), m, cfg("FOOBAR"))
