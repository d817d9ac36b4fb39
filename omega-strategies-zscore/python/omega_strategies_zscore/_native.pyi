"""Stub of the Rust extension module ``omega_strategies_zscore._native``."""

from typing import Final

__all__ = ["CORE_VERSION", "STRATEGY_NAME", "__version__", "plugin_capsule"]

__version__: Final[str]
"""Version of the strategy (the crate version)."""
STRATEGY_NAME: Final[str]
"""Registry name: ``"mean_reversion_z_score"``."""
CORE_VERSION: Final[str]
"""Version of the omega-core crate the plugin was compiled against."""

def plugin_capsule() -> object:
    """The strategy's plugin table as a ``PyCapsule`` named ``omega.strategy_plugin.v1``."""
