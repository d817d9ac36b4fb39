"""MRZ through the public API: config forms the spec allows reach both backends unchanged."""

from __future__ import annotations

import warnings

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
    assert [(t.entry_index, t.direction) for t in rust.trades] == [(t.entry_index, t.direction) for t in python.trades]
    longs = [t for t in rust.trades if t.direction == "long"]
    plain_longs = [t for t in plain.trades if t.direction == "long"]
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
