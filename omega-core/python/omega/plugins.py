"""Strategy discovery and the Python-side registry.

Plugins are found through the entry-point group ``"omega"`` (loaded with pluggy), or registered
programmatically with `register_plugin`. Each plugin's `omega_register_strategies` is called once;
its specs are validated, and its Rust capsules are handed to ``_native.register_plugins`` in one
all-or-nothing batch, which checks the ABI and fills ``_native.STRATEGY_REGISTRY``. Discovery is
idempotent and thread-safe.

Failures (docs/abi.md "Discovery"): an entry point that cannot be imported, or whose hook raises or
returns something invalid, is recorded (`failures()`, one warning each) and skipped; every other
plugin is collected and discovery is done. Name precedence is deterministic: installed entry points
are collected first, in sorted entry-point-name order, and `register_plugin` runs discovery before
registering, so a name an installed package provides can never be claimed by a programmatic
registration; a later claimant of a taken name (entry point or programmatic) is refused (E4002).
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
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
_failures: dict[str, PluginFailure] = {}  # plugin name -> why it was skipped
_discovered = False


class PluginDiscoveryWarning(UserWarning):
    """An installed omega plugin was skipped at discovery (see `failures()`)."""


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that discovery skipped: its name, package, error code and message."""

    plugin: str
    package: str
    code: str
    message: str


def failures() -> list[PluginFailure]:
    """The plugins skipped by discovery (import error, hook error, invalid or conflicting specs),
    sorted by plugin name. Empty when every installed plugin loaded."""
    discover()
    with _lock:
        return [_failures[k] for k in sorted(_failures)]


def plugin_manager() -> pluggy.PluginManager:
    """The process-wide pluggy manager of project ``"omega"`` (hookspecs added)."""
    global _pm
    with _lock:
        if _pm is None:
            pm = pluggy.PluginManager(PROJECT)
            pm.add_hookspecs(hookspecs)
            _pm = pm
        return _pm


def _entry_points() -> list[EntryPoint]:
    """The ``omega`` entry points, sorted by name (the collection order, so precedence is stable)."""
    return sorted(entry_points(group=PROJECT), key=lambda ep: (ep.name, ep.value))


def _package_of_entry_point(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.name if dist is not None else ep.value.split(".")[0].split(":")[0]


def _record(plugin: str, package: str, error: OmegaError) -> None:
    _failures[plugin] = PluginFailure(plugin, package, error.code, str(error))


def _load_entry_points(pm: pluggy.PluginManager, eps: list[EntryPoint]) -> None:
    """Import and register every entry point not loaded yet; one that fails is recorded, not raised."""
    for ep in eps:
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name) or ep.name in _failures:
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as e:
            err = PluginIncompatibleError(
                f"cannot load omega plugin entry point '{ep.name} = {ep.value}': {type(e).__name__}: {e}",
                {"plugin": ep.name},
            )
            _record(ep.name, _package_of_entry_point(ep), err)


def _package_of(plugin: object) -> str:
    module = plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__module__
    return module.split(".")[0]


def _collect_one(impl: Any, package: str) -> None:
    """Call one plugin's hook, validate everything it returns, then register it: all of it or, on
    any error (a bad spec, a bad capsule, a name conflict), nothing."""
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
    seen: dict[str, str] = {}
    for spec in specs:
        _check_conflict(spec, plugin)
        if seen.setdefault(spec.name, spec.package) != spec.package:
            raise InvalidConfigError(
                f"plugin '{plugin}' returns strategy '{spec.name}' twice, from packages "
                f"'{seen[spec.name]}' and '{spec.package}'",
                {"plugin": plugin, "strategy": spec.name},
            )
    new = [s for s in specs if s.name not in _specs]  # the same package registering again: a no-op
    _register_native(new, plugin)
    for spec in new:
        _specs[spec.name] = spec
        _providers[spec.name] = plugin
    _collected.add(plugin)


def _register_native(specs: list[StrategySpec], plugin: str) -> None:
    """Hand every capsule of one plugin to the core in one all-or-nothing call."""
    from omega.bridge import _get_rust_module

    rust = _get_rust_module()
    items = [(s.capsule, s.package or plugin, s.name) for s in specs if s.capsule is not None]
    if rust is None or not items:
        return
    rust.register_plugins(items)


def _impls(plugin: object | None = None) -> list[Any]:
    impls = plugin_manager().hook.omega_register_strategies.get_hookimpls()
    return [i for i in impls if plugin is None or i.plugin is plugin]


def _collect(packages: dict[str, str]) -> None:
    """Collect every plugin not collected (or failed) yet, in plugin-name order; a failing plugin is
    recorded and does not stop the others."""
    for impl in sorted(_impls(), key=lambda i: i.plugin_name):
        name = impl.plugin_name
        if name in _collected or name in _failures:
            continue
        package = packages.get(name) or _package_of(impl.plugin)
        try:
            _collect_one(impl, package)
        except OmegaError as e:
            _record(name, package, e)
        except Exception as e:  # a bug in a plugin's spec objects must not disable the others
            _record(name, package, InvalidConfigError(f"plugin '{name}': {type(e).__name__}: {e}", {"plugin": name}))


def _check_conflict(spec: StrategySpec, plugin: str) -> None:
    old = _specs.get(spec.name)
    if old is not None and old.package != spec.package:
        raise InvalidConfigError(
            f"plugin '{plugin}' (package '{spec.package}') registers strategy '{spec.name}', already "
            f"registered by plugin '{_providers[spec.name]}' (package '{old.package}')",
            {"plugin": plugin, "strategy": spec.name, "package": spec.package, "registered_by": old.package},
        )


def discover(*, force: bool = False) -> list[StrategySpec]:
    """Load every ``omega`` entry point (once; ``force=True`` rescans, e.g. after installing or
    fixing a plugin at runtime, and retries the plugins that failed) and collect the strategies of
    plugins not yet collected. Never raises for a broken plugin: it is skipped, recorded in
    `failures()` and reported once with a `PluginDiscoveryWarning`."""
    global _discovered
    with _lock:
        if force or not _discovered:
            if force:
                _failures.clear()
            before = set(_failures)
            pm = plugin_manager()
            eps = _entry_points()
            _load_entry_points(pm, eps)
            _collect({ep.name: _package_of_entry_point(ep) for ep in eps})
            _discovered = True
            # Warn after the state is complete: a warnings filter that raises cannot undo discovery.
            for name in sorted(set(_failures) - before):
                f = _failures[name]
                warnings.warn(
                    f"omega plugin '{f.plugin}' (package '{f.package}') skipped: {f.message} [{f.code}]",
                    PluginDiscoveryWarning,
                    stacklevel=2,
                )
        return list(_specs.values())


def register_plugin(plugin: object, name: str | None = None) -> list[StrategySpec]:
    """Register a plugin object or module programmatically (same validation as entry points).

    Runs discovery first, so installed entry points keep their names. Registering the same object
    again is a no-op. A plugin that fails validation is unregistered again (nothing of it is kept,
    in Python or in the core) and the error raised. Returns the specs that plugin provides.
    """
    discover()
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
