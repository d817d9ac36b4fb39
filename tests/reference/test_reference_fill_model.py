"""The ``next_open`` fill model on the pure-Python reference (docs/engine.md "Fill model"): the
hand-computed cases of the Rust unit tests in omega-core/crates/omega-core/src/engine/tests.rs."""

from __future__ import annotations

from typing import Any

from omega.reference.types import Close, Position, PositionAction
from test_reference_engine import MIN, SPREAD, T0, Script, cfg, flat, long, market, once, run, short


def next_open() -> dict[str, Any]:
    return cfg(fill="next_open")


def test_next_open_fills_at_the_next_ask_open_and_tests_that_bars_range() -> None:
    m = market([(1.1000, 1.1005, 1.0995, 1.1000), (1.1010, 1.1030, 1.1005, 1.1025), (1.1025, 1.1030, 1.1020, 1.1025)])
    r = run(Script(once(0, long(1.1001, 1.0990, 1.1020))), m, next_open())
    t = r.trades[0]
    assert (t.entry_index, t.entry_time_us, t.entry_price) == (1, T0 + MIN, 1.1010 + SPREAD)
    assert (t.exit_index, t.exit_reason, t.exit_price, t.bars_held) == (1, "take_profit", 1.1020, 0)
    assert abs(t.pnl_pips - (1.1020 - (1.1010 + SPREAD)) / 0.0001) < 1e-12
    r = run(Script(once(0, long(1.1001, 1.0990, 1.1020))), m, cfg())
    assert (r.trades[0].entry_index, r.trades[0].entry_price) == (0, 1.1001)


def test_next_open_rejects_a_gap_through_the_stop_and_a_signal_on_the_last_bar() -> None:
    m = market([(1.1000, 1.1005, 1.0995, 1.1000), (1.1010, 1.1015, 1.1005, 1.1010)])
    r = run(Script(once(0, short(1.1000, 1.1005))), m, next_open())
    assert r.trades == []
    assert (r.metrics["signals"], r.metrics["signals_rejected"]) == (1, 1)
    r = run(Script(once(1, long(1.1011, 1.0990))), m, next_open())
    assert r.trades == []
    assert r.metrics["signals_rejected"] == 1


def test_next_open_manages_a_position_from_the_bar_after_its_fill() -> None:
    def close(p: Position, s: Any) -> PositionAction:
        return Close("done")

    s = Script(once(0, long(1.1001, 1.0990)), close)
    r = run(s, market(flat(4)), next_open())
    t = r.trades[0]
    assert (t.entry_index, t.exit_index, t.exit_reason) == (1, 2, "strategy_close")
    assert [i for i, _ in s.managed] == [2]
    assert s.evaluated == [0, 3]
