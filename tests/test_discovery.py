"""Plugin discovery (`omega.plugins`, `omega.hookspecs`) and the native `STRATEGY_REGISTRY`:
entry-point discovery of the separately built test plugin, programmatic registration, validation
of what plugins return (clear E4002/E4007 naming the plugin), conflicts and idempotence."""

from __future__ import annotations

import inspect
import itertools
import sys
import warnings
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from types import ModuleType, SimpleNamespace
from typing import Any

import omega
import pyarrow as pa
import pytest
from omega import errors, hookspecs, plugins
from omega.hookspecs import StrategySpec, hookimpl
from omega.reference.strategy import Strategy
from omega.reference.types import DataSlice, TradeSignal
from pydantic import BaseModel, ConfigDict

_ids = itertools.count()


def unique(prefix: str) -> str:
    """A strategy name not used by any other test (the registries are process-wide)."""
    return f"{prefix}_{next(_ids)}"


class NeverTrades(Strategy):
    """A Python-only strategy that never signals."""

    name = "never_trades"

    def evaluate(self, slice: DataSlice, cache: Any) -> TradeSignal | None:
        return None

    def primary_timeframe(self) -> str:
        return "M1"


class NeverParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patience: int = 3


def make_plugin(*items: Any) -> Any:
    """A plugin object whose hook returns `items`."""

    class Plugin:
        @hookimpl
        def omega_register_strategies(self) -> list[Any]:
            return list(items)

    return Plugin()


# --- entry points ----------------------------------------------------------------------------------


def test_entry_point_discovery(sma_plugin: str, native: ModuleType) -> None:
    listed = {s["name"]: s for s in omega.list_strategies()}
    entry = listed[sma_plugin]
    assert entry == {
        "name": sma_plugin,
        "version": "0.1.0",
        "package": "omega-test-plugin",
        "backends": ["rust", "python"],
    }
    spec = omega.get_strategy(sma_plugin)
    assert spec.package == "omega-test-plugin"
    assert spec.params_model is not None
    assert spec.reference is not None
    assert type(spec.capsule).__name__ == "PyCapsule"
    info = native.STRATEGY_REGISTRY.get(sma_plugin)
    assert info["provider"] == "omega-test-plugin"
    assert info["version"] == "0.1.0"
    assert info["core_version"] == native.core_version()


def test_discovery_is_idempotent(sma_plugin: str, native: ModuleType) -> None:
    first = plugins.discover()
    size = len(native.STRATEGY_REGISTRY)
    second = plugins.discover(force=True)
    assert [s.name for s in first] == [s.name for s in second]
    assert len(native.STRATEGY_REGISTRY) == size
    # registering the same capsule again from the same provider is a no-op
    spec = omega.get_strategy(sma_plugin)
    assert native.register_plugin(spec.capsule, "omega-test-plugin") == sma_plugin
    assert len(native.STRATEGY_REGISTRY) == size


def test_registry_protocol(sma_plugin: str, native: ModuleType) -> None:
    reg = native.STRATEGY_REGISTRY
    assert sma_plugin in reg
    assert "no_such_strategy" not in reg
    assert 42 not in reg
    names = list(reg)
    assert names == sorted(names) == reg.names()
    assert len(reg) == len(names) >= 1
    assert reg.get("no_such_strategy") is None
    assert sma_plugin in repr(reg)


def test_native_conflict_from_another_provider(sma_plugin: str, native: ModuleType) -> None:
    spec = omega.get_strategy(sma_plugin)
    with pytest.raises(errors.InvalidConfigError, match="conflicts") as info:
        native.register_plugin(spec.capsule, "someone-else")
    assert info.value.code == "E4002"
    assert info.value.context["registered_by"] == "omega-test-plugin"
    assert native.STRATEGY_REGISTRY.get(sma_plugin)["provider"] == "omega-test-plugin"


def test_get_strategy_unknown_is_e4001() -> None:
    with pytest.raises(errors.StrategyNotFoundError, match="no_such_strategy") as info:
        omega.get_strategy("no_such_strategy")
    assert info.value.code == "E4001"
    assert isinstance(info.value.context["known"], list)


# --- programmatic registration -------------------------------------------------------------------


def test_python_only_plugin(market: pa.Table, monkeypatch: pytest.MonkeyPatch) -> None:
    name = unique("py_only")
    plugin = make_plugin(
        {"name": name, "version": "2.0", "package": "my-pkg", "reference": NeverTrades, "params_model": NeverParams}
    )
    specs = omega.register_plugin(plugin)
    assert [s.name for s in specs] == [name]
    assert omega.register_plugin(plugin) == specs  # the same object again: a no-op
    entry = next(s for s in omega.list_strategies() if s["name"] == name)
    assert entry == {"name": name, "version": "2.0", "package": "my-pkg", "backends": ["python"]}
    monkeypatch.delenv("OMEGA_USE_RUST_STRATEGY", raising=False)
    cfg = {"symbol": "EURUSD", "timeframe": "M1", "params": {"patience": 5}}
    result = omega.run_backtest(name, cfg, market.slice(0, 500))
    assert result.backend == "python"  # auto falls back to the only backend there is
    assert result.trades.num_rows == 0
    with pytest.raises(errors.StrategyNotFoundError, match="Rust"):
        omega.run_backtest(name, cfg, market.slice(0, 500), backend="rust")
    monkeypatch.setenv("OMEGA_USE_RUST_STRATEGY", "true")
    with pytest.raises(errors.StrategyNotFoundError):
        omega.run_backtest(name, cfg, market.slice(0, 500))
    with pytest.raises(errors.InvalidConfigError, match=r"params\.patiense"):
        omega.run_backtest(name, {**cfg, "params": {"patiense": 1}}, market.slice(0, 500), backend="python")


def test_module_plugin_and_strategy_spec_objects() -> None:
    name = unique("module_plugin")
    module = ModuleType("my_module_plugin")

    @hookimpl
    def omega_register_strategies() -> list[StrategySpec]:
        return [StrategySpec(name=name, version="1.0", reference=NeverTrades)]

    module.omega_register_strategies = omega_register_strategies  # type: ignore[attr-defined]
    specs = plugins.register_plugin(module)
    assert specs[0].package == "my_module_plugin"  # filled from the module when empty
    assert specs[0].backends == ["python"]


@pytest.mark.parametrize(
    ("item", "error", "needle"),
    [
        ({"name": "x", "version": "1", "reference": NeverTrades, "colour": "red"}, errors.InvalidConfigError, "colour"),
        ({"name": "bad name!", "version": "1", "reference": NeverTrades}, errors.InvalidConfigError, "name"),
        ({"name": "x", "version": "", "reference": NeverTrades}, errors.InvalidConfigError, "version"),
        ({"name": "x", "version": "1"}, errors.InvalidConfigError, "neither"),
        ({"name": "x", "version": "1", "capsule": "not a capsule"}, errors.PluginIncompatibleError, "PyCapsule"),
        ({"name": "x", "version": "1", "reference": dict}, errors.InvalidConfigError, "Strategy"),
        (
            {"name": "x", "version": "1", "reference": NeverTrades, "params_model": dict},
            errors.InvalidConfigError,
            "pydantic",
        ),
        ("just a string", errors.InvalidConfigError, "StrategySpec or dict"),
    ],
)
def test_invalid_specs_name_the_plugin(item: Any, error: type[errors.OmegaError], needle: str) -> None:
    plugin_name = unique("broken_plugin")
    with pytest.raises(error, match=needle) as info:
        omega.register_plugin(make_plugin(item), name=plugin_name)
    assert plugin_name in str(info.value)
    assert info.value.context["plugin"] == plugin_name


def test_hook_that_raises_or_returns_garbage() -> None:
    class Raises:
        @hookimpl
        def omega_register_strategies(self) -> list[Any]:
            raise KeyError("oops")

    class NotAList:
        @hookimpl
        def omega_register_strategies(self) -> Any:
            return SimpleNamespace()

    for obj, needle in ((Raises(), "raised KeyError"), (NotAList(), "must return a list")):
        plugin_name = unique("bad_hook")
        with pytest.raises(errors.InvalidConfigError, match=needle) as info:
            omega.register_plugin(obj, name=plugin_name)
        assert plugin_name in str(info.value)


def test_conflicting_packages_are_e4002() -> None:
    name = unique("contested")
    omega.register_plugin(make_plugin({"name": name, "version": "1", "package": "pkg-a", "reference": NeverTrades}))
    omega.register_plugin(make_plugin({"name": name, "version": "1", "package": "pkg-a", "reference": NeverTrades}))
    with pytest.raises(errors.InvalidConfigError, match="already registered") as info:
        omega.register_plugin(make_plugin({"name": name, "version": "1", "package": "pkg-b", "reference": NeverTrades}))
    assert info.value.context["registered_by"] == "pkg-a"
    assert omega.get_strategy(name).package == "pkg-a"


# --- the hook contract is documented code --------------------------------------------------------


def test_hookspec_contract() -> None:
    spec = hookspecs.omega_register_strategies
    doc = inspect.getdoc(spec) or ""
    for words in ("Arguments", "Returns", "When called", "firstresult: no"):
        assert words in doc
    opts = spec.omega_spec
    assert not opts.get("firstresult")
    assert hookspecs.PROJECT == "omega"
    pm = plugins.plugin_manager()
    assert pm.project_name == "omega"
    assert hasattr(pm.hook, "omega_register_strategies")


# --- a broken plugin disables nothing else; precedence is deterministic -----------------------------


@pytest.fixture
def fake_entry_points(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[EntryPoint]]:
    """Extra ``omega`` entry points (appended by the test) seen by discovery next to the installed
    ones; afterwards they are unregistered and discovery is rerun without them."""
    extra: list[EntryPoint] = []
    real = plugins._entry_points
    monkeypatch.setattr(plugins, "_entry_points", lambda: sorted([*real(), *extra], key=lambda e: (e.name, e.value)))
    yield extra
    monkeypatch.undo()
    pm = plugins.plugin_manager()
    for ep in extra:
        if pm.get_plugin(ep.name) is not None:
            pm.unregister(name=ep.name)
        plugins._collected.discard(ep.name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the installed plugins discover cleanly again
        plugins.discover(force=True)
    assert not any(f.plugin in {ep.name for ep in extra} for f in plugins.failures())


def _module(name: str, monkeypatch: pytest.MonkeyPatch, hook: Any) -> EntryPoint:
    """An importable module `name` whose `omega_register_strategies` is `hook`, as an entry point."""
    module = ModuleType(name)
    module.omega_register_strategies = hookimpl(hook)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, name, module)
    return EntryPoint(name=name, value=name, group=hookspecs.PROJECT)


def test_a_broken_entry_point_disables_nothing_else(
    sma_plugin: str, market: pa.Table, monkeypatch: pytest.MonkeyPatch, fake_entry_points: list[EntryPoint]
) -> None:
    def raising() -> list[Any]:
        raise KeyError("oops")

    fake_entry_points += [
        EntryPoint(name="aa_import_fails", value="omega_no_such_module_xyz", group=hookspecs.PROJECT),
        _module("ab_hook_raises", monkeypatch, raising),
    ]
    with pytest.warns(plugins.PluginDiscoveryWarning) as warned:
        specs = plugins.discover(force=True)
    assert {str(w.message).split("'")[1] for w in warned} == {"aa_import_fails", "ab_hook_raises"}
    assert sma_plugin in {s.name for s in specs}
    failed = {f.plugin: f for f in plugins.failures()}
    assert failed["aa_import_fails"].code == "E4007"
    assert "ModuleNotFoundError" in failed["aa_import_fails"].message
    assert failed["ab_hook_raises"].code == "E4002"
    assert "raised KeyError" in failed["ab_hook_raises"].message
    assert failed["ab_hook_raises"].package == "ab_hook_raises"
    # discovery is done: no new warning, no error, healthy strategies run
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plugins.discover()
        assert sma_plugin in {s["name"] for s in omega.list_strategies()}
        cfg = {"symbol": "EURUSD", "timeframe": "M1", "params": {"fast": 5, "slow": 20}}
        assert omega.run_backtest(sma_plugin, cfg, market.slice(0, 1000), backend="rust").backend == "rust"


def test_warnings_as_errors_cannot_undo_discovery(
    sma_plugin: str, monkeypatch: pytest.MonkeyPatch, fake_entry_points: list[EntryPoint]
) -> None:
    fake_entry_points.append(EntryPoint(name="ac_import_fails", value="omega_no_such_module_q", group="omega"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", plugins.PluginDiscoveryWarning)
        with pytest.raises(plugins.PluginDiscoveryWarning):
            plugins.discover(force=True)
        assert [f.plugin for f in plugins.failures() if f.plugin == "ac_import_fails"] == ["ac_import_fails"]
        plugins.discover()  # done: the failure is reported once
        assert sma_plugin in {s.name for s in plugins.discover()}


def test_entry_points_take_names_before_programmatic_registrations(
    monkeypatch: pytest.MonkeyPatch, fake_entry_points: list[EntryPoint]
) -> None:
    contested = unique("contested_ep")
    spec = {"name": contested, "version": "1", "reference": NeverTrades}
    fake_entry_points += [
        _module("ba_first_pkg", monkeypatch, lambda: [{**spec, "package": "first-pkg"}]),
        _module("bb_second_pkg", monkeypatch, lambda: [{**spec, "package": "second-pkg"}]),
    ]
    # A squatter registered before discovery has run: discovery runs first, the entry point wins.
    monkeypatch.setattr(plugins, "_discovered", False)
    with (
        pytest.warns(plugins.PluginDiscoveryWarning, match="bb_second_pkg"),
        pytest.raises(errors.InvalidConfigError, match="already registered") as info,
    ):
        omega.register_plugin(make_plugin({**spec, "package": "squatter"}))
    assert info.value.context["registered_by"] == "first-pkg"
    assert omega.get_strategy(contested).package == "first-pkg"  # sorted entry-point order decides
    second = next(f for f in plugins.failures() if f.plugin == "bb_second_pkg")
    assert second.code == "E4002"
    assert "first-pkg" in second.message
