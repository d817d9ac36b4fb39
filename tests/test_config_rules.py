"""One table of config rules, checked against the other side (issue 13, docs/config.md).

The pydantic models (`omega.config.BacktestConfig`, MRZ's `MrzParams`) are the table both Python
paths use (the API and the reference backend); the Rust serde types (`omega_core::config`, MRZ's
`params.rs`) serve direct native calls. These tests walk every key of the Python table, derive
probes from its types, bounds and defaults, and require the native side to give the same verdict
(accept, or reject with E4002) for each, so a key added on one side only, or a bound that differs,
fails here.
"""

from __future__ import annotations

import copy
import json
import math
import types
import typing
import warnings
from collections.abc import Iterator
from typing import Any

import annotated_types
import omega
import pyarrow as pa
import pytest
from omega.config import (
    MAX_CONFIG_DEPTH,
    WHITESPACE,
    BacktestConfig,
    normalize_config,
    parse_hhmm,
)
from omega.errors import InvalidConfigError, OmegaError
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

BASE: dict[str, Any] = {"symbol": "EURUSD", "timeframe": "M1"}

# Values every leaf is probed with: each JSON type, integer/float edges, near-misses of text.
COMMON_PROBES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2,
    7,
    1.0,
    0.5,
    -0.5,
    1e-300,
    1e300,
    2**31,
    2**32 - 1,
    2**32,
    2**53 + 1,
    2**63 - 1,
    2**63,
    2**64 - 1,
    2**64,
    -(2**63),
    -(2**63) - 1,
    2**70,
    10**30,
    "",
    "100",
    "yes",
    "USD",
    "utc",
    [],
    {},
    ["08:00", "09:00"],
]


def _leaves(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], FieldInfo]]:
    for name, field in model.model_fields.items():
        sub = _submodel(field.annotation)
        if sub is not None:
            yield (*prefix, name), field
            yield from _leaves(sub, (*prefix, name))
        else:
            yield (*prefix, name), field


def _submodel(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _constraint_probes(field: FieldInfo) -> list[Any]:
    """Values at and just beyond every bound of `field`, and each literal choice with a near miss."""
    out: list[Any] = []
    metadata = list(field.metadata)
    for arg in _flat_args(field.annotation):
        metadata.extend(getattr(arg, "__metadata__", ()))
        for m in getattr(arg, "__metadata__", ()):
            metadata.extend(getattr(m, "metadata", ()))
    for m in metadata:
        for attr in ("gt", "ge", "lt", "le"):
            bound = getattr(m, attr, None)
            if isinstance(bound, int | float) and not isinstance(bound, bool):
                if isinstance(bound, int):
                    out += [bound - 1, bound, bound + 1]
                out += [float(bound), math.nextafter(float(bound), -math.inf), math.nextafter(float(bound), math.inf)]
        if isinstance(m, annotated_types.MinLen | annotated_types.MaxLen):
            n = getattr(m, "min_length", None) or getattr(m, "max_length", 0)
            out += [["08:00"] * max(n - 1, 0), ["08:00"] * n, ["08:00"] * (n + 1)]
    for arg in _flat_args(field.annotation):
        if typing.get_origin(arg) is typing.Literal:
            for choice in typing.get_args(arg):
                out += [choice, choice.upper(), f" {choice}", choice[:-1]]
    return out


def _flat_args(annotation: Any) -> Iterator[Any]:
    yield annotation
    for arg in typing.get_args(annotation):
        yield from _flat_args(arg)


def _with(config: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(config)
    node = out
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return out


def _python_verdict(config: dict[str, Any]) -> str:
    try:
        BacktestConfig.model_validate(config)
    except ValidationError:
        return "E4002"
    return "ok"


def _native_verdict(native: types.ModuleType, config: dict[str, Any]) -> str:
    try:
        text = json.dumps(config, allow_nan=False)
    except ValueError:
        return "E4002"
    try:
        native.StrategyConfig.from_json(text)
    except OmegaError as e:
        return e.code
    return "ok"


def test_defaults_and_key_set_agree(native: types.ModuleType) -> None:
    """Every key and every default of the Python table is the native one (and no key is missing)."""
    python = BacktestConfig.model_validate(BASE).to_dict()
    rust = json.loads(native.StrategyConfig.from_json(json.dumps(BASE)).to_json())
    assert python == rust


def test_every_key_type_and_bound_agrees(native: types.ModuleType) -> None:
    """Each leaf key × (every JSON type, integer/float edges, every bound ± one step, every literal)."""
    checked = 0
    disagreements: list[str] = []
    for path, field in _leaves(BacktestConfig):
        base = {k: v for k, v in BASE.items() if (k,) != path}  # the probed key's own value goes
        for value in [*COMMON_PROBES, *_constraint_probes(field)]:
            cfg = _with(base, path, value)
            py, rs = _python_verdict(cfg), _native_verdict(native, cfg)
            checked += 1
            if py != rs:
                disagreements.append(f"{'.'.join(path)}={value!r}: python {py}, rust {rs}")
    assert not disagreements, "\n".join(disagreements)
    assert checked > 1000


def test_whitespace_and_hhmm_rules_agree(native: types.ModuleType) -> None:
    """The trim of names and session times is one rule: every code point up to U+3000 around a value."""
    disagreements = []
    for cp in [*range(0, 0x2100), 0x202F, 0x205F, 0x3000, 0xFEFF]:
        c = chr(cp)
        if 0xD800 <= cp <= 0xDFFF:
            continue
        for cfg in (
            {**BASE, "timeframe": f"{c}m1{c}"},
            {**BASE, "engine": {"sessions": [[f"{c}8:00{c}", "09:00"]]}},
        ):
            py, rs = _python_verdict(cfg), _native_verdict(native, cfg)
            if py != rs:
                disagreements.append(f"U+{cp:04X} {cfg}: python {py}, rust {rs}")
    assert not disagreements, "\n".join(disagreements[:20])
    assert all(c in WHITESPACE for c in " \t\u3000")
    assert parse_hhmm("\x1c08:00") is None  # Python's str.strip() would take it, Rust's trim does not


def test_depth_limit_is_one_number(native: types.ModuleType) -> None:
    """Nesting up to MAX_CONFIG_DEPTH is accepted by both sides, one level more by neither."""

    def nested(levels: int) -> dict[str, Any]:
        value: Any = 1
        for _ in range(levels - 2):  # the config is level 1, params level 2
            value = [value]
        return {**BASE, "params": {"x": value}}

    for levels, verdict in ((MAX_CONFIG_DEPTH, "ok"), (MAX_CONFIG_DEPTH + 1, "E4002"), (200, "E4002")):
        cfg = nested(levels)
        assert _python_verdict(cfg) == verdict, levels
        assert _native_verdict(native, cfg) == verdict, levels


# --- MRZ: the pydantic `MrzParams` against the Rust reader of params.rs ----------------------------


def _mrz_python_verdict(config: dict[str, Any]) -> str:
    from omega_strategies_zscore.params import parse_config

    try:
        parse_config(config)
    except InvalidConfigError:
        return "E4002"
    return "ok"


def _mrz_native_verdict(native: types.ModuleType, config: dict[str, Any], bars: pa.Table) -> str:
    try:
        text = json.dumps(config, allow_nan=False)
    except ValueError:
        return "E4002"
    try:
        cfg = native.StrategyConfig.from_json(text)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            native.run_backtest_rust("mean_reversion_z_score", cfg, bars, None)
    except OmegaError as e:
        return "E4002" if e.code == "E4002" else "ok"  # only the params verdict is compared here
    return "ok"


MRZ_PROBES: list[Any] = [
    None,
    True,
    0,
    1,
    2,
    -1,
    1.0,
    2.0,
    2.5,
    -0.5,
    2**63 - 1,
    2**63,
    2**64,
    10**30,
    9.0e15,
    1e300,
    "",
    "2",
    "D1",
    "none",
    "AUTO",
    "any",
    "garch_forecast",
    "above",
    [],
    ["low"],
    ["H1"],
    [1],
    [0],
    [7],
    {},
]


def test_mrz_params_every_key_agrees(native: types.ModuleType, zscore_plugin: str) -> None:
    """Every MRZ parameter × probe values: the pydantic model and the Rust reader agree."""
    from omega_strategies_zscore.params import MrzParams

    bars = omega.data.generate_market(300, seed=5)
    base = {**BASE, "enabled_scenarios": [1], "params": {"htf_tf": "NONE"}}
    disagreements = []
    for name in MrzParams.model_fields:
        if name == "scenario6_flat":
            continue  # not a key: holds the flattened `scenario6_<TF>_<dir>_<key>` keys
        for value in MRZ_PROBES:
            cfg = _with(base, ("params", name), value)
            py, rs = _mrz_python_verdict(cfg), _mrz_native_verdict(native, cfg, bars)
            if py != rs:
                disagreements.append(f"params.{name}={value!r}: python {py}, rust {rs}")
    for value in ([], [0], [7], [9], [1, 7], [6]):
        cfg = {**base, "enabled_scenarios": value}
        py = "E4002" if _python_verdict(cfg) == "E4002" else _mrz_python_verdict(cfg)
        rs = _mrz_native_verdict(native, cfg, bars)
        if py != rs:
            disagreements.append(f"enabled_scenarios={value!r}: python {py}, rust {rs}")
    assert not disagreements, "\n".join(disagreements)


# --- messages -----------------------------------------------------------------------------------


def test_unknown_key_lists_valid_keys_and_suggests() -> None:
    with pytest.raises(InvalidConfigError) as e:
        normalize_config({**BASE, "engine": {"risk_per_trad": 10.0}})
    assert e.value.code == "E4002"
    assert "engine.risk_per_trad" in str(e.value)
    assert "did you mean 'risk_per_trade'" in str(e.value)
    assert "initial_balance" in str(e.value)  # the valid keys are listed
    assert "risk_per_trade" in e.value.context["suggestions"]

    with pytest.raises(InvalidConfigError) as e:
        normalize_config({**BASE, "timeframes": "M1"})
    assert "did you mean 'timeframe'" in str(e.value)


def test_unknown_mrz_param_suggests(zscore_plugin: str) -> None:
    with pytest.raises(InvalidConfigError) as e:
        omega.run_backtest(zscore_plugin, {**BASE, "params": {"atr_lenght": 14}}, omega.data.generate_market(50))
    assert e.value.code == "E4002"
    assert "params.atr_lenght" in str(e.value)
    assert "did you mean 'atr_length'" in str(e.value)
    assert "window_length" in str(e.value)
