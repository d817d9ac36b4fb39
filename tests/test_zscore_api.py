"""MRZ through the public API: config forms the spec allows reach both backends unchanged."""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import omega
import pytest


def test_flattened_scenario6_keys_reach_both_backends(zscore_plugin: str) -> None:
    """`scenario6_<TF>_<dir>_<key>` overrides (spec §2) are accepted by the params model and give the
    same trades on both backends; they change the result versus the global threshold."""
    market = omega.data.generate_market(20_000, seed=3)
    params = {
        "scenario6_timeframes": ["M5"],
        "z_score_long": -0.5,
        "z_score_short": 0.5,
        "htf_tf": "NONE",
        "extra_htf_tf": "NONE",
    }
    base = {"symbol": "EURUSD", "timeframe": "M1", "enabled_scenarios": [6], "params": params}
    flat = {**base, "params": {**params, "scenario6_M5_long_z_score": -2.0}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs = {b: omega.run_backtest(zscore_plugin, flat, market, backend=b) for b in ("rust", "python")}
        plain = omega.run_backtest(zscore_plugin, base, market, backend="rust")
    rust, python = runs["rust"], runs["python"]
    assert len(rust.trades) == len(python.trades) > 0
    keys = ["entry_index", "direction"]
    assert rust.trades.select(keys).equals(python.trades.select(keys))
    longs = [t for t in rust.trades.to_pylist() if t["direction"] == "long"]
    plain_longs = [t for t in plain.trades.to_pylist() if t["direction"] == "long"]
    assert len(longs) < len(plain_longs)  # the stricter per-TF long threshold took effect


def test_unknown_param_is_e4002_naming_the_key(zscore_plugin: str) -> None:
    market = omega.data.generate_market(2_000, seed=3)
    cfg = {"symbol": "EURUSD", "timeframe": "M1", "params": {"bogus_key": 1}}
    for backend in ("rust", "python"):
        with pytest.raises(omega.InvalidConfigError) as err:
            omega.run_backtest(zscore_plugin, cfg, market, backend=backend)
        assert err.value.code == "E4002"
        assert "params.bogus_key" in str(err.value)


@pytest.mark.parametrize("backend", ["rust", "python"])
def test_config_warnings_on_both_backends(zscore_plugin: str, backend: str) -> None:
    """Spec §7 #5: with scenario 2 enabled, scenario 3 can never fire — both backends warn."""
    from omega_strategies_zscore.params import MrzConfigWarning

    market = omega.data.generate_market(2_000, seed=3)
    cfg = {"symbol": "EURUSD", "timeframe": "M1", "enabled_scenarios": [2, 3]}
    with pytest.warns(MrzConfigWarning, match="can never fire"):
        omega.run_backtest(zscore_plugin, cfg, market, backend=backend)


def _mrz_runs(zscore_plugin: str, engine: dict[str, object], **top: object) -> list[dict[str, Any]]:
    market = omega.data.generate_market(30_000, seed=5)
    cfg = {"symbol": "EURUSD", "timeframe": "M1", "enabled_scenarios": [1], "engine": engine, **top}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs = [omega.run_backtest(zscore_plugin, cfg, market, backend=b) for b in ("rust", "python")]
    rust, python = runs
    assert [(t["entry_index"], t["exit_index"]) for t in rust.trades.to_pylist()] == [
        (t["entry_index"], t["exit_index"]) for t in python.trades.to_pylist()
    ]
    return list(rust.trades.to_pylist())


def test_session_window_blocks_entries_outside_it(zscore_plugin: str) -> None:
    """Entries only on bars whose close time (UTC) lies in the window; none when it excludes all."""
    free = _mrz_runs(zscore_plugin, {})
    windowed = _mrz_runs(zscore_plugin, {"sessions": [["08:00", "09:59"]]})
    assert len(free) > len(windowed) > 0
    for t in windowed:
        close_minute = ((t["entry_time_us"] + 60_000_000) // 60_000_000) % 1440
        assert 480 <= close_minute <= 599
    midnight = _mrz_runs(zscore_plugin, {"sessions": [["00:00", "00:00"]]})
    assert all(((t["entry_time_us"] + 60_000_000) // 60_000_000) % 1440 == 0 for t in midnight)
    assert len(midnight) < len(windowed)


def test_cooldown_spaces_entries(zscore_plugin: str) -> None:
    """`cooldown_candles` after a signal bar: consecutive entries are at least that many bars apart."""
    free = _mrz_runs(zscore_plugin, {})
    cooled = _mrz_runs(zscore_plugin, {"cooldown_candles": 400})
    assert len(free) > len(cooled) > 0
    entries = [t["entry_index"] for t in cooled]
    assert all(b - a >= 400 for a, b in itertools.pairwise(entries))


def test_direction_filter_blocks_the_other_side(zscore_plugin: str) -> None:
    both = _mrz_runs(zscore_plugin, {})
    longs = _mrz_runs(zscore_plugin, {}, direction_filter="long")
    assert {t["direction"] for t in both} == {"long", "short"}
    assert longs
    assert {t["direction"] for t in longs} == {"long"}
