"""The plugin contract of Omega: pluggy project ``"omega"``, entry-point group ``"omega"``.

A strategy package declares ``[project.entry-points.omega] <name> = "<pkg>.plugin"`` and implements
the hooks below with ``@omega.hookspecs.hookimpl``. Built-in and third-party strategies register
through this same path. Hooks only ever gain arguments (implementations may take a subset).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pluggy
from pydantic import BaseModel

from omega.errors import InvalidConfigError, PluginIncompatibleError

if TYPE_CHECKING:
    from omega.reference.strategy import Strategy

PROJECT = "omega"
"""Pluggy project name and entry-point group."""

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$")
_FIELDS = ("name", "version", "package", "params_model", "capsule", "reference", "warn_config")


def _is_capsule(obj: object) -> bool:
    return type(obj).__name__ == "PyCapsule"


def _reference_base() -> type | None:
    try:
        from omega.reference.strategy import Strategy
    except ImportError:  # the reference backend is optional for Rust-only checks
        return None
    base: type = Strategy
    return base


@dataclass(frozen=True)
class StrategySpec:
    """What a plugin says about one strategy.

    - ``name``: registry key (``[A-Za-z_][A-Za-z0-9_.-]*``), e.g. ``"mean_reversion_z_score"``.
    - ``version``: the strategy's version string.
    - ``package``: the distribution that provides it (filled from the entry point when empty).
    - ``params_model``: a pydantic model class validating ``config["params"]``, or None.
    - ``capsule``: the Rust plugin table as a ``PyCapsule`` named ``omega.strategy_plugin.v1``, or
      None for a Python-only strategy.
    - ``reference``: a subclass of ``omega.reference.strategy.Strategy`` (pure-Python backend), or None.
    - ``warn_config``: optional callable taking the validated config dict and emitting
      ``warnings.warn`` for valid but suspicious settings. Omega calls it before a Rust run (the
      compiled strategy has no channel for warnings); a reference strategy warns in ``on_init``.

    At least one of ``capsule`` and ``reference`` is required.
    """

    name: str
    version: str
    package: str = ""
    params_model: type[BaseModel] | None = None
    capsule: Any = None
    reference: type[Strategy] | None = None
    warn_config: Callable[[dict[str, Any]], None] | None = None

    @property
    def backends(self) -> list[str]:
        """Backends this spec can run on, Rust first."""
        out = []
        if self.capsule is not None:
            out.append("rust")
        if self.reference is not None:
            out.append("python")
        return out

    @classmethod
    def from_obj(cls, obj: object, *, plugin: str, package: str = "") -> StrategySpec:
        """Validate what a hook returned (a `StrategySpec` or a plain dict with the same keys).

        Raises `InvalidConfigError` (E4002) or, for a capsule that is not a capsule,
        `PluginIncompatibleError` (E4007); both name the plugin.
        """
        where = f"plugin '{plugin}'"
        if isinstance(obj, StrategySpec):
            data: dict[str, Any] = {f: getattr(obj, f) for f in _FIELDS}
        elif isinstance(obj, Mapping):
            unknown = sorted(str(k) for k in obj if k not in _FIELDS)
            if unknown:
                raise InvalidConfigError(
                    f"{where}: unknown key(s) {', '.join(unknown)} in strategy spec (known: {', '.join(_FIELDS)})",
                    {"plugin": plugin, "key": unknown[0]},
                )
            data = {f: obj.get(f) for f in _FIELDS}
        else:
            raise InvalidConfigError(
                f"{where}: omega_register_strategies must return StrategySpec or dict items, got {type(obj).__name__}",
                {"plugin": plugin},
            )
        name = data["name"]
        ctx: dict[str, Any] = {"plugin": plugin, "strategy": name}
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidConfigError(f"{where}: invalid strategy name {name!r}", {**ctx, "key": "name"})
        version = data["version"]
        if not isinstance(version, str) or not version.strip():
            raise InvalidConfigError(
                f"{where}: strategy '{name}' needs a non-empty version string", {**ctx, "key": "version"}
            )
        pkg = data["package"] or package
        if not isinstance(pkg, str):
            raise InvalidConfigError(f"{where}: 'package' of '{name}' must be a string", {**ctx, "key": "package"})
        model = data["params_model"]
        if model is not None and not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise InvalidConfigError(
                f"{where}: params_model of '{name}' must be a pydantic model class or None",
                {**ctx, "key": "params_model"},
            )
        capsule = data["capsule"]
        if capsule is not None and not _is_capsule(capsule):
            raise PluginIncompatibleError(
                f"{where}: capsule of '{name}' is a {type(capsule).__name__}, not a PyCapsule",
                {**ctx, "key": "capsule"},
            )
        reference = data["reference"]
        if reference is not None:
            base = _reference_base()
            ok = isinstance(reference, type) and (base is None or issubclass(reference, base))
            if not ok:
                raise InvalidConfigError(
                    f"{where}: reference of '{name}' must be a subclass of omega.reference.strategy.Strategy",
                    {**ctx, "key": "reference"},
                )
        warn_config = data["warn_config"]
        if warn_config is not None and not callable(warn_config):
            raise InvalidConfigError(
                f"{where}: warn_config of '{name}' must be callable or None", {**ctx, "key": "warn_config"}
            )
        if capsule is None and reference is None:
            raise InvalidConfigError(
                f"{where}: strategy '{name}' has neither a Rust capsule nor a Python reference",
                {**ctx, "key": "capsule"},
            )
        return cls(name, version.strip(), pkg, model, capsule, reference, warn_config)


@hookspec
def omega_register_strategies() -> list[StrategySpec | dict[str, Any]]:  # type: ignore[empty-body]
    """Return the strategies this plugin provides.

    Arguments: none.
    Returns: a list of `StrategySpec` (or dicts with the same keys: name, version, package,
    params_model, capsule, reference), validated at registration.
    When called: once per plugin, when Omega first discovers plugins (the first call to
    `omega.run_backtest`, `omega.list_strategies`, `omega.bridge.*` or `omega.plugins.discover`),
    or when a plugin is registered programmatically with `omega.plugins.register_plugin`.
    firstresult: no — every plugin's list is collected.
    """
