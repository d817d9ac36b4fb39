"""MRZ-only computations of the pure-Python reference (spec ``mrz-strategy.md`` §1, §3.0–§3.2).

Generic series (EMA, Bollinger, ATR, z-scores, Kalman, GARCH) come from the core's indicator cache;
this module adds what only MRZ needs:

* :func:`r5` — rounding of SL/TP (§3.0);
* :class:`HtfView` — a higher timeframe read at primary bars with the **stale rule** and the
  **stepwise** semantics of §1 (HTF indicators run on the HTF bars in the order they became visible);
* :func:`local_kalman_garch_z` — the local Kalman-GARCH z of scenario 4 (§3.1);
* :func:`kmeans_1d` and :class:`VolClusterGuard` — the scenario-5 volatility-cluster guard (§3.2).

Numerics follow §3.0: float64, no fused multiply-add, sums left to right, ``ln`` = libm.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from omega.errors import OmegaError
from omega.reference.cache import IndicatorCache
from omega.reference.indicators import compute, garch_sigma, kalman_mean
from omega.reference.keys import TIMEFRAME_MINUTES, GarchParams, IndicatorKey

__all__ = [
    "CLUSTER_NAMES",
    "ClusterState",
    "HtfView",
    "VolClusterGuard",
    "effective_stale_limit",
    "kmeans_1d",
    "local_kalman_garch_z",
    "missing",
    "r5",
]

NAN = math.nan

#: Names of the clusters by ascending centre (§3.2 step 5); further ranks are ``cluster_<rank>``.
CLUSTER_NAMES: tuple[str, ...] = ("low", "mid", "high", "very_high", "extreme")


def r5(x: float) -> float:
    """Round to 5 decimals exactly as Python's ``round(x, 5)`` (nearest to the binary value, ties even)."""
    return round(x, 5)


def missing(x: float | None) -> bool:
    """True for None, NaN and ±inf (spec: "missing")."""
    return x is None or not math.isfinite(x)


# --------------------------------------------------------------------------------------------
# Higher timeframes: visibility, stale rule, stepwise series (§1)
# --------------------------------------------------------------------------------------------
def effective_stale_limit(htf: str, primary: str, stale_bar_limit_bars: int) -> int:
    """Stale limit L in primary bars: the configured value if > 0, else max(1, 2·max(1, ⌊HTF/primary⌋))."""
    if stale_bar_limit_bars > 0:
        return stale_bar_limit_bars
    ratio = TIMEFRAME_MINUTES[htf] // TIMEFRAME_MINUTES[primary]
    return max(1, 2 * max(1, ratio))


@dataclass
class _ReducedBars:
    """HTF bars in the order they became visible (what ``compute`` reads)."""

    timeframe: str
    bid_high: list[float]
    bid_low: list[float]
    bid_close: list[float]
    ask_high: list[float]
    ask_low: list[float]
    ask_close: list[float]


class HtfView:
    """One timeframe read at primary bars: ``pos(i)`` is the position of the visible, non-stale bar
    in the stepwise sequence (or −1), ``close(i)`` its bid close, ``series(key)`` an indicator on it.

    The stepwise sequence is the list of HTF bars in the order they first became visible. When it is
    simply 0, 1, 2, … (every HTF bar becomes visible at some primary bar — always the case for
    aligned, gap-free bins) the core's series on the HTF bars are used as they are; otherwise the
    series are computed here on the reduced sequence with the same kernels. A timeframe that cannot
    be built from the primary one is missing everywhere (``available`` False).
    """

    def __init__(self, cache: IndicatorCache, timeframe: str, primary: str, stale_bar_limit_bars: int) -> None:
        """Build the visibility/stale map of ``timeframe`` over the primary bars of ``cache``."""
        self.timeframe = timeframe
        self._cache = cache
        n = len(cache.bars().open_time_us)
        self.available = True
        self._pos: list[int] = [-1] * n
        self._reduced: _ReducedBars | None = None
        self._series: dict[IndicatorKey, list[float]] = {}
        self.closes: list[float] = []
        try:
            bars = cache.htf(timeframe)
        except OmegaError:
            self.available = False
            return
        visible = bars.visible if bars.visible is not None else list(range(n))
        limit = effective_stale_limit(timeframe, primary, stale_bar_limit_bars)
        order: list[int] = []
        seen_pos: dict[int, int] = {}
        current = -1
        j0 = 0
        for i in range(n):
            h = visible[i]
            if h != current:
                current = h
                j0 = i
            if h < 0:
                continue
            p = seen_pos.get(h)
            if p is None:
                p = len(order)
                seen_pos[h] = p
                order.append(h)
            if i - j0 <= limit:
                self._pos[i] = p
        self._contiguous = all(h == k for k, h in enumerate(order))
        if self._contiguous:
            self.closes = bars.bid_close
        else:
            self._reduced = _ReducedBars(
                timeframe=bars.timeframe,
                bid_high=[bars.bid_high[h] for h in order],
                bid_low=[bars.bid_low[h] for h in order],
                bid_close=[bars.bid_close[h] for h in order],
                ask_high=[bars.ask_high[h] for h in order],
                ask_low=[bars.ask_low[h] for h in order],
                ask_close=[bars.ask_close[h] for h in order],
            )
            self.closes = self._reduced.bid_close

    def pos(self, i: int) -> int:
        """Stepwise position of the HTF bar usable at primary bar ``i``; −1 if none or stale."""
        return self._pos[i]

    def close(self, i: int) -> float:
        """Bid close of the usable HTF bar at primary bar ``i`` (NaN if missing or stale)."""
        p = self._pos[i]
        return self.closes[p] if p >= 0 else NAN

    def series(self, key: IndicatorKey) -> list[float]:
        """``key`` (a primary-timeframe key) on this timeframe's stepwise bars, indexed by :meth:`pos`."""
        if not self.available:
            return []
        if self._reduced is None:
            return self._cache.series(key.on(self.timeframe))
        s = self._series.get(key)
        if s is None:
            s = compute(key.on(self.timeframe), self._reduced)
            self._series[key] = s
        return s

    def value(self, key: IndicatorKey, i: int) -> float:
        """Value of ``key`` on this timeframe at primary bar ``i`` (NaN if missing or stale)."""
        p = self._pos[i] if self.available else -1
        if p < 0:
            return NAN
        s = self.series(key)
        return s[p] if p < len(s) else NAN


# --------------------------------------------------------------------------------------------
# Scenario 4: local Kalman-GARCH z (§3.1)
# --------------------------------------------------------------------------------------------
def local_kalman_garch_z(
    closes: Sequence[float], i: int, lookback: int, r: float, q: float, g: GarchParams
) -> float | None:
    """z at bar ``i`` from Kalman and GARCH run on ``closes[max(0, i−L+1) .. i]`` alone; None if invalid."""
    if g.alpha + g.beta >= 1.0:
        return None
    start = max(0, i - lookback + 1)
    seg = closes[start : i + 1]
    m = len(seg)
    if m < 2 or m - 1 < 1 + g.min_periods:
        return None
    sigma = garch_sigma(seg, g)[-1]
    if not (math.isfinite(sigma) and sigma > 0.0):
        return None
    last = float(seg[-1])
    x_last = kalman_mean(seg, r, q)[-1]
    den = abs(last) * sigma
    if not math.isfinite(den) or den == 0.0:
        return None
    z = (last - x_last) / den
    return z if math.isfinite(z) else None


# --------------------------------------------------------------------------------------------
# Scenario 5: deterministic 1-D k-means and the volatility-cluster guard (§3.2)
# --------------------------------------------------------------------------------------------
def _quantile_sorted(srt: Sequence[float], q: float) -> float:
    """numpy's default (linear) quantile of sorted values: h = (N−1)·q, then numpy's ``_lerp``."""
    n = len(srt)
    h = (n - 1) * q
    lo = math.floor(h)
    if h >= n - 1:
        return srt[n - 1]
    if h < 0:
        return srt[0]
    t = h - lo
    a = srt[lo]
    b = srt[lo + 1]
    d = b - a
    if t >= 0.5:
        return b - d * (1.0 - t)
    return a + d * t


def _mean(values: Sequence[float]) -> float:
    acc = 0.0
    for v in values:
        acc = acc + v
    return acc / len(values)


def _labels(values: Sequence[float], centers: Sequence[float]) -> list[int]:
    out: list[int] = []
    k = len(centers)
    for v in values:
        best = 0
        best_d = abs(v - centers[0])
        for j in range(1, k):
            d = abs(v - centers[j])
            if d < best_d:
                best = j
                best_d = d
        out.append(best)
    return out


def kmeans_1d(values: Sequence[float], k: int) -> tuple[list[float], list[int]]:
    """Deterministic 1-D k-means of §3.2 step 4: (centres, labels); k is reduced to the number of
    distinct values; initial centres are the quantiles j·(1/(k+1)), j = 1..k (numpy ``linspace``)."""
    n = len(values)
    if n == 0:
        raise ValueError("kmeans_1d needs at least one value")
    k = max(1, min(k, len(set(values))))
    if k == 1:
        return [_mean(values)], [0] * n
    srt = sorted(values)
    step = 1.0 / (k + 1)
    centers = [_quantile_sorted(srt, float(j) * step) for j in range(1, k + 1)]
    labels: list[int] = []
    for _ in range(30):
        labels = _labels(values, centers)
        sums = [0.0] * k
        counts = [0] * k
        for v, lab in zip(values, labels, strict=True):
            sums[lab] = sums[lab] + v
            counts[lab] += 1
        new = [sums[j] / counts[j] if counts[j] else centers[j] for j in range(k)]
        if all(abs(new[j] - centers[j]) <= 1e-6 + 1e-4 * abs(centers[j]) for j in range(k)):
            return new, labels
        centers = new
    return centers, _labels(values, centers)


@dataclass
class ClusterState:
    """Result of the guard at one bar: ``status`` "ok" or why it blocks; label names when clustered."""

    status: str
    sample_size: int
    label: str = ""
    passed: bool = False
    sigma: float = NAN
    #: Centres ascending (their count is the number of clusters used, min(k, distinct values)).
    centers: list[float] = field(default_factory=list)
    #: Rank of the current cluster (0 = lowest), −1 when no clustering ran.
    rank: int = -1

    @property
    def clusters(self) -> int:
        """Number of clusters used (0 when no clustering ran)."""
        return len(self.centers)


class VolClusterGuard:
    """The scenario-5 guard (§3.2), evaluated on demand per bar and memoised by bar index."""

    def __init__(
        self,
        closes: Sequence[float],
        atr: Sequence[float] | None,
        *,
        feature: str,
        window: int,
        k: int,
        min_points: int,
        log_transform: bool,
        garch_lookback: int,
        garch: GarchParams,
        hysteresis_bars: int,
        allowed: Sequence[str],
    ) -> None:
        """``atr`` is the bid ATR(atr_length) series (needed for ``atr_points`` only)."""
        if feature not in ("garch_forecast", "atr_points"):
            raise ValueError(f"unknown intraday_vol_feature {feature!r}")
        if feature == "atr_points" and atr is None:
            raise ValueError("the atr_points feature needs the ATR series")
        self._closes = closes
        self._atr = atr
        self.feature = feature
        self.window = max(window, 1)
        self.k = max(k, 1)
        self.min_points = max(min_points, 1)
        self.log_transform = log_transform
        self.garch_lookback = garch_lookback if garch_lookback > 0 else 500
        self.garch = garch
        self.hysteresis_bars = max(hysteresis_bars, 0)
        self.allowed = frozenset(a.strip().lower() for a in allowed)
        self._memo: dict[int, ClusterState] = {}
        self._atr_first_valid = len(atr) if atr is not None else 0
        if atr is not None:
            for j, v in enumerate(atr):
                if not math.isnan(v):
                    self._atr_first_valid = j
                    break

    def _feature_tail(self, i: int) -> tuple[int, list[float]]:
        """(number of non-missing feature values up to bar i, the last ``window`` of them)."""
        if self.feature == "atr_points":
            # ATR is missing before its first valid index and defined from there on (inputs are finite)
            assert self._atr is not None
            fv = self._atr_first_valid
            if i < fv:
                return 0, []
            return i - fv + 1, list(self._atr[max(fv, i - self.window + 1) : i + 1])
        if self.garch.alpha + self.garch.beta >= 1.0:
            return 0, []
        start = max(0, i - self.garch_lookback + 1)
        ser = [v for v in garch_sigma(self._closes[start : i + 1], self.garch) if not math.isnan(v)]
        return len(ser), ser[-self.window :]

    def state(self, i: int) -> ClusterState:
        """The guard's state at bar ``i`` (memoised)."""
        st = self._memo.get(i)
        if st is None:
            st = self._compute(i)
            self._memo[i] = st
        return st

    def passes(self, i: int) -> bool:
        """Whether the guard admits a scenario-5 signal at bar ``i``."""
        return self.state(i).passed

    def _compute(self, i: int) -> ClusterState:
        size, tail = self._feature_tail(i)
        if size < self.min_points:
            return ClusterState("insufficient_points", size)
        if len(tail) < self.k:
            return ClusterState("insufficient_unique", size)
        sigma = tail[-1]
        values = [math.log(max(v, 1e-12)) for v in tail] if self.log_transform else list(tail)
        centers, labels = kmeans_1d(values, self.k)
        order = sorted(range(len(centers)), key=lambda j: (centers[j], j))
        names: dict[int, str] = {}
        for rank, j in enumerate(order):
            names[j] = CLUSTER_NAMES[rank] if rank < len(CLUSTER_NAMES) else f"cluster_{rank}"
        current = labels[-1]
        label = names[current]
        rank = order.index(current)
        sorted_centers = [centers[j] for j in order]
        h = self.hysteresis_bars
        if h > 1 and (len(labels) < h or any(lab != current for lab in labels[-h:])):
            return ClusterState("hysteresis_block", size, label, False, sigma, sorted_centers, rank)
        if label.lower() not in self.allowed:
            return ClusterState("label_block", size, label, False, sigma, sorted_centers, rank)
        return ClusterState("ok", size, label, True, sigma, sorted_centers, rank)
