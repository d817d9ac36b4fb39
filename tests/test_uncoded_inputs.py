"""Inputs that used to escape as uncoded Python exceptions (issue 13 item 4, docs/errors.md "Every
input and its code"): each now gets its coded error, the same on both backends.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from types import ModuleType
from typing import Any

import omega
import pyarrow as pa
import pytest
from omega.config import MAX_CONFIG_DEPTH, normalize_config
from omega.errors import InsufficientDataError, InvalidConfigError

BACKENDS = ("rust", "python")


@pytest.fixture(autouse=True)
def _plugins(sma_plugin: str, zscore_plugin: str) -> None:
    """The test plugin and MRZ, each on both backends (skip/fail when missing)."""


def sma(**extra: Any) -> dict[str, Any]:
    return {"symbol": "EURUSD", "timeframe": "M1", "params": {"fast": 5, "slow": 20}, **extra}


def nested(levels: int) -> Any:
    """`levels` dicts inside each other around a number."""
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("levels", [200, 900, 5_000])
def test_deeply_nested_config_values_are_e4002(backend: str, levels: int, sma_plugin: str, market: pa.Table) -> None:
    """Was PydanticSerializationError (~900 levels in params) or RecursionError."""
    for cfg in (sma(params={"fast": 5, "slow": 20, "deep": nested(levels)}), sma(engine={"sessions": nested(levels)})):
        with pytest.raises(InvalidConfigError, match=r"nested (more|deeper) than") as e:
            omega.run_backtest(sma_plugin, cfg, market, backend=backend)
        # the key named is the dotted path to where the nesting passes the limit
        assert str(e.value.context["key"]).split(".")[0] in ("params", "engine")


@pytest.mark.parametrize("backend", BACKENDS)
def test_json_text_nested_5000_deep_is_e4002(backend: str, sma_plugin: str, market: pa.Table) -> None:
    """Was RecursionError from the JSON parser."""
    text = '{"symbol": "EURUSD", "timeframe": "M1", "params": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}"
    with pytest.raises(InvalidConfigError, match="nested") as e:
        omega.run_backtest(sma_plugin, text, market, backend=backend)
    assert e.value.code == "E4002"


def test_nesting_limit_is_the_native_parsers(native: ModuleType) -> None:
    """Python accepts exactly the configs the Rust side can read: the same deepest level."""
    for levels in range(MAX_CONFIG_DEPTH - 4, MAX_CONFIG_DEPTH + 3):
        cfg = {"symbol": "EURUSD", "timeframe": "M1", "params": {"x": nested(levels)}}  # levels + 2 deep
        try:
            native.StrategyConfig.from_json(json.dumps(cfg))
            native_ok = True
        except InvalidConfigError:
            native_ok = False
        try:
            normalize_config(cfg)
            python_ok = True
        except InvalidConfigError:
            python_ok = False
        assert python_ok == native_ok == (levels + 2 <= MAX_CONFIG_DEPTH), levels


@pytest.mark.parametrize("bad", [1, 1.5, b"rust", ["rust"], object()])
def test_backend_of_the_wrong_type_is_e4002(bad: Any, sma_plugin: str, market: pa.Table) -> None:
    """Was AttributeError (`backend=1`)."""
    for call in (
        lambda: omega.run_backtest(sma_plugin, sma(), market, backend=bad),
        lambda: omega.scan_signals(sma_plugin, sma(), market, backend=bad),
        lambda: omega.sweep(sma_plugin, sma(), {"params.fast": [5]}, market, backend=bad, progress=False),
    ):
        with pytest.raises(InvalidConfigError, match="backend") as e:
            call()
        assert e.value.context["key"] == "backend"


class RaisingExporter:
    """An Arrow C stream exporter whose export fails (a buggy third-party container)."""

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        raise RuntimeError("exporter broke")


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_arrow_exporter_that_raises_is_e4004_on_both_backends(backend: str, sma_plugin: str) -> None:
    """Was passed through on the Python backend, E4004 on Rust."""
    with pytest.raises(InsufficientDataError, match="exporter broke") as e:
        omega.run_backtest(sma_plugin, sma(), RaisingExporter(), backend=backend)
    assert e.value.code == "E4004"


@pytest.mark.parametrize("scenarios", [[-1], [2**32], [1.5], ["1"], "12", 7])
def test_native_strategy_config_scenarios_out_of_range_are_e4002(native: ModuleType, scenarios: Any) -> None:
    """Was OverflowError (`StrategyConfig(enabled_scenarios=[-1])`) or TypeError."""
    with pytest.raises(InvalidConfigError) as e:
        native.StrategyConfig("EURUSD", "M1", enabled_scenarios=scenarios)
    assert e.value.context["key"] == "enabled_scenarios"
    cfg = native.StrategyConfig("EURUSD", "M1")
    with pytest.raises(InvalidConfigError):
        cfg.enabled_scenarios = scenarios
    assert cfg.enabled_scenarios == [1, 2, 3, 4, 5, 6], "a refused assignment changes nothing"


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"symbol": 1, "timeframe": "M1"}, "symbol"),
        ({"symbol": "EURUSD", "timeframe": None}, "timeframe"),
        ({"symbol": "EURUSD", "timeframe": "M1", "direction_filter": 3}, "direction_filter"),
        ({"symbol": "EURUSD", "timeframe": "M1", "params": [1]}, "params"),
        ({"symbol": "EURUSD", "timeframe": "M1", "engine": "fast"}, "engine"),
    ],
)
def test_native_strategy_config_wrong_types_are_e4002(native: ModuleType, kwargs: dict[str, Any], key: str) -> None:
    with pytest.raises(InvalidConfigError) as e:
        native.StrategyConfig(**kwargs)
    assert e.value.context["key"] == key


@pytest.mark.parametrize("backend", BACKENDS)
def test_scenarios_out_of_range_are_e4002_on_both_backends(backend: str, sma_plugin: str, market: pa.Table) -> None:
    with pytest.raises(InvalidConfigError) as e:
        omega.run_backtest(sma_plugin, sma(enabled_scenarios=[-1]), market, backend=backend)
    assert e.value.context["key"] in ("enabled_scenarios", "enabled_scenarios.0")


WARNINGS_AS_ERRORS = textwrap.dedent(
    """
    import omega
    from omega.data import generate_market

    market = generate_market(3_000, seed=2)
    # scenario 2 makes scenarios 3 unreachable: MRZ warns (MrzConfigWarning, a UserWarning)
    config = {{
        "symbol": "EURUSD", "timeframe": "M1", "enabled_scenarios": [2, 3],
        "params": {{"z_score_long": -2.0, "z_score_short": 2.0, "window_length": 60, "htf_tf": "NONE"}},
    }}
    for backend in ("rust", "python"):
        for what, call in (
            ("run", lambda: omega.run_backtest({name!r}, config, market, backend=backend)),
            ("sweep", lambda: omega.sweep({name!r}, config, {{"params.window_length": [50]}}, market,
                                          backend=backend, progress=False)),
        ):
            try:
                call()
                print(backend, what, "ran")
            except BaseException as e:
                print(backend, what, type(e).__name__, getattr(e, "code", None), e.context.get("warning"))
    """
)


def test_warnings_as_errors_give_the_same_code_on_both_backends(zscore_plugin: str) -> None:
    """Under ``python -W error::UserWarning`` the Rust backend raised a bare MrzConfigWarning and
    the Python backend E4008 "panicked"; both now report E4002 naming the warning."""
    script = WARNINGS_AS_ERRORS.format(name=zscore_plugin)
    proc = subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "-c", script], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split("\n")
    for backend in BACKENDS:
        for what in ("run", "sweep"):
            assert f"{backend} {what} InvalidConfigError E4002 MrzConfigWarning" in lines, proc.stdout
    # without -W error the same config runs (with the warning)
    plain = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert plain.stdout.count(" ran") == 4, plain.stdout + plain.stderr
