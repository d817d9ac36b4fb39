"""The pluggy hookimpl of ``omega-test-plugin`` (entry point group ``"omega"``): one strategy with both
backends, the Rust capsule from ``_native`` and the pure-Python reference.
"""

from __future__ import annotations

from omega.hookspecs import StrategySpec, hookimpl

from omega_test_plugin import PACKAGE, STRATEGY_NAME, STRATEGY_VERSION
from omega_test_plugin.params import SmaCrossParams


@hookimpl
def omega_register_strategies() -> list[StrategySpec]:
    """``omega_test_sma_cross``: Rust capsule (ABI v1) + Python reference + pydantic params model."""
    from omega_test_plugin import _native
    from omega_test_plugin.reference import SmaCrossReference

    return [
        StrategySpec(
            name=STRATEGY_NAME,
            version=STRATEGY_VERSION,
            package=PACKAGE,
            params_model=SmaCrossParams,
            capsule=_native.plugin_capsule(),
            reference=SmaCrossReference,
        )
    ]
