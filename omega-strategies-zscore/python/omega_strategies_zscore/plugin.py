"""The pluggy hookimpl of ``omega-strategies-zscore`` (entry-point group ``"omega"``).

Registers ``mean_reversion_z_score`` with both backends: the Rust plugin table from ``_native``
(a ``PyCapsule`` named ``omega.strategy_plugin.v1``) and the pure-Python reference, plus the
pydantic parameter model. Heavy imports happen inside the hook, when Omega discovers plugins.
"""

from __future__ import annotations

import warnings
from typing import Any

from omega.hookspecs import StrategySpec, hookimpl

#: Distribution that provides the strategy.
PACKAGE = "omega-strategies-zscore"


def warn_config(config: dict[str, Any]) -> None:
    """The spec §7 config-time warnings (#5, #14, #15, #19), emitted before a Rust run exactly as the
    pure-Python reference emits them in ``on_init``."""
    from omega_strategies_zscore.params import MrzConfigWarning, config_warnings, parse_config

    for msg in config_warnings(parse_config(config)):
        warnings.warn(msg, MrzConfigWarning, stacklevel=3)


@hookimpl
def omega_register_strategies() -> list[StrategySpec]:
    """``mean_reversion_z_score``: Rust capsule + Python reference + ``MrzParams``."""
    from omega_strategies_zscore import _native
    from omega_strategies_zscore.params import MrzParams
    from omega_strategies_zscore.reference import MeanReversionZScoreReference

    return [
        StrategySpec(
            name=_native.STRATEGY_NAME,
            version=_native.__version__,
            package=PACKAGE,
            params_model=MrzParams,
            capsule=_native.plugin_capsule(),
            reference=MeanReversionZScoreReference,
            warn_config=warn_config,
        )
    ]
