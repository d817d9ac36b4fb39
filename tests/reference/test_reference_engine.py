"""Rule-by-rule tests of the pure-Python reference engine (omega.reference.engine) on hand-built bars.

The cases and numbers are the ones of the Rust unit tests in
omega-core/crates/omega-core/src/engine/tests.rs, so both backends are held to the same values.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from omega.errors import InvalidConfigError, InvalidSignalError, StrategyPanicError
from omega.reference.cache import IndicatorCache, MarketHost
from omega.reference.engine import parse_config, run_backtest, run_reference_backtest
from omega.reference.market import PRICE_COLUMNS, Market
from omega.reference.metrics import compute_metrics, drawdown
from omega.reference.rng import SplitMix64
from omega.reference.strategy import Strategy
from omega.reference.types import (
    Close,
    DataSlice,
    Hold,
    ModifyStopLoss,
    ModifyTakeProfit,
    Position,
    PositionAction,
    ReferenceBacktestResult,
    TradeResult,
    TradeSignal,
)

T0 = 1_704_067_200_000_000  # 2024-01-01 00:00 UTC
MIN = 60_000_000
SPREAD = 0.0001
U1 = 0.7415648787718233  # first next_f64 of SplitMix64(42)
U2 = 0.1599103928769201  # second

Bar = tuple[float, float, float, float]
SignalFn = Callable[[DataSlice], TradeSignal | None]
ActionFn = Callable[[Position, DataSlice], PositionAction]


def columns(bid: list[Bar], start: int = T0, spread: float = SPREAD) -> dict[str, list[Any]]:
    """M1 columns from bid (open, high, low, close); ask = bid + spread; bar k opens at start + k min."""
    cols: dict[str, list[Any]] = {k: [] for k in ("timestamp_us", *PRICE_COLUMNS)}
    for k, (o, h, lo, c) in enumerate(bid):
        cols["timestamp_us"].append(start + k * MIN)
        for side, add in (("bid", 0.0), ("ask", spread)):
            cols[f"{side}_open"].append(o + add)
            cols[f"{side}_high"].append(h + add)
            cols[f"{side}_low"].append(lo + add)
            cols[f"{side}_close"].append(c + add)
            cols[f"{side}_volume"].append(1.0)
    return cols


def market(bid: list[Bar], start: int = T0) -> Market:
    return Market.from_arrow(columns(bid, start), "EURUSD", "M1")


def flat(n: int) -> list[Bar]:
    return [(1.1000, 1.1005, 1.0995, 1.1000)] * n


def cfg(**engine: Any) -> dict[str, Any]:
    """EURUSD M1, fixed 1 lot, no costs, plus engine overrides (``costs`` merged)."""
    e: dict[str, Any] = {"sizing": "fixed", "fixed_lots": 1.0}
    e.update(engine)
    return {"symbol": "EURUSD", "timeframe": "M1", "engine": e}


def hold(p: Position, s: DataSlice) -> PositionAction:
    return Hold()


class Script(Strategy):
    """A strategy driven by callables that records the bars it was evaluated on."""

    name: ClassVar[str] = "script"

    def __init__(self, signal: SignalFn, action: ActionFn = hold) -> None:
        self.signal = signal
        self.action = action
        self.evaluated: list[int] = []
        self.managed: list[tuple[int, Position]] = []

    def evaluate(self, slice: DataSlice, cache: IndicatorCache) -> TradeSignal | None:
        self.evaluated.append(slice.index)
        return self.signal(slice)

    def manage_position(self, position: Position, slice: DataSlice) -> PositionAction:
        self.managed.append((slice.index, position))
        return self.action(position, slice)

    def primary_timeframe(self) -> str:
        return "M1"


def long(entry: float, sl: float, tp: float | None = None) -> TradeSignal:
    return TradeSignal("long", entry, sl, tp, "test", ("t",), 1)


def short(entry: float, sl: float, tp: float | None = None) -> TradeSignal:
    return TradeSignal("short", entry, sl, tp, "test")


def once(at: int, sig: TradeSignal) -> SignalFn:
    return lambda s: sig if s.index == at else None


def run(s: Strategy, m: Market, config: dict[str, Any]) -> ReferenceBacktestResult:
    return run_backtest(s, IndicatorCache(MarketHost(m)), m, config)


def first(r: ReferenceBacktestResult) -> TradeResult:
    assert len(r.trades) >= 1
    return r.trades[0]


# --- RNG ---------------------------------------------------------------------------------------------


def test_splitmix64_seed_42_known_values() -> None:
    r = SplitMix64(42)
    assert [r.next_u64() for _ in range(3)] == [13679457532755275413, 2949826092126892291, 5139283748462763858]
    r = SplitMix64(42)
    assert (r.next_f64(), r.next_f64()) == (U1, U2)
    assert SplitMix64(0).next_u64() == 0xE220A8397B1DCDAF
    r = SplitMix64(7)
    assert all(0.0 <= r.next_f64() < 1.0 for _ in range(10_000))


# --- exits ---------------------------------------------------------------------------------------------


def test_sl_wins_when_both_hit_long_and_short() -> None:
    m = market([(1.1000, 1.1005, 1.0995, 1.1000), (1.1000, 1.1015, 1.0985, 1.1000), (1.1000, 1.1005, 1.0995, 1.1000)])
    t = first(run(Script(once(0, long(1.1000, 1.0990, 1.1010))), m, cfg()))
    assert (t.exit_index, t.exit_reason, t.exit_price) == (1, "stop_loss", 1.0990)
    assert t.entry_price == 1.1000
    assert t.exit_time_us == T0 + MIN
    t = first(run(Script(once(0, short(1.1000, 1.1010, 1.0990))), m, cfg()))
    assert (t.exit_index, t.exit_reason, t.exit_price) == (1, "stop_loss", 1.1010)


def test_gap_fills_at_the_open() -> None:
    bar0: Bar = (1.1000, 1.1005, 1.0995, 1.1000)
    down: Bar = (1.0980, 1.0985, 1.0975, 1.0982)
    up: Bar = (1.1020, 1.1025, 1.1015, 1.1020)
    t = first(run(Script(once(0, long(1.1000, 1.0990, 1.1010))), market([bar0, down]), cfg()))
    assert (t.exit_reason, t.exit_price) == ("stop_loss", 1.0980)
    t = first(run(Script(once(0, long(1.1000, 1.0990, 1.1010))), market([bar0, up]), cfg()))
    assert (t.exit_reason, t.exit_price) == ("take_profit", 1.1020)
    t = first(run(Script(once(0, short(1.1000, 1.1010, 1.0990))), market([bar0, up]), cfg()))
    assert (t.exit_reason, t.exit_price) == ("stop_loss", 1.1020 + SPREAD)
    t = first(run(Script(once(0, short(1.1000, 1.1010, 1.0990))), market([bar0, down]), cfg()))
    assert (t.exit_reason, t.exit_price) == ("take_profit", 1.0980 + SPREAD)


def test_no_exit_in_the_entry_bar() -> None:
    m = market([(1.1000, 1.1005, 1.0995, 1.1000), (1.1000, 1.1002, 1.0998, 1.1001)])
    t = first(run(Script(once(0, long(1.1000, 1.0996, 1.1004))), m, cfg()))
    assert (t.entry_index, t.exit_index, t.exit_reason, t.exit_price) == (0, 1, "end_of_data", 1.1001)


def test_tp_on_the_losing_side_is_accepted() -> None:
    m = market([(1.1000, 1.1005, 1.0995, 1.1000), (1.1000, 1.1002, 1.0998, 1.1000)])
    r = run(Script(once(0, long(1.1000, 1.0990, 1.0995))), m, cfg())
    assert r.metrics["signals_rejected"] == 0.0
    t = first(r)
    assert (t.exit_index, t.exit_reason, t.exit_price) == (1, "take_profit", 1.1000)


def test_pip_buffer_triggers_early_but_fills_at_the_level() -> None:
    m = market([(1.1000, 1.1005, 1.0995, 1.1000), (1.1000, 1.10096, 1.0998, 1.1005)])
    assert first(run(Script(once(0, long(1.1000, 1.0990, 1.1010))), m, cfg())).exit_reason == "end_of_data"
    t = first(run(Script(once(0, long(1.1000, 1.0990, 1.1010))), m, cfg(costs={"pip_buffer_factor": 0.5})))
    assert (t.exit_index, t.exit_reason, t.exit_price) == (1, "take_profit", 1.1010)


# --- sizing and costs -------------------------------------------------------------------------------


def test_risk_sizing_example_and_min_lot_rejection() -> None:
    c = cfg(sizing="risk", risk_per_trade=100.0)
    m = market(flat(2))
    # SL 7.03 pips: 100 / (7.03 * 10) = 1.4225 → 1.42 lots.
    assert first(run(Script(once(0, long(1.10000, 1.099297))), m, c)).lots == 1.42
    r = run(Script(once(0, long(1.1, 0.1))), m, c)
    assert r.trades == []
    assert (r.metrics["signals"], r.metrics["signals_rejected"]) == (1.0, 1.0)
    r = run(Script(once(0, short(1.1, 1.09))), m, c)
    assert r.metrics["signals_rejected"] == 1.0


def test_commission_on_both_sides() -> None:
    c = cfg(fixed_lots=2.0, costs={"commission_per_lot": 3.5, "commission_per_million": 10.0})
    m = market([(1.1000, 1.1005, 1.0995, 1.1000), (1.1000, 1.1012, 1.0998, 1.1010)])
    r = run(Script(once(0, long(1.1000, 1.0990)), lambda p, s: Close("x")), m, c)
    t = first(r)
    entry_c = 3.5 * 2.0 + 10.0 * (1.1 * 100_000.0 * 2.0 * 1.0) / 1e6
    exit_c = 3.5 * 2.0 + 10.0 * (1.101 * 100_000.0 * 2.0 * 1.0) / 1e6
    gross = (1.101 - 1.1) * 1.0 * 100_000.0 * 2.0 * 1.0
    assert t.exit_reason == "strategy_close"
    assert t.commission == entry_c + exit_c
    assert t.pnl_gross == gross
    assert t.pnl == gross - (entry_c + exit_c)
    assert r.equity_curve[0] == 100_000.0 - entry_c
    assert r.equity_curve[1] == 100_000.0 - entry_c + gross - exit_c
    assert r.metrics["commission_total"] == entry_c + exit_c


def test_slippage_is_adverse_with_seed_42() -> None:
    c = cfg(seed=42, costs={"slippage_fixed_pips": 0.5, "slippage_random_pips": 1.0})
    m = market([(1.1000, 1.1005, 1.0995, 1.1000), (1.1000, 1.1012, 1.0998, 1.1010)])
    s1 = 0.5 + U1 * 1.0
    s2 = 0.5 + U2 * 1.0
    t = first(run(Script(once(0, long(1.1000, 1.0990)), lambda p, s: Close("timeout")), m, c))
    assert t.entry_price == 1.1000 + s1 * 0.0001
    assert t.exit_price == 1.1010 - s2 * 0.0001
    assert t.slippage_pips == s1 + s2
    assert t.exit_reason == "timeout"
    t = first(run(Script(once(0, short(1.1000, 1.1020)), lambda p, s: Close("timeout")), m, c))
    assert t.entry_price == 1.1000 - s1 * 0.0001
    assert t.exit_price == (1.1010 + SPREAD) + s2 * 0.0001
    assert t.exit_reason == "timeout"


class WorkedCase(Strategy):
    """Long at bar 0: entry 1.1001, SL 1.0991, TP 1.1021 (the report's worked case)."""

    name: ClassVar[str] = "worked_case"

    def evaluate(self, slice: DataSlice, cache: IndicatorCache) -> TradeSignal | None:
        return TradeSignal("long", 1.1001, 1.0991, 1.1021, "test", ("t",), 1) if slice.index == 0 else None

    def primary_timeframe(self) -> str:
        return "M1"


def test_worked_case_long_with_costs() -> None:
    c = cfg(
        sizing="risk",
        risk_per_trade=100.0,
        seed=42,
        costs={"commission_per_lot": 3.0, "slippage_fixed_pips": 0.2, "slippage_random_pips": 0.5},
    )
    candles = columns([(1.1000, 1.1005, 1.0995, 1.1000), (1.1000, 1.1030, 1.0998, 1.1025)])
    r = run_reference_backtest(WorkedCase, c, candles)
    assert r.backend == "python"
    t = first(r)
    s1 = 0.2 + U1 * 0.5
    s2 = 0.2 + U2 * 0.5
    assert t.entry_price == 1.1001 + s1 * 0.0001
    assert t.lots == 0.94  # 94 steps of 0.01, exactly (not 94 * 0.01)
    assert t.exit_price == 1.1021 - s2 * 0.0001
    assert (t.exit_index, t.exit_reason) == (1, "take_profit")
    assert t.entry_price == 1.1001570782439387
    assert t.exit_price == 1.1020720044803562
    assert t.lots == 0.94
    assert t.pnl_pips == 19.149262364175357
    assert t.pnl_gross == 180.00306622324834
    assert t.commission == 5.64
    assert t.pnl == 174.36306622324835
    assert t.r_multiple == 1.8115274317654926
    assert t.slippage_pips == 0.8507376358243717
    assert r.equity_curve[1] == 100174.36306622323
    assert r.metrics["final_equity"] == 100174.36306622323
    assert (t.scenario, t.reason, t.tags, t.direction, t.id) == (1, "test", ("t",), "long", 1)


# --- manage_position -------------------------------------------------------------------------------


def test_timeout_close_and_modifications_from_next_bar() -> None:
    m = market(flat(6))
    s = Script(once(0, long(1.1000, 1.0990)), lambda p, _: Close("timeout") if p.bars_held >= 3 else Hold())
    t = first(run(s, m, cfg()))
    assert (t.exit_index, t.bars_held, t.exit_reason, t.exit_price) == (3, 3, "timeout", 1.1000)
    assert [(i, p.bars_held) for i, p in s.managed] == [(1, 1), (2, 2), (3, 3)]

    s = Script(once(0, long(1.1000, 1.0990)), lambda p, b: ModifyStopLoss(1.0996) if b.index == 1 else Hold())
    t = first(run(s, m, cfg()))
    assert (t.exit_index, t.exit_reason, t.exit_price) == (2, "stop_loss", 1.0996)
    assert (t.initial_stop_loss, t.stop_loss) == (1.0990, 1.0996)

    def tp_then_close(p: Position, b: DataSlice) -> PositionAction:
        if b.index == 1:
            return ModifyTakeProfit(1.1004)
        return Close("tp lost") if p.take_profit is None else Hold()

    t = first(run(Script(once(0, long(1.1000, 1.0990)), tp_then_close), m, cfg()))
    assert (t.exit_index, t.exit_reason, t.exit_price) == (2, "take_profit", 1.1004)


def test_position_view_is_marked_at_the_exit_side_close() -> None:
    m = market([(1.1000, 1.1005, 1.0995, 1.1000), (1.1000, 1.1005, 1.0995, 1.1003)])
    s = Script(once(0, short(1.1000, 1.1010)))
    run(s, m, cfg())
    (i, p), *_ = s.managed
    mark = 1.1003 + SPREAD
    assert (i, p.id, p.direction, p.lot_size, p.bars_held, p.entry_index) == (1, 1, "short", 1.0, 1, 0)
    assert p.pnl_pips == (mark - 1.1) * -1.0 / 0.0001
    assert p.pnl_usd == (mark - 1.1) * -1.0 * 100_000.0 * 1.0 * 1.0


# --- entry gate ------------------------------------------------------------------------------------


def every_bar_long(s: DataSlice) -> TradeSignal | None:
    return long(1.1000, 1.0990)


def rejected_every_bar(s: DataSlice) -> TradeSignal | None:
    """SL on the wrong side: always rejected, but each is a signal."""
    return long(1.1000, 1.2000)


def test_same_bar_reentry_blocked_unless_allowed() -> None:
    bars = flat(5)
    bars[2] = (1.1000, 1.1005, 1.0985, 1.1000)
    m = market(bars)
    s = Script(every_bar_long)
    r = run(s, m, cfg())
    assert s.evaluated == [0, 3]
    assert [(t.entry_index, t.exit_index) for t in r.trades] == [(0, 2), (3, 4)]
    s = Script(every_bar_long)
    r = run(s, m, cfg(allow_same_bar_reentry=True))
    assert s.evaluated == [0, 2]
    assert [(t.entry_index, t.exit_index) for t in r.trades] == [(0, 2), (2, 4)]


def test_sessions_on_bar_close_time_with_wrap() -> None:
    m = market(flat(10), start=T0 - 5 * MIN)  # bars open 23:55 … 00:04
    s = Script(rejected_every_bar)
    run(s, m, cfg(sessions=[["23:58", "00:01"]]))
    assert s.evaluated == [2, 3, 4, 5]
    s = Script(rejected_every_bar)
    run(s, m, cfg(sessions=[["00:03", "00:04"], ["23:57", "23:57"]]))
    assert s.evaluated == [1, 7, 8]


def test_cooldowns() -> None:
    m = market(flat(8))
    s = Script(rejected_every_bar)
    r = run(s, m, cfg(cooldown_candles=3))
    assert s.evaluated == [0, 3, 6]
    assert (r.metrics["signals"], r.metrics["signals_rejected"]) == (3.0, 3.0)
    s = Script(rejected_every_bar)
    run(s, m, cfg(cooldown_minutes=2.5))
    assert s.evaluated == [0, 3, 6]
    s = Script(every_bar_long, lambda p, b: Close("x"))
    r = run(s, m, cfg(cooldown_minutes_trade=3.0))
    assert s.evaluated == [0, 4]
    assert [(t.entry_index, t.exit_index) for t in r.trades] == [(0, 1), (4, 5)]


def test_start_time_gates_entries() -> None:
    m = market(flat(5))
    s = Script(rejected_every_bar)
    run(s, m, cfg(start_time_us=T0 + 2 * MIN))
    assert s.evaluated == [2, 3, 4]
    s = Script(rejected_every_bar)
    run(s, m, cfg(start_time_us=T0 + 2 * MIN + 1))
    assert s.evaluated == [3, 4]


def test_max_open_positions() -> None:
    s = Script(every_bar_long)
    r = run(s, market(flat(4)), cfg(max_open_positions=2))
    assert s.evaluated == [0, 1]
    assert [(t.id, t.exit_reason) for t in r.trades] == [(1, "end_of_data"), (2, "end_of_data")]


# --- end of data, equity ----------------------------------------------------------------------------


def test_end_of_data_close_versus_open_positions() -> None:
    m = market([(1.1000, 1.1005, 1.0995, 1.1000), (1.1000, 1.1005, 1.0995, 1.1003)])
    r = run(Script(once(0, long(1.1000, 1.0990))), m, cfg(costs={"commission_per_lot": 2.0}))
    t = first(r)
    assert (t.exit_index, t.exit_reason, t.exit_price, t.commission) == (1, "end_of_data", 1.1003, 4.0)
    assert r.open_positions == []
    assert r.equity_curve[1] == 100_000.0 - 2.0 + t.pnl_gross - 2.0
    assert r.metrics["total_trades"] == 0.0 + 1.0

    r = run(Script(once(0, long(1.1000, 1.0990))), m, cfg(close_at_end=False, costs={"commission_per_lot": 2.0}))
    assert r.trades == []
    (o,) = r.open_positions
    gross = (1.1003 - 1.1) * 1.0 * 100_000.0 * 1.0 * 1.0
    assert (o.exit_reason, o.exit_price, o.commission, o.pnl_gross, o.pnl) == ("open", 1.1003, 2.0, gross, gross - 2.0)
    assert r.equity_curve[1] == (100_000.0 - 2.0) + gross
    assert r.metrics["total_trades"] == 0.0


def test_equity_and_exposure_per_bar() -> None:
    m = market([(1.1000, 1.1005, 1.0995, 1.1000), (1.1000, 1.1005, 1.0995, 1.1002), (1.1000, 1.1005, 1.0995, 1.0999)])
    r = run(Script(once(1, short(1.1000, 1.1010))), m, cfg())
    assert r.equity_curve.dtype == np.float64
    assert r.equity_curve[0] == 100_000.0
    assert r.equity_curve[1] == 100_000.0 + -(1.1002 + SPREAD - 1.1) * 100_000.0 * 1.0 * 1.0
    assert r.metrics["exposure"] == 2.0 / 3.0
    assert r.bars_processed == 3


# --- metrics -------------------------------------------------------------------------------------


def trade(pnl: float, r: float, scenario: int | None) -> TradeResult:
    return TradeResult(
        id=1,
        symbol="EURUSD",
        direction="long",
        entry_index=0,
        exit_index=1,
        entry_time_us=0,
        exit_time_us=0,
        entry_price=1.0,
        exit_price=1.0,
        initial_stop_loss=0.9,
        stop_loss=0.9,
        take_profit=None,
        lots=1.0,
        pnl_pips=0.0,
        pnl_gross=pnl + 1.0,
        commission=1.0,
        swap=0.0,
        pnl=pnl,
        slippage_pips=0.0,
        r_multiple=r,
        bars_held=1,
        exit_reason="stop_loss",
        scenario=scenario,
        reason="",
        tags=(),
    )


_DAY_US = 86_400_000_000
METRIC_INPUTS: dict[str, Any] = {
    "initial_balance": 10_000.0,
    # one bar per day at 12:00 UTC from Monday 2024-01-08: five trading days (17:00 New York days)
    "bar_open_us": [19_730 * _DAY_US + 12 * 3_600_000_000 + k * _DAY_US for k in range(5)],
    "first_open_us": 0,
    "last_close_us": 5 * 3_600_000_000,
    "exposed_bars": 3,
    "signals": 6,
    "signals_rejected": 2,
}


def test_metrics_on_a_known_trade_list() -> None:
    trades = [trade(100.0, 1.0, 1), trade(-50.0, -0.5, 2), trade(30.0, 0.3, 1), trade(-20.0, -0.2, None)]
    equity = [10_000.0, 10_100.0, 10_050.0, 10_080.0, 10_060.0]
    m = compute_metrics(trades, equity, **METRIC_INPUTS)
    assert m["total_trades"] == 4.0
    assert (m["wins"], m["losses"], m["win_rate"]) == (2.0, 2.0, 0.5)
    assert (m["gross_profit"], m["gross_loss"], m["net_profit"]) == (130.0, -70.0, 60.0)
    assert m["profit_factor"] == 130.0 / 70.0
    assert (m["avg_win"], m["avg_loss"], m["expectancy"]) == (65.0, -35.0, 15.0)
    assert m["avg_r"] == (1.0 + -0.5 + 0.3 + -0.2) / 4.0
    assert m["commission_total"] == 4.0
    assert m["final_equity"] == 10_060.0
    assert m["return_pct"] == (10_060.0 / 10_000.0 - 1.0) * 100.0
    assert m["max_drawdown"] == 50.0
    assert m["max_drawdown_pct"] == 50.0 / 10_100.0 * 100.0
    assert m["longest_drawdown_bars"] == 3.0
    assert m["exposure"] == 3.0 / 5.0
    assert (m["signals"], m["signals_rejected"], m["bars_processed"]) == (6.0, 2.0, 5.0)
    assert (m["trades_scenario_1"], m["trades_scenario_2"], m["trades_scenario_none"]) == (2.0, 1.0, 1.0)
    assert math.isnan(m["cagr"])
    # daily returns from the initial balance (the first day-end equity equals it: r_1 = 0)
    r = [
        10_000.0 / 10_000.0 - 1.0,
        10_100.0 / 10_000.0 - 1.0,
        10_050.0 / 10_100.0 - 1.0,
        10_080.0 / 10_050.0 - 1.0,
        10_060.0 / 10_080.0 - 1.0,
    ]
    mean = ((((r[0] + r[1]) + r[2]) + r[3]) + r[4]) / 5.0
    ss = 0.0
    for x in r:
        ss += (x - mean) * (x - mean)
    # days from Sun 2024-01-07 22:00 UTC (17:00 EST) to Fri 2024-01-12 22:00 UTC: 5 days
    ann = math.sqrt(5.0 / (5.0 * 86400e6 / (365.25 * 86400e6)))
    assert m["sharpe"] == mean / math.sqrt(ss / 4.0) * ann
    assert m["sortino"] == mean / math.sqrt((r[2] * r[2] + r[4] * r[4]) / 5.0) * ann
    assert list(m) == sorted(m)

    empty = compute_metrics([], [10_000.0], **METRIC_INPUTS)
    for k in ("win_rate", "profit_factor", "avg_win", "avg_loss", "expectancy", "avg_r", "sharpe", "sortino"):
        assert math.isnan(empty[k]), k
    assert "trades_scenario_none" not in empty


def test_drawdown_definitions() -> None:
    d = drawdown([100.0, 110.0, 100.0, 105.0, 120.0, 90.0], 100.0)
    assert (d.max_drawdown, d.max_drawdown_pct, d.longest_drawdown_bars) == (30.0, 30.0 / 120.0 * 100.0, 2)
    assert drawdown([99.0, 98.0, 101.0], 100.0).longest_drawdown_bars == 2


def test_result_metrics_use_none_for_undefined() -> None:
    r = run(Script(rejected_every_bar), market(flat(3)), cfg())
    assert r.metrics["profit_factor"] is None
    assert r.metrics["sharpe"] is None
    assert r.metrics["signals"] == 3.0


# --- errors ------------------------------------------------------------------------------------------


def test_non_finite_values_abort_with_e4006() -> None:
    m = market(flat(3))
    with pytest.raises(InvalidSignalError, match="bar 1") as err:
        run(Script(once(1, long(math.nan, 1.0))), m, cfg())
    assert err.value.code == "E4006"
    with pytest.raises(InvalidSignalError):
        run(Script(once(1, long(1.1, 1.0, math.inf))), m, cfg())
    with pytest.raises(InvalidSignalError):
        run(Script(once(0, long(1.1, 1.0)), lambda p, b: ModifyStopLoss(math.nan)), m, cfg())
    with pytest.raises(InvalidSignalError):
        run(Script(once(0, long(1.1, 1.0)), lambda p, b: ModifyTakeProfit(-math.inf)), m, cfg())


def test_strategy_exceptions_become_e4008_naming_the_strategy() -> None:
    def boom(s: DataSlice) -> TradeSignal | None:
        if s.index == 1:
            raise ZeroDivisionError("kaboom")
        return None

    with pytest.raises(StrategyPanicError, match="script") as err:
        run(Script(boom), market(flat(3)), cfg())
    assert err.value.code == "E4008"
    assert "kaboom" in str(err.value)

    class Broken(WorkedCase):
        name: ClassVar[str] = "broken"

        def prepare(self, cache: IndicatorCache) -> None:
            raise KeyError("no such series")

    with pytest.raises(StrategyPanicError, match="broken"):
        run_reference_backtest(Broken, cfg(), columns(flat(2)))


def test_config_defaults_and_validation() -> None:
    c = parse_config({"symbol": "EURUSD", "timeframe": "M1"})
    assert c["enabled_scenarios"] == [1, 2, 3, 4, 5, 6]
    assert c["direction_filter"] == "both"
    e = c["engine"]
    assert (e["initial_balance"], e["sizing"], e["risk_per_trade"], e["seed"], e["max_open_positions"]) == (
        100_000.0,
        "risk",
        100.0,
        42,
        1,
    )
    assert e["symbol_spec"] == dict.fromkeys(
        (
            "base",
            "quote",
            "pip_size",
            "digits",
            "contract_size",
            "min_lot",
            "lot_step",
            "max_lot",
            "margin_rate",
            "swap_long",
            "swap_short",
            "swap_mode",
            "triple_swap_weekday",
        )
    )
    assert e["quote_to_account_rate"] is None
    assert (e["close_at_end"], e["allow_same_bar_reentry"], e["htf_anchor"]) == (True, False, "utc")
    for bad, key in (
        ({"bogus": 1}, "bogus"),
        ({"engine": {"bogus": 1}}, "bogus"),
        ({"engine": {"costs": {"slipage": 1.0}}}, "slipage"),
        ({"timeframe": "W1"}, "timeframe"),
        ({"engine": {"initial_balance": -1.0}}, "engine.initial_balance"),
        ({"engine": {"max_open_positions": 0}}, "engine.max_open_positions"),
        ({"engine": {"sessions": [["25:00", "01:00"]]}}, "sessions"),
        ({"engine": {"symbol_spec": {"min_lot": 2.0, "max_lot": 1.0}}}, "max_lot"),
        ({"engine": {"seed": -1}}, "engine.seed"),
        ({"engine": {"close_at_end": 1}}, "engine.close_at_end"),
        ({"direction_filter": "up"}, "direction_filter"),
    ):
        with pytest.raises(InvalidConfigError, match=key) as err:
            parse_config({"symbol": "EURUSD", "timeframe": "M1", **bad})
        assert err.value.code == "E4002"
    with pytest.raises(InvalidConfigError, match="timeframe"):
        run(Script(rejected_every_bar), market(flat(3)), {"symbol": "EURUSD", "timeframe": "M5"})


# --- determinism -----------------------------------------------------------------------------------


def noisy() -> Script:
    def sig(s: DataSlice) -> TradeSignal | None:
        if s.index % 7 == 0:
            return long(s.ask.close, s.ask.close - 0.0008, s.ask.close + 0.0006)
        if s.index % 7 == 3:
            return short(s.bid.close, s.bid.close + 0.0007)
        return None

    return Script(sig, lambda p, b: Close("timeout") if p.bars_held >= 5 else Hold())


def wavy(n: int) -> Market:
    bars: list[Bar] = []
    for k in range(n):
        x = 1.1 + 0.001 * math.sin(k * 0.37)
        c = 1.1 + 0.001 * math.sin((k + 1.0) * 0.37)
        bars.append((x, max(x, c) + 0.0003, min(x, c) - 0.0003, c))
    return market(bars)


def test_determinism_two_runs_equal() -> None:
    m = wavy(500)
    c = cfg(max_open_positions=3, costs={"slippage_random_pips": 1.0, "commission_per_lot": 3.0})
    a = run(noisy(), m, c)
    b = run(noisy(), m, c)
    assert a.trades
    assert a.trades == b.trades
    assert a.equity_curve.tobytes() == b.equity_curve.tobytes()
    assert a.metrics == b.metrics
    c["engine"]["seed"] = 43
    assert run(noisy(), m, c).trades != a.trades


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**64 - 1), rate=st.floats(0.0, 1.0), n=st.integers(1, 80))
def test_invariants_on_random_signals(seed: int, rate: float, n: int) -> None:
    rng = SplitMix64(seed)
    bars: list[Bar] = []
    x = 1.1
    for _ in range(n):
        o = x
        c = o + (rng.next_f64() - 0.5) * 0.002
        bars.append((o, max(o, c) + rng.next_f64() * 0.001, min(o, c) - rng.next_f64() * 0.001, c))
        x = c
    m = market(bars)

    def sig(s: DataSlice) -> TradeSignal | None:
        g = SplitMix64(seed ^ (s.index * 0x9E3779B97F4A7C15 & (2**64 - 1)))
        if g.next_f64() >= rate:
            return None
        d = g.next_f64() * 0.003 + 1e-6
        if g.next_f64() < 0.5:
            return long(s.ask.close, s.ask.close - d, s.ask.close + d)
        return short(s.bid.close, s.bid.close + d)

    def act(p: Position, s: DataSlice) -> PositionAction:
        g = SplitMix64(seed + p.id + 7 * s.index)
        x = g.next_f64()
        return Close("timeout") if x < 0.1 else ModifyStopLoss(p.stop_loss) if x < 0.2 else Hold()

    r = run(Script(sig, act), m, cfg(sizing="risk", costs={"slippage_random_pips": 0.7}, max_open_positions=2))
    assert len(r.equity_curve) == n
    assert np.isfinite(r.equity_curve).all()
    signals = r.metrics["signals"]
    rejected = r.metrics["signals_rejected"]
    assert signals is not None
    assert rejected is not None
    assert len(r.trades) == signals - rejected
    for t in r.trades:
        assert t.exit_index >= t.entry_index + (0 if t.exit_reason == "end_of_data" else 1)
        assert t.bars_held == t.exit_index - t.entry_index


def test_rejected_signals_do_not_draw_from_the_rng() -> None:
    def sig(s: DataSlice) -> TradeSignal | None:
        return {0: long(1.1000, 1.2000), 1: long(1.1000, 1.0990)}.get(s.index)

    r = run(Script(sig), market(flat(3)), cfg(costs={"slippage_random_pips": 1.0}))
    t = first(r)
    assert (t.entry_index, r.metrics["signals_rejected"]) == (1, 1.0)
    assert t.entry_price == 1.1000 + (0.0 + U1 * 1.0) * 0.0001
    assert t.exit_price == 1.1000 - (0.0 + U2 * 1.0) * 0.0001
