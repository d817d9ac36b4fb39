"""The MRZ pure-Python reference against the original implementation's recorded signals.

For every fixture market × config × mode (``signals_s{1,2}_{class_defaults,shipped,relaxed}_
{combined,each}.parquet``, see the fixtures' README): the original JSON config is converted with
``from_original_config`` and validated, the market is loaded with ``Market.from_arrow`` and hosted
with the ``new_york_1700`` HTF anchor, and the reference strategy is evaluated on every bar "as if
flat" (no position, no cooldown, sessions not applied; ``session_ok`` is recomputed from the engine
sessions on the bar close time). The set of (bar, scenario) rows must be identical and every row
must agree: direction, entry, SL, TP exactly; reason, tags, label; z and atr within 1e-9 relative.
No spec §7 decision arises in these configs (README), so nothing is excluded.

Also unit tests of the MRZ-only helpers: stale rule, stepwise HTF series, local Kalman-GARCH z,
k-means and the volatility-cluster guard.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from omega.reference.cache import IndicatorCache, MarketHost
from omega.reference.indicators import ema, garch_sigma, kalman_garch_zscore
from omega.reference.keys import GarchParams, IndicatorKey, PriceSide
from omega.reference.market import Market
from omega.reference.sessions import in_sessions, minute_of_day_utc, parse_hhmm
from omega.reference.types import Candle, DataSlice, TradeSignal
from omega_strategies_zscore.params import from_original_config, parse_config
from omega_strategies_zscore.reference import MeanReversionZScoreReference
from omega_strategies_zscore.reference_indicators import (
    HtfView,
    VolClusterGuard,
    _quantile_sorted,
    effective_stale_limit,
    kmeans_1d,
    local_kalman_garch_z,
    r5,
)

BID = PriceSide.BID
pytestmark = pytest.mark.filterwarnings("ignore::omega_strategies_zscore.params.MrzConfigWarning")


def _fixture_dir() -> Path | None:
    """The MRZ fixtures of the original implementation, committed under ``tests/fixtures/mrz-original``."""
    cand = Path(__file__).resolve().parents[1] / "fixtures" / "mrz-original"
    return cand if (cand / "market_s1.parquet").exists() else None


FIXTURES = _fixture_dir()
SEEDS = (1, 2)
CONFIGS = ("class_defaults", "shipped", "relaxed")
MODES = ("combined", "each")


# ------------------------------------------------------------------------------------------------
# running the reference "flat" on every bar
# ------------------------------------------------------------------------------------------------
@functools.cache
def _market(seed: int) -> tuple[Market, MarketHost, tuple[DataSlice, ...]]:
    """Market, host (shared by every run on this market, so series are computed once) and slices."""
    assert FIXTURES is not None
    market = Market.from_arrow(pq.read_table(FIXTURES / f"market_s{seed}.parquet"), "EURUSD", "M1")
    host = MarketHost(market, "new_york_1700")
    slices = []
    for i, ts in enumerate(market.timestamp_us):
        bid = Candle(
            ts, market.bid_open[i], market.bid_high[i], market.bid_low[i], market.bid_close[i], market.bid_volume[i]
        )
        ask = Candle(
            ts, market.ask_open[i], market.ask_high[i], market.ask_low[i], market.ask_close[i], market.ask_volume[i]
        )
        slices.append(DataSlice(market.symbol, market.timeframe, i, ts, bid, ask))
    return market, host, tuple(slices)


def _omega_config(name: str) -> dict[str, Any]:
    assert FIXTURES is not None
    conf = from_original_config(json.loads((FIXTURES / "configs" / f"{name}.json").read_text()))
    # README: indicators and signals from the first bar of the file (no start date, no warm-up cut)
    conf["engine"].pop("start_time_us", None)
    parse_config(conf)  # the converted config is a valid Omega config
    return conf


def _scan(conf: dict[str, Any], host: MarketHost, slices: tuple[DataSlice, ...]) -> dict[int, TradeSignal]:
    """Evaluate a fresh strategy on every bar as if flat: bar index → signal."""
    strat = MeanReversionZScoreReference()
    strat.on_init(copy.deepcopy(conf))
    cache = IndicatorCache(host)
    strat.prepare(cache)
    out: dict[int, TradeSignal] = {}
    for s in slices:
        sig = strat.evaluate(s, cache)
        if sig is not None:
            out[s.index] = sig
    return out


def _is_missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _row_diffs(row: dict[str, Any], sig: TradeSignal, session_ok: bool) -> list[str]:
    diffs: list[str] = []

    def check(name: str, want: object, got: object) -> None:
        if want != got:
            diffs.append(f"{name}: fixture {want!r} != omega {got!r}")

    check("direction", row["direction"], sig.direction)
    check("label", row["scenario"], f"{sig.direction}_{sig.scenario}")
    check("entry", row["entry"], sig.entry_price)
    check("sl", row["sl"], sig.stop_loss)
    check("tp", row["tp"], sig.take_profit)
    check("reason", row["reason"], sig.reason)
    check("tags", row["tags"], "|".join(sig.tags))
    check("session_ok", row["session_ok"], session_ok)
    meta = sig.meta or {}
    for name in ("z", "atr"):
        want = row[name]
        if _is_missing(want):
            if name in meta:
                diffs.append(f"{name}: fixture has none, omega {meta[name]!r}")
            continue
        got = meta.get(name)
        if got is None or abs(got - want) > 1e-9 * abs(want):
            diffs.append(f"{name}: fixture {want!r} != omega {got!r}")
    return diffs


CASES = [(s, c, m) for s in SEEDS for c in CONFIGS for m in MODES]


@pytest.mark.faithful
@pytest.mark.slow
@pytest.mark.skipif(FIXTURES is None, reason="tests/fixtures/mrz-original missing (a partial checkout)")
@pytest.mark.parametrize(("seed", "config", "mode"), CASES, ids=[f"s{s}_{c}_{m}" for s, c, m in CASES])
def test_reference_matches_original_signals(seed: int, config: str, mode: str) -> None:
    assert FIXTURES is not None
    t0 = time.perf_counter()
    market, host, slices = _market(seed)
    conf = _omega_config(config)
    windows = [(parse_hhmm(a), parse_hhmm(b)) for a, b in conf["engine"].get("sessions", [])]

    got: dict[tuple[int, int], TradeSignal] = {}
    runs: list[list[int] | None] = [None] if mode == "combined" else [[n] for n in range(1, 7)]
    for enabled in runs:
        run_conf = copy.deepcopy(conf)
        if enabled is not None:
            run_conf["enabled_scenarios"] = enabled
        for i, sig in _scan(run_conf, host, slices).items():
            assert sig.scenario is not None
            got[(i, sig.scenario)] = sig

    rows = pq.read_table(FIXTURES / f"signals_s{seed}_{config}_{mode}.parquet").to_pylist()
    expected = {(int(r["bar_index"]), int(r["scenario_n"])): r for r in rows}
    assert len(expected) == len(rows), "fixture has duplicate (bar, scenario) rows"

    problems: list[str] = []
    missing_rows = sorted(set(expected) - set(got))
    extra_rows = sorted(set(got) - set(expected))
    problems += [f"bar {i} scenario {n}: in the fixture, not emitted" for i, n in missing_rows]
    problems += [f"bar {i} scenario {n}: emitted, not in the fixture" for i, n in extra_rows]
    matched = 0
    for key in sorted(set(expected) & set(got)):
        row = expected[key]
        i = key[0]
        assert row["timestamp_us"] == market.timestamp_us[i]
        session_ok = in_sessions(windows, minute_of_day_utc(market.close_time_us(i)))
        diffs = _row_diffs(row, got[key], session_ok)
        if diffs:
            problems.append(f"bar {i} scenario {key[1]}: " + "; ".join(diffs))
        else:
            matched += 1
    elapsed = time.perf_counter() - t0
    print(f"\n{FIXTURES.name}/signals_s{seed}_{config}_{mode}: matched {matched}/{len(rows)} rows in {elapsed:.1f}s")
    assert not problems, f"{len(problems)} mismatches, first ones:\n" + "\n".join(problems[:20])
    assert matched == len(rows)


# ------------------------------------------------------------------------------------------------
# MRZ-only helpers
# ------------------------------------------------------------------------------------------------
H1 = 3_600_000_000
JAN2_22H = 1704232800_000_000  # 2024-01-02 22:00 UTC = 17:00 New York (an H4/D1 boundary)


def _hourly_market(hours: list[int], closes: list[float]) -> Market:
    """H1 market with bars at JAN2_22H + h hours (bid = ask − 0.0001, tiny ranges)."""
    cols: dict[str, Any] = {}
    for side, add in (("bid", 0.0), ("ask", 0.0001)):
        cols[f"{side}_open"] = [c + add for c in closes]
        cols[f"{side}_high"] = [c + add + 0.0005 for c in closes]
        cols[f"{side}_low"] = [c + add - 0.0005 for c in closes]
        cols[f"{side}_close"] = [c + add for c in closes]
        cols[f"{side}_volume"] = [1.0] * len(closes)
    return Market.from_columns("EURUSD", "H1", [JAN2_22H + h * H1 for h in hours], **cols)


def test_r5_is_python_round() -> None:
    assert r5(1.1073024691) == 1.1073
    assert r5(1.10228125) == 1.10228
    assert r5(1.0915877915) == 1.09159
    assert r5(0.000125) == round(0.000125, 5)


def test_stale_limit() -> None:
    assert effective_stale_limit("D1", "M1", 0) == 2880
    assert effective_stale_limit("H4", "H1", 0) == 8
    assert effective_stale_limit("H1", "H1", 0) == 2
    assert effective_stale_limit("D1", "H1", 5) == 5


def test_htf_view_visibility_and_stale_rule() -> None:
    closes = [1.10 + 0.001 * h for h in range(12)]
    market = _hourly_market(list(range(12)), closes)
    cache = IndicatorCache(MarketHost(market, "new_york_1700"))
    # H4 bins from 22:00 UTC: bar 0 = hours 0..3 closes at +4h = close time of primary bar 3
    view = HtfView(cache, "H4", "H1", 0)
    assert [view.pos(i) for i in range(12)] == [-1, -1, -1, 0, 0, 0, 0, 1, 1, 1, 1, 2]
    assert view.close(3) == closes[3]
    assert view.close(7) == closes[7]
    assert math.isnan(view.close(0))
    stale = HtfView(cache, "H4", "H1", 1)  # L = 1: usable on its first bar and the next only
    assert [stale.pos(i) for i in range(12)] == [-1, -1, -1, 0, 0, -1, -1, 1, 1, -1, -1, 2]
    key = IndicatorKey.ema(BID, 2)
    assert stale.value(key, 4) == cache.series(key.on("H4"))[0]
    assert math.isnan(stale.value(key, 5))
    primary = HtfView(cache, "H1", "H1", 0)  # the primary TF itself: visible = i, never stale
    assert [primary.pos(i) for i in range(12)] == list(range(12))
    unbuildable = HtfView(cache, "M30", "H1", 0)
    assert not unbuildable.available
    assert math.isnan(unbuildable.value(key, 5))


def test_htf_view_stepwise_when_a_bar_is_never_visible() -> None:
    # Bars at hours 0, 1, then 7..15 (a gap). H4 bar 0 (hours 0..4) would first be visible at the bar
    # of hour 7, but that bar is the last of H4 bar 1 (hours 4..8), which closes with it: bar 0 is
    # never visible, so the stepwise sequence is H4 bins 1, 2, 3 and the series run on those alone.
    # The core's resampler (docs/indicators.md) leaves such a bin out, so the H4 bars are exactly them.
    hours = [0, 1, 7, 8, 9, 10, 11, 12, 13, 14, 15]
    closes = [1.10, 1.11, 1.12, 1.13, 1.14, 1.15, 1.16, 1.17, 1.18, 1.19, 1.20]
    market = _hourly_market(hours, closes)
    host = MarketHost(market, "new_york_1700")
    cache = IndicatorCache(host)
    h4 = host.bars("H4")
    assert h4.visible == [-1, -1, 0, 0, 0, 0, 1, 1, 1, 1, 2]
    assert len(h4.bid_close) == 3
    view = HtfView(cache, "H4", "H1", 0)
    assert [view.pos(i) for i in range(len(hours))] == [-1, -1, 0, 0, 0, 0, 1, 1, 1, 1, 2]
    reduced = list(h4.bid_close)
    key = IndicatorKey.ema(BID, 3)
    assert view.series(key) == ema(reduced, 3)
    assert view.value(key, 6) == ema(reduced, 3)[1]
    assert view.close(10) == h4.bid_close[2]


def _walk(n: int, seed: int = 7) -> list[float]:
    state = seed
    x = 1.1
    out: list[float] = []
    for _ in range(n):
        state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        x = x + ((state >> 11) * (1.0 / 9007199254740992.0) - 0.5) * 0.002
        out.append(x)
    return out


def test_local_z_equals_full_series_when_the_window_covers_everything() -> None:
    closes = _walk(300)
    g = GarchParams(
        alpha=0.1, beta=0.76, omega=None, scale=100.0, min_periods=20, use_log_returns=True, sigma_floor=1e-6
    )
    full = kalman_garch_zscore(closes, 0.546, 1.3, g)
    for i in (21, 22, 50, 299):
        assert local_kalman_garch_z(closes, i, 1000, 0.546, 1.3, g) == full[i]
    assert local_kalman_garch_z(closes, 20, 1000, 0.546, 1.3, g) is None  # needs i ≥ min_periods + 1
    assert math.isnan(full[20])
    # a window shorter than the data restarts Kalman and GARCH at the window start
    seg = closes[300 - 50 :]
    assert local_kalman_garch_z(closes, 299, 50, 0.546, 1.3, g) == kalman_garch_zscore(seg, 0.546, 1.3, g)[-1]
    assert local_kalman_garch_z(closes, 299, 21, 0.546, 1.3, g) is None  # L < min_periods + 2
    unstable = GarchParams(0.5, 0.5, None, 100.0, 20, True, 1e-6)
    assert local_kalman_garch_z(closes, 299, 100, 0.546, 1.3, unstable) is None


def test_kmeans_1d() -> None:
    centers, labels = kmeans_1d([1.0, 1.1, 0.9, 5.0, 5.1, 9.0, 9.2], 3)
    assert labels == [0, 0, 0, 1, 1, 2, 2]
    assert centers == [(1.0 + 1.1 + 0.9) / 3, (5.0 + 5.1) / 2, (9.0 + 9.2) / 2]
    # fewer distinct values than k → k' = distinct; one distinct value → one cluster
    assert kmeans_1d([2.0, 2.0, 3.0], 3)[1] == [0, 0, 1]
    assert kmeans_1d([4.0, 4.0, 4.0], 3) == ([4.0], [0, 0, 0])
    # 0..9, k = 3: initial centres 2.25, 4.5, 6.75 → 1.5, 4.5, 7.5 → (ties 3 and 6 go to the lower
    # centre) 1.5, 5, 8 → unchanged: converged, labels of that last iteration kept
    centers, labels = kmeans_1d([float(v) for v in range(10)], 3)
    assert labels == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert centers == [1.5, 5.0, 8.0]
    with pytest.raises(ValueError, match="at least one"):
        kmeans_1d([], 2)


def test_initial_centres_are_numpys_quantiles() -> None:
    np = pytest.importorskip("numpy", reason="numpy is the oracle of the original's np.quantile/np.linspace")
    for n in (2, 3, 7, 50, 150, 151):
        values = sorted(_walk(n, seed=n))
        for k in range(1, 8):
            qs = np.linspace(0.0, 1.0, k + 2)[1:-1]
            want = [float(v) for v in np.quantile(np.array(values), qs)]
            step = 1.0 / (k + 1)
            assert [_quantile_sorted(values, float(j) * step) for j in range(1, k + 1)] == want


def test_vol_cluster_guard() -> None:
    closes = _walk(400, seed=11)
    g = GarchParams(0.1, 0.76, None, 100.0, 20, True, 1e-6)
    kw: dict[str, Any] = {
        "feature": "garch_forecast",
        "window": 50,
        "k": 3,
        "min_points": 30,
        "log_transform": True,
        "garch_lookback": 100,
        "garch": g,
        "hysteresis_bars": 0,
        "allowed": [" LOW", "mid"],
    }
    guard = VolClusterGuard(closes, None, **kw)
    # count of GARCH values = min(G, i+1) − 1 − min_periods
    assert guard.state(40).status == "insufficient_points"
    assert guard.state(40).sample_size == 20
    st = guard.state(399)
    assert st.sample_size == 79
    assert st.status in ("ok", "label_block")
    sigma = garch_sigma(closes[300:], g)
    assert st.sigma == sigma[-1]
    assert st.passed == (st.label in ("low", "mid"))
    assert guard.state(399) is st  # memoised
    assert not VolClusterGuard(closes, None, **{**kw, "allowed": []}).passes(399)
    atr = [math.nan] * 13 + [0.001 + 1e-6 * (i % 7) for i in range(387)]
    atr_guard = VolClusterGuard(closes, atr, **{**kw, "feature": "atr_points"})
    assert atr_guard.state(41).sample_size == 41 - 14 + 2  # i − atr_length + 2
    assert atr_guard.state(399).sample_size == 387
    hyst = VolClusterGuard(
        closes, atr, **{**kw, "feature": "atr_points", "hysteresis_bars": 60, "allowed": ["low", "mid", "high"]}
    )
    assert hyst.state(399).status == "hysteresis_block"  # fewer labels (50) than h (60)
    with pytest.raises(ValueError, match="feature"):
        VolClusterGuard(closes, None, **{**kw, "feature": "atr"})


def test_kalman_garch_sanity_against_cache() -> None:
    closes = _walk(120)
    cols: dict[str, Any] = {
        f"{s}_{f}": ([c + (0.0001 if s == "ask" else 0.0) for c in closes] if f != "volume" else [1.0] * 120)
        for s in ("bid", "ask")
        for f in ("open", "high", "low", "close", "volume")
    }
    market = Market.from_columns("EURUSD", "M1", [JAN2_22H + i * 60_000_000 for i in range(120)], **cols)
    cache = IndicatorCache(MarketHost(market))
    g = GarchParams(0.05, 0.9, None, 100.0, 10, True, 1e-6)
    series = cache.series(IndicatorKey.kalman_garch_zscore(BID, 0.01, 1.0, g))
    assert [local_kalman_garch_z(market.bid_close, i, 10_000, 0.01, 1.0, g) for i in range(11, 120)] == series[11:]
