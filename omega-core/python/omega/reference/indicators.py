"""Pure-Python twin of the core's indicators, written from docs/indicators.md and mrz §3.0–3.1.

Plain float64 loops in the documented order (left-to-right ``acc = acc + x``, pandas-compatible
running mean/variance, no fused operations), so every value is bit-identical to the Rust core.
Division by zero, ``ln`` of non-positive numbers and ``max`` with NaN follow IEEE/Rust semantics
(NaN or ±inf, never a Python exception). NaN marks an undefined value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

from omega.errors import IndicatorNotAvailableError
from omega.reference.keys import TIMEFRAME_MINUTES, GarchParams, IndicatorKey, IndicatorKind, PriceSide

NAN = math.nan


class BarColumns(Protocol):
    """What :func:`compute` reads: the timeframe name and the OHLC columns of both sides."""

    timeframe: str
    bid_high: list[float]
    bid_low: list[float]
    bid_close: list[float]
    ask_high: list[float]
    ask_low: list[float]
    ask_close: list[float]


# --- IEEE helpers (Rust f64 semantics) ------------------------------------------------------------


def _div(a: float, b: float) -> float:
    """``a / b`` with IEEE semantics for ``b == 0`` (±inf or NaN instead of ZeroDivisionError)."""
    if b != 0.0:
        return a / b
    if a != a or a == 0.0:
        return NAN
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _ln(x: float) -> float:
    """Natural log with IEEE semantics (ln 0 = −inf, ln of a negative number = NaN)."""
    if x > 0.0:
        return math.log(x)
    if x == 0.0:
        return -math.inf
    return NAN


def _sqrt(x: float) -> float:
    """Square root with IEEE semantics (NaN for negative input)."""
    return math.sqrt(x) if x >= 0.0 else NAN


def _fmax(a: float, b: float) -> float:
    """Rust ``f64::max``: the larger value; a NaN operand is ignored."""
    if a != a:
        return b
    if b != b:
        return a
    return a if a > b else b


MAX_WHOLE = 2.0**53
"""Largest window/period (Rust `compute::MAX_WHOLE`): beyond 2^53 whole numbers are not exact in a float."""


def _whole(value: float, name: str, minimum: int) -> int:
    """A whole-number parameter in ``[minimum, 2^53]`` (E4003 otherwise)."""
    if not (math.isfinite(value) and value == math.floor(value) and minimum <= value <= MAX_WHOLE):
        raise IndicatorNotAvailableError(
            f"parameter {name} must be a whole number >= {minimum}, got {value!r}", {name: value}
        )
    return int(value)


def _finite(value: float, name: str) -> float:
    """A finite float parameter (E4003 otherwise)."""
    if not math.isfinite(value):
        raise IndicatorNotAvailableError(f"parameter {name} must be finite, got {value!r}", {name: value})
    return value


def _positive(value: float, name: str) -> float:
    """A finite float parameter > 0 (E4003 otherwise)."""
    if not (math.isfinite(value) and value > 0.0):
        raise IndicatorNotAvailableError(f"parameter {name} must be a finite number > 0, got {value!r}", {name: value})
    return value


def _non_negative(value: float, name: str) -> float:
    """A finite float parameter >= 0 (E4003 otherwise)."""
    if not (math.isfinite(value) and value >= 0.0):
        raise IndicatorNotAvailableError(f"parameter {name} must be a finite number >= 0, got {value!r}", {name: value})
    return value


def _check_garch(p: Sequence[float]) -> None:
    """Validate the 7 GARCH slots (alpha, beta, omega, scale, min_periods, use_log, floor) like the core."""
    _non_negative(p[0], "alpha")
    _non_negative(p[1], "beta")
    if math.isinf(p[2]):
        raise IndicatorNotAvailableError(f"parameter omega must be finite or NaN (= derived), got {p[2]!r}")
    _positive(p[3], "scale")
    _whole(p[4], "min_periods", 0)
    if p[5] not in (0.0, 1.0):
        raise IndicatorNotAvailableError(f"parameter use_log_returns must be 0 or 1, got {p[5]!r}")
    _non_negative(p[6], "sigma_floor")


# --- series ----------------------------------------------------------------------------------------


def ema(x: Sequence[float], n: int) -> list[float]:
    """EMA(n), pandas ``ewm(span=n, adjust=False).mean()``: seeded with x₀, unchanged on equal input."""
    n = _whole(float(n), "n", 1)
    alpha = 2.0 / (n + 1.0)
    beta = 1.0 - alpha
    out: list[float] = []
    if len(x) == 0:
        return out
    y = float(x[0])
    out.append(y)
    for i in range(1, len(x)):
        v = float(x[i])
        if v != y:
            y = beta * y + alpha * v
        out.append(y)
    return out


def rolling_mean(x: Sequence[float], n: int) -> list[float]:
    """Rolling mean over ``n`` values with pandas' compensated running sum (mrz §3.0); NaN before n−1."""
    n = _whole(float(n), "n", 1)
    out: list[float] = []
    s = 0.0
    ca = 0.0
    cr = 0.0
    c = 0
    neg = 0
    run = 0
    last = NAN
    for i in range(len(x)):
        if i >= n:
            v = float(x[i - n])
            y = -v - cr
            t = s + y
            cr = (t - s) - y
            s = t
            c -= 1
            if math.copysign(1.0, v) < 0.0:
                neg -= 1
        xv = float(x[i])
        y = xv - ca
        t = s + y
        ca = (t - s) - y
        s = t
        c += 1
        if math.copysign(1.0, xv) < 0.0:
            neg += 1
        run = run + 1 if xv == last else 1
        last = xv
        if c >= n:
            m = s / c
            if run >= c:
                m = last
            elif (neg == 0 and m < 0.0) or (neg == c and m > 0.0):
                m = 0.0
            out.append(m)
        else:
            out.append(NAN)
    return out


def rolling_std(x: Sequence[float], n: int) -> list[float]:
    """Rolling sample std (ddof 1) with pandas' running Welford/Kahan algorithm (mrz §3.0); n >= 2."""
    n = _whole(float(n), "n", 2)
    out: list[float] = []
    c = 0
    mean = 0.0
    ssq = 0.0
    ca = 0.0
    cr = 0.0
    run = 0
    last = NAN
    for i in range(len(x)):
        if i >= n:
            v = float(x[i - n])
            c -= 1
            if c != 0:
                pm = mean - cr
                y = v - cr
                t = y - mean
                cr = (t + mean) - y
                mean = mean - t / c
                ssq = ssq - (v - pm) * (v - mean)
            else:
                mean = 0.0
                ssq = 0.0
        xv = float(x[i])
        run = run + 1 if xv == last else 1
        last = xv
        c += 1
        pm = mean - ca
        y = xv - ca
        t = y - mean
        ca = (t + mean) - y
        mean = mean + t / c
        ssq = ssq + (xv - pm) * (xv - mean)
        if c >= n:
            var = 0.0 if run >= c else ssq / (c - 1)
            out.append(_sqrt(_fmax(var, 0.0)) if var == var else NAN)
        else:
            out.append(NAN)
    return out


def bollinger(x: Sequence[float], n: int, k: float) -> tuple[list[float], list[float], list[float]]:
    """Bollinger bands: (mid, upper, lower) = SMA(n), mid + k·sd, mid − k·sd with sd = rolling std (ddof 1)."""
    mid = rolling_mean(x, n)
    sd = rolling_std(x, n)
    k = float(k)
    upper = [m + k * s for m, s in zip(mid, sd, strict=True)]
    lower = [m - k * s for m, s in zip(mid, sd, strict=True)]
    return mid, upper, lower


def atr_wilder(high: Sequence[float], low: Sequence[float], close: Sequence[float], n: int) -> list[float]:
    """Wilder ATR(n): seed = left-to-right mean of TR₀..TR_{n−1}, then (ATR·(n−1) + TR)/n."""
    n = _whole(float(n), "n", 1)
    m = len(close)
    if len(high) != m or len(low) != m:
        raise IndicatorNotAvailableError("ATR needs high, low and close of equal length", {"n": n})
    out: list[float] = []
    acc = 0.0
    atr = NAN
    nm1 = float(n - 1)
    for t in range(m):
        h = float(high[t])
        lo = float(low[t])
        if t == 0:
            tr = h - lo
        else:
            pc = float(close[t - 1])
            tr = _fmax(_fmax(h - lo, abs(h - pc)), abs(lo - pc))
        if t < n - 1:
            acc = acc + tr
            out.append(NAN)
        elif t == n - 1:
            acc = acc + tr
            atr = acc / n
            out.append(atr)
        else:
            atr = (atr * nm1 + tr) / n
            out.append(atr)
    return out


def rsi_wilder(close: Sequence[float], n: int) -> list[float]:
    """Wilder RSI(n) in 0..100, first value at index n (all gains and no losses → 100, flat → 50)."""
    n = _whole(float(n), "n", 1)
    m = len(close)
    out: list[float] = [NAN] * m
    g_acc = 0.0
    l_acc = 0.0
    g = NAN
    lo = NAN
    nm1 = float(n - 1)
    for t in range(1, m):
        d = float(close[t]) - float(close[t - 1])
        gain = d if d > 0.0 else 0.0
        loss = -d if d < 0.0 else 0.0
        if t < n:
            g_acc = g_acc + gain
            l_acc = l_acc + loss
            continue
        if t == n:
            g = (g_acc + gain) / n
            lo = (l_acc + loss) / n
        else:
            g = (g * nm1 + gain) / n
            lo = (lo * nm1 + loss) / n
        if lo == 0.0:
            out[t] = 100.0 if g > 0.0 else 50.0
        else:
            out[t] = 100.0 - 100.0 / (1.0 + g / lo)
    return out


def kalman_mean(x: Sequence[float], r: float, q: float) -> list[float]:
    """Scalar Kalman filter mean: x₀ = C₀, P₀ = r; P⁻ = P + q, K = P⁻/(P⁻+r), x += K·(C − x), P = (1−K)·P⁻."""
    r = float(r)
    q = float(q)
    out: list[float] = []
    if len(x) == 0:
        return out
    est = float(x[0])
    p = r
    out.append(est)
    for t in range(1, len(x)):
        pm = p + q
        k = _div(pm, pm + r)
        est = est + k * (float(x[t]) - est)
        p = (1.0 - k) * pm
        out.append(est)
    return out


def _zscore(resid: Sequence[float], window: int) -> list[float]:
    """resid / rolling std(resid, window); a zero or undefined std gives NaN."""
    sd = rolling_std(resid, window)
    out: list[float] = []
    for e, s in zip(resid, sd, strict=True):
        out.append(e / s if s == s and s != 0.0 else NAN)
    return out


def zscore_ema_residual(x: Sequence[float], ema_len: int, window: int) -> list[float]:
    """z of the residual e = C − EMA(ema_len) over ``window`` (std of the residual, ddof 1)."""
    window = _whole(float(window), "window", 2)
    e = ema(x, ema_len)
    resid = [float(c) - m for c, m in zip(x, e, strict=True)]
    return _zscore(resid, window)


def zscore_sma(x: Sequence[float], window: int) -> list[float]:
    """(C − SMA(window)) / RollingStd(C, window); zero std gives NaN."""
    window = _whole(float(window), "window", 2)
    mid = rolling_mean(x, window)
    sd = rolling_std(x, window)
    out: list[float] = []
    for c, m, s in zip(x, mid, sd, strict=True):
        out.append((float(c) - m) / s if s == s and s != 0.0 else NAN)
    return out


def kalman_zscore(x: Sequence[float], window: int, r: float, q: float) -> list[float]:
    """z of the residual e = C − KalmanMean(r, q) over ``window``."""
    window = _whole(float(window), "window", 2)
    km = kalman_mean(x, r, q)
    resid = [float(c) - m for c, m in zip(x, km, strict=True)]
    return _zscore(resid, window)


def garch_sigma(x: Sequence[float], g: GarchParams) -> list[float]:
    """GARCH(1,1) σ forecast in price-return units (mrz §3.1); NaN before 1 + min_periods or if α+β ≥ 1."""
    m = len(x)
    out: list[float] = [NAN] * m
    min_periods = _whole(float(g.min_periods), "min_periods", 0)
    alpha = float(g.alpha)
    beta = float(g.beta)
    if alpha + beta >= 1.0 or m < 2:
        return out
    scale = float(g.scale)
    floor = float(g.sigma_floor)
    floor2 = floor * floor
    omega = 1e-6 * _fmax(1e-6, (1.0 - alpha) - beta) if g.omega is None else float(g.omega)
    omega = _fmax(omega, 0.0)

    def ret(t: int) -> float:
        ratio = _div(float(x[t]), float(x[t - 1]))
        if g.use_log_returns:
            return scale * _ln(ratio)
        return scale * (ratio - 1.0)

    mu = ret(1)
    v = _fmax(1e-6, floor2)
    e = 0.0
    if min_periods == 0:
        out[1] = _div(_sqrt(v), scale)
    for t in range(2, m):
        v = _fmax((omega + alpha * e) + beta * v, floor2)
        d = ret(t) - mu
        e = d * d
        if t >= 1 + min_periods:
            out[t] = _div(_sqrt(v), scale)
    return out


def kalman_garch_zscore(x: Sequence[float], r: float, q: float, g: GarchParams) -> list[float]:
    """(C − KalmanMean) / (|C|·σ_GARCH); NaN where σ is NaN or the denominator is 0."""
    km = kalman_mean(x, r, q)
    sigma = garch_sigma(x, g)
    out: list[float] = []
    for c, k, s in zip(x, km, sigma, strict=True):
        cf = float(c)
        den = abs(cf) * s
        out.append((cf - k) / den if s == s and den == den and den != 0.0 else NAN)
    return out


# --- keys ------------------------------------------------------------------------------------------


def _fail(key: IndicatorKey, reason: str) -> IndicatorNotAvailableError:
    return IndicatorNotAvailableError(f"indicator {key!r} not available: {reason}", {"key": repr(key)})


def compute(key: IndicatorKey, bars: BarColumns) -> list[float]:
    """The series named by ``key`` on ``bars`` (the caller picks the bars of ``key.timeframe``).

    Raises ``IndicatorNotAvailableError`` (E4003) for an unknown kind or side, bad params, or bars
    of another timeframe than the key's.
    """
    try:
        kind = IndicatorKind(key.kind)
    except ValueError:
        raise _fail(key, f"unknown kind {key.kind}") from None
    if key.side == PriceSide.BID:
        high, low, close = bars.bid_high, bars.bid_low, bars.bid_close
    elif key.side == PriceSide.ASK:
        high, low, close = bars.ask_high, bars.ask_low, bars.ask_close
    else:
        raise _fail(key, f"unknown price side {key.side}")
    if key.timeframe != 0 and TIMEFRAME_MINUTES.get(bars.timeframe) != key.timeframe:
        raise _fail(key, f"bars of timeframe {bars.timeframe} given for timeframe code {key.timeframe}")
    p = key.params
    try:
        if kind == IndicatorKind.EMA:
            return ema(close, _whole(p[0], "n", 1))
        if kind == IndicatorKind.SMA:
            return rolling_mean(close, _whole(p[0], "n", 1))
        if kind == IndicatorKind.ROLLING_STD:
            return rolling_std(close, _whole(p[0], "n", 2))
        if kind in (IndicatorKind.BOLLINGER_UPPER, IndicatorKind.BOLLINGER_LOWER):
            _mid, upper, lower = bollinger(close, _whole(p[0], "n", 2), _finite(p[1], "k"))
            return upper if kind == IndicatorKind.BOLLINGER_UPPER else lower
        if kind == IndicatorKind.ATR:
            return atr_wilder(high, low, close, _whole(p[0], "n", 1))
        if kind == IndicatorKind.RSI:
            return rsi_wilder(close, _whole(p[0], "n", 1))
        if kind == IndicatorKind.ZSCORE_EMA:
            return zscore_ema_residual(close, _whole(p[0], "ema_len", 1), _whole(p[1], "window", 2))
        if kind == IndicatorKind.ZSCORE_SMA:
            return zscore_sma(close, _whole(p[0], "window", 2))
        if kind == IndicatorKind.KALMAN_MEAN:
            return kalman_mean(close, _positive(p[0], "r"), _non_negative(p[1], "q"))
        if kind == IndicatorKind.KALMAN_ZSCORE:
            return kalman_zscore(close, _whole(p[0], "window", 2), _positive(p[1], "r"), _non_negative(p[2], "q"))
        if kind == IndicatorKind.GARCH_SIGMA:
            _check_garch(p[0:7])
            return garch_sigma(close, key.garch())
        if kind == IndicatorKind.KALMAN_GARCH_ZSCORE:
            _positive(p[0], "r")
            _non_negative(p[1], "q")
            _check_garch(p[2:9])
            return kalman_garch_zscore(close, p[0], p[1], key.garch())
        return [float(c) for c in close]
    except IndicatorNotAvailableError as err:
        raise _fail(key, err.message) from None
