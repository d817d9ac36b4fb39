"""``{{ cookiecutter.strategy_name }}`` in pure Python on Omega's reference backend.

The twin of the Rust strategy in ``src/strategy.rs``: the same series from the ``IndicatorCache``
and the same floating-point operations in the same order, so that both backends produce identical
signals and trades (``tests/test_parity.py``). Change both together.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from omega.errors import InvalidConfigError
from omega.reference.cache import IndicatorCache
from omega.reference.keys import IndicatorKey, PriceSide
from omega.reference.strategy import Strategy
from omega.reference.types import (
    Close,
    DataSlice,
    Direction,
    Hold,
    ModifyStopLoss,
    Position,
    PositionAction,
    TradeSignal,
)
from pydantic import ValidationError

from {{ cookiecutter.package_name }} import STRATEGY_NAME, STRATEGY_VERSION
from {{ cookiecutter.package_name }}.params import {{ cookiecutter.__class_name }}Params

__all__ = ["REASON", "TAGS", "{{ cookiecutter.__class_name }}Reference", "entry_rule"]

#: Entry reason of every signal: the strategy's name (the Rust ``REASON``).
REASON = STRATEGY_NAME
#: Tags of every signal: the strategy's name and the indicators its rule reads (the Rust ``TAGS``).
TAGS = (STRATEGY_NAME, "ema", "atr")


def _params(raw: Any) -> {{ cookiecutter.__class_name }}Params:
    """Validate ``config["params"]`` (E4002 naming the first bad key, as the Rust side does)."""
    try:
        return {{ cookiecutter.__class_name }}Params.model_validate(raw or {})
    except ValidationError as e:
        first = e.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "params"
        raise InvalidConfigError(f"invalid parameter '{key}': {first['msg']}", {"key": key}) from e


def entry_rule(
    params: {{ cookiecutter.__class_name }}Params, prev: tuple[float, float, float], now: tuple[float, float, float]
) -> Direction | None:
    """The entry rule on (close, ema, atr) of the previous and the current bar (Rust ``entry_rule``)."""
    band = params.band_atr
    if prev[0] <= prev[1] + band * prev[2] and now[0] > now[1] + band * now[2]:
        return "long"
    if prev[0] >= prev[1] - band * prev[2] and now[0] < now[1] - band * now[2]:
        return "short"
    return None


class {{ cookiecutter.__class_name }}Reference(Strategy):
    """EMA ± k·ATR channel breakout of bid closes with ATR-based SL/TP, break-even and a bar timeout."""

    name: ClassVar[str] = STRATEGY_NAME
    version: ClassVar[str] = STRATEGY_VERSION

    def __init__(self) -> None:
        self.params = {{ cookiecutter.__class_name }}Params()
        self._timeframe = "M1"
        self._long_ok = True
        self._short_ok = True
        self._keys: tuple[IndicatorKey, IndicatorKey, IndicatorKey] | None = None

    def on_init(self, config: dict[str, Any]) -> None:
        self.params = _params(config.get("params"))
        self._timeframe = str(config.get("timeframe", "M1")).strip().upper()
        direction = config.get("direction_filter", "both")
        scenarios = config.get("enabled_scenarios", [1, 2, 3, 4, 5, 6])
        self._long_ok = direction in ("long", "both") and 1 in scenarios
        self._short_ok = direction in ("short", "both") and 2 in scenarios

    def prepare(self, cache: IndicatorCache) -> None:
        p = self.params
        keys = (
            IndicatorKey.ema(PriceSide.BID, p.ema_length),
            IndicatorKey.atr(PriceSide.BID, p.atr_length),
            IndicatorKey.close(PriceSide.BID),
        )
        for key in keys:
            cache.series(key)
        self._keys = keys

    def evaluate(self, slice: DataSlice, cache: IndicatorCache) -> TradeSignal | None:
        i = slice.index
        if i == 0 or self._keys is None:
            return None
        ema, atr, close = (cache.series(k) for k in self._keys)
        pc, pe, pa = close[i - 1], ema[i - 1], atr[i - 1]
        c, e, a = slice.bid.close, ema[i], atr[i]
        if not all(math.isfinite(v) for v in (pc, pe, pa, c, e, a)):
            return None  # warm-up
        band = self.params.band_atr
        upper, lower = e + band * a, e - band * a
        rule = entry_rule(self.params, (pc, pe, pa), (c, e, a))
        direction: Direction
        if rule == "long" and self._long_ok:
            direction, entry, scenario, sign = "long", slice.ask.close, 1, 1.0
        elif rule == "short" and self._short_ok:
            direction, entry, scenario, sign = "short", slice.bid.close, 2, -1.0
        else:
            return None
        return TradeSignal(
            direction=direction,
            entry_price=entry,
            stop_loss=entry - sign * self.params.sl_atr * a,
            take_profit=entry + sign * self.params.tp_atr * a,
            reason=REASON,
            tags=TAGS,
            scenario=scenario,
            meta={"ema": e, "atr": a, "upper": upper, "lower": lower},
        )

    def manage_position(self, position: Position, slice: DataSlice) -> PositionAction:
        if position.bars_held >= self.params.max_bars:
            return Close(reason="timeout")
        r = self.params.breakeven_r
        if r is not None:
            sign = 1.0 if position.direction == "long" else -1.0
            # Positive while the stop-loss is still on the losing side of the entry.
            risk = sign * (position.entry_price - position.stop_loss)
            price = slice.bid.close if position.direction == "long" else slice.ask.close
            if risk > 0.0 and sign * (price - position.entry_price) >= r * risk:
                return ModifyStopLoss(new_sl=position.entry_price)
        return Hold()

    def primary_timeframe(self) -> str:
        return self._timeframe
