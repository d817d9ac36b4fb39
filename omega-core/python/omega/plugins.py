"""Strategy discovery and the Python-side registry.

Plugins are found through the entry-point group ``"omega"`` (loaded with pluggy), or registered
programmatically with `register_plugin`. Each plugin's `omega_register_strategies` is called once;
its specs are validated, and Rust capsules are handed to ``_native.register_plugin``, which checks
the ABI and fills ``_native.STRATEGY_REGISTRY``. Discovery is idempotent and thread-safe.
"""

from __future__ import annotations

import threading
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

import pluggy

from omega import hookspecs
from omega.errors import InvalidConfigError, OmegaError, PluginIncompatibleError, StrategyNotFoundError
from omega.hookspecs import PROJECT, StrategySpec

_lock = threading.RLock()
_pm: pluggy.PluginManager | None = None
_specs: dict[str, StrategySpec] = {}
_providers: dict[str, str] = {}  # strategy name -> plugin name that registered it
_collected: set[str] = set()
_discovered = False


def plugin_manager() -> pluggy.PluginManager:
    """The process-wide pluggy manager of project ``"omega"`` (hookspecs added)."""
    global _pm
    with _lock:
        if _pm is None:
            pm = pluggy.PluginManager(PROJECT)
            pm.add_hookspecs(hookspecs)
            _pm = pm
        return _pm


def _entry_point_packages() -> dict[str, str]:
    out: dict[str, str] = {}
    for ep in entry_points(group=PROJECT):
        dist = getattr(ep, "dist", None)
        out[ep.name] = dist.name if dist is not None else ep.value.split(".")[0].split(":")[0]
    return out


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    try:
        pm.load_setuptools_entrypoints(PROJECT)
    except OmegaError:
        raise
    except Exception as e:  # name the entry point that failed to import
        failing = "?"
        for ep in entry_points(group=PROJECT):
            if pm.get_plugin(ep.name) is None and not pm.is_blocked(ep.name):
                try:
                    ep.load()
                except Exception:
                    failing = f"{ep.name} = {ep.value}"
                    break
        raise PluginIncompatibleError(
            f"cannot load omega plugin entry point '{failing}': {type(e).__name__}: {e}",
            {"plugin": failing},
        ) from e


def _package_of(plugin: object) -> str:
    module = plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__module__
    return module.split(".")[0]


def _register_native(spec: StrategySpec, plugin: str) -> None:
    from omega.bridge import _get_rust_module

    rust = _get_rust_module()
    if rust is None or spec.capsule is None:
        return
    registered = rust.register_plugin(spec.capsule, spec.package or plugin)
    if registered != spec.name:
        raise InvalidConfigError(
            f"plugin '{plugin}': its capsule provides strategy '{registered}' but the spec names '{spec.name}'",
            {"plugin": plugin, "strategy": spec.name, "capsule_strategy": registered},
        )


def _collect_one(impl: Any, package: str) -> None:
    """Call one plugin's hook, validate everything it returns, then register it (all or nothing)."""
    plugin = impl.plugin_name
    try:
        items = impl.function()
    except OmegaError:
        raise
    except Exception as e:
        raise InvalidConfigError(
            f"plugin '{plugin}': omega_register_strategies raised {type(e).__name__}: {e}",
            {"plugin": plugin},
        ) from e
    if not isinstance(items, list | tuple):
        raise InvalidConfigError(
            f"plugin '{plugin}': omega_register_strategies must return a list, got {type(items).__name__}",
            {"plugin": plugin},
        )
    specs = [StrategySpec.from_obj(item, plugin=plugin, package=package) for item in items]
    for spec in specs:
        _check_conflict(spec, plugin)
    for spec in specs:
        if spec.name in _specs:
            continue  # the same package registering it again: a no-op
        _register_native(spec, plugin)
        _specs[spec.name] = spec
        _providers[spec.name] = plugin
    _collected.add(plugin)


def _impls(plugin: object | None = None) -> list[Any]:
    impls = plugin_manager().hook.omega_register_strategies.get_hookimpls()
    return [i for i in impls if plugin is None or i.plugin is plugin]


def _collect(packages: dict[str, str]) -> None:
    """Collect every plugin not collected yet; a failing plugin does not stop the others, and the
    first failure is raised at the end (again on the next discovery, until the plugin is fixed)."""
    failures: list[OmegaError] = []
    for impl in _impls():
        if impl.plugin_name in _collected:
            continue
        try:
            _collect_one(impl, packages.get(impl.plugin_name) or _package_of(impl.plugin))
        except OmegaError as e:
            failures.append(e)
    if failures:
        first = failures[0]
        if len(failures) > 1:
            first.context["other_failures"] = [str(f) for f in failures[1:]]
        raise first


def _check_conflict(spec: StrategySpec, plugin: str) -> None:
    old = _specs.get(spec.name)
    if old is not None and old.package != spec.package:
        raise InvalidConfigError(
            f"plugin '{plugin}' (package '{spec.package}') registers strategy '{spec.name}', already "
            f"registered by plugin '{_providers[spec.name]}' (package '{old.package}')",
            {"plugin": plugin, "strategy": spec.name, "package": spec.package, "registered_by": old.package},
        )


def discover(*, force: bool = False) -> list[StrategySpec]:
    """Load every ``omega`` entry point (once; ``force=True`` rescans, e.g. after installing a
    plugin at runtime) and collect the strategies of plugins not yet collected."""
    global _discovered
    with _lock:
        if force or not _discovered:
            pm = plugin_manager()
            packages = _entry_point_packages()
            _load_entry_points(pm)
            _collect(packages)
            _discovered = True
        return list(_specs.values())


def register_plugin(plugin: object, name: str | None = None) -> list[StrategySpec]:
    """Register a plugin object or module programmatically (same validation as entry points).

    Registering the same object again is a no-op. A plugin that fails validation is unregistered
    again (nothing of it is kept) and the error raised. Returns the specs that plugin provides.
    """
    with _lock:
        pm = plugin_manager()
        if not pm.is_registered(plugin):
            pm.register(plugin, name=name)
        plugin_name = pm.get_name(plugin) or ""
        if plugin_name not in _collected:
            try:
                for impl in _impls(plugin):
                    _collect_one(impl, _package_of(plugin))
            except OmegaError:
                pm.unregister(plugin)
                raise
            _collected.add(plugin_name)
        return [s for n, s in _specs.items() if _providers.get(n) == plugin_name]


def get_strategy(name: str) -> StrategySpec:
    """The spec registered under `name` (E4001 listing the known names)."""
    discover()
    spec = _specs.get(name)
    if spec is None:
        known = ", ".join(sorted(_specs)) or "none"
        raise StrategyNotFoundError(
            f"strategy '{name}' is not registered (known: {known})", {"strategy": name, "known": sorted(_specs)}
        )
    return spec


def available_backends(spec: StrategySpec) -> list[str]:
    """Backends that can run `spec` here: ``"rust"`` only when its capsule is in the native
    registry, ``"python"`` when it has a reference class."""
    from omega.bridge import _get_rust_module

    rust = _get_rust_module()
    out = []
    if spec.capsule is not None and rust is not None and spec.name in rust.STRATEGY_REGISTRY:
        out.append("rust")
    if spec.reference is not None:
        out.append("python")
    return out


def list_strategies() -> list[dict[str, Any]]:
    """Every discovered strategy: ``{name, version, package, backends}``, sorted by name."""
    specs = discover()
    return [
        {"name": s.name, "version": s.version, "package": s.package, "backends": available_backends(s)}
        for s in sorted(specs, key=lambda s: s.name)
    ]
