"""Value types of the pure-Python reference backend, mirroring the Rust core's types.

Every type is a frozen dataclass: a strategy gets snapshots, never the engine's state. Prices are
floats, times ints in µs since the epoch (UTC); directions and exit reasons are plain strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from omega.reference.keys import TIMEFRAME_MINUTES

__all__ = [
    "Candle",
    "Close",
    "DataSlice",
    "Direction",
    "ExitReason",
    "Hold",
    "ModifyStopLoss",
    "ModifyTakeProfit",
    "Position",
    "PositionAction",
    "ReferenceBacktestResult",
    "TradeResult",
    "TradeSignal",
]

Direction: TypeAlias = Literal["long", "short"]
ExitReason: TypeAlias = Literal[
    "stop_loss", "take_profit", "timeout", "strategy_close", "end_of_data", "stop_out", "open"
]

_MINUTE_US = 60_000_000


@dataclass(frozen=True, slots=True)
class Candle:
    """One side (bid or ask) of one bar."""

    timestamp_us: int
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class DataSlice:
    """What a strategy sees at bar ``index``: the complete (closed) bid and ask candles."""

    symbol: str
    timeframe: str
    index: int
    timestamp_us: int
    bid: Candle
    ask: Candle

    def spread_pips(self) -> float:
        """Spread at the close in pips of 0.0001 (the seed's definition)."""
        return (self.ask.close - self.bid.close) * 10_000.0

    def close_time_us(self) -> int:
        """Bar close time (= open + timeframe), the decision instant of this bar."""
        return self.timestamp_us + TIMEFRAME_MINUTES[self.timeframe] * _MINUTE_US


@dataclass(frozen=True)
class TradeSignal:
    """A market entry request returned by ``Strategy.evaluate``."""

    direction: Direction
    entry_price: float
    stop_loss: float
    take_profit: float | None = None
    reason: str = ""
    tags: tuple[str, ...] = ()
    scenario: int | None = None
    meta: dict[str, float] | None = None


@dataclass(frozen=True, slots=True)
class Position:
    """An open position as the strategy sees it in ``manage_position`` (marked at the bar's exit-side close)."""

    id: int
    symbol: str
    direction: Direction
    entry_price: float
    entry_time_us: int
    stop_loss: float
    take_profit: float | None
    lot_size: float
    pnl_pips: float
    pnl_usd: float
    bars_held: int
    entry_index: int


@dataclass(frozen=True, slots=True)
class Hold:
    """Keep the position unchanged."""


@dataclass(frozen=True, slots=True)
class ModifyStopLoss:
    """Move the stop-loss (applies from the next bar)."""

    new_sl: float


@dataclass(frozen=True, slots=True)
class ModifyTakeProfit:
    """Move the take-profit (applies from the next bar)."""

    new_tp: float


@dataclass(frozen=True, slots=True)
class Close:
    """Close at this bar's exit-side close; ``"timeout"`` is reported as ``timeout``, else ``strategy_close``."""

    reason: str


PositionAction: TypeAlias = Hold | ModifyStopLoss | ModifyTakeProfit | Close


@dataclass(frozen=True, slots=True)
class TradeResult:
    """One trade (closed, or open and marked at the last close): the fields of the Rust ``TradeRecord``."""

    id: int
    symbol: str
    direction: Direction
    entry_index: int
    exit_index: int
    entry_time_us: int
    exit_time_us: int
    entry_price: float
    exit_price: float
    initial_stop_loss: float
    stop_loss: float
    take_profit: float | None
    lots: float
    pnl_pips: float
    pnl_gross: float
    commission: float
    swap: float
    pnl: float
    slippage_pips: float
    r_multiple: float
    bars_held: int
    exit_reason: ExitReason
    scenario: int | None
    reason: str
    tags: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class ReferenceBacktestResult:
    """Output of one reference run: the fields of the Rust ``EngineResult`` plus timing and backend."""

    trades: list[TradeResult]
    open_positions: list[TradeResult]
    equity_curve: npt.NDArray[np.float64]
    metrics: dict[str, float | None]
    bars_processed: int
    execution_time_ms: float
    backend: str = "python"
