"""Omega strategy package: Mean Reversion Z-Score (MRZ).

``params`` holds the pydantic parameter/config models and the converter from the original JSON
layout; ``reference`` the pure-Python reference implementation (imported on demand, it needs the
core's reference backend); ``reference_indicators`` its MRZ-only computations.
"""

from omega_strategies_zscore.params import MrzConfig, MrzParams, from_original_config, parse_config, parse_params

__version__ = "0.1.0"

#: Registry name of the strategy.
STRATEGY_NAME = "mean_reversion_z_score"

__all__ = [
    "STRATEGY_NAME",
    "MrzConfig",
    "MrzParams",
    "__version__",
    "from_original_config",
    "parse_config",
    "parse_params",
]
