"""Account currency end to end (docs/engine.md "Account currency", docs/instruments.md), on both backends.

Every trade's PnL is recomputed here from the trade record and the conversion candles by the
documented rule (credit at the low side, debit at the high side, rate = close of the latest
conversion bar closed at the exit instant), independently of either engine; and the two backends
must agree bit for bit.
"""

from __future__ import annotations

import bisect
import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import omega
import pyarrow as pa
import pytest
from omega.data import generate_market
from omega.errors import InsufficientDataError, InvalidConfigError

BACKENDS = ("rust", "python")
STRATEGY = "mean_reversion_z_score"
N = 6_000
START = "2024-02-05T00:00:00+00:00"
MIN_US = 60_000_000
CONTRACT = 100_000.0


@pytest.fixture(autouse=True)
def _mrz(zscore_plugin: str) -> None:
    """Every test here runs MRZ on both backends (skip/fail when the wheel is missing)."""


def market(symbol: str, seed: int, base_price: float) -> pa.Table:
    return generate_market(N, seed, "M1", start=START, symbol=symbol, regime="mean_reverting", base_price=base_price)


def config(symbol: str, **engine: Any) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "timeframe": "M1",
        "enabled_scenarios": [1],
        "params": {"z_score_long": -1.5, "z_score_short": 1.5, "window_length": 40, "htf_tf": "NONE"},
        "engine": {"risk_per_trade": 100.0, "costs": {"commission_per_million": 20.0}, **engine},
    }


def records(result: Any) -> list[Any]:
    """The trades of a result as records with attributes (``t.pnl_gross``)."""
    return [SimpleNamespace(**t) for t in result.trades.to_pylist()]


def rate_at(conv: pa.Table, t_us: int, direct: bool) -> tuple[float, float]:
    """(lo, hi) of the conversion bar closed latest by ``t_us`` (M1 bars: open + 1 min <= t)."""
    ts = conv.column("timestamp_us").to_pylist()
    k = bisect.bisect_right(ts, t_us - MIN_US) - 1
    assert k >= 0, "no conversion bar closed yet"
    bid, ask = conv.column("bid_close")[k].as_py(), conv.column("ask_close")[k].as_py()
    return (bid, ask) if direct else (1.0 / ask, 1.0 / bid)


def expected(trade: Any, conv: pa.Table, direct: bool) -> tuple[float, float]:
    """The documented conversion of one closed trade: (pnl_gross, r_multiple) from its record."""
    sign = 1.0 if trade.direction == "long" else -1.0
    quote_pnl = (trade.exit_price - trade.entry_price) * sign * CONTRACT * trade.lots
    intrabar = trade.exit_reason in ("stop_loss", "take_profit")
    exit_instant = trade.exit_time_us if intrabar else trade.exit_time_us + MIN_US
    lo, hi = rate_at(conv, exit_instant, direct)
    gross = quote_pnl * (lo if quote_pnl >= 0 else hi)
    _, entry_hi = rate_at(conv, trade.entry_time_us + MIN_US, direct)
    risk = abs(trade.entry_price - trade.initial_stop_loss) * CONTRACT * trade.lots * entry_hi
    return gross, gross / risk


CASES = [
    # symbol, account, traded base price, conversion pair (None: the pair itself), its base price, direct
    ("USDJPY", "USD", 150.0, None, 0.0, False),
    ("EURUSD", "EUR", 1.1, None, 0.0, False),
    ("EURGBP", "USD", 0.85, "GBPUSD", 1.27, True),
    ("EURJPY", "USD", 160.0, "USDJPY", 150.0, False),
]


@pytest.mark.parametrize(("symbol", "account", "price", "pair", "pair_price", "direct"), CASES)
def test_pnl_is_converted_by_the_documented_rule(
    symbol: str, account: str, price: float, pair: str | None, pair_price: float, direct: bool
) -> None:
    traded = market(symbol, 11, price)
    conv = traded if pair is None else market(pair, 12, pair_price)
    conversion = None if pair is None else {pair: conv}
    cfg = config(symbol, account_currency=account)
    rust, python = (omega.run_backtest(STRATEGY, cfg, traded, backend=b, conversion=conversion) for b in BACKENDS)
    assert len(rust.trades) == len(python.trades) >= 10
    for x, y in zip(records(rust), records(python), strict=True):
        for field in ("entry_time_us", "exit_time_us", "entry_price", "exit_price", "lots", "pnl_gross", "commission"):
            assert getattr(x, field) == getattr(y, field), field
    assert np.array_equal(np.asarray(rust.equity_curve), np.asarray(python.equity_curve))
    for t in records(rust):
        gross, r_multiple = expected(t, conv, direct)
        assert math.isclose(t.pnl_gross, gross, rel_tol=1e-12, abs_tol=1e-9), (t.id, t.pnl_gross, gross)
        assert math.isclose(t.r_multiple, r_multiple, rel_tol=1e-12, abs_tol=1e-12), (t.id, t.r_multiple, r_multiple)
        # Exact lots on the 0.01 grid, printed as a broker would show them.
        assert repr(t.lots) == repr(round(t.lots * 100) / 100)


@pytest.mark.parametrize("backend", BACKENDS)
def test_usdjpy_in_usd_reports_dollars_not_yen(backend: str) -> None:
    """Before the fix a USDJPY run reported JPY amounts as USD (about 150x too large)."""
    r = omega.run_backtest(STRATEGY, config("USDJPY"), market("USDJPY", 11, 150.0), backend=backend)
    assert len(r.trades) > 0
    for t in records(r):
        quote_pnl = abs(t.exit_price - t.entry_price) * CONTRACT * t.lots
        assert abs(t.pnl_gross) <= quote_pnl / 140.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_conversion_pair_names_it(backend: str) -> None:
    with pytest.raises(InsufficientDataError, match="GBPUSD or USDGBP") as e:
        omega.run_backtest(STRATEGY, config("EURGBP"), market("EURGBP", 11, 0.85), backend=backend)
    assert e.value.code == "E4004"


@pytest.mark.parametrize("backend", BACKENDS)
def test_conversion_candles_must_have_the_run_timeframe(backend: str) -> None:
    every_other_minute = market("GBPUSD", 12, 1.27).take(list(range(0, N, 2)))
    with pytest.raises(InsufficientDataError, match="coarser"):
        omega.run_backtest(
            STRATEGY,
            config("EURGBP"),
            market("EURGBP", 11, 0.85),
            backend=backend,
            conversion={"GBPUSD": every_other_minute},
        )


@pytest.mark.parametrize("backend", BACKENDS)
def test_unknown_symbol_needs_a_spec(backend: str) -> None:
    traded = market("EURUSD", 11, 1.1)
    with pytest.raises(InvalidConfigError, match=r"unknown instrument 'EURUSD\.r'") as e:
        omega.run_backtest(STRATEGY, config("EURUSD.r"), traded, backend=backend)
    assert e.value.code == "E4002"
    spec = {"base": "EUR", "quote": "USD", "pip_size": 0.0001}
    r = omega.run_backtest(STRATEGY, config("EURUSD.r", symbol_spec=spec), traded, backend=backend)
    ref = omega.run_backtest(STRATEGY, config("EURUSD"), traded, backend=backend)
    assert r.trades.column("pnl").to_pylist() == ref.trades.column("pnl").to_pylist()
