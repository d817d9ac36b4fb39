"""Tests of the pure-Python reference indicators, keys and cache (omega.reference.{indicators,keys,cache}).

Numbers come from hand calculations, mrz §8, pandas, and the original implementation's fixtures.
The rolling std goldens were produced with pandas 2.3.3 (the version mrz §3.0 was verified
against): pandas 3.x changed its rolling variance and no longer matches §3.0 bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from omega.errors import IndicatorNotAvailableError
from omega.reference import indicators as ind
from omega.reference.cache import IndicatorCache, MarketHost
from omega.reference.indicators import compute
from omega.reference.keys import GarchParams, IndicatorKey, IndicatorKind, PriceSide
from omega.reference.market import Market

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mrz-original"  # committed copy
NAN = math.nan
BID = PriceSide.BID
ASK = PriceSide.ASK


def _bits(x: float) -> bytes:
    return struct.pack("<d", math.nan if x != x else x)


def _same_bits(a: Sequence[float], b: Sequence[float]) -> list[int]:
    """Indices where two series differ bit for bit (all NaNs count as equal)."""
    assert len(a) == len(b)
    return [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if _bits(float(x)) != _bits(float(y))]


def _digest(values: Sequence[float]) -> str:
    h = hashlib.sha256()
    for v in values:
        h.update(_bits(float(v)))
    return h.hexdigest()[:24]


def _walk(seed: int, n: int, start: float, step: float) -> list[float]:
    """A deterministic random walk (64-bit LCG), independent of numpy's generators."""
    state = seed
    x = start
    out: list[float] = []
    for _ in range(n):
        state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        u = (state >> 11) * (1.0 / 9007199254740992.0)
        x = x + (u - 0.5) * step
        out.append(x)
    return out


def datasets() -> dict[str, list[float]]:
    """Inputs of the pandas comparisons: FX-like, decimal-rounded, constant runs, all-negative, large offset."""
    fx = _walk(7, 1500, 1.1, 4e-4)
    rounded = [round(v, 5) for v in _walk(11, 1500, 1.25, 6e-4)]
    flat = list(rounded)
    for i in range(400, 440):
        flat[i] = flat[400]
    for i in range(900, 903):
        flat[i] = flat[899]
    negative = [-abs(v) * 1000.0 for v in _walk(13, 1500, 1.0, 2e-3)]
    steps = [float(int(v * 10.0) % 4) for v in _walk(17, 800, 5.0, 3.0)]
    offset = [1e6 + v for v in _walk(19, 1000, 0.0, 1e-2)]
    return {"fx": fx, "rounded": rounded, "flat": flat, "negative": negative, "steps": steps, "offset": offset}


WINDOWS = (2, 3, 5, 20, 48, 180)

# sha256[:24] of the bit patterns of pandas 2.3.3 `Series(x).rolling(n).std()` / `.mean()` on datasets().
PANDAS_233_STD: dict[str, str] = {
    "fx/2": "8bf9df8567210d5d5fb126db",
    "fx/3": "3f5f41ed8ef3cd448c24502c",
    "fx/5": "636b3096a92dd29937f88ca4",
    "fx/20": "f36c2d88bb39247ce7e1b708",
    "fx/48": "61cd559367d8a0a849bb7faf",
    "fx/180": "5cd4f2a38f1e6810f23669d8",
    "rounded/2": "b587afec4bb7b2f63dd9d4be",
    "rounded/3": "7996660e8705d36b2706aeef",
    "rounded/5": "6bcc681921e9fe4dde438599",
    "rounded/20": "3ed16616bacd7afb50d44e82",
    "rounded/48": "edff5104a3dff1ae1a33f5c1",
    "rounded/180": "ef1e32186d017800b606d5ff",
    "flat/2": "ed3dce6c300c1204b71ed34e",
    "flat/3": "0fb2ea44de61dfa53f350f0a",
    "flat/5": "638e9c85a538f8f43bb91a71",
    "flat/20": "64774d7154b39ed47ae3acad",
    "flat/48": "e87766ddacafd8e87d7d2998",
    "flat/180": "edb8e07d972eff3c2a3b8d82",
    "negative/2": "f008cb826860ec8a17615514",
    "negative/3": "a7cb4345df683dc12c9f9c05",
    "negative/5": "c3dcbe61f30ba39981485b47",
    "negative/20": "c2347dc37b52b7c7113d3dea",
    "negative/48": "4d26022d81e1c618134d1644",
    "negative/180": "29bb46676560e3df2d3d1446",
    "steps/2": "e1eb992fd2a7ee5d35570084",
    "steps/3": "3d16859ae41ed3d03764b940",
    "steps/5": "5ed940b5d2a962b04706f427",
    "steps/20": "88a97ad05b6f2c846b04202b",
    "steps/48": "2b3c10a41697a7b1ffa793ba",
    "steps/180": "18a7ab523fe4d01620462da6",
    "offset/2": "8bbe8c94ff3975ed6ced0c5d",
    "offset/3": "d1353910a6dd7e24561b55fc",
    "offset/5": "44db28e53b859cface2a5826",
    "offset/20": "4597a9085935d468a038fd6a",
    "offset/48": "6e36a8b2af3d09b4a814eb6d",
    "offset/180": "4326ad6ec0fc1149da3ab35c",
}
PANDAS_233_MEAN: dict[str, str] = {
    "fx/2": "970860d4eea5ddf6460cd1fd",
    "fx/3": "6c56254ab84944bbb63523ea",
    "fx/5": "86d2eeb110d4ec6a68cf48ef",
    "fx/20": "778d021ceb07c0bfd41d0972",
    "fx/48": "92a6f1036d230ddf2256d240",
    "fx/180": "89a4a95630cb80c548c8d8b5",
    "rounded/2": "f1dcedb3a441b35e6e2a828f",
    "rounded/3": "896feb15b8c5ec1690a6c45d",
    "rounded/5": "e2ab43c09b5a2a77e00640db",
    "rounded/20": "c5e71eb9641d4c964ae4870a",
    "rounded/48": "429bd42fb06d97c4328866fa",
    "rounded/180": "b6821c5d737c48375c71b7b6",
    "flat/2": "0d0efd72ed05dec4e063a0cd",
    "flat/3": "42265875ce8cc52a98e7ebce",
    "flat/5": "2c010fa90a1867ffd457ca0f",
    "flat/20": "393c31062a0a99c8cbd8ab20",
    "flat/48": "cafd7097ccdebd526ebe901d",
    "flat/180": "c6ba1b13e628c108d41a6ce9",
    "negative/2": "5c0b1e95eb55d38e1d5da98b",
    "negative/3": "2c15068611a8878133ab58fe",
    "negative/5": "c5442c8d38cfefaab6a3c146",
    "negative/20": "95b20027d947f309e40c4eb6",
    "negative/48": "63e7e9ac0383ab59b2bcf4b7",
    "negative/180": "fc76a9e00eb32c1809b8ed6f",
    "steps/2": "4c44f0d65a5c732af885bf52",
    "steps/3": "c398846cc69b32d7a4c0955f",
    "steps/5": "271a289a52f0421226e10883",
    "steps/20": "66d0d37819a5f47e12999c10",
    "steps/48": "5236e82b12c7727c1f36485b",
    "steps/180": "7892ca8b2a9344069ab4db36",
    "offset/2": "02558fef36600aec917d93d6",
    "offset/3": "68c36fcff1d0297fa91d61f4",
    "offset/5": "2b7ce205e14a395c9b9ca67b",
    "offset/20": "fef033e7923adc41ade24b12",
    "offset/48": "238019828f0d2687a3684625",
    "offset/180": "76d5f69ed102ad230d5b9a06",
}


# --- pandas compatibility --------------------------------------------------------------------------


def test_rolling_mean_bit_identical_to_pandas() -> None:
    pd = pytest.importorskip("pandas", reason="pandas is an optional dependency")
    for name, x in datasets().items():
        for n in WINDOWS:
            expected = pd.Series(x).rolling(n).mean().tolist()
            assert _same_bits(ind.rolling_mean(x, n), expected) == [], (name, n)


def test_rolling_std_bit_identical_to_pandas_233() -> None:
    for name, x in datasets().items():
        for n in WINDOWS:
            assert _digest(ind.rolling_std(x, n)) == PANDAS_233_STD[f"{name}/{n}"], (name, n)
            assert _digest(ind.rolling_mean(x, n)) == PANDAS_233_MEAN[f"{name}/{n}"], (name, n)


def test_rolling_std_against_installed_pandas() -> None:
    pd = pytest.importorskip("pandas", reason="pandas is an optional dependency")
    x = datasets()["fx"]
    for n in WINDOWS:
        expected = pd.Series(x).rolling(n).std().tolist()
        got = ind.rolling_std(x, n)
        if int(pd.__version__.split(".")[0]) < 3:
            assert _same_bits(got, expected) == [], n
        else:
            # pandas >= 3 uses another running variance: the variances agree to rounding error only.
            for g, e in zip(got, expected, strict=True):
                assert (math.isnan(g) and math.isnan(e)) or abs(g * g - e * e) <= 1e-14


def test_ema_bit_identical_to_pandas() -> None:
    pd = pytest.importorskip("pandas", reason="pandas is an optional dependency")
    for name, x in datasets().items():
        for n in (1, 2, 3, 18, 30, 100):
            expected = pd.Series(x).ewm(span=n, adjust=False).mean().tolist()
            assert _same_bits(ind.ema(x, n), expected) == [], (name, n)


def test_rolling_constant_run_and_sign_rules() -> None:
    x = [1.1, 1.2, 1.3, 1.3, 1.3, 1.3, -2.0, -3.0, -4.0]
    mean = ind.rolling_mean(x, 3)
    std = ind.rolling_std(x, 3)
    assert math.isnan(mean[1])
    assert math.isnan(std[1])
    assert mean[4] == 1.3
    assert mean[5] == 1.3
    assert std[4] == 0.0
    assert std[5] == 0.0
    assert mean[8] == ind.rolling_mean([-2.0, -3.0, -4.0], 3)[2] == -3.0
    assert std[2] > 0.0


# --- mrz §8 worked example ------------------------------------------------------------------------

MRZ8_BARS = [
    (1.1000, 1.1005, 1.0995, 1.1000),
    (1.1000, 1.1015, 1.0995, 1.1010),
    (1.1010, 1.1025, 1.1005, 1.1020),
    (1.1020, 1.1025, 1.1005, 1.1010),
    (1.1010, 1.1025, 1.1005, 1.1020),
    (1.1020, 1.1035, 1.1015, 1.1030),
    (1.1030, 1.1035, 1.1015, 1.1020),
    (1.1020, 1.1025, 1.0975, 1.0980),
]
MRZ8_EMA = [
    1.1000000000,
    1.1005000000,
    1.1012500000,
    1.1011250000,
    1.1015625000,
    1.1022812500,
    1.1021406250,
    1.1000703125,
]
MRZ8_E = [0.0, 0.0005, 0.00075, -0.000125, 0.0004375, 0.00071875, -0.000140625, -0.0020703125]
MRZ8_STD = [NAN, NAN, NAN, NAN, 0.0003644345, 0.0003518922, 0.0004380577, 0.0010898704]
MRZ8_Z = [NAN, NAN, NAN, NAN, 1.2004900960, 2.0425288958, -0.3210193688, -1.8995952109]
MRZ8_ATR = [NAN, NAN, 0.0016666667, 0.0017777778, 0.0018518519, 0.0019012346, 0.0019341564, 0.0029561043]


def _mrz8_market() -> Market:
    t0 = 1704153600 * 1_000_000  # 2024-01-02 00:00 UTC
    cols: dict[str, Any] = {}
    for j, f in enumerate(("open", "high", "low", "close")):
        cols[f"bid_{f}"] = [b[j] for b in MRZ8_BARS]
        cols[f"ask_{f}"] = [b[j] + 0.0002 for b in MRZ8_BARS]
    cols["bid_volume"] = [1.0] * len(MRZ8_BARS)
    cols["ask_volume"] = [1.0] * len(MRZ8_BARS)
    ts = [t0 + i * 3_600_000_000 for i in range(len(MRZ8_BARS))]
    return Market.from_columns("EURUSD", "H1", ts, **cols)


def _close_to(got: Sequence[float], expected: Sequence[float], tol: float) -> None:
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        if math.isnan(e):
            assert math.isnan(g), i
        else:
            assert abs(g - e) <= tol, (i, g, e)


def test_mrz_worked_example() -> None:
    m = _mrz8_market()
    close = m.bid_close
    ema3 = ind.ema(close, 3)
    _close_to(ema3, MRZ8_EMA, 1e-9)
    resid = [c - e for c, e in zip(close, ema3, strict=True)]
    _close_to(resid, MRZ8_E, 1e-9)
    _close_to(ind.rolling_std(resid, 5), MRZ8_STD, 1e-9)
    _close_to(ind.zscore_ema_residual(close, 3, 5), MRZ8_Z, 1e-9)
    _close_to(ind.atr_wilder(m.bid_high, m.bid_low, m.bid_close, 3), MRZ8_ATR, 1e-9)
    _close_to(ind.atr_wilder(m.ask_high, m.ask_low, m.ask_close, 3), MRZ8_ATR, 1e-9)
    # the same through keys and the cache
    cache = IndicatorCache(MarketHost(m))
    assert _same_bits(cache.series(IndicatorKey.zscore_ema(BID, 3, 5)), ind.zscore_ema_residual(close, 3, 5)) == []
    atr = cache.series(IndicatorKey.atr(BID, 3))
    _close_to(atr, MRZ8_ATR, 1e-9)
    # hand check of bar 7 and the signal levels of bars 5 and 7 (SL/TP exact after r5)
    tr7 = max(1.1025 - 1.0975, abs(1.1025 - 1.1020), abs(1.0975 - 1.1020))
    assert atr[7] == (atr[6] * 2.0 + tr7) / 3.0
    assert abs(tr7 - 0.0050) < 1e-15
    assert round(1.1035 + 2.0 * atr[5], 5) == 1.10730
    assert round(ema3[5], 5) == 1.10228
    assert round(1.0975 - 2.0 * atr[7], 5) == 1.09159
    assert round(ema3[7], 5) == 1.10007
    z = cache.series(IndicatorKey.zscore_ema(BID, 3, 5))
    assert z[5] >= 1.5
    assert z[7] <= -1.5
    assert abs(z[6]) < 1.5
    assert abs(z[4]) < 1.5


# --- hand examples --------------------------------------------------------------------------------


def test_atr_hand_example() -> None:
    high = [10.0, 11.0, 12.0, 11.5, 13.0]
    low = [9.0, 9.5, 10.5, 10.0, 11.0]
    close = [9.5, 10.5, 11.0, 10.5, 12.5]
    tr = [1.0, 1.5, 1.5, 1.5, 2.5]  # t=4: max(2.0, |13-10.5|=2.5, |11-10.5|=0.5)
    seed = ((tr[0] + tr[1]) + tr[2]) / 3
    a3 = (seed * 2.0 + tr[3]) / 3
    a4 = (a3 * 2.0 + tr[4]) / 3
    assert _same_bits(ind.atr_wilder(high, low, close, 3), [NAN, NAN, seed, a3, a4]) == []
    assert ind.atr_wilder(high, low, close, 1) == tr
    assert all(math.isnan(v) for v in ind.atr_wilder(high, low, close, 6))


def test_rsi_hand_example() -> None:
    assert _same_bits(ind.rsi_wilder([1.0, 2.0, 3.0, 2.0, 3.0], 2), [NAN, NAN, 100.0, 50.0, 75.0]) == []
    assert ind.rsi_wilder([2.0, 2.0, 2.0], 2)[2] == 50.0
    assert ind.rsi_wilder([3.0, 2.0, 1.0], 2)[2] == 0.0
    # n = 3 with gains and losses: avg after 3 deltas, then Wilder smoothing
    c = [10.0, 11.0, 10.5, 11.5, 11.0]
    g3 = ((1.0 + 0.0) + 1.0) / 3
    l3 = ((0.0 + 0.5) + 0.0) / 3
    g4 = (g3 * 2.0 + 0.0) / 3
    l4 = (l3 * 2.0 + 0.5) / 3
    expected = [NAN, NAN, NAN, 100.0 - 100.0 / (1.0 + g3 / l3), 100.0 - 100.0 / (1.0 + g4 / l4)]
    assert _same_bits(ind.rsi_wilder(c, 3), expected) == []


def test_kalman_hand_example() -> None:
    got = ind.kalman_mean([1.0, 2.0, 2.0], 1.0, 1.0)
    assert got[0] == 1.0
    assert got[1] == pytest.approx(5.0 / 3.0, abs=1e-15)
    assert got[2] == pytest.approx(1.875, abs=1e-15)
    assert ind.kalman_mean([], 1.0, 1.0) == []
    # q = 0: K shrinks like 1/(t+1) → running mean of the inputs
    got0 = ind.kalman_mean([2.0, 4.0, 6.0, 8.0], 1.0, 0.0)
    assert got0 == pytest.approx([2.0, 3.0, 4.0, 5.0], abs=1e-14)
    kz = ind.kalman_zscore([1.0, 2.0, 2.0, 3.0], 2, 1.0, 1.0)
    resid = [c - k for c, k in zip([1.0, 2.0, 2.0, 3.0], ind.kalman_mean([1.0, 2.0, 2.0, 3.0], 1.0, 1.0), strict=True)]
    sd = ind.rolling_std(resid, 2)
    assert math.isnan(kz[0])
    assert kz[1] == resid[1] / sd[1]
    assert kz[3] == resid[3] / sd[3]


def _garch_expected(c: list[float], a: float, b: float, omega: float, scale: float, mp: int, log: bool) -> list[float]:
    def ret(t: int) -> float:
        return scale * math.log(c[t] / c[t - 1]) if log else scale * (c[t] / c[t - 1] - 1.0)

    out = [NAN] * len(c)
    mu = ret(1)
    v = 1e-6
    if mp == 0:
        out[1] = math.sqrt(v) / scale
    e = 0.0
    for t in range(2, len(c)):
        v = max((omega + a * e) + b * v, 1e-12)
        e = (ret(t) - mu) * (ret(t) - mu)
        if t >= 1 + mp:
            out[t] = math.sqrt(v) / scale
    return out


def test_garch_hand_example() -> None:
    c = [100.0, 101.0, 102.0, 101.0, 103.0, 102.5]
    g = GarchParams(alpha=0.1, beta=0.8, omega=None, scale=100.0, min_periods=1, use_log_returns=True, sigma_floor=1e-6)
    got = ind.garch_sigma(c, g)
    omega = 1e-6 * ((1.0 - 0.1) - 0.8)
    assert _same_bits(got, _garch_expected(c, 0.1, 0.8, omega, 100.0, 1, True)) == []
    # explicit first steps: v2 = ω + 0.8e-6; v3 = ω + 0.1·(r2 − r1)² + 0.8·v2
    r1, r2 = 100.0 * math.log(101.0 / 100.0), 100.0 * math.log(102.0 / 101.0)
    v2 = omega + 0.8e-6
    assert got[2] == pytest.approx(math.sqrt(v2) / 100.0, rel=1e-15)
    assert got[3] == pytest.approx(math.sqrt(omega + 0.1 * (r2 - r1) ** 2 + 0.8 * v2) / 100.0, rel=1e-14)
    assert math.isnan(got[0])
    assert math.isnan(got[1])
    # given omega (0 = no constant), simple returns, min_periods 0
    g2 = GarchParams(0.05, 0.9, 0.0, 100.0, 0, False, 1e-6)
    assert _same_bits(ind.garch_sigma(c, g2), _garch_expected(c, 0.05, 0.9, 0.0, 100.0, 0, False)) == []
    assert ind.garch_sigma(c, g2)[1] == 1e-5
    # α + β ≥ 1 → unavailable everywhere
    assert all(math.isnan(v) for v in ind.garch_sigma(c, GarchParams(0.2, 0.8, None, 100.0, 0, True, 1e-6)))
    # warm-up: first value at 1 + min_periods
    g3 = GarchParams(0.1, 0.8, None, 100.0, 3, True, 1e-6)
    s3 = ind.garch_sigma(c, g3)
    assert [math.isnan(v) for v in s3] == [True, True, True, True, False, False]
    # Kalman-GARCH z = (C − x) / (|C|·σ)
    km = ind.kalman_mean(c, 0.5, 1.0)
    kg = ind.kalman_garch_zscore(c, 0.5, 1.0, g)
    assert math.isnan(kg[1])
    assert kg[4] == (c[4] - km[4]) / (abs(c[4]) * got[4])


def test_zscores_and_bollinger() -> None:
    x = datasets()["rounded"][:300]
    mid, up, lo = ind.bollinger(x, 20, 2.0)
    sd = ind.rolling_std(x, 20)
    assert _same_bits(mid, ind.rolling_mean(x, 20)) == []
    assert all(u == m + 2.0 * s for u, m, s in zip(up[19:], mid[19:], sd[19:], strict=True))
    assert all(v == m - 2.0 * s for v, m, s in zip(lo[19:], mid[19:], sd[19:], strict=True))
    z = ind.zscore_sma(x, 20)
    assert math.isnan(z[18])
    assert z[19] == (x[19] - mid[19]) / sd[19]
    # zero std → NaN, never inf
    flat = [1.5] * 10
    assert all(math.isnan(v) for v in ind.zscore_sma(flat, 3))
    assert all(math.isnan(v) for v in ind.zscore_ema_residual(flat, 3, 3))
    assert all(math.isnan(v) for v in ind.kalman_zscore(flat, 3, 1.0, 1.0))


# --- keys and compute -----------------------------------------------------------------------------


def test_key_layout_mirrors_rust() -> None:
    assert [int(k) for k in IndicatorKind] == list(range(1, 15))
    assert (int(PriceSide.BID), int(PriceSide.ASK)) == (0, 1)
    k = IndicatorKey.ema(BID, 20)
    assert (k.kind, k.side, k.timeframe, k.params) == (1, 0, 0, (20.0,) + (0.0,) * 9)
    assert IndicatorKey.bollinger_lower(ASK, 48, 2.0).params[:3] == (48.0, 2.0, 0.0)
    assert IndicatorKey.kalman_zscore(BID, 180, 0.546, 1.3).params[:3] == (180.0, 0.546, 1.3)
    g = GarchParams(0.05, 0.9, None, 100.0, 50, True, 1e-6)
    gk = IndicatorKey.garch_sigma(BID, g)
    assert gk.kind == 12
    assert math.isnan(gk.params[2])
    assert gk.params[4:7] == (50.0, 1.0, 1e-6)
    assert gk == IndicatorKey.garch_sigma(BID, g)
    assert hash(gk) == hash(IndicatorKey.garch_sigma(BID, g))
    assert gk.garch() == g
    kg = IndicatorKey.kalman_garch_zscore(ASK, 0.5, 1.0, g)
    assert kg.params[:2] == (0.5, 1.0)
    assert kg.params[2:4] == (0.05, 0.9)
    assert kg.garch() == g
    assert GarchParams.from_slots(g.slots()) == g
    assert k != IndicatorKey.ema(ASK, 20)
    assert k != k.on("H1")
    assert k.on("h1").timeframe == 60
    assert k.on("D1").on(None) == k
    assert IndicatorKey(1, 0, 0, (0.0,)) != IndicatorKey(1, 0, 0, (-0.0,))  # compared by bits
    assert IndicatorKey.close(ASK).kind == IndicatorKind.CLOSE
    with pytest.raises(IndicatorNotAvailableError):
        k.on("W1")


@pytest.mark.parametrize(
    "key",
    [
        IndicatorKey(99, 0, 0, ()),
        IndicatorKey(1, 2, 0, (3.0,)),
        IndicatorKey.ema(BID, 0),
        IndicatorKey(1, 0, 0, (2.5,)),
        IndicatorKey(2, 0, 0, (NAN,)),
        IndicatorKey.rolling_std(BID, 1),
        IndicatorKey.bollinger_upper(BID, 1, 2.0),
        IndicatorKey.zscore_ema(BID, 3, 1),
        IndicatorKey.zscore_sma(BID, 1),
        IndicatorKey.kalman_zscore(BID, 0, 1.0, 1.0),
        IndicatorKey.atr(ASK, -3),
        IndicatorKey.rsi(BID, 0),
        IndicatorKey(12, 0, 0, (0.1, 0.8, NAN, 100.0, 1.5, 1.0, 1e-6)),
        IndicatorKey.ema(BID, 3).on("H1"),  # bars of another timeframe
    ],
)
def test_compute_rejects_bad_keys(key: IndicatorKey) -> None:
    m = _mrz8_market()
    bars = MarketHost(m).bars(None)
    if key.timeframe == 60:
        bars.timeframe = "M1"
    with pytest.raises(IndicatorNotAvailableError) as info:
        ind.compute(key, bars)
    assert info.value.code == "E4003"


def test_compute_every_kind() -> None:
    m = _mrz8_market()
    host = MarketHost(m)
    g = GarchParams(0.1, 0.8, None, 100.0, 2, True, 1e-6)
    c = m.bid_close
    expected = {
        IndicatorKey.ema(BID, 3): ind.ema(c, 3),
        IndicatorKey.sma(BID, 3): ind.rolling_mean(c, 3),
        IndicatorKey.rolling_std(BID, 3): ind.rolling_std(c, 3),
        IndicatorKey.bollinger_upper(BID, 3, 1.5): ind.bollinger(c, 3, 1.5)[1],
        IndicatorKey.bollinger_lower(BID, 3, 1.5): ind.bollinger(c, 3, 1.5)[2],
        IndicatorKey.atr(ASK, 3): ind.atr_wilder(m.ask_high, m.ask_low, m.ask_close, 3),
        IndicatorKey.rsi(BID, 2): ind.rsi_wilder(c, 2),
        IndicatorKey.zscore_ema(BID, 3, 5): ind.zscore_ema_residual(c, 3, 5),
        IndicatorKey.zscore_sma(BID, 4): ind.zscore_sma(c, 4),
        IndicatorKey.kalman_mean(BID, 0.5, 1.0): ind.kalman_mean(c, 0.5, 1.0),
        IndicatorKey.kalman_zscore(BID, 4, 0.5, 1.0): ind.kalman_zscore(c, 4, 0.5, 1.0),
        IndicatorKey.garch_sigma(BID, g): ind.garch_sigma(c, g),
        IndicatorKey.kalman_garch_zscore(BID, 0.5, 1.0, g): ind.kalman_garch_zscore(c, 0.5, 1.0, g),
        IndicatorKey.close(ASK): m.ask_close,
    }
    for key, exp in expected.items():
        assert _same_bits(host.series(key), exp) == [], key
    assert host.computed() == len(expected)


# --- cache ----------------------------------------------------------------------------------------


def test_cache_memoises_and_maps_htf() -> None:
    m = _mrz8_market()
    host = MarketHost(m)
    cache = IndicatorCache(host)
    key = IndicatorKey.ema(BID, 3)
    s = cache.series(key)
    assert cache.series(IndicatorKey.ema(BID, 3)) is s
    assert host.series(key) is s
    assert cache.fetched() == 1
    assert len(cache) == 8
    assert cache.value(key, 7) == s[7]
    assert math.isnan(cache.value(key, 8))
    assert math.isnan(cache.value(key, -1))
    assert math.isnan(cache.value(IndicatorKey.ema(BID, 0), 3))  # unavailable → NaN
    assert cache.bars().visible is None
    assert cache.bars().close_time_us[0] == m.close_time_us(0)
    h4 = cache.htf("H4")
    close_h4 = cache.series(IndicatorKey.close(BID).on("H4"))
    assert len(close_h4) == len(h4) == 2
    assert close_h4 == [m.bid_close[3], m.bid_close[7]]
    assert h4.visible == [-1, -1, -1, 0, 0, 0, 0, 1]
    assert cache.htf("H1").visible == list(range(8))
    with pytest.raises(IndicatorNotAvailableError):
        cache.htf("M5")
    with pytest.raises(IndicatorNotAvailableError):
        cache.series(IndicatorKey.ema(BID, 3).on("M15"))


# --- against the original implementation's recorded signals ---------------------------------------


@pytest.mark.faithful
def test_original_fixture_kalman_z_atr_and_targets() -> None:
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is a core dependency")
    assert (FIXTURES / "market_s1.parquet").exists(), f"committed fixtures missing: {FIXTURES}"
    params = json.loads((FIXTURES / "configs" / "relaxed.json").read_text())["strategy"]["parameters"]
    m = Market.from_arrow(pq.read_table(FIXTURES / "market_s1.parquet"), "EURUSD", "M1")
    cache = IndicatorCache(MarketHost(m, "new_york_1700"))
    w, r, q = params["window_length"], params["kalman_r"], params["kalman_q"]
    kz = cache.series(IndicatorKey.kalman_zscore(BID, w, r, q))
    atr = cache.series(IndicatorKey.atr(BID, params["atr_length"]))
    mid = cache.series(IndicatorKey.sma(BID, params["b_b_length"]))
    ema = cache.series(IndicatorKey.ema(BID, params["ema_length"]))
    sig = pq.read_table(FIXTURES / "signals_s1_relaxed_each.parquet").to_pylist()
    checked = 0
    for row in sig:
        i = int(row["bar_index"])
        if row["scenario_n"] == 1:
            assert round(ema[i], 5) == row["tp"], i
        elif row["scenario_n"] in (2, 5, 6):
            assert kz[i] == pytest.approx(row["z"], rel=1e-9), i
            assert atr[i] == pytest.approx(row["atr"], rel=1e-9), i
            assert round(mid[i], 5) == row["tp"], i
            checked += 1
    assert checked > 1000
    # scenario 4 (local_z_lookback 500): Kalman-GARCH z restarted on the last 500 closes
    g = GarchParams(
        params["garch_alpha"],
        params["garch_beta"],
        params["garch_omega"],
        params["garch_scale"],
        params["garch_min_periods"],
        params["garch_use_log_returns"],
        params["garch_sigma_floor"],
    )
    rows4 = [row for row in sig if row["scenario_n"] == 4][:200]
    assert rows4
    for row in rows4:
        i = int(row["bar_index"])
        seg = m.bid_close[max(0, i - 499) : i + 1]
        assert ind.kalman_garch_zscore(seg, r, q, g)[-1] == pytest.approx(row["z"], rel=1e-12), i


def test_series_speed_30k_bars() -> None:
    import time

    n = 30_000
    x = _walk(23, n, 1.1, 2e-4)
    ts = [1_700_000_000_000_000 + i * 60_000_000 for i in range(n)]
    hi = [v + 0.0002 for v in x]
    lo = [v - 0.0002 for v in x]
    vol = [1.0] * n
    m = Market.from_columns(
        "EURUSD",
        "M1",
        ts,
        bid_open=x,
        bid_high=hi,
        bid_low=lo,
        bid_close=x,
        bid_volume=vol,
        ask_open=hi,
        ask_high=hi,
        ask_low=hi,
        ask_close=hi,
        ask_volume=vol,
    )
    g = GarchParams(0.1, 0.76, None, 100.0, 170, True, 1e-6)
    cache = IndicatorCache(MarketHost(m, "new_york_1700"))
    keys = [
        IndicatorKey.ema(BID, 18),
        IndicatorKey.bollinger_upper(BID, 48, 2.0),
        IndicatorKey.atr(BID, 14),
        IndicatorKey.atr(ASK, 14),
        IndicatorKey.rsi(BID, 14),
        IndicatorKey.zscore_ema(BID, 18, 180),
        IndicatorKey.zscore_sma(BID, 100),
        IndicatorKey.kalman_zscore(BID, 180, 0.546, 1.3),
        IndicatorKey.garch_sigma(BID, g),
        IndicatorKey.kalman_garch_zscore(BID, 0.546, 1.3, g),
        IndicatorKey.ema(BID, 75).on("D1"),
        IndicatorKey.kalman_zscore(BID, 50, 0.01, 1.0).on("H1"),
    ]
    t0 = time.perf_counter()
    for k in keys:
        assert len(cache.series(k)) in (n, len(cache.htf("D1")), len(cache.htf("H1")))
    assert time.perf_counter() - t0 < 10.0


@pytest.mark.parametrize(
    ("key", "name"),
    [
        (IndicatorKey.kalman_mean(PriceSide.BID, 0.0, 1.0), "r"),
        (IndicatorKey.kalman_zscore(PriceSide.BID, 20, 1.0, -1.0), "q"),
        (IndicatorKey.bollinger_upper(PriceSide.BID, 20, math.inf), "k"),
        (IndicatorKey.garch_sigma(PriceSide.BID, GarchParams(-0.1, 0.8, None, 100.0, 5, True, 1e-6)), "alpha"),
        (IndicatorKey.garch_sigma(PriceSide.BID, GarchParams(0.1, 0.8, None, 0.0, 5, True, 1e-6)), "scale"),
        (IndicatorKey.garch_sigma(PriceSide.BID, GarchParams(0.1, 0.8, None, 100.0, 5, True, -1.0)), "sigma_floor"),
    ],
)
def test_float_params_are_checked_like_the_core(key: IndicatorKey, name: str) -> None:
    """Out-of-range float params are E4003 naming the param, as in the Rust core's compute()."""
    from omega.reference.market import Bars

    market = Market.from_columns(
        "EURUSD",
        "M1",
        list(range(0, 60_000_000 * 30, 60_000_000)),
        **{
            c: [1.0] * 30
            for c in ("bid_open", "bid_high", "bid_low", "bid_close", "ask_open", "ask_high", "ask_low", "ask_close")
        },
        bid_volume=[0.0] * 30,
        ask_volume=[0.0] * 30,
    )
    with pytest.raises(IndicatorNotAvailableError, match=name) as err:
        compute(key, Bars.primary(market))
    assert err.value.code == "E4003"
