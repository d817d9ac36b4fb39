"""Swaps, margin and stop-out on the pure-Python reference (docs/engine.md "Swaps", "Margin and
stop-out"): the hand-computed cases of the Rust unit tests in
omega-core/crates/omega-core/src/engine/tests.rs, plus the rollover calendar."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest
from omega.errors import InvalidConfigError
from omega.reference.account import new_york_weekday, next_rollover, nights_at
from omega.reference.engine import parse_config
from omega.reference.market import Market
from omega.reference.types import Close, Position, PositionAction
from test_reference_engine import MIN, T0, Bar, DataSlice, Script, cfg, columns, flat, long, market, once, run, short

DAY = 86_400_000_000
WED_2158 = T0 + 2 * DAY + (21 * 60 + 58) * MIN
"""2024-01-03 (a Wednesday) 21:58 UTC = 16:58 New York (EST): the rollover is at 22:00 UTC."""


def utc(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp()) * 1_000_000  # type: ignore[misc]


def close_rel(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(abs(b), 1.0)


def with_spec(**spec: Any) -> dict[str, Any]:
    return cfg(symbol_spec=spec)


def test_rollover_calendar() -> None:
    # 17:00 New York: 22:00 UTC in winter, 21:00 UTC in summer.
    assert next_rollover(utc(2024, 1, 10, 12)) == utc(2024, 1, 10, 22)
    assert next_rollover(utc(2024, 1, 10, 22)) == utc(2024, 1, 11, 22)
    assert next_rollover(utc(2024, 7, 10, 12)) == utc(2024, 7, 10, 21)
    assert new_york_weekday(utc(2024, 1, 10, 22)) == 2  # Wednesday
    assert nights_at(utc(2024, 1, 10, 22), "wednesday") == 3.0
    assert nights_at(utc(2024, 1, 11, 22), "wednesday") == 1.0
    assert nights_at(utc(2024, 1, 13, 22), "wednesday") == 0.0  # Saturday


def test_weekend_gap_charges_one_night_and_a_week_seven() -> None:
    # Friday 16:59 New York, then Sunday 17:00 and the next Sunday 17:00: 1 night, then 7.
    fri = utc(2024, 1, 12, 21) + 59 * MIN
    bid: list[Bar] = [(1.1000, 1.1005, 1.0995, 1.1000)] * 3
    cols = columns(bid, fri)
    cols["timestamp_us"] = [fri, utc(2024, 1, 14, 22), utc(2024, 1, 21, 22)]
    m = Market.from_arrow(cols, "EURUSD", "M1")
    r = run(Script(once(0, long(1.1001, 1.0990))), m, with_spec(swap_long=-1.0))
    # −1 point × 0.00001 × 100,000 × (1 + 7) nights = −8 USD.
    assert close_rel(r.trades[0].swap, -8.0), r.trades[0].swap


def test_swap_points_triple_wednesday_charged_at_the_first_bar_after_the_rollover() -> None:
    m = market(flat(4), WED_2158)
    c = with_spec(swap_long=-5.0, swap_short=2.0)
    r = run(Script(once(0, long(1.1001, 1.0990))), m, c)
    t = r.trades[0]
    # 3 nights × −5 points × 0.00001 × 100,000 × 1 lot = −15; gross at the end −10.
    assert close_rel(t.swap, -15.0), t.swap
    assert close_rel(t.pnl, -25.0), t.pnl
    assert close_rel(r.metrics["swap_total"] or 0.0, -15.0)
    assert close_rel(r.equity_curve[1], 100_000.0 - 10.0)
    assert close_rel(r.equity_curve[2], 100_000.0 - 25.0)
    # A short opened at the close of bar 1 (the rollover instant) pays: +2 × 3 × 1 = +6.
    r = run(Script(once(1, short(1.1000, 1.1010))), m, c)
    assert close_rel(r.trades[0].swap, 6.0)
    c["engine"]["swaps"] = False
    r = run(Script(once(1, short(1.1000, 1.1010))), m, c)
    assert r.trades[0].swap == 0.0


def test_swap_not_charged_to_a_position_closed_at_the_rollover() -> None:
    def close(p: Position, s: DataSlice) -> PositionAction:
        return Close("x")

    r = run(Script(once(0, long(1.1001, 1.0990)), close), market(flat(4), WED_2158), with_spec(swap_long=-5.0))
    assert (r.trades[0].exit_index, r.trades[0].swap) == (1, 0.0)


def test_swap_percent_short_usdjpy_credit_in_usd() -> None:
    # 150.02 × 100,000 × 1.8 / 100 / 360 = 750.1 JPY, credited at 1 / 150.02 → 5.00 USD.
    thu_2159 = WED_2158 + DAY + MIN
    m = Market.from_arrow(columns([(150.00, 150.05, 149.95, 150.00)] * 2, thu_2159, 0.02), "USDJPY", "M1")
    c = {
        "symbol": "USDJPY",
        "timeframe": "M1",
        "engine": {"sizing": "fixed", "symbol_spec": {"swap_short": 1.8, "swap_mode": "percent"}},
    }
    r = run(Script(once(0, short(150.00, 150.50))), m, c)
    assert close_rel(r.trades[0].swap, 5.0), r.trades[0].swap


def test_margin_rejects_an_entry_that_does_not_fit() -> None:
    # Balance 1,000, margin 0.01: 1 lot at 1.1001 needs 1,100.10 (rejected), 0.9 lots 990.09.
    m = market(flat(3))
    c = cfg(initial_balance=1_000.0, symbol_spec={"margin_rate": 0.01})
    r = run(Script(once(0, long(1.1001, 1.0990))), m, c)
    assert r.trades == []
    assert (r.metrics["signals_rejected"], r.metrics["signals_rejected_margin"]) == (1, 1)
    c["engine"]["fixed_lots"] = 0.9
    r = run(Script(once(0, long(1.1001, 1.0990))), m, c)
    assert (len(r.trades), r.metrics["signals_rejected_margin"]) == (1, 0)
    c["engine"].update(fixed_lots=1.0, margin=False)
    assert len(run(Script(once(0, long(1.1001, 1.0990))), m, c).trades) == 1


def test_stop_out_closes_at_the_worst_price_and_blocks_entries() -> None:
    # Margin 550.05; bar 1's bid low 1.0850: equity 245, level 0.445 ≤ 0.5 → closed at 1.0850.
    c = cfg(initial_balance=1_000.0, fixed_lots=0.5, symbol_spec={"margin_rate": 0.01})
    m = market([(1.1000, 1.1005, 1.0995, 1.1000), (1.0990, 1.0995, 1.0850, 1.0900), (1.0900, 1.0905, 1.0895, 1.0900)])

    def sig(s: DataSlice) -> Any:
        return {0: long(1.1001, 1.0000), 2: long(1.0901, 1.0000)}.get(s.index)

    r = run(Script(sig), m, c)
    assert len(r.trades) == 1
    t = r.trades[0]
    assert (t.exit_index, t.exit_reason, t.exit_price) == (1, "stop_out", 1.0850)
    assert close_rel(t.pnl, -755.0)
    assert close_rel(r.metrics["final_equity"] or 0.0, 245.0)
    assert (r.metrics["stop_outs"], r.metrics["signals_rejected_margin"]) == (1, 1)
    m2 = market([(1.1000, 1.1005, 1.0995, 1.1000), (1.0990, 1.0995, 1.0870, 1.0900)])
    r = run(Script(once(0, long(1.1001, 1.0000))), m2, c)
    assert (r.trades[0].exit_reason, r.metrics["stop_outs"]) == ("end_of_data", 0)


def test_a_gap_past_the_stop_out_leaves_a_negative_balance_on_record() -> None:
    c = cfg(initial_balance=1_000.0, fixed_lots=0.5, symbol_spec={"margin_rate": 0.01})
    m = market([(1.1000, 1.1005, 1.0995, 1.1000), (1.0710, 1.0720, 1.0700, 1.0710), (1.0710, 1.0720, 1.0700, 1.0710)])
    r = run(Script(lambda s: None if s.index == 1 else long(s.ask.close, 1.0000)), m, c)
    assert [t.exit_reason for t in r.trades] == ["stop_out"]
    assert close_rel(r.metrics["final_equity"] or 0.0, -505.0)
    assert r.equity_curve[1] < 0.0
    assert r.equity_curve[2] < 0.0
    assert r.metrics["signals_rejected_margin"] == 1


@pytest.mark.parametrize(
    ("engine", "key"),
    [
        ({"stop_out_level": -0.1}, "engine.stop_out_level"),
        ({"stop_out_level": math.inf}, "engine.stop_out_level"),
        ({"stop_out_level": "half"}, "engine.stop_out_level"),
        ({"swaps": 1}, "engine.swaps"),
        ({"margin": "yes"}, "engine.margin"),
    ],
)
def test_bad_account_keys_are_e4002_naming_the_key(engine: dict[str, Any], key: str) -> None:
    with pytest.raises(InvalidConfigError) as e:
        parse_config({"symbol": "EURUSD", "timeframe": "M1", "engine": engine})
    assert key in str(e.value)
