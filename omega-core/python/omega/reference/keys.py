"""Indicator keys of the pure-Python reference: the same layout as the core's ``IndicatorKey``.

A key is (kind, side, timeframe, 10 numeric params) with the Rust kind numbers and param slots;
``timeframe`` is 0 for the primary timeframe, else the minutes of a higher one. Keys compare and
hash on the exact bits of their params (NaN equals NaN, 0.0 differs from -0.0), as in Rust.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from enum import IntEnum

from omega.errors import IndicatorNotAvailableError

#: Number of numeric parameter slots in a key.
KEY_PARAMS = 10

#: Timeframe names and their length in minutes (also the timeframe code of a key).
TIMEFRAME_MINUTES: dict[str, int] = {"M1": 1, "M5": 5, "M15": 15, "M30": 30, "H1": 60, "H4": 240, "D1": 1440}


class IndicatorKind(IntEnum):
    """Indicator families; the values are the ABI values of the Rust enum."""

    EMA = 1
    SMA = 2
    ROLLING_STD = 3
    BOLLINGER_UPPER = 4
    BOLLINGER_LOWER = 5
    ATR = 6
    RSI = 7
    ZSCORE_EMA = 8
    ZSCORE_SMA = 9
    KALMAN_MEAN = 10
    KALMAN_ZSCORE = 11
    GARCH_SIGMA = 12
    KALMAN_GARCH_ZSCORE = 13
    CLOSE = 14


class PriceSide(IntEnum):
    """Which quote a series is computed on."""

    BID = 0
    ASK = 1


def timeframe_name(minutes: int) -> str:
    """The timeframe name for a minutes code (E4003 if there is none)."""
    for name, m in TIMEFRAME_MINUTES.items():
        if m == minutes:
            return name
    raise IndicatorNotAvailableError(f"unknown timeframe code {minutes}", {"timeframe": minutes})


def timeframe_minutes(name: str) -> int:
    """Minutes of a timeframe name, case-insensitive (E4003 if unknown)."""
    key = name.strip().upper() if isinstance(name, str) else ""
    if key not in TIMEFRAME_MINUTES:
        raise IndicatorNotAvailableError(f"unknown timeframe {name!r}", {"timeframe": name})
    return TIMEFRAME_MINUTES[key]


@dataclass(frozen=True)
class GarchParams:
    """GARCH(1,1) parameters as keys carry them (``omega=None`` = derived)."""

    alpha: float
    beta: float
    omega: float | None
    scale: float
    min_periods: int
    use_log_returns: bool
    sigma_floor: float

    def slots(self) -> tuple[float, float, float, float, float, float, float]:
        """The 7 key slots: alpha, beta, omega (NaN = derived), scale, min_periods, use_log, floor."""
        return (
            float(self.alpha),
            float(self.beta),
            math.nan if self.omega is None else float(self.omega),
            float(self.scale),
            float(self.min_periods),
            1.0 if self.use_log_returns else 0.0,
            float(self.sigma_floor),
        )

    @classmethod
    def from_slots(cls, s: tuple[float, ...] | list[float]) -> GarchParams:
        """Decode 7 key slots (inverse of :meth:`slots`; ``min_periods`` truncated at >= 0)."""
        mp = s[4]
        min_periods = int(mp) if math.isfinite(mp) and mp > 0.0 else 0
        return cls(
            alpha=s[0],
            beta=s[1],
            omega=None if math.isnan(s[2]) else s[2],
            scale=s[3],
            min_periods=min_periods,
            use_log_returns=s[5] != 0.0,
            sigma_floor=s[6],
        )


def _bits(x: float) -> int:
    return int(struct.unpack("<Q", struct.pack("<d", x))[0])


@dataclass(frozen=True, eq=False)
class IndicatorKey:
    """The name of one series: kind, price side, timeframe (0 = primary, else minutes), 10 params."""

    kind: int
    side: int
    timeframe: int = 0
    params: tuple[float, ...] = field(default=(0.0,) * KEY_PARAMS)

    def __post_init__(self) -> None:
        params = tuple(float(p) for p in self.params)
        if len(params) > KEY_PARAMS:
            raise IndicatorNotAvailableError(
                f"an indicator key has at most {KEY_PARAMS} params, got {len(params)}", {"params": params}
            )
        object.__setattr__(self, "kind", int(self.kind))
        object.__setattr__(self, "side", int(self.side))
        object.__setattr__(self, "timeframe", int(self.timeframe))
        object.__setattr__(self, "params", params + (0.0,) * (KEY_PARAMS - len(params)))

    def _identity(self) -> tuple[int, ...]:
        return (self.kind, self.side, self.timeframe, *(_bits(p) for p in self.params))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IndicatorKey):
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    @classmethod
    def new(
        cls, kind: IndicatorKind | int, side: PriceSide | int, timeframe: str | None, params: tuple[float, ...] = ()
    ) -> IndicatorKey:
        """A key from its parts; unused param slots are 0."""
        tf = 0 if timeframe is None else timeframe_minutes(timeframe)
        return cls(int(kind), int(side), tf, tuple(float(p) for p in params))

    def on(self, timeframe: str | None) -> IndicatorKey:
        """The same key on another timeframe (``None`` = primary)."""
        tf = 0 if timeframe is None else timeframe_minutes(timeframe)
        return IndicatorKey(self.kind, self.side, tf, self.params)

    def kind_enum(self) -> IndicatorKind | None:
        """The kind, if known."""
        try:
            return IndicatorKind(self.kind)
        except ValueError:
            return None

    def side_enum(self) -> PriceSide | None:
        """The side, if known."""
        try:
            return PriceSide(self.side)
        except ValueError:
            return None

    @classmethod
    def ema(cls, side: PriceSide | int, n: int) -> IndicatorKey:
        """EMA(n) of closes."""
        return cls.new(IndicatorKind.EMA, side, None, (float(n),))

    @classmethod
    def sma(cls, side: PriceSide | int, n: int) -> IndicatorKey:
        """SMA(n) of closes (= Bollinger middle)."""
        return cls.new(IndicatorKind.SMA, side, None, (float(n),))

    @classmethod
    def rolling_std(cls, side: PriceSide | int, n: int) -> IndicatorKey:
        """Rolling sample std(n) of closes."""
        return cls.new(IndicatorKind.ROLLING_STD, side, None, (float(n),))

    @classmethod
    def bollinger_upper(cls, side: PriceSide | int, n: int, k: float) -> IndicatorKey:
        """Upper Bollinger band."""
        return cls.new(IndicatorKind.BOLLINGER_UPPER, side, None, (float(n), float(k)))

    @classmethod
    def bollinger_lower(cls, side: PriceSide | int, n: int, k: float) -> IndicatorKey:
        """Lower Bollinger band."""
        return cls.new(IndicatorKind.BOLLINGER_LOWER, side, None, (float(n), float(k)))

    @classmethod
    def atr(cls, side: PriceSide | int, n: int) -> IndicatorKey:
        """Wilder ATR(n)."""
        return cls.new(IndicatorKind.ATR, side, None, (float(n),))

    @classmethod
    def rsi(cls, side: PriceSide | int, n: int) -> IndicatorKey:
        """Wilder RSI(n)."""
        return cls.new(IndicatorKind.RSI, side, None, (float(n),))

    @classmethod
    def zscore_ema(cls, side: PriceSide | int, ema_len: int, window: int) -> IndicatorKey:
        """z-score of close − EMA(ema_len) over ``window``."""
        return cls.new(IndicatorKind.ZSCORE_EMA, side, None, (float(ema_len), float(window)))

    @classmethod
    def zscore_sma(cls, side: PriceSide | int, window: int) -> IndicatorKey:
        """z-score of close against SMA/std over ``window``."""
        return cls.new(IndicatorKind.ZSCORE_SMA, side, None, (float(window),))

    @classmethod
    def kalman_mean(cls, side: PriceSide | int, r: float, q: float) -> IndicatorKey:
        """Kalman mean."""
        return cls.new(IndicatorKind.KALMAN_MEAN, side, None, (float(r), float(q)))

    @classmethod
    def kalman_zscore(cls, side: PriceSide | int, window: int, r: float, q: float) -> IndicatorKey:
        """Kalman z-score."""
        return cls.new(IndicatorKind.KALMAN_ZSCORE, side, None, (float(window), float(r), float(q)))

    @classmethod
    def garch_sigma(cls, side: PriceSide | int, g: GarchParams) -> IndicatorKey:
        """GARCH(1,1) σ of close returns."""
        return cls.new(IndicatorKind.GARCH_SIGMA, side, None, g.slots())

    @classmethod
    def kalman_garch_zscore(cls, side: PriceSide | int, r: float, q: float, g: GarchParams) -> IndicatorKey:
        """Kalman-GARCH z-score."""
        return cls.new(IndicatorKind.KALMAN_GARCH_ZSCORE, side, None, (float(r), float(q), *g.slots()))

    @classmethod
    def close(cls, side: PriceSide | int) -> IndicatorKey:
        """Raw close of a side (mostly for higher timeframes)."""
        return cls.new(IndicatorKind.CLOSE, side, None, ())

    def garch(self) -> GarchParams:
        """The GARCH params of a GarchSigma or KalmanGarchZScore key."""
        if self.kind == IndicatorKind.GARCH_SIGMA:
            return GarchParams.from_slots(self.params[0:7])
        if self.kind == IndicatorKind.KALMAN_GARCH_ZSCORE:
            return GarchParams.from_slots(self.params[2:9])
        raise IndicatorNotAvailableError(f"key of kind {self.kind} has no GARCH params", {"key": repr(self)})
