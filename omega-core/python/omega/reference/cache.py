"""Indicator host and cache façade of the pure-Python reference (mirror of the core's indicator cache).

``MarketHost`` owns one validated market, its resampled higher timeframes and every computed series,
memoised per key; ``IndicatorCache`` is what a reference strategy reads, a thin memoising façade
over any host. Returned lists are shared with the host: treat them as read-only.
"""

from __future__ import annotations

import math
from typing import Protocol

from omega.errors import InvalidConfigError, OmegaError
from omega.reference.indicators import compute
from omega.reference.keys import IndicatorKey, timeframe_minutes, timeframe_name
from omega.reference.market import ANCHORS, Bars, Market, resample


class IndicatorHost(Protocol):
    """Whoever owns market data and series (``MarketHost`` here)."""

    def bars(self, timeframe: str | None = None) -> Bars:
        """Bars of ``timeframe`` (``None`` = primary)."""
        ...

    def series(self, key: IndicatorKey) -> list[float]:
        """The series named by ``key``, one value per bar of ``key.timeframe``."""
        ...


class MarketHost:
    """Owns a market, its HTF bars (per ``anchor``) and every series computed on them."""

    def __init__(self, market: Market, anchor: str = "utc") -> None:
        """A host over ``market``; ``anchor`` is the H4/D1 bin anchor ("utc" or "new_york_1700")."""
        if anchor not in ANCHORS:
            raise InvalidConfigError(f"unknown htf_anchor {anchor!r}; expected one of {ANCHORS}", {"anchor": anchor})
        self.market = market
        self.anchor = anchor
        self._primary = Bars.primary(market)
        self._htf: dict[str, Bars] = {}
        self._series: dict[IndicatorKey, list[float]] = {}

    def bars(self, timeframe: str | None = None) -> Bars:
        """Primary bars for ``None`` (``visible`` None), else resampled bars with ``visible`` (E4003 if impossible)."""
        if timeframe is None:
            return self._primary
        name = timeframe.strip().upper()
        timeframe_minutes(name)
        bars = self._htf.get(name)
        if bars is None:
            bars = resample(self.market, name, self.anchor)
            self._htf[name] = bars
        return bars

    def series(self, key: IndicatorKey) -> list[float]:
        """The series named by ``key``, computed once per key (E4003 if not available)."""
        s = self._series.get(key)
        if s is None:
            tf = None if key.timeframe == 0 else timeframe_name(key.timeframe)
            s = compute(key, self.bars(tf))
            self._series[key] = s
        return s

    def computed(self) -> int:
        """Number of distinct series computed so far."""
        return len(self._series)


class IndicatorCache:
    """What a reference strategy reads: primary bars, HTF bars and memoised series of a host."""

    def __init__(self, host: IndicatorHost) -> None:
        """A façade over ``host`` (fails only if the host cannot give its primary bars)."""
        self._host = host
        self._primary = host.bars(None)
        self._memo: dict[IndicatorKey, list[float]] = {}

    def bars(self) -> Bars:
        """Primary bars."""
        return self._primary

    def __len__(self) -> int:
        return len(self._primary)

    def htf(self, tf: str) -> Bars:
        """Bars of a higher timeframe (or the primary one, then ``visible[i] = i``) with the visibility index."""
        return self._host.bars(tf)

    def series(self, key: IndicatorKey) -> list[float]:
        """The series named by ``key``, fetched from the host on first request."""
        s = self._memo.get(key)
        if s is None:
            s = self._host.series(key)
            self._memo[key] = s
        return s

    def value(self, key: IndicatorKey, i: int) -> float:
        """Value of ``key`` at bar ``i`` of its timeframe; NaN when out of range or unavailable."""
        if i < 0:
            return math.nan
        try:
            s = self.series(key)
        except OmegaError:
            return math.nan
        return s[i] if i < len(s) else math.nan

    def fetched(self) -> int:
        """Number of distinct series this façade has fetched from its host."""
        return len(self._memo)
