"""``omega_test_sma_cross`` in pure Python on the reference backend: the twin of the Rust strategy in
``tests/test-plugin/src/strategy.rs``, with the same operations in the same order so that both
backends produce bit-identical signals. It reads only the ``IndicatorCache`` (SMA and ATR keys).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from omega.errors import InvalidConfigError
from omega.reference.cache import IndicatorCache
from omega.reference.keys import IndicatorKey, PriceSide
from omega.reference.strategy import Strategy
from omega.reference.types import Close, DataSlice, Direction, Hold, Position, PositionAction, TradeSignal
from pydantic import ValidationError

from omega_test_plugin.params import SmaCrossParams

__all__ = ["SmaCrossReference"]


def _params(raw: Any) -> SmaCrossParams:
    try:
        return SmaCrossParams.model_validate(raw or {})
    except ValidationError as e:
        first = e.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "params"
        raise InvalidConfigError(f"invalid parameter '{key}': {first['msg']}", {"key": key}) from e


class SmaCrossReference(Strategy):
    """SMA(fast) / SMA(slow) cross of bid closes with ATR-based SL/TP and a bar timeout."""

    name: ClassVar[str] = "omega_test_sma_cross"
    version: ClassVar[str] = "0.1.0"

    def __init__(self) -> None:
        self.params = SmaCrossParams()
        self._timeframe = "M1"
        self._long_ok = True
        self._short_ok = True
        self._keys: tuple[IndicatorKey, IndicatorKey, IndicatorKey] | None = None

    def on_init(self, config: dict[str, Any]) -> None:
        params = _params(config.get("params"))
        if params.fail_init:
            raise InvalidConfigError(
                "invalid parameter 'fail_init': fail_init is set: refusing to initialise", {"key": "fail_init"}
            )
        self.params = params
        self._timeframe = str(config.get("timeframe", "M1")).strip().upper()
        direction = config.get("direction_filter", "both")
        scenarios = config.get("enabled_scenarios", [1, 2, 3, 4, 5, 6])
        self._long_ok = direction in ("long", "both") and 1 in scenarios
        self._short_ok = direction in ("short", "both") and 2 in scenarios

    def prepare(self, cache: IndicatorCache) -> None:
        p = self.params
        keys = (
            IndicatorKey.sma(PriceSide.BID, p.fast),
            IndicatorKey.sma(PriceSide.BID, p.slow),
            IndicatorKey.atr(PriceSide.BID, p.atr_length),
        )
        for key in keys:
            cache.series(key)
        self._keys = keys

    def evaluate(self, slice: DataSlice, cache: IndicatorCache) -> TradeSignal | None:
        i = slice.index
        if self.params.panic_at_bar == i:
            raise RuntimeError(f"panic_at_bar reached at bar {i}")
        if i == 0 or self._keys is None:
            return None
        fast, slow, atr = (cache.series(k) for k in self._keys)
        pf, ps, f, s, a = fast[i - 1], slow[i - 1], fast[i], slow[i], atr[i]
        if not all(math.isfinite(v) for v in (pf, ps, f, s, a)):
            return None
        direction: Direction
        if pf <= ps and f > s and self._long_ok:
            direction, entry, scenario, sign = "long", slice.ask.close, 1, 1.0
        elif pf >= ps and f < s and self._short_ok:
            direction, entry, scenario, sign = "short", slice.bid.close, 2, -1.0
        else:
            return None
        return TradeSignal(
            direction=direction,
            entry_price=entry,
            stop_loss=entry - sign * self.params.sl_atr * a,
            take_profit=entry + sign * self.params.tp_atr * a,
            reason="sma_cross",
            tags=("sma", "cross"),
            scenario=scenario,
            meta={"fast": f, "slow": s, "atr": a},
        )

    def manage_position(self, position: Position, slice: DataSlice) -> PositionAction:
        if position.bars_held >= self.params.max_bars:
            return Close(reason="timeout")
        return Hold()

    def primary_timeframe(self) -> str:
        return self._timeframe
