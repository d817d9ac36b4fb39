"""Case matrix, comparisons and golden-file I/O of the parity suite (docs/parity.md).

A *case* is (strategy, generated market, config). Every strategy that `omega.list_strategies()`
reports with both backends gets cases: hand-made ones for the strategies of this repository (MRZ:
each scenario alone and all together, with and without costs, timeouts, sessions, several open
positions, HTF filters; the SMA test strategy: a few parameter sets) and, for any other strategy, a
default case (empty ``params``) on every market.

Comparisons return a `Report`: ``problems`` break the contract of the issue (different counts,
different non-float values, a float whose relative difference exceeds `REL_TOL`); ``inexact``
lists float values that are within `REL_TOL` but not bit-identical. docs/engine.md promises
bit-identical numbers, and the suite asserts both lists empty.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import struct
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import omega
import pyarrow as pa
from omega.data import TIMEFRAME_MINUTES, generate_market
from omega.results import TRADE_FIELDS, TRADE_SCHEMA, trades_to_table

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
REGENERATE = "python tests/parity/regenerate_goldens.py"
GOLDEN_FORMAT = 1
REL_TOL = 1e-9
"""Largest accepted relative difference |a − b| / max(|a|, |b|) of two floats (the issue's contract)."""
GOLDEN_FIRST_TRADES = 10
"""Trades stored field by field in a golden file; all trades are covered by a digest."""
EQUITY_SAMPLES = 20
MAX_MESSAGES = 25

MRZ = "mean_reversion_z_score"
SMA = "omega_test_sma_cross"

FLOAT_TRADE_FIELDS: frozenset[str] = frozenset(f.name for f in TRADE_SCHEMA if pa.types.is_floating(f.type))
GOLDEN_TRADE_FIELDS: tuple[str, ...] = (
    "id",
    "direction",
    "entry_index",
    "exit_index",
    "entry_time_us",
    "exit_time_us",
    "exit_reason",
    "scenario",
    "entry_price",
    "exit_price",
    "stop_loss",
    "take_profit",
    "lots",
    "pnl",
)
"""Fields of the trades a golden file stores one by one (direction, times, prices, SL/TP, size, PnL)."""

Regime = Literal["mean_reverting", "trending"]
FloatArray = npt.NDArray[np.float64]


# ------------------------------------------------------------------------------------------------
# markets
# ------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class MarketSpec:
    """Arguments of one `omega.data.generate_market` call."""

    seed: int
    regime: Regime
    symbol: str
    timeframe: str
    spread_pips: float
    gap_every: int | None
    weekend_gaps: bool
    start: str
    n_bars: int = 6_000

    @property
    def id(self) -> str:
        regime = "mr" if self.regime == "mean_reverting" else "tr"
        gaps = f"gap{self.gap_every}" if self.gap_every else "nogap"
        weekend = "wk" if self.weekend_gaps else "nowk"
        sym = f"{self.symbol.lower()}-{self.timeframe.lower()}"
        return f"s{self.seed}-{regime}-{sym}-sp{self.spread_pips:g}-{gaps}-{weekend}"

    @property
    def tf_minutes(self) -> int:
        return TIMEFRAME_MINUTES[self.timeframe]

    @property
    def start_us(self) -> int:
        dt = datetime.fromisoformat(self.start).astimezone(UTC)
        return int(dt.timestamp()) * 1_000_000

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def table(self) -> pa.Table:
        return _market_table(self)


@functools.cache
def _market_table(spec: MarketSpec) -> pa.Table:
    return generate_market(
        spec.n_bars,
        spec.seed,
        spec.timeframe,
        start=spec.start,
        symbol=spec.symbol,
        regime=spec.regime,
        spread_pips=spec.spread_pips,
        gap_every=spec.gap_every,
        weekend_gaps=spec.weekend_gaps,
    )


MARKETS: tuple[MarketSpec, ...] = (
    MarketSpec(1, "mean_reverting", "EURUSD", "M1", 0.6, None, True, "2024-01-04T12:00:00+00:00"),
    MarketSpec(2, "trending", "EURUSD", "M1", 1.2, 613, False, "2024-01-01T00:00:00+00:00"),
    MarketSpec(3, "mean_reverting", "EURUSD", "M1", 1.5, 997, True, "2024-03-06T07:00:00+00:00"),
    MarketSpec(4, "trending", "EURUSD", "M1", 0.8, None, True, "2024-05-02T21:30:00+00:00"),
    MarketSpec(5, "mean_reverting", "USDJPY", "M1", 1.0, 1_500, True, "2024-02-08T03:00:00+00:00"),
    MarketSpec(6, "trending", "GBPUSD", "M1", 1.4, 450, True, "2024-06-06T18:00:00+00:00"),
    MarketSpec(7, "mean_reverting", "EURUSD", "M5", 0.7, 800, True, "2024-01-10T00:00:00+00:00"),
    MarketSpec(8, "trending", "EURUSD", "M5", 1.1, None, True, "2024-04-01T00:00:00+00:00"),
)
"""Seeds 1–8, both regimes, EUR/JPY/GBP quotes, M1 and M5, mean spreads 0.6–1.5 pips (each bar
±25 %), holes of 1–30 bars every `gap_every` bars and FX weekend gaps (starts mid-week, so a
weekend falls inside the market)."""


# ------------------------------------------------------------------------------------------------
# cases
# ------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Case:
    """One (strategy, market, config); hashable (the config is kept as canonical JSON)."""

    strategy: str
    market: MarketSpec
    config_id: str
    config_json: str
    expect_trades: bool
    expect_scenarios: tuple[int, ...] = ()
    """Scenarios that must each have at least one trade (else the case proves little)."""

    @property
    def id(self) -> str:
        return f"{self.market.id}__{self.config_id}"

    @property
    def config(self) -> dict[str, Any]:
        conf: dict[str, Any] = json.loads(self.config_json)
        return conf

    @property
    def golden_path(self) -> Path:
        return GOLDEN_DIR / self.strategy / f"{self.id}.json"


def _case(
    strategy: str,
    market: MarketSpec,
    config_id: str,
    config: dict[str, Any],
    expect_trades: bool,
    expect_scenarios: tuple[int, ...] = (),
) -> Case:
    return Case(strategy, market, config_id, json.dumps(config, sort_keys=True), expect_trades, expect_scenarios)


JPY_TO_USD = 0.0067
"""About the JPY → USD rate of the USDJPY market (near 150), to scale a risk budget in USD. The run
itself converts through the market's own quotes (docs/engine.md "Account currency")."""


def _base(market: MarketSpec, params: dict[str, Any]) -> dict[str, Any]:
    return {"symbol": market.symbol, "timeframe": market.timeframe, "params": params, "engine": {}}


def _costs(market: MarketSpec, conf: dict[str, Any]) -> None:
    """Commission per lot and per million, fixed + seeded random slippage, risk sizing. Margin is off:
    250 risked on stops of a pip or two sizes far beyond any leverage, and this variant is about
    costs (margin has the ``account`` variant)."""
    engine = conf["engine"]
    engine["margin"] = False
    engine["costs"] = {
        "commission_per_lot": 3.5,
        "commission_per_million": 12.0,
        "slippage_fixed_pips": 0.1,
        "slippage_random_pips": 0.5,
    }
    engine["seed"] = 1_000 + market.seed
    engine["sizing"] = "risk"
    engine["risk_per_trade"] = 250.0
    engine["initial_balance"] = 50_000.0


def _sessions(market: MarketSpec, conf: dict[str, Any]) -> None:
    """Session windows (one wrapping midnight), all three cooldowns, a pip buffer, per-lot commission."""
    engine = conf["engine"]
    engine["sessions"] = [["22:00", "04:30"], ["07:00", "16:59"]]
    engine["cooldown_candles"] = 3
    engine["cooldown_minutes"] = 4.0 * market.tf_minutes
    engine["cooldown_minutes_trade"] = 6.0 * market.tf_minutes
    engine["costs"] = {"commission_per_lot": 7.0, "pip_buffer_factor": 0.3}


def _lot_limits(market: MarketSpec, conf: dict[str, Any]) -> None:
    """Risk sizing against a narrow lot band (0.5–0.6 in steps of 0.1): some signals size below
    ``min_lot`` and are rejected, others are capped at ``max_lot``. The risk scales with the
    typical stop (√ of the bar length) and the pip value (JPY)."""
    fx = JPY_TO_USD * 100.0 if market.symbol.endswith("JPY") else 1.0
    engine = conf["engine"]
    engine["sizing"] = "risk"
    engine["risk_per_trade"] = round(16.0 * math.sqrt(market.tf_minutes) * fx, 1)
    engine["symbol_spec"] = {"lot_step": 0.1, "min_lot": 0.5, "max_lot": 0.6}


def _multi(market: MarketSpec, conf: dict[str, Any]) -> None:
    """Up to three positions, same-bar re-entry, positions left open at the end, a start time,
    fills at the next bar's open."""
    engine = conf["engine"]
    engine["fill"] = "next_open"
    engine["max_open_positions"] = 3
    engine["allow_same_bar_reentry"] = True
    engine["close_at_end"] = False
    engine["start_time_us"] = market.start_us + 400 * market.tf_minutes * 60_000_000


def _account(market: MarketSpec, conf: dict[str, Any]) -> None:
    """Swaps (points on even seeds, percent on odd ones; triple Wednesday or Friday) and a small
    account at leverage 100 that fits about three 1-lot positions, with a stop-out level of 1.02: a
    fourth entry or one after losses is rejected for margin, three losing positions are stopped out
    (docs/engine.md "Swaps", "Margin and stop-out")."""
    engine = conf["engine"]
    engine["sizing"] = "fixed"
    engine["fixed_lots"] = 1.0
    engine["max_open_positions"] = 4
    engine["allow_same_bar_reentry"] = True
    engine["initial_balance"] = 3_400.0
    engine["stop_out_level"] = 1.02
    spec: dict[str, Any] = {"margin_rate": 0.01}
    if market.seed % 2 == 0:
        spec.update(swap_mode="points", swap_long=-6.8, swap_short=1.9, triple_swap_weekday="wednesday")
    else:
        spec.update(swap_mode="percent", swap_long=-2.75, swap_short=0.6, triple_swap_weekday="friday")
    engine["symbol_spec"] = spec


# ---- MRZ ---------------------------------------------------------------------------------------
_MRZ_HTF: dict[str, tuple[str, str, list[str]]] = {
    # primary: (filter A timeframe, filter B timeframe, scenario-6 chain)
    "M1": ("H1", "M15", ["M5", "M15"]),
    "M5": ("H4", "H1", ["M15", "M30"]),
}


def mrz_params(market: MarketSpec) -> dict[str, Any]:
    """MRZ parameters relaxed (after tests/fixtures/mrz-original/configs/relaxed.json) so that every
    scenario trades on a few thousand bars: short windows, low z thresholds, HTF filters on short
    timeframes, a scenario-6 chain of the next two timeframes, a small ``tp_min_distance``."""
    htf_a, htf_b, s6 = _MRZ_HTF[market.timeframe]
    s6_params = {
        s6[0]: {
            "long": {"b_b_length": 16, "std_factor": 0.8, "window_length": 60, "z_score_long": -0.3},
            "short": {"b_b_length": 16, "std_factor": 0.8, "window_length": 60, "z_score_short": 0.3},
        },
        s6[1]: {
            "long": {"b_b_length": 20, "std_factor": 0.8, "window_length": 40, "z_score_long": -0.3},
            "short": {"b_b_length": 20, "std_factor": 0.8, "window_length": 40, "z_score_short": 0.3},
        },
    }
    return {
        "ema_length": 18,
        "atr_length": 14,
        "atr_mult": 1.4,
        "b_b_length": 48,
        "std_factor": 1.5,
        "window_length": 180,
        "z_score_long": -0.31,
        "z_score_short": 0.8,
        "kalman_q": 1.3,
        "kalman_r": 0.546,
        "htf_tf": htf_a,
        "htf_ema": 24,
        "htf_filter": "both",
        "extra_htf_tf": htf_b,
        "extra_htf_ema": 20,
        "extra_htf_filter": "none",
        "garch_alpha": 0.1,
        "garch_beta": 0.76,
        "garch_min_periods": 170,
        "local_z_lookback": 500,
        "intraday_vol_cluster_window": 150,
        "intraday_vol_cluster_k": 3,
        "intraday_vol_min_points": 80,
        "cluster_hysteresis_bars": 1,
        "tp_min_distance": 0.005 if "JPY" in market.symbol else 0.00005,  # half a pip
        "use_position_manager": False,
        "max_holding_minutes": 300,
        "scenario6_mode": "all",
        "scenario6_timeframes": s6,
        "scenario6_params": s6_params,
    }


def _mrz_timeout(market: MarketSpec, conf: dict[str, Any]) -> None:
    """Position-manager timeout (20 bars) and fixed sizing."""
    conf["params"]["use_position_manager"] = True
    conf["params"]["max_holding_minutes"] = 20 * market.tf_minutes
    conf["engine"]["sizing"] = "fixed"
    conf["engine"]["fixed_lots"] = 0.4


def _mrz_filters(market: MarketSpec, conf: dict[str, Any]) -> None:
    """HTF filters that filter (A above, B below), scenario-6 "any", the full-series scenario-4 z,
    the ATR feature of the volatility guard, simple returns for GARCH, short trades only, UTC anchor."""
    p = conf["params"]
    p["htf_filter"] = "above"
    p["extra_htf_filter"] = "below"
    p["scenario6_mode"] = "any"
    p["local_z_lookback"] = 0
    p["intraday_vol_feature"] = "atr_points"
    p["garch_use_log_returns"] = False
    conf["direction_filter"] = "short"
    conf["engine"]["htf_anchor"] = "utc"


_Variant = Callable[[MarketSpec, dict[str, Any]], None]


def _plain(market: MarketSpec, conf: dict[str, Any]) -> None:
    """Defaults: risk sizing, no costs, no sessions or cooldowns."""


MRZ_VARIANTS: dict[str, _Variant] = {
    "plain": _plain,
    "costs": _costs,
    "timeout": _mrz_timeout,
    "sessions": _sessions,
    "multi": _multi,
    "filters": _mrz_filters,
    "account": _account,
}
MRZ_SINGLE_ROTATION: tuple[str, ...] = ("plain", "costs", "timeout", "sessions")
"""Scenario n alone on market k runs with variant ``MRZ_SINGLE_ROTATION[(k + n) % 4]``, so every
scenario alone meets each of these variants on some market."""
MRZ_S3456_VARIANTS: tuple[str, ...] = ("plain", "multi")
"""Variants of the combination 3+4+5+6 (every market)."""


def _mrz_case(market: MarketSpec, name: str, scenarios: list[int], variant: str, expect: tuple[int, ...]) -> Case:
    conf = _base(market, mrz_params(market))
    conf["enabled_scenarios"] = scenarios
    conf["engine"]["htf_anchor"] = "new_york_1700"
    MRZ_VARIANTS[variant](market, conf)
    return _case(MRZ, market, f"{name}-{variant}", conf, True, expect)


def mrz_cases(market_index: int, market: MarketSpec) -> list[Case]:
    """Each scenario alone (rotating variants), all six together with every variant, and 3+4+5+6.

    With all six enabled, scenario 1 (evaluated first) takes nearly every signal and scenario 2
    shadows 3, 5 and 6 (they extend its conditions; the strategy warns about it): the 3+4+5+6
    combination is where several scenarios trade side by side in one run."""
    out: list[Case] = []
    for n in range(1, 7):
        variant = MRZ_SINGLE_ROTATION[(market_index + n) % len(MRZ_SINGLE_ROTATION)]
        out.append(_mrz_case(market, f"s{n}", [n], variant, (n,)))
    out += [_mrz_case(market, "all", [1, 2, 3, 4, 5, 6], variant, (1,)) for variant in MRZ_VARIANTS]
    out += [_mrz_case(market, "s3456", [3, 4, 5, 6], variant, (3, 4)) for variant in MRZ_S3456_VARIANTS]
    return out


# ---- SMA test strategy -------------------------------------------------------------------------
def sma_cases(market_index: int, market: MarketSpec) -> list[Case]:
    out = [
        _case(SMA, market, "defaults", _base(market, {}), True),
        _case(SMA, market, "fast", _base(market, {"fast": 5, "slow": 20}), True),
    ]
    tight = _base(market, {"fast": 3, "slow": 50, "sl_atr": 1.0, "tp_atr": 1.5, "max_bars": 15})
    _costs(market, tight)
    out.append(_case(SMA, market, "tight-costs", tight, True))
    wide = _base(market, {"fast": 8, "slow": 21, "atr_length": 7, "sl_atr": 3.0, "tp_atr": 2.0, "max_bars": 200})
    _sessions(market, wide)
    _multi(market, wide)
    _lot_limits(market, wide)
    out.append(_case(SMA, market, "wide-sessions-multi-lots", wide, True))
    account = _base(market, {"fast": 3, "slow": 30, "sl_atr": 1.5, "tp_atr": 3.0, "max_bars": 400})
    _account(market, account)
    out.append(_case(SMA, market, "account", account, True))
    return out


def default_cases(strategy: str, market: MarketSpec) -> list[Case]:
    """A strategy without hand-made cases: its defaults (empty params) on the market; trading is not required."""
    return [_case(strategy, market, "defaults", _base(market, {}), False)]


CASE_BUILDERS: dict[str, Callable[[int, MarketSpec], list[Case]]] = {MRZ: mrz_cases, SMA: sma_cases}


def parity_strategies() -> list[str]:
    """Every discovered strategy with both a Rust and a Python backend, sorted by name."""
    return sorted(s["name"] for s in omega.list_strategies() if {"rust", "python"} <= set(s["backends"]))


def cases_for(strategy: str) -> list[Case]:
    build = CASE_BUILDERS.get(strategy)
    out: list[Case] = []
    for k, market in enumerate(MARKETS):
        out += build(k, market) if build is not None else default_cases(strategy, market)
    return out


def all_cases(strategies: Sequence[str] | None = None) -> list[Case]:
    names = parity_strategies() if strategies is None else list(strategies)
    return [c for name in names for c in cases_for(name)]


# ------------------------------------------------------------------------------------------------
# running
# ------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class RunOutput:
    """What a backtest produced, in plain Python (trades as `TRADE_SCHEMA` rows)."""

    backend: str
    trades: list[dict[str, Any]]
    open_positions: list[dict[str, Any]]
    equity: FloatArray
    metrics: dict[str, Any]
    bars_processed: int
    seconds: float


def run_case(case: Case, backend: str) -> RunOutput:
    table = case.market.table()
    t0 = time.perf_counter()
    result = omega.run_backtest(case.strategy, case.config, table, backend=backend)
    seconds = time.perf_counter() - t0
    return RunOutput(
        backend=backend,
        trades=trades_to_table(result).to_pylist(),
        open_positions=trades_to_table(result, "open_positions").to_pylist(),
        equity=np.array(result.equity_curve, dtype=np.float64, copy=True),
        metrics=dict(result.metrics),
        bars_processed=int(result.bars_processed),
        seconds=seconds,
    )


# ------------------------------------------------------------------------------------------------
# comparing
# ------------------------------------------------------------------------------------------------
def rel_diff(a: float | None, b: float | None) -> float:
    """|a − b| / max(|a|, |b|); 0 when equal (both None, both NaN, same infinity), inf when one is missing."""
    if a is None or b is None:
        return 0.0 if a is None and b is None else math.inf
    if math.isnan(a) or math.isnan(b):
        return 0.0 if math.isnan(a) and math.isnan(b) else math.inf
    if a == b:
        return 0.0
    if math.isinf(a) or math.isinf(b):
        return math.inf
    return abs(a - b) / max(abs(a), abs(b))


def same_bits(a: float | None, b: float | None) -> bool:
    """Bit-identical floats (any two NaNs count as the same: a NaN's payload is not a value)."""
    if a is None or b is None:
        return a is None and b is None
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return struct.pack("<d", a) == struct.pack("<d", b)


@dataclasses.dataclass
class Report:
    """Outcome of one comparison (see the module docstring)."""

    label: str
    problems: list[str] = dataclasses.field(default_factory=list)
    inexact: list[str] = dataclasses.field(default_factory=list)
    max_rel: dict[str, float] = dataclasses.field(default_factory=dict)
    floats_compared: int = 0

    def problem(self, message: str) -> None:
        self.problems.append(message)

    def number(self, group: str, where: str, a: float | None, b: float | None) -> None:
        self.floats_compared += 1
        d = rel_diff(a, b)
        self.max_rel[group] = max(self.max_rel.get(group, 0.0), d)
        if d > REL_TOL:
            self.problems.append(f"{where}: {a!r} != {b!r} (relative {d:.3g} > {REL_TOL:g})")
        elif not same_bits(a, b):
            self.inexact.append(f"{where}: {a!r} != {b!r} (relative {d:.3g}, within {REL_TOL:g})")

    def ok(self) -> bool:
        return not self.problems and not self.inexact

    def text(self, which: Literal["problems", "inexact"]) -> str:
        items = self.problems if which == "problems" else self.inexact
        head = f"{self.label}: {len(items)} {which}"
        shown = "\n  ".join(items[:MAX_MESSAGES])
        more = f"\n  … {len(items) - MAX_MESSAGES} more" if len(items) > MAX_MESSAGES else ""
        return f"{head}\n  {shown}{more}"


def _trade_float(v: Any) -> float | None:
    return None if v is None else float(v)


def compare_trade_lists(
    report: Report, what: str, a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]], fields: Sequence[str]
) -> None:
    """Same count, then field by field: floats by `Report.number`, everything else equal."""
    if len(a) != len(b):
        report.problem(f"{what}: {len(a)} != {len(b)} trades")
    for k, (ta, tb) in enumerate(zip(a, b, strict=False)):
        for f in fields:
            where = f"{what}[{k}].{f}"
            if f in FLOAT_TRADE_FIELDS:
                report.number("trades", where, _trade_float(ta[f]), _trade_float(tb[f]))
            elif ta[f] != tb[f]:
                report.problem(f"{where}: {ta[f]!r} != {tb[f]!r}")


def _rel_array(a: FloatArray, b: FloatArray) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.maximum(np.abs(a), np.abs(b))
        d = np.where(a == b, 0.0, np.abs(a - b) / scale)
    d = np.where(np.isnan(a) & np.isnan(b), 0.0, d)
    out: FloatArray = np.where(np.isnan(d), np.inf, d)
    return out


def compare_equity(report: Report, a: FloatArray, b: FloatArray) -> None:
    if len(a) != len(b):
        report.problem(f"equity curve: length {len(a)} != {len(b)}")
        return
    report.floats_compared += len(a)
    if a.astype("<f8").tobytes() == b.astype("<f8").tobytes():
        report.max_rel["equity"] = max(report.max_rel.get("equity", 0.0), 0.0)
        return
    d = _rel_array(a, b)
    report.max_rel["equity"] = max(report.max_rel.get("equity", 0.0), float(d.max()))
    bad = np.flatnonzero(d > REL_TOL)
    for i in bad[:MAX_MESSAGES]:
        report.problem(f"equity[{i}]: {float(a[i])!r} != {float(b[i])!r} (relative {d[i]:.3g} > {REL_TOL:g})")
    if len(bad) > MAX_MESSAGES:
        report.problem(f"equity: {len(bad)} points beyond {REL_TOL:g}")
    differ = np.flatnonzero((a.view(np.uint64) != b.view(np.uint64)) & (d <= REL_TOL))
    for i in differ[:MAX_MESSAGES]:
        report.inexact.append(
            f"equity[{i}]: {float(a[i])!r} != {float(b[i])!r} (relative {d[i]:.3g}, within {REL_TOL:g})"
        )
    if len(differ) > MAX_MESSAGES:
        report.inexact.append(f"equity: {len(differ)} points not bit-identical")


def compare_metrics(report: Report, a: Mapping[str, Any], b: Mapping[str, Any]) -> None:
    if set(a) != set(b):
        report.problem(
            f"metrics keys differ: only in first {sorted(set(a) - set(b))}, second {sorted(set(b) - set(a))}"
        )
    for key in sorted(set(a) & set(b)):
        report.number("metrics", f"metrics[{key}]", _metric(a[key]), _metric(b[key]))


def _metric(v: Any) -> float | None:
    return None if v is None else float(v)


def compare_runs(case: Case, ref: RunOutput, other: RunOutput) -> Report:
    """Backend against backend: every `TRADE_SCHEMA` field of every trade and open position, the
    whole equity curve, every metric, the bar count."""
    report = Report(f"{case.strategy}/{case.id}: {other.backend} vs {ref.backend}")
    if ref.bars_processed != other.bars_processed:
        report.problem(f"bars_processed {ref.bars_processed} != {other.bars_processed}")
    compare_trade_lists(report, "trades", ref.trades, other.trades, TRADE_FIELDS)
    compare_trade_lists(report, "open_positions", ref.open_positions, other.open_positions, TRADE_FIELDS)
    compare_equity(report, ref.equity, other.equity)
    compare_metrics(report, ref.metrics, other.metrics)
    return report


# ------------------------------------------------------------------------------------------------
# golden files
# ------------------------------------------------------------------------------------------------
def _canon(v: Any) -> str:
    if isinstance(v, float):
        return v.hex()
    if v is None:
        return "null"
    if isinstance(v, list | tuple):
        return "[" + "|".join(_canon(x) for x in v) + "]"
    return repr(v)


def trades_digest(trades: Sequence[Mapping[str, Any]]) -> str:
    """sha256 of every `TRADE_SCHEMA` field of every trade (floats by their exact hex form)."""
    h = hashlib.sha256()
    for t in trades:
        h.update((",".join(_canon(t[f]) for f in TRADE_FIELDS) + "\n").encode())
    return h.hexdigest()


def _encode(v: Any) -> Any:
    """JSON-ready value: non-finite floats as the strings "NaN", "Infinity", "-Infinity"."""
    if isinstance(v, float) and not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    if isinstance(v, np.floating):
        return _encode(float(v))
    if isinstance(v, np.integer):
        return int(v)
    return v


def _decode(v: Any) -> Any:
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(v, v) if isinstance(v, str) else v


def equity_digest(equity: FloatArray) -> dict[str, Any]:
    """Length, first/last/min/max, sha256 of the little-endian float64 bytes, evenly spaced samples."""
    n = len(equity)
    idx = sorted({round(k * (n - 1) / (EQUITY_SAMPLES - 1)) for k in range(EQUITY_SAMPLES)}) if n else []
    return {
        "length": n,
        "first": _encode(float(equity[0])) if n else None,
        "last": _encode(float(equity[-1])) if n else None,
        "min": _encode(float(equity.min())) if n else None,
        "max": _encode(float(equity.max())) if n else None,
        "sha256": hashlib.sha256(equity.astype("<f8").tobytes()).hexdigest(),
        "samples": [[i, _encode(float(equity[i]))] for i in idx],
    }


def make_golden(case: Case, run: RunOutput) -> dict[str, Any]:
    """The golden record of a case (written from the reference backend's run)."""
    return {
        "format": GOLDEN_FORMAT,
        "strategy": case.strategy,
        "case": case.id,
        "generated_by": f"backend={run.backend!r}; rewrite with `{REGENERATE}`",
        "market": case.market.as_dict(),
        "config": case.config,
        "bars_processed": run.bars_processed,
        "trade_count": len(run.trades),
        "trades_sha256": trades_digest(run.trades),
        "trade_fields": list(GOLDEN_TRADE_FIELDS),
        "first_trades": [[_encode(t[f]) for f in GOLDEN_TRADE_FIELDS] for t in run.trades[:GOLDEN_FIRST_TRADES]],
        "open_position_count": len(run.open_positions),
        "open_positions_sha256": trades_digest(run.open_positions),
        "equity": equity_digest(run.equity),
        "metrics": {k: _encode(run.metrics[k]) for k in sorted(run.metrics)},
    }


def dump_golden(golden: Mapping[str, Any]) -> str:
    """Golden JSON text: one trade per line, metrics one per line, everything else compact."""
    parts: list[str] = []
    for key, value in golden.items():
        if key == "first_trades":
            rows = ",\n".join("  " + json.dumps(row) for row in value)
            body = f"[\n{rows}\n ]" if value else "[]"
        elif key == "metrics":
            body = json.dumps(value, indent=1, sort_keys=True, allow_nan=False).replace("\n", "\n ")
        else:
            body = json.dumps(value, sort_keys=True, allow_nan=False)
        parts.append(f" {json.dumps(key)}: {body}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def write_golden(case: Case, run: RunOutput) -> Path:
    path = case.golden_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_golden(make_golden(case, run)))
    return path


def load_golden(case: Case) -> dict[str, Any] | None:
    """The case's golden record, or None when the file does not exist."""
    path = case.golden_path
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def missing_golden_message(case: Case) -> str:
    return (
        f"no golden file {case.golden_path.relative_to(GOLDEN_DIR.parents[2])} for {case.strategy}/{case.id}: "
        f"write it from the reference backend with `{REGENERATE} --strategy {case.strategy}`, review and commit it"
    )


def compare_golden(case: Case, golden: Mapping[str, Any], run: RunOutput) -> Report:
    """A backend's run against the golden record (same rules as backend against backend)."""
    report = Report(f"{case.strategy}/{case.id}: {run.backend} vs golden {case.golden_path.name}")
    stale = f"the golden file is stale (the case matrix changed); rewrite it with `{REGENERATE}`"
    if golden.get("format") != GOLDEN_FORMAT:
        report.problem(f"golden format {golden.get('format')!r} != {GOLDEN_FORMAT}: {stale}")
        return report
    if golden["market"] != case.market.as_dict() or golden["config"] != case.config:
        report.problem(f"market or config differ from the case: {stale}")
        return report
    if golden["bars_processed"] != run.bars_processed:
        report.problem(f"bars_processed {golden['bars_processed']} != {run.bars_processed}")
    if golden["trade_count"] != len(run.trades):
        report.problem(f"trades: golden {golden['trade_count']} != {len(run.trades)}")
    fields = golden["trade_fields"]
    stored = [{f: _decode(v) for f, v in zip(fields, row, strict=True)} for row in golden["first_trades"]]
    if len(stored) != min(golden["trade_count"], GOLDEN_FIRST_TRADES):
        report.problem(f"golden file stores {len(stored)} trades of {golden['trade_count']}: {stale}")
    compare_trade_lists(report, "first trades", stored, run.trades[: len(stored)], fields)
    if golden["trades_sha256"] != trades_digest(run.trades):
        report.problem("digest of all trades (every field, exact) differs from the golden file")
    if golden["open_position_count"] != len(run.open_positions):
        report.problem(f"open positions: golden {golden['open_position_count']} != {len(run.open_positions)}")
    if golden["open_positions_sha256"] != trades_digest(run.open_positions):
        report.problem("digest of the open positions differs from the golden file")
    _compare_equity_digest(report, golden["equity"], run.equity)
    want = {k: _decode(v) for k, v in golden["metrics"].items()}
    compare_metrics(report, want, run.metrics)
    return report


def _compare_equity_digest(report: Report, want: Mapping[str, Any], equity: FloatArray) -> None:
    have = equity_digest(equity)
    if want["length"] != have["length"]:
        report.problem(f"equity length: golden {want['length']} != {have['length']}")
        return
    for key in ("first", "last", "min", "max"):
        report.number("equity", f"equity.{key}", _decode(want[key]), _decode(have[key]))
    if [i for i, _ in want["samples"]] != [i for i, _ in have["samples"]]:
        report.problem("equity sample indices differ")
    else:
        for (i, w), (_, h) in zip(want["samples"], have["samples"], strict=True):
            report.number("equity", f"equity[{i}]", _decode(w), _decode(h))
    if want["sha256"] != have["sha256"]:
        report.problem("sha256 of the equity curve (float64 bytes) differs from the golden file")
