"""The abstract ``Strategy`` of the pure-Python reference backend, mirroring the Rust ``RustStrategy`` trait.

Lifecycle (driven by ``omega.reference.engine``): ``cls()`` → ``on_init(config)`` → ``prepare(cache)``
→ per bar ``manage_position`` for each open position, then ``evaluate`` → ``on_deinit()``.
An exception raised by strategy code aborts the run as ``StrategyPanicError`` (E4008).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from omega.reference.types import DataSlice, Hold, Position, PositionAction, TradeSignal

if TYPE_CHECKING:
    from omega.reference.cache import IndicatorCache

__all__ = ["Strategy"]


class Strategy(ABC):
    """Base class of every reference strategy."""

    #: Registry key, e.g. ``"mean_reversion_z_score"``.
    name: ClassVar[str]
    #: Strategy version.
    version: ClassVar[str] = "1.0.0"

    def on_init(self, config: dict[str, Any]) -> None:
        """Initialise from the validated config dict (same layout as the Rust ``StrategyConfig``)."""
        return None

    def prepare(self, cache: IndicatorCache) -> None:  # noqa: B027 - optional hook, empty by design
        """Called once before bar 0 with the run's IndicatorCache: request series here."""

    @abstractmethod
    def evaluate(self, slice: DataSlice, cache: IndicatorCache) -> TradeSignal | None:
        """Evaluate the closed bar ``slice.index``; a signal opens a market position."""

    def manage_position(self, position: Position, slice: DataSlice) -> PositionAction:
        """Manage one open position at bar ``slice.index`` (after that bar's SL/TP checks). Default: hold."""
        return Hold()

    @abstractmethod
    def primary_timeframe(self) -> str:
        """The timeframe this strategy expects as primary bars (``"M1"`` … ``"D1"``)."""

    def on_deinit(self) -> None:  # noqa: B027 - optional hook, empty by design
        """Cleanup when the run ends (also after an error)."""
