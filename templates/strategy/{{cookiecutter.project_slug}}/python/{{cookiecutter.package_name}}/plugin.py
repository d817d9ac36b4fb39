"""The pluggy hookimpl of ``{{ cookiecutter.project_slug }}`` (entry-point group ``"omega"``).

Registers ``{{ cookiecutter.strategy_name }}`` with both backends: the Rust plugin table from
``_native`` (a ``PyCapsule`` named ``omega.strategy_plugin.v1``) and the pure-Python reference, plus
the pydantic parameter model. The imports happen inside the hook, when Omega discovers plugins.
"""

from __future__ import annotations

from omega.hookspecs import StrategySpec, hookimpl


@hookimpl
def omega_register_strategies() -> list[StrategySpec]:
    """``{{ cookiecutter.strategy_name }}``: Rust capsule (ABI v1) + Python reference + params model."""
    from {{ cookiecutter.package_name }} import PACKAGE, STRATEGY_NAME, STRATEGY_VERSION, _native
    from {{ cookiecutter.package_name }}.params import {{ cookiecutter.__class_name }}Params
    from {{ cookiecutter.package_name }}.reference import {{ cookiecutter.__class_name }}Reference

    return [
        StrategySpec(
            name=STRATEGY_NAME,
            version=STRATEGY_VERSION,
            package=PACKAGE,
            params_model={{ cookiecutter.__class_name }}Params,
            capsule=_native.plugin_capsule(),
            reference={{ cookiecutter.__class_name }}Reference,
        )
    ]
