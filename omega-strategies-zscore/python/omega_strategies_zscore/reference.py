"""Pure-Python reference implementation of Mean Reversion Z-Score (spec ``mrz-strategy.md``).

Independent of the Rust port: written from the spec, reading generic series from the core's
reference indicator cache and computing the MRZ-only parts (stale/stepwise HTF, local
Kalman-GARCH z, volatility-cluster guard, scenario-6 chain) in :mod:`.reference_indicators`.

Per bar (§5): scenario pairs in the original order 1 short, 1 long, 2 short, 2 long, 3 short,
3 long, 4 short, 4 long, 5 long, 5 short, 6 long, 6 short; a pair is skipped when its scenario is
not enabled or its direction is filtered out; the first signal wins. One-position, same-bar
re-entry, sessions and cooldowns are the engine's gates; the position manager (§6) is
:meth:`MeanReversionZScoreReference.manage_position`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any, ClassVar, Literal

from omega.reference.cache import IndicatorCache
from omega.reference.keys import GarchParams, IndicatorKey, PriceSide
from omega.reference.strategy import Strategy
from omega.reference.types import Close, DataSlice, Hold, Position, PositionAction, TradeSignal

from omega_strategies_zscore.params import (
    MrzConfig,
    MrzConfigWarning,
    S6Resolved,
    config_warnings,
    is_no_timeframe,
    parse_config,
)
from omega_strategies_zscore.reference_indicators import (
    HtfView,
    VolClusterGuard,
    local_kalman_garch_z,
    missing,
    r5,
)

__all__ = ["EVALUATION_ORDER", "MeanReversionZScoreReference"]

Direction = Literal["long", "short"]

#: (scenario, direction) in the original evaluation order (§5).
EVALUATION_ORDER: tuple[tuple[int, Direction], ...] = (
    (1, "short"),
    (1, "long"),
    (2, "short"),
    (2, "long"),
    (3, "short"),
    (3, "long"),
    (4, "short"),
    (4, "long"),
    (5, "long"),
    (5, "short"),
    (6, "long"),
    (6, "short"),
)

_BID = PriceSide.BID
_ASK = PriceSide.ASK
_US_PER_MINUTE = 60_000_000


class _Sig:
    """A scenario's candidate signal before it becomes a ``TradeSignal``."""

    __slots__ = ("direction", "entry", "meta", "reason", "scenario", "sl", "tags", "tp")

    def __init__(
        self,
        direction: Direction,
        entry: float,
        sl: float,
        tp: float,
        reason: str,
        tags: list[str],
        scenario: int,
        meta: dict[str, float] | None,
    ) -> None:
        self.direction = direction
        self.entry = entry
        self.sl = sl
        self.tp = tp
        self.reason = reason
        self.tags = tags
        self.scenario = scenario
        self.meta = meta


def _finite_meta(values: dict[str, float | None]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items() if v is not None and math.isfinite(v)}


class _S6Tf:
    """One scenario-6 chain timeframe for one direction: its view, resolved params and keys."""

    def __init__(self, view: HtfView, params: S6Resolved) -> None:
        self.view = view
        self.params = params
        self.z_key = IndicatorKey.kalman_zscore(_BID, params.window_length, params.kalman_r, params.kalman_q)
        self.lower_key = IndicatorKey.bollinger_lower(_BID, params.b_b_length, params.std_factor)
        self.upper_key = IndicatorKey.bollinger_upper(_BID, params.b_b_length, params.std_factor)


class MeanReversionZScoreReference(Strategy):
    """MRZ, all six scenarios long/short, as the pure-Python reference backend runs it."""

    name: ClassVar[str] = "mean_reversion_z_score"
    version: ClassVar[str] = "0.1.0"

    def __init__(self) -> None:
        """An unconfigured instance; call :meth:`on_init` with the config first."""
        self.cfg: MrzConfig | None = None
        self._cache: IndicatorCache | None = None

    # ------------------------------------------------------------------ lifecycle
    def on_init(self, config: dict[str, Any]) -> None:
        """Validate the Omega config (E4002 on any problem) and emit the §7 config warnings."""
        self.cfg = parse_config(config)
        for msg in config_warnings(self.cfg):
            warnings.warn(msg, MrzConfigWarning, stacklevel=2)
        self._cache = None

    def primary_timeframe(self) -> str:
        """The config's primary timeframe."""
        return self._config().timeframe

    def _config(self) -> MrzConfig:
        if self.cfg is None:
            raise RuntimeError("MeanReversionZScoreReference used before on_init")
        return self.cfg

    def prepare(self, cache: IndicatorCache) -> None:
        """Fetch every series the enabled scenarios read (once per run) and set up the memoised parts."""
        cfg = self._config()
        p = cfg.params
        primary = cfg.timeframe
        self._cache = cache
        bars = cache.bars()
        self._n = len(bars.open_time_us)
        self._bid_close = bars.bid_close
        enabled = set(cfg.scenarios())
        dirs = [d for d in ("long", "short") if cfg.direction_allowed(d)]
        nan_series = [math.nan] * self._n

        def get(key: IndicatorKey, needed: bool = True) -> list[float]:
            return cache.series(key) if needed else nan_series

        uses_s2 = bool(enabled & {2, 5, 6})
        self._ema = get(IndicatorKey.ema(_BID, p.ema_length), bool(enabled & {1, 3}))
        self._z_ema = get(IndicatorKey.zscore_ema(_BID, p.ema_length, p.window_length), 1 in enabled)
        self._atr_bid = get(IndicatorKey.atr(_BID, p.atr_length), bool(enabled & {1, 2, 3, 4, 5, 6}))
        self._atr_ask = get(IndicatorKey.atr(_ASK, p.atr_length), 1 in enabled and "short" in dirs)
        self._kz = get(
            IndicatorKey.kalman_zscore(_BID, p.window_length, p.kalman_r, p.kalman_q), uses_s2 or 3 in enabled
        )
        bb_needed = bool(enabled & {2, 3, 4, 5, 6})
        self._bb_mid = get(IndicatorKey.sma(_BID, p.b_b_length), bb_needed)
        self._bb_upper = get(IndicatorKey.bollinger_upper(_BID, p.b_b_length, p.std_factor), bb_needed)
        self._bb_lower = get(IndicatorKey.bollinger_lower(_BID, p.b_b_length, p.std_factor), bb_needed)
        self._garch = GarchParams(
            alpha=p.garch_alpha,
            beta=p.garch_beta,
            omega=p.garch_omega,
            scale=p.garch_scale,
            min_periods=p.garch_min_periods,
            use_log_returns=p.garch_use_log_returns,
            sigma_floor=p.garch_sigma_floor,
        )
        self._kgz = get(
            IndicatorKey.kalman_garch_zscore(_BID, p.kalman_r, p.kalman_q, self._garch),
            4 in enabled and p.local_z_lookback == 0,
        )
        self._local_z_memo: dict[int, float | None] = {}

        # HTF filters A and B (§3.3)
        self._htf_a_tf = p.htf_tf
        self._htf_b_tf = p.htf_b_timeframe(primary)
        needs_htf = bool(enabled & {2, 3, 4, 5, 6})
        self._view_a = self._view(cache, self._htf_a_tf, needs_htf)
        self._view_b = self._view(cache, self._htf_b_tf, needs_htf)
        self._ema_a_key = IndicatorKey.ema(_BID, p.htf_ema)
        self._ema_b_key = IndicatorKey.ema(_BID, p.extra_htf_ema)
        self._htf_tag = f"htf_{p.htf_tf}_ema{p.htf_ema}"
        self._htf_memo_i = -1
        self._htf_memo: tuple[bool, str, str, dict[str, float | None]] = (False, "na", "na", {})

        # Scenario 6 chain (§4)
        self._s6: dict[str, list[_S6Tf]] = {"long": [], "short": []}
        if 6 in enabled:
            views: dict[str, HtfView] = {}
            for tf in p.s6_timeframes(primary):
                if tf not in views:
                    views[tf] = HtfView(cache, tf, primary, p.stale_bar_limit_bars)
                    if not views[tf].available:
                        warnings.warn(
                            f"scenario6 timeframe {tf} cannot be built from primary {primary}: it always fails",
                            MrzConfigWarning,
                            stacklevel=2,
                        )
                for d in ("long", "short"):
                    self._s6[d].append(_S6Tf(views[tf], p.s6_params_for(tf, d, primary)))

        # Scenario 5 guard (§3.2)
        self._guard: VolClusterGuard | None = None
        if 5 in enabled:
            self._guard = VolClusterGuard(
                bars.bid_close,
                self._atr_bid if p.intraday_vol_feature == "atr_points" else None,
                feature=p.intraday_vol_feature,
                window=p.cluster_window(primary),
                k=p.intraday_vol_cluster_k,
                min_points=p.intraday_vol_min_points,
                log_transform=p.intraday_vol_log_transform,
                garch_lookback=p.garch_lookback(),
                garch=self._garch,
                hysteresis_bars=p.cluster_hysteresis_bars,
                allowed=p.intraday_vol_allowed,
            )

        self._evaluators: dict[tuple[int, Direction], Callable[[int, DataSlice], _Sig | None]] = {
            (1, "long"): self._long_1,
            (1, "short"): self._short_1,
            (2, "long"): lambda i, s: self._s2(i, s, "long", 2),
            (2, "short"): lambda i, s: self._s2(i, s, "short", 2),
            (3, "long"): self._long_3,
            (3, "short"): self._short_3,
            (4, "long"): self._long_4,
            (4, "short"): self._short_4,
            (5, "long"): lambda i, s: self._s5(i, s, "long"),
            (5, "short"): lambda i, s: self._s5(i, s, "short"),
            (6, "long"): lambda i, s: self._s6_eval(i, s, "long"),
            (6, "short"): lambda i, s: self._s6_eval(i, s, "short"),
        }
        self._plan = [
            self._evaluators[(n, d)] for n, d in EVALUATION_ORDER if n in enabled and cfg.direction_allowed(d)
        ]

    def _view(self, cache: IndicatorCache, tf: str, needed: bool) -> HtfView | None:
        if is_no_timeframe(tf) or not needed:
            return None
        view = HtfView(cache, tf, self._config().timeframe, self._config().params.stale_bar_limit_bars)
        if not view.available:
            warnings.warn(
                f"HTF filter timeframe {tf} cannot be built from primary {self._config().timeframe}: "
                "its bias is missing everywhere",
                MrzConfigWarning,
                stacklevel=3,
            )
        return view

    # ------------------------------------------------------------------ per bar
    def evaluate(self, slice: DataSlice, cache: IndicatorCache) -> TradeSignal | None:
        """The first signal of the enabled scenario pairs at this bar, in the original order."""
        if self._cache is not cache:
            self.prepare(cache)
        i = slice.index
        for fn in self._plan:
            sig = fn(i, slice)
            if sig is not None:
                return TradeSignal(
                    direction=sig.direction,
                    entry_price=sig.entry,
                    stop_loss=sig.sl,
                    take_profit=sig.tp,
                    reason=sig.reason,
                    tags=tuple(sig.tags),
                    scenario=sig.scenario,
                    meta=sig.meta,
                )
        return None

    def manage_position(self, position: Position, slice: DataSlice) -> PositionAction:
        """§6 timeout: close at this bar's exit-side close once ``open(j) − open(entry) ≥ max_holding_minutes``."""
        p = self._config().params
        if not p.use_position_manager or p.max_holding_minutes is None:
            return Hold()
        if slice.timestamp_us - position.entry_time_us >= p.max_holding_minutes * _US_PER_MINUTE:
            return Close("timeout")
        return Hold()

    # ------------------------------------------------------------------ HTF filters (§3.3)
    @staticmethod
    def _bias(view: HtfView | None, ema_key: IndicatorKey, i: int) -> tuple[int | None, float, float]:
        if view is None:
            return None, math.nan, math.nan
        c = view.close(i)
        e = view.value(ema_key, i)
        if missing(c) or missing(e):
            return None, c, e
        return (1 if c > e else -1 if c < e else 0), c, e

    @staticmethod
    def _passes(tf: str, bias: int | None, mode: str) -> bool:
        if is_no_timeframe(tf) or mode in ("none", "both"):
            return True
        if bias is None:
            return False
        return bias > 0 if mode == "above" else bias < 0

    @staticmethod
    def _label(bias: int | None) -> str:
        if bias is None:
            return "na"
        return "above" if bias > 0 else "below" if bias < 0 else "neutral"

    def _htf(self, i: int) -> tuple[bool, str, str, dict[str, float | None]]:
        """(A ∧ B pass, label A, label B, snapshot) at bar i; direction-independent, memoised per bar."""
        if self._htf_memo_i == i:
            return self._htf_memo
        p = self._config().params
        bias_a, ca, ea = self._bias(self._view_a, self._ema_a_key, i)
        bias_b, cb, eb = self._bias(self._view_b, self._ema_b_key, i)
        ok = self._passes(self._htf_a_tf, bias_a, p.htf_filter) and self._passes(
            self._htf_b_tf, bias_b, p.extra_htf_filter
        )
        snap: dict[str, float | None] = {
            "htf_a_bias": None if bias_a is None else float(bias_a),
            "htf_b_bias": None if bias_b is None else float(bias_b),
            "htf_a_close": ca,
            "htf_a_ema": ea,
            "htf_b_close": cb,
            "htf_b_ema": eb,
        }
        self._htf_memo = (ok, self._label(bias_a), self._label(bias_b), snap)
        self._htf_memo_i = i
        return self._htf_memo

    def _htf_tags(self, label_a: str, label_b: str) -> list[str]:
        return [self._htf_tag, f"biasA_{label_a}", f"biasB_{label_b}"]

    # ------------------------------------------------------------------ scenario 1
    def _long_1(self, i: int, s: DataSlice) -> _Sig | None:
        p = self._config().params
        z = self._z_ema[i]
        if missing(z) or z > p.z_score_long:
            return None
        atr = self._atr_bid[i]
        ema = self._ema[i]
        if missing(atr) or missing(ema):
            return None
        sl = s.bid.low - p.atr_mult * atr
        return _Sig("long", s.ask.close, r5(sl), r5(ema), "zscore_ema_long", ["zscore", "ema", "scenario1"], 1, None)

    def _short_1(self, i: int, s: DataSlice) -> _Sig | None:
        p = self._config().params
        z = self._z_ema[i]
        if missing(z) or z < p.z_score_short:
            return None
        atr = self._atr_ask[i]
        ema = self._ema[i]
        if missing(atr) or missing(ema):
            return None
        sl = s.bid.high + p.atr_mult * atr
        return _Sig("short", s.bid.close, r5(sl), r5(ema), "zscore_ema_short", ["zscore", "ema", "scenario1"], 1, None)

    # ------------------------------------------------------------------ shared pieces of 2–6
    def _entry_sl(self, s: DataSlice, direction: Direction, atr: float) -> tuple[float, float]:
        m = self._config().params.atr_mult
        if direction == "long":
            return s.ask.close, r5(s.bid.low - m * atr)
        return s.bid.close, r5(s.bid.high + m * atr)

    def _meta(
        self, s: DataSlice, z: float, atr: float, snap: dict[str, float | None], **extra: float | None
    ) -> dict[str, float]:
        bid_c = s.bid.close
        ask_c = s.ask.close
        return _finite_meta(
            {"z": z, "atr": atr, **extra, "bid_close": bid_c, "ask_close": ask_c, "spread": ask_c - bid_c, **snap}
        )

    def _s2(self, i: int, s: DataSlice, direction: Direction, n: int) -> _Sig | None:
        """Scenario 2 (also the base of 5 and 6): HTF ∧ Kalman z beyond threshold ∧ close beyond the band."""
        p = self._config().params
        ok, la, lb, snap = self._htf(i)
        if not ok:
            return None
        z = self._kz[i]
        if missing(z):
            return None
        mid = self._bb_mid[i]
        close = s.bid.close
        if direction == "long":
            if z > p.z_score_long:
                return None
            band = self._bb_lower[i]
            if missing(band) or missing(mid) or close > band:
                return None
        else:
            if z < p.z_score_short:
                return None
            band = self._bb_upper[i]
            if missing(band) or missing(mid) or close < band:
                return None
        atr = self._atr_bid[i]
        if missing(atr):
            return None
        entry, sl = self._entry_sl(s, direction, atr)
        band_name = "lower" if direction == "long" else "upper"
        meta = self._meta(s, z, atr, snap, mid=mid, **{band_name: band})
        tags = ["kalman", "bollinger", f"scenario{n}", *self._htf_tags(la, lb)]
        return _Sig(direction, entry, sl, r5(mid), f"kalman_z_boll_{direction}", tags, n, meta)

    # ------------------------------------------------------------------ scenario 3
    def _s3(self, i: int, s: DataSlice, direction: Direction) -> _Sig | None:
        p = self._config().params
        ok, la, lb, snap = self._htf(i)
        if not ok:
            return None
        z = self._kz[i]
        if missing(z):
            return None
        ema = self._ema[i]
        if direction == "long":
            if z > p.z_score_long:
                return None
            band = self._bb_lower[i]
            if missing(band) or missing(ema) or s.bid.close > band:
                return None
            if ema <= s.ask.close + p.tp_min_distance:
                return None
        else:
            if z < p.z_score_short:
                return None
            band = self._bb_upper[i]
            if missing(band) or missing(ema) or s.bid.close < band:
                return None
            if ema >= s.bid.close - p.tp_min_distance:
                return None
        atr = self._atr_bid[i]
        if missing(atr):
            return None
        entry, sl = self._entry_sl(s, direction, atr)
        band_name = "lower" if direction == "long" else "upper"
        meta = self._meta(s, z, atr, snap, ema=ema, **{band_name: band})
        tags = ["kalman", "bollinger", "scenario3", *self._htf_tags(la, lb)]
        return _Sig(direction, entry, sl, r5(ema), f"kalman_z_boll_{direction}", tags, 3, meta)

    def _long_3(self, i: int, s: DataSlice) -> _Sig | None:
        return self._s3(i, s, "long")

    def _short_3(self, i: int, s: DataSlice) -> _Sig | None:
        return self._s3(i, s, "short")

    # ------------------------------------------------------------------ scenario 4
    def _z4(self, i: int) -> float | None:
        """The scenario-4 z: local Kalman-GARCH z (memoised, on demand) or the full-series one."""
        p = self._config().params
        if p.local_z_lookback > 0:
            if i in self._local_z_memo:
                return self._local_z_memo[i]
            z = local_kalman_garch_z(self._bid_close, i, p.local_z_lookback, p.kalman_r, p.kalman_q, self._garch)
            self._local_z_memo[i] = z
            return z
        v = self._kgz[i]
        return None if missing(v) else v

    def _s4(self, i: int, s: DataSlice, direction: Direction) -> _Sig | None:
        p = self._config().params
        ok, la, lb, snap = self._htf(i)
        if not ok:
            return None
        mid = self._bb_mid[i]
        close = s.bid.close
        if direction == "long":
            band = self._bb_lower[i]
            if missing(band) or missing(mid) or close > band:
                return None
        else:
            band = self._bb_upper[i]
            if missing(band) or missing(mid) or close < band:
                return None
        atr = self._atr_bid[i]
        if missing(atr):
            return None
        z = self._z4(i)  # the expensive part last (§3.4)
        if z is None:
            return None
        if (direction == "long" and z > p.z_score_long) or (direction == "short" and z < p.z_score_short):
            return None
        entry, sl = self._entry_sl(s, direction, atr)
        band_name = "lower" if direction == "long" else "upper"
        meta = self._meta(s, z, atr, snap, mid=mid, **{band_name: band})
        tags = ["kalman", "garch", "bollinger", "scenario4", *self._htf_tags(la, lb)]
        return _Sig(direction, entry, sl, r5(mid), f"kalman_garch_z_boll_{direction}", tags, 4, meta)

    def _long_4(self, i: int, s: DataSlice) -> _Sig | None:
        return self._s4(i, s, "long")

    def _short_4(self, i: int, s: DataSlice) -> _Sig | None:
        return self._s4(i, s, "short")

    # ------------------------------------------------------------------ scenario 5
    def _s5(self, i: int, s: DataSlice, direction: Direction) -> _Sig | None:
        base = self._s2(i, s, direction, 2)
        if base is None:
            return None
        assert self._guard is not None
        st = self._guard.state(i)
        if not st.passed:
            return None
        tags = [t for t in base.tags if t != "scenario2"]
        for t in ("vol_cluster", "scenario5"):
            if t not in tags:
                tags.append(t)
        meta = dict(base.meta or {})
        meta.update(
            _finite_meta(
                {
                    "vol_sigma": st.sigma,
                    "vol_sample_size": float(st.sample_size),
                    "vol_clusters": float(st.clusters),
                    "vol_rank": None if st.rank < 0 else float(st.rank),
                }
            )
        )
        return _Sig(direction, base.entry, base.sl, base.tp, f"kalman_z_boll_{direction}_vol_cluster", tags, 5, meta)

    # ------------------------------------------------------------------ scenario 6
    def _s6_check(self, tf: _S6Tf, i: int, direction: Direction) -> tuple[bool, float]:
        if not tf.params.usable():
            return False, math.nan  # a window the indicators refuse: this check always fails
        price = tf.view.close(i)
        if missing(price):
            return False, math.nan
        z = tf.view.value(tf.z_key, i)
        if missing(z):
            return False, math.nan
        thr = tf.params.threshold
        if direction == "long":
            if z > thr:
                return False, z
            band = tf.view.value(tf.lower_key, i)
            return (not missing(band) and price <= band), z
        if z < thr:
            return False, z
        band = tf.view.value(tf.upper_key, i)
        return (not missing(band) and price >= band), z

    def _s6_eval(self, i: int, s: DataSlice, direction: Direction) -> _Sig | None:
        ok, _la, _lb, _snap = self._htf(i)
        if not ok:
            return None
        chain = self._s6[direction]
        if not chain:
            return None
        results = [(tf, *self._s6_check(tf, i, direction)) for tf in chain]
        n_ok = sum(1 for _tf, good, _z in results if good)
        mode = self._config().params.scenario6_mode
        if (mode == "any" and n_ok == 0) or (mode == "all" and n_ok != len(results)):
            return None
        base = self._s2(i, s, direction, 2)
        if base is None:
            return None
        tags = [t for t in base.tags if t not in ("scenario2", "scenario5")]
        tags += ["scenario6", "multi_tf"]
        tags += [f"tf_{tf.view.timeframe.lower()}_{'ok' if good else 'fail'}" for tf, good, _z in results]
        dedup: list[str] = []
        for t in tags:
            if t not in dedup:
                dedup.append(t)
        meta = dict(base.meta or {})
        meta.update({"s6_timeframes": float(len(results)), "s6_ok": float(n_ok)})
        return _Sig(direction, base.entry, base.sl, base.tp, f"kalman_z_boll_{direction}_multi_tf", dedup, 6, meta)
