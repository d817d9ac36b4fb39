"""MRZ parameters (spec mrz-strategy.md §2, §7 #12/#16/#17), the original-config converter, the §6
position manager and the §8 worked example of scenario 1."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
from omega.errors import InvalidConfigError
from omega.reference.cache import IndicatorCache, MarketHost
from omega.reference.engine import run_reference_backtest
from omega.reference.keys import IndicatorKey, PriceSide
from omega.reference.market import Market
from omega.reference.types import Candle, Close, DataSlice, Hold, Position
from omega_strategies_zscore.params import (
    MrzConfig,
    MrzConfigWarning,
    MrzParams,
    config_warnings,
    default_cluster_window,
    from_original_config,
    parse_config,
    parse_params,
)
from omega_strategies_zscore.reference import EVALUATION_ORDER, MeanReversionZScoreReference

BID = PriceSide.BID
ASK = PriceSide.ASK

# Config warnings are asserted in test_config_warnings; elsewhere they are expected noise.
pytestmark = pytest.mark.filterwarnings("ignore::omega_strategies_zscore.params.MrzConfigWarning")


def _fixture_dir() -> Path | None:
    """The MRZ fixtures of the original implementation, committed under ``tests/fixtures/mrz-original``."""
    cand = Path(__file__).resolve().parents[1] / "fixtures" / "mrz-original"
    return cand if (cand / "configs").exists() else None


FIXTURES = _fixture_dir()
needs_fixtures = pytest.mark.skipif(FIXTURES is None, reason="tests/fixtures/mrz-original missing (a partial checkout)")


def _original(name: str) -> dict[str, Any]:
    assert FIXTURES is not None
    data: dict[str, Any] = json.loads((FIXTURES / "configs" / f"{name}.json").read_text())
    return data


def _invalid(params: dict[str, Any]) -> InvalidConfigError:
    with pytest.raises(InvalidConfigError) as info:
        parse_params(params)
    assert info.value.code == "E4002"
    return info.value


# ------------------------------------------------------------------------------------------------
# defaults and ranges (§2)
# ------------------------------------------------------------------------------------------------
SPEC_DEFAULTS: dict[str, Any] = {
    "atr_length": 14,
    "atr_mult": 2.0,
    "b_b_length": 20,
    "std_factor": 2.0,
    "window_length": 100,
    "z_score_long": -2.5,
    "z_score_short": 2.5,
    "ema_length": 30,
    "kalman_r": 0.01,
    "kalman_q": 1.0,
    "tp_min_distance": 1.0,
    "use_position_manager": True,
    "max_holding_minutes": 30,
    "htf_tf": "D1",
    "htf_ema": 100,
    "htf_filter": "both",
    "extra_htf_tf": "AUTO",
    "extra_htf_ema": 50,
    "extra_htf_filter": "both",
    "garch_alpha": 0.05,
    "garch_beta": 0.90,
    "garch_omega": None,
    "garch_use_log_returns": True,
    "garch_scale": 100.0,
    "garch_min_periods": 50,
    "garch_sigma_floor": 1e-6,
    "local_z_lookback": 0,
    "intraday_vol_feature": "garch_forecast",
    "intraday_vol_cluster_window": None,
    "intraday_vol_cluster_k": 3,
    "intraday_vol_log_transform": True,
    "intraday_vol_min_points": 60,
    "intraday_vol_garch_lookback": 500,
    "cluster_hysteresis_bars": 0,
    "intraday_vol_allowed": ["low", "mid"],
    "scenario6_mode": "all",
    "scenario6_timeframes": [],
    "scenario6_params": {},
    "stale_bar_limit_bars": 0,
}


def test_defaults_are_the_spec_table() -> None:
    assert MrzParams().model_dump() == SPEC_DEFAULTS
    assert parse_params({}).model_dump() == SPEC_DEFAULTS
    assert parse_params(None) == MrzParams()
    cfg = parse_config({"symbol": "EURUSD", "timeframe": "h1"})
    assert cfg.timeframe == "H1"
    assert cfg.enabled_scenarios == [1, 2, 3, 4, 5, 6]
    assert cfg.direction_filter == "both"
    assert cfg.engine == {}


@pytest.mark.parametrize(
    ("tf", "window", "htf_b"),
    [
        ("M1", 200, "NONE"),
        ("M5", 300, "H1"),
        ("M15", 200, "H4"),
        ("M30", 240, "H4"),
        ("H1", 240, "NONE"),
        ("H4", 200, "NONE"),
        ("D1", 200, "NONE"),
    ],
)
def test_timeframe_dependent_defaults(tf: str, window: int, htf_b: str) -> None:
    p = MrzParams()
    assert default_cluster_window(tf) == window
    assert p.cluster_window(tf) == window
    assert p.htf_b_timeframe(tf) == htf_b
    assert parse_params({"intraday_vol_cluster_window": 7}).cluster_window(tf) == 7
    assert parse_params({"extra_htf_tf": "h4"}).htf_b_timeframe(tf) == "H4"


@pytest.mark.parametrize(
    ("key", "bad"),
    [
        ("atr_length", 0),
        ("atr_mult", -0.1),
        ("b_b_length", 1),
        ("std_factor", -1.0),
        ("window_length", 1),
        ("ema_length", 0),
        ("kalman_r", 0.0),
        ("kalman_q", -1e-9),
        ("tp_min_distance", -1.0),
        ("max_holding_minutes", 0),
        ("max_holding_minutes", -5),
        ("htf_ema", 0),
        ("extra_htf_ema", 0),
        ("garch_alpha", -0.1),
        ("garch_beta", -0.1),
        ("garch_scale", 0.0),
        ("garch_min_periods", -1),
        ("garch_sigma_floor", -1e-6),
        ("local_z_lookback", -1),
        ("intraday_vol_cluster_window", 0),
        ("intraday_vol_cluster_k", 0),
        ("intraday_vol_min_points", 0),
        ("cluster_hysteresis_bars", -1),
        ("stale_bar_limit_bars", -1),
        ("z_score_long", math.inf),
        ("z_score_short", math.nan),
    ],
)
def test_out_of_range_is_e4002_naming_the_key(key: str, bad: Any) -> None:
    err = _invalid({key: bad})
    assert err.context["key"] == f"params.{key}"
    assert key in str(err)


@pytest.mark.parametrize(
    ("key", "bad"),
    [
        ("atr_length", 14.5),  # integers must be whole numbers (14 or 14.0)
        ("atr_length", True),
        ("atr_length", "14"),
        ("atr_mult", "2.0"),
        ("atr_mult", False),
        ("use_position_manager", "false"),  # V1: bool("false") is True (§7 #17)
        ("use_position_manager", 0),
        ("garch_use_log_returns", "yes"),
        ("intraday_vol_log_transform", 1),
        ("htf_filter", "up"),  # unknown filter modes passed in V1 (§7 #17)
        ("extra_htf_filter", "long"),
        ("intraday_vol_feature", "atr"),  # V1 silently used GARCH (§7 #17)
        ("intraday_vol_allowed", "low"),  # V1 split a string into characters (§7 #17)
        ("intraday_vol_allowed", [1, 2]),
        ("htf_tf", "W1"),
        ("htf_tf", None),
        ("extra_htf_tf", "H2"),
        ("scenario6_timeframes", ["M30", "X"]),
        ("scenario6_timeframes", 30),
        ("scenario6_params", []),
        ("scenario6_params", {"M30": 5}),
        ("enabled_scenarios", 4),  # V1: a scalar enabled all six (§7 #17)
        ("enabled_scenarios", "1,2"),
        ("direction_filter", 1),
        ("garch_omega", "0.0"),
    ],
)
def test_strict_parsing(key: str, bad: Any) -> None:
    err = _invalid({key: bad})
    assert key in err.context["key"]


def test_unknown_key_is_e4002_naming_it() -> None:
    err = _invalid({"atr_lenght": 14})
    assert err.context["key"] == "params.atr_lenght"
    assert "atr_lenght" in str(err)
    assert isinstance(err, ValueError)
    with pytest.raises(InvalidConfigError, match="bogus"):
        parse_config({"symbol": "EURUSD", "timeframe": "M1", "bogus": 1})
    with pytest.raises(InvalidConfigError, match="must be an object"):
        MrzParams.model_validate([1, 2])


def test_whole_floats_and_empty_filter_timeframes() -> None:
    p = parse_params({"atr_length": 14.0, "max_holding_minutes": 300.0, "htf_tf": " ", "extra_htf_tf": ""})
    assert (p.atr_length, p.max_holding_minutes) == (14, 300)
    assert isinstance(p.atr_length, int)
    assert p.htf_tf == ""  # "" = not applied, like NONE (§3.3); the tag keeps the empty name
    assert p.htf_b_timeframe("M5") == ""


def test_original_layout_keys_inside_params_override_the_top_level() -> None:
    base: dict[str, Any] = {"symbol": "EURUSD", "timeframe": "M1", "enabled_scenarios": [1], "direction_filter": "long"}
    cfg = parse_config(base)
    assert cfg.scenarios() == [1]
    assert cfg.direction() == "long"
    cfg = parse_config({**base, "params": {"enabled_scenarios": [4, 2, 3.0, 4], "direction_filter": " SHORT"}})
    assert cfg.scenarios() == [2, 3, 4]
    assert cfg.direction_allowed("short")
    assert not cfg.direction_allowed("long")
    assert parse_config({**base, "params": {"enabled_scenarios": None}}).scenarios() == [1, 2, 3, 4, 5, 6]
    # Issue 13: no entry is silently dropped and nothing left is not "all" (V1 ignored them).
    for bad in ([], [0], [7], [9], [0, 7], [4, "2"], [True], ["x"], [2.5]):
        with pytest.raises(InvalidConfigError, match=r"params\.enabled_scenarios"):
            parse_config({**base, "params": {"enabled_scenarios": bad}})
    odd = parse_config({**base, "params": {"direction_filter": "sideways"}})  # §2: anything else = both
    assert odd.direction_allowed("long")
    assert odd.direction_allowed("short")
    assert parse_params({}).model_dump(exclude_unset=True) == {}


def test_normalisation() -> None:
    p = parse_params(
        {
            "htf_tf": " d1 ",
            "htf_filter": "ABOVE",
            "extra_htf_tf": "none",
            "extra_htf_filter": " Below",
            "intraday_vol_feature": "ATR_POINTS",
            "intraday_vol_allowed": [" Low", "MID "],
            "scenario6_mode": "ANY",
            "scenario6_timeframes": ["m30", "H1", "M30", "primary"],
            "garch_omega": 0,
            "max_holding_minutes": None,
            "intraday_vol_garch_lookback": -3,
        }
    )
    assert (p.htf_tf, p.htf_filter, p.extra_htf_tf, p.extra_htf_filter) == ("D1", "above", "NONE", "below")
    assert p.intraday_vol_feature == "atr_points"
    assert p.intraday_vol_allowed == ["low", "mid"]
    assert p.scenario6_mode == "any"
    assert p.scenario6_timeframes == ["M30", "H1", "PRIMARY"]
    assert p.s6_timeframes("H1") == ["M30", "H1"]  # PRIMARY resolved, duplicates removed keeping order
    assert p.s6_timeframes("M1") == ["M30", "H1", "M1"]
    assert p.garch_omega == 0.0
    assert p.max_holding_minutes is None
    assert p.garch_lookback() == 500  # ≤ 0 → 500
    assert parse_params({"scenario6_timeframes": "m30"}).scenario6_timeframes == ["M30"]


def test_enabled_scenarios_and_direction_filter() -> None:
    base = {"symbol": "EURUSD", "timeframe": "M1"}
    assert parse_config({**base, "enabled_scenarios": [4, 2]}).scenarios() == [2, 4]
    # the core's type (a non-empty list of integers >= 1) and MRZ's scenarios 1..6 (issue 13)
    for bad in (4, [-1], ["4"], [4.0], [True], None, [], [0], [7], [9], [0, 7], [7, 5]):
        with pytest.raises(InvalidConfigError, match="enabled_scenarios"):
            parse_config({**base, "enabled_scenarios": bad})
    for bad_df in ("up", "Long", None):
        with pytest.raises(InvalidConfigError, match="direction_filter"):
            parse_config({**base, "direction_filter": bad_df})
    cfg = parse_config({**base, "direction_filter": "short"})
    assert cfg.direction_allowed("short")
    assert not cfg.direction_allowed("long")
    bad_tops: list[dict[str, Any]] = [{"symbol": " "}, {"timeframe": "M2"}, {"engine": []}]
    for bad_top in bad_tops:
        with pytest.raises(InvalidConfigError):
            parse_config({**base, **bad_top})


# ------------------------------------------------------------------------------------------------
# scenario 6 parameters (§2, §7 #12)
# ------------------------------------------------------------------------------------------------
def test_s6_resolution_layers() -> None:
    p = parse_params(
        {
            "window_length": 100,
            "b_b_length": 20,
            "std_factor": 2.0,
            "z_score_long": -2.5,
            "z_score_short": 2.5,
            "scenario6_params": {
                "m30": {"window_length": 60, "std_factor": 1.5, "long": {"b_b_length": 16, "z_score_long": -1.0}},
                "PRIMARY": {"kalman_q": 0.5, "z_score": 0.7},
            },
            "scenario6_M30_long_window_length": 33,  # flattened key wins over nested values
            "SCENARIO6_m30_SHORT_Z_SCORE_SHORT": 1.25,
        }
    )
    long_m30 = p.s6_params_for("M30", "long", "H1")
    assert (long_m30.window_length, long_m30.b_b_length, long_m30.std_factor) == (33, 16, 1.5)
    assert long_m30.threshold == -1.0
    short_m30 = p.s6_params_for("M30", "short", "H1")
    # layered merge: the TF's flat keys stay in force next to a [TF][dir] created by a flattened key
    assert (short_m30.window_length, short_m30.b_b_length, short_m30.std_factor) == (60, 20, 1.5)
    assert short_m30.threshold == 1.25
    prim = p.s6_params_for("H1", "long", "H1")  # "PRIMARY" resolves to the primary TF
    assert prim.kalman_q == 0.5
    assert prim.threshold == 0.7
    assert p.s6_params_for("H1", "short", "H1").threshold == 0.7
    other = p.s6_params_for("H4", "short", "H1")  # no overrides → global values
    assert (other.window_length, other.b_b_length, other.threshold, other.kalman_r) == (100, 20, 2.5, 0.01)
    assert p.scenario6_flat["scenario6_M30_long_window_length"] == 33


def test_s6_z_score_beats_directional_threshold() -> None:
    p = parse_params({"scenario6_params": {"H1": {"long": {"z_score_long": -1.0, "z_score": -0.5}}}})
    assert p.s6_params_for("H1", "long", "M5").threshold == -0.5
    assert p.s6_params_for("H1", "short", "M5").threshold == 2.5


def test_s6_override_values_are_cast_as_v1_did() -> None:
    p = parse_params(
        {
            "scenario6_params": {
                "M30": {
                    "foo": 1,  # unknown override keys are ignored (§2)
                    "window_length": "12",
                    "b_b_length": 7.9,  # int(): truncated
                    "std_factor": "1.5",
                    "kalman_r": "bad",  # fails to cast → the global value
                    "kalman_q": True,
                    "long": {"z_score_long": "-0.75"},
                    "short": "not an object",  # ignored: only an object is a direction layer
                },
                "M7": {"window_length": 3},  # a name no chain TF has: never used
            },
            "scenario6_X9_long_window_length": 10,  # flattened key of an unknown TF: never used
        }
    )
    long_ = p.s6_params_for("M30", "long", "H1")
    assert (long_.window_length, long_.b_b_length, long_.std_factor) == (12, 7, 1.5)
    assert (long_.kalman_r, long_.kalman_q, long_.threshold) == (0.01, 1.0, -0.75)
    assert p.s6_params_for("M30", "short", "H1").threshold == 2.5
    assert p.s6_params_for("M30", "short", "H1").usable()
    negative = parse_params({"scenario6_params": {"H1": {"window_length": -5, "b_b_length": 1, "z_score": "x"}}})
    r = negative.s6_params_for("H1", "long", "M5")
    assert r.window_length == 100  # a negative length fails the cast → global
    assert r.b_b_length == 1
    assert not r.usable()  # a window below 2: this TF's check always fails
    assert r.threshold == -2.5  # z_score given but not a number → the global threshold


def test_s6_entries_for_the_same_tf_merge_in_sorted_key_order() -> None:
    p = parse_params({"scenario6_params": {"PRIMARY": {"window_length": 10}, "H1": {"window_length": 12}}})
    assert p.s6_params_for("H1", "long", "H1").window_length == 10  # "H1" < "PRIMARY": PRIMARY wins
    assert p.s6_params_for("H1", "long", "M30").window_length == 12
    q = parse_params({"scenario6_m30_long_window_length": 11, "scenario6_M30_long_window_length": 10})
    assert q.s6_params_for("M30", "long", "H1").window_length == 11  # "scenario6_M…" < "scenario6_m…"


@pytest.mark.parametrize(
    "params",
    [
        {"scenario6_params": {"M30": [1]}},
        {"scenario6_params": "M30"},
        {"scenario6_flat": {"not_a_flat_key": 1}},
        {"scenario6_flat": {"scenario6_M30_long_window_length": 1}, "scenario6_M30_long_b_b_length": 5},
        {"scenario6_timeframes": [5]},
    ],
)
def test_s6_structure_is_checked(params: dict[str, Any]) -> None:
    _invalid(params)


def test_params_round_trip() -> None:
    p = parse_params({"scenario6_H1_long_z_score": -1.0, "htf_filter": "Above", "garch_omega": 0.0})
    again = parse_params(p.model_dump())
    assert again == p
    dumped = p.model_dump(mode="json", exclude_unset=True)  # what omega.config hands to both backends
    assert dumped == {"scenario6_H1_long_z_score": -1.0, "htf_filter": "above", "garch_omega": 0.0}
    assert parse_params(dumped) == p


# ------------------------------------------------------------------------------------------------
# original configs
# ------------------------------------------------------------------------------------------------
@needs_fixtures
@pytest.mark.parametrize("name", ["class_defaults", "shipped", "relaxed"])
def test_original_configs_load(name: str) -> None:
    orig = _original(name)
    conv = from_original_config(copy.deepcopy(orig))
    cfg = parse_config(conv)
    assert cfg.symbol == "EURUSD"
    assert cfg.timeframe == "M1"
    assert conv["engine"] == {
        "htf_anchor": "new_york_1700",
        "sessions": [["23:00", "05:00"], ["15:00", "19:00"]],
        "cooldown_candles": 2,
        "cooldown_minutes": 5,
        "cooldown_minutes_trade": 5,
        "initial_balance": 100000.0,
        "risk_per_trade": 100.0,
        "account_currency": "USD",
        "start_time_us": 1609459200000000,  # 2021-01-01 00:00 UTC
    }
    assert cfg.params.stale_bar_limit_bars == 0
    assert cfg.enabled_scenarios == [1, 2, 3, 4, 5, 6]
    assert cfg.direction_filter == "both"
    if name == "class_defaults":
        assert cfg.params.model_dump() == SPEC_DEFAULTS
        assert "enabled_scenarios" not in conv
        return
    p = cfg.params
    assert (p.ema_length, p.atr_length, p.atr_mult, p.b_b_length, p.window_length) == (18, 14, 1.4, 48, 180)
    assert (p.kalman_q, p.kalman_r, p.htf_tf, p.htf_ema, p.extra_htf_tf, p.extra_htf_ema) == (
        1.3,
        0.546,
        "D1",
        75,
        "H4",
        100,
    )
    assert (p.garch_alpha, p.garch_beta, p.garch_omega, p.garch_min_periods, p.local_z_lookback) == (
        0.1,
        0.76,
        None,
        170,
        500,
    )
    assert (p.intraday_vol_cluster_window, p.intraday_vol_min_points, p.cluster_hysteresis_bars) == (150, 80, 1)
    assert (p.tp_min_distance, p.max_holding_minutes, p.use_position_manager) == (0.0003, 300, False)
    assert p.s6_timeframes("M1") == ["M30", "H1"]
    if name == "shipped":
        assert (p.std_factor, p.z_score_long, p.z_score_short, p.htf_filter) == (2.0, -0.31, 1.5, "above")
        assert p.s6_params_for("M30", "long", "M1").model_dump() == {
            "window_length": 60,
            "b_b_length": 16,
            "std_factor": 1.5,
            "kalman_r": 0.01,
            "kalman_q": 1.0,
            "threshold": -1.0,
        }
        assert p.s6_params_for("H1", "short", "M1").threshold == 1.1
    else:
        assert (p.std_factor, p.z_score_short, p.htf_filter) == (1.5, 0.8, "both")
        assert p.s6_params_for("H1", "long", "M1").window_length == 50
    warns = config_warnings(cfg)
    assert any("scenario 2 is enabled" in w for w in warns)


@needs_fixtures
def test_original_layout_errors_and_variants() -> None:
    orig = _original("shipped")
    with pytest.raises(InvalidConfigError, match="surprise"):
        from_original_config({**orig, "surprise": 1})
    with pytest.raises(InvalidConfigError, match="mode"):
        from_original_config({**orig, "mode": "tick"})
    with pytest.raises(InvalidConfigError, match="class"):
        from_original_config({**orig, "strategy": {**orig["strategy"], "class": "Other"}})
    with pytest.raises(InvalidConfigError, match=r"timestamp_alignment\.extra"):
        from_original_config({**orig, "timestamp_alignment": {"extra": 1}})
    bad_param = copy.deepcopy(orig)
    bad_param["strategy"]["parameters"]["enabled_scenarios"] = 4  # V1: scalar → all six; Omega: error
    with pytest.raises(InvalidConfigError, match="enabled_scenarios"):
        parse_config(from_original_config(bad_param))
    # flat V2 layout with `sessions` objects, stale limit, strategy-level session filter precedence
    params = dict(orig["strategy"]["parameters"])
    flat = {k: v for k, v in orig.items() if k not in ("strategy", "session_filter")}
    flat["strategy_parameters"] = {**params, "direction_filter": " LONG ", "enabled_scenarios": [4]}
    flat["sessions"] = [{"start": "07:00", "end": "09:30"}]
    flat["timestamp_alignment"] = {**orig["timestamp_alignment"], "stale_bar_limit_bars": 7}
    cfg = parse_config(from_original_config(flat))
    assert cfg.direction_filter == "long"
    assert cfg.enabled_scenarios == [4]
    assert cfg.engine["sessions"] == [["07:00", "09:30"]]
    assert cfg.params.stale_bar_limit_bars == 7
    both = copy.deepcopy(orig)
    both["strategy_parameters"] = {}
    with pytest.raises(InvalidConfigError, match="strategy_parameters"):
        from_original_config(both)
    over = copy.deepcopy(orig)
    over["strategy"]["session_filter"] = {"fixed_times": [["10:00", "11:00"]]}
    assert from_original_config(over)["engine"]["sessions"] == [["10:00", "11:00"]]
    empty = copy.deepcopy(orig)
    empty["session_filter"] = {"fixed_times": []}
    assert from_original_config(empty)["engine"].get("sessions", []) == []  # no windows = always open
    with pytest.warns(UserWarning, match="entry_timestamp_mode"):
        from_original_config({**orig, "timestamp_alignment": {"entry_timestamp_mode": "open"}})
    slip = from_original_config({**orig, "slippage": {"fixed_pips": 0.2}, "execution": {"random_seed": 7}})
    assert slip["engine"]["costs"] == {"slippage_fixed_pips": 0.2}
    assert slip["engine"]["seed"] == 7


# ------------------------------------------------------------------------------------------------
# §8 worked example and §6 position manager
# ------------------------------------------------------------------------------------------------
T0 = 1704153600_000_000  # 2024-01-02 00:00 UTC
HOUR = 3_600_000_000
BARS_8 = [  # bid O, H, L, C (mrz §8)
    (1.1000, 1.1005, 1.0995, 1.1000),
    (1.1000, 1.1015, 1.0995, 1.1010),
    (1.1010, 1.1025, 1.1005, 1.1020),
    (1.1020, 1.1025, 1.1005, 1.1010),
    (1.1010, 1.1025, 1.1005, 1.1020),
    (1.1020, 1.1035, 1.1015, 1.1030),
    (1.1030, 1.1035, 1.1015, 1.1020),
    (1.1020, 1.1025, 1.0975, 1.0980),
]
EXAMPLE_CONFIG: dict[str, Any] = {
    "symbol": "EURUSD",
    "timeframe": "H1",
    "enabled_scenarios": [1],
    "params": {
        "window_length": 5,
        "ema_length": 3,
        "atr_length": 3,
        "atr_mult": 2.0,
        "z_score_long": -1.5,
        "z_score_short": 1.5,
    },
}


def _example_market() -> Market:
    cols: dict[str, Any] = {}
    for side, add in (("bid", 0.0), ("ask", 0.0002)):
        for j, name in enumerate(("open", "high", "low", "close")):
            cols[f"{side}_{name}"] = [b[j] + add for b in BARS_8]
        cols[f"{side}_volume"] = [1.0] * len(BARS_8)
    return Market.from_columns("EURUSD", "H1", [T0 + i * HOUR for i in range(len(BARS_8))], **cols)


def _slice(m: Market, i: int) -> DataSlice:
    ts = m.timestamp_us[i]
    bid = Candle(ts, m.bid_open[i], m.bid_high[i], m.bid_low[i], m.bid_close[i], m.bid_volume[i])
    ask = Candle(ts, m.ask_open[i], m.ask_high[i], m.ask_low[i], m.ask_close[i], m.ask_volume[i])
    return DataSlice(m.symbol, m.timeframe, i, ts, bid, ask)


def test_worked_example_scenario1() -> None:
    market = _example_market()
    cache = IndicatorCache(MarketHost(market, "new_york_1700"))
    strat = MeanReversionZScoreReference()
    strat.on_init(copy.deepcopy(EXAMPLE_CONFIG))
    strat.prepare(cache)
    assert strat.primary_timeframe() == "H1"
    signals = {i: strat.evaluate(_slice(market, i), cache) for i in range(len(BARS_8))}
    assert [i for i, s in signals.items() if s is not None] == [5, 7]

    short = signals[5]
    assert short is not None
    assert (short.direction, short.entry_price, short.stop_loss, short.take_profit) == (
        "short",
        1.1030,
        1.10730,
        1.10228,
    )
    assert (short.reason, short.tags, short.scenario) == ("zscore_ema_short", ("zscore", "ema", "scenario1"), 1)
    long_ = signals[7]
    assert long_ is not None
    assert long_.direction == "long"
    assert long_.entry_price == market.ask_close[7]  # 1.0980 + 0.0002
    assert abs(long_.entry_price - 1.0982) < 1e-12
    assert (long_.stop_loss, long_.take_profit, long_.reason) == (1.09159, 1.10007, "zscore_ema_long")

    # the table's intermediate values (≤ 1e-9 absolute)
    ema = cache.series(IndicatorKey.ema(BID, 3))
    z = cache.series(IndicatorKey.zscore_ema(BID, 3, 5))
    atr_b = cache.series(IndicatorKey.atr(BID, 3))
    atr_a = cache.series(IndicatorKey.atr(ASK, 3))
    table = {
        2: (1.10125, None, 0.0016666667),
        4: (1.1015625, 1.2004900960, 0.0018518519),
        5: (1.10228125, 2.0425288958, 0.0019012346),
        6: (1.102140625, -0.3210193688, 0.0019341564),
        7: (1.1000703125, -1.8995952109, 0.0029561043),
    }
    for i, (e, zz, a) in table.items():
        assert abs(ema[i] - e) <= 1e-9
        if zz is None:
            assert math.isnan(z[i])
        else:
            assert abs(z[i] - zz) <= 1e-9
        assert abs(atr_b[i] - a) <= 1e-9
        assert abs(atr_a[i] - a) <= 1e-9
    assert all(math.isnan(z[i]) for i in range(4))


def test_worked_example_as_a_backtest() -> None:
    """§8 "as a backtest from bar 0": short at bar 5, TP exit at bar 6, long at bar 7 (still open)."""
    market = _example_market()
    candles: dict[str, Any] = {"timestamp_us": market.timestamp_us}
    for side in ("bid", "ask"):
        for f in ("open", "high", "low", "close", "volume"):
            candles[f"{side}_{f}"] = getattr(market, f"{side}_{f}")
    config = {**copy.deepcopy(EXAMPLE_CONFIG), "engine": {"close_at_end": False}}
    result = run_reference_backtest(MeanReversionZScoreReference, config, candles)
    assert len(result.trades) == 1
    short = result.trades[0]
    assert (short.direction, short.entry_index, short.exit_index) == ("short", 5, 6)
    assert (short.entry_price, short.exit_price, short.exit_reason) == (1.1030, 1.10228, "take_profit")
    assert (short.scenario, short.reason, short.tags) == (1, "zscore_ema_short", ("zscore", "ema", "scenario1"))
    assert len(result.open_positions) == 1
    long_ = result.open_positions[0]
    assert (long_.direction, long_.entry_index, long_.stop_loss, long_.take_profit) == ("long", 7, 1.09159, 1.10007)


def test_direction_filter_and_scenarios_gate_the_example() -> None:
    market = _example_market()
    cache = IndicatorCache(MarketHost(market))
    for direction, expected in (("long", [7]), ("short", [5]), ("both", [5, 7])):
        strat = MeanReversionZScoreReference()
        strat.on_init({**copy.deepcopy(EXAMPLE_CONFIG), "direction_filter": direction})
        got = [i for i in range(len(BARS_8)) if strat.evaluate(_slice(market, i), cache) is not None]
        assert got == expected
    strat = MeanReversionZScoreReference()
    strat.on_init({**copy.deepcopy(EXAMPLE_CONFIG), "enabled_scenarios": [2, 3, 4, 5, 6]})
    assert all(strat.evaluate(_slice(market, i), cache) is None for i in range(len(BARS_8)))


def test_evaluation_order_is_the_originals() -> None:
    assert [f"{d}_{n}" for n, d in EVALUATION_ORDER] == [
        "short_1",
        "long_1",
        "short_2",
        "long_2",
        "short_3",
        "long_3",
        "short_4",
        "long_4",
        "long_5",
        "short_5",
        "long_6",
        "short_6",
    ]


def _position(entry_time_us: int) -> Position:
    return Position(
        id=1,
        symbol="EURUSD",
        direction="long",
        entry_price=1.1,
        entry_time_us=entry_time_us,
        stop_loss=1.09,
        take_profit=1.11,
        lot_size=1.0,
        pnl_pips=0.0,
        pnl_usd=0.0,
        bars_held=1,
        entry_index=0,
    )


@pytest.mark.parametrize(
    ("params", "minutes_later", "expected"),
    [
        ({"max_holding_minutes": 300}, 299, Hold()),
        ({"max_holding_minutes": 300}, 300, Close("timeout")),
        ({"max_holding_minutes": 300}, 3000, Close("timeout")),
        ({}, 30, Close("timeout")),  # default 30 minutes, manager on by default
        ({}, 29, Hold()),
        ({"max_holding_minutes": 300, "use_position_manager": False}, 3000, Hold()),
        ({"max_holding_minutes": None}, 10**6, Hold()),
    ],
)
def test_position_manager_timeout(params: dict[str, Any], minutes_later: int, expected: object) -> None:
    market = _example_market()
    strat = MeanReversionZScoreReference()
    strat.on_init({"symbol": "EURUSD", "timeframe": "H1", "params": params})
    sl = _slice(market, 0)
    later = DataSlice(sl.symbol, sl.timeframe, 5, T0 + minutes_later * 60_000_000, sl.bid, sl.ask)
    assert strat.manage_position(_position(T0), later) == expected


def test_config_warnings() -> None:
    base: dict[str, Any] = {"symbol": "EURUSD", "timeframe": "H1"}
    assert config_warnings(parse_config({**base, "enabled_scenarios": [1, 4]})) == []
    msgs = config_warnings(
        parse_config(
            {
                **base,
                "enabled_scenarios": [2, 4, 5, 6],
                "params": {
                    "intraday_vol_allowed": [],
                    "garch_alpha": 0.3,
                    "garch_beta": 0.7,
                    "htf_tf": "M30",
                    "local_z_lookback": 10,
                },
            }
        )
    )
    text = " | ".join(msgs)
    for needle in (
        "scenarios [5, 6] can never fire",
        "intraday_vol_allowed is empty",
        "GARCH is unavailable",
        "htf_tf M30 cannot be built",
        "scenario6_timeframes is empty",
        "local z is never valid",
    ):
        assert needle in text
    s6 = config_warnings(
        parse_config(
            {
                **base,
                "enabled_scenarios": [6],
                "params": {"scenario6_timeframes": ["H4"], "scenario6_params": {"H4": {"long": {"window_length": 1}}}},
            }
        )
    )
    assert any("H4 long: a window below 2" in m for m in s6)
    strat = MeanReversionZScoreReference()
    with pytest.warns(MrzConfigWarning, match="intraday_vol_allowed"):
        strat.on_init({**base, "enabled_scenarios": [5], "params": {"intraday_vol_allowed": []}})


def test_config_model_is_the_strategy_view() -> None:
    strat = MeanReversionZScoreReference()
    with pytest.raises(InvalidConfigError, match=r"params\.atr_length"):
        strat.on_init({"symbol": "EURUSD", "timeframe": "H1", "params": {"atr_length": 0}})
    strat.on_init(copy.deepcopy(EXAMPLE_CONFIG))
    assert isinstance(strat.cfg, MrzConfig)
