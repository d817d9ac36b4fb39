"""Swaps and margin of the pure-Python reference (docs/engine.md "Swaps", "Margin and stop-out";
Rust ``omega_core::engine::{swap, margin}``), with the same operation order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from omega.instruments import WEEKDAYS, Instrument
from omega.reference.market import _DAY_US, _ny_offset_us, htf_bin

__all__ = ["Margin", "Swaps", "new_york_weekday", "next_rollover", "nights_at"]


def next_rollover(t: int) -> int:
    """The rollover after instant ``t``: the end of the 17:00-New-York day that contains ``t``."""
    return htf_bin(t, "D1", "new_york_1700")[1]


def new_york_weekday(t: int) -> int:
    """New York weekday of a UTC instant, Monday = 0 … Sunday = 6 (1970-01-01 was a Thursday)."""
    return ((t + _ny_offset_us(t)) // _DAY_US + 3) % 7


def nights_at(t: int, triple_weekday: str) -> float:
    """Nights the rollover at ``t`` charges: 3 on the triple weekday, 0 on Saturday and Sunday, else 1."""
    day = new_york_weekday(t)
    if day >= 5:
        return 0.0
    return 3.0 if day == WEEKDAYS.index(triple_weekday) else 1.0


class Swaps:
    """Swap terms of one run and the cursor over the rollovers (see `from_config`)."""

    def __init__(self, instrument: Instrument, first_open_us: int) -> None:
        self.long = instrument.swap_long
        self.short = instrument.swap_short
        self.mode = instrument.swap_mode
        self.point = 1.0 / 10.0**instrument.digits
        self.contract_size = instrument.contract_size
        self.triple = instrument.triple_swap_weekday
        self.next = next_rollover(first_open_us)

    @staticmethod
    def from_config(eng: Mapping[str, Any], instrument: Instrument, first_open_us: int) -> Swaps | None:
        """None when ``engine.swaps`` is off or both rates are 0 (nothing to charge or track)."""
        if not eng["swaps"] or (instrument.swap_long == 0.0 and instrument.swap_short == 0.0):
            return None
        return Swaps(instrument, first_open_us)

    def nights_until(self, open_us: int) -> float:
        """Nights of the rollovers in (previous bar open, ``open_us``]; moves the cursor past them."""
        nights = 0.0
        while self.next <= open_us:
            nights += nights_at(self.next, self.triple)
            self.next = next_rollover(self.next)
        return nights

    def quote_amount(self, direction: str, price: float, lots: float, nights: float) -> float:
        """Swap over ``nights`` in the quote currency (positive = credit), points or percent a year."""
        rate = self.long if direction == "long" else self.short
        if self.mode == "points":
            return rate * self.point * self.contract_size * lots * nights
        return price * self.contract_size * lots * rate / 100.0 / 360.0 * nights


@dataclass(frozen=True)
class Margin:
    """Margin terms of one run: margin fixed at the entry, free-margin check, stop-out test."""

    rate: float
    contract_size: float
    stop_out_level: float

    @staticmethod
    def from_config(eng: Mapping[str, Any], instrument: Instrument) -> Margin | None:
        """None when ``engine.margin`` is off."""
        if not eng["margin"]:
            return None
        return Margin(instrument.margin_rate, instrument.contract_size, eng["stop_out_level"])

    def required(self, price: float, lots: float, debit_rate: float) -> float:
        """Margin in account currency: ``price * cs * lots * rate * debit_rate``."""
        return price * self.contract_size * lots * self.rate * debit_rate

    @staticmethod
    def fits(required: float, equity: float, used: float) -> bool:
        """Whether ``required <= equity − used``."""
        return required <= equity - used

    def stopped_out(self, equity: float, used: float) -> bool:
        """Whether equity / used margin is at or below the stop-out level (never with no margin used)."""
        return used > 0.0 and equity / used <= self.stop_out_level
