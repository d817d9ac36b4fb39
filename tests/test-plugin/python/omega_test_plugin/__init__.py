"""Omega test strategy plugin: ``omega_test_sma_cross``, shipped as its own wheel.

It exists to exercise the cross-wheel plugin boundary end to end: ``_native`` (the Rust strategy's
plugin table as a ``PyCapsule``), ``plugin`` (the pluggy hookimpl, entry point group ``"omega"``),
``reference`` (the same strategy in pure Python, imported on demand) and ``params`` (its parameters).
"""

from omega_test_plugin.params import SmaCrossParams

__version__ = "0.1.0"

#: Registry name of the strategy.
STRATEGY_NAME = "omega_test_sma_cross"
#: Version of the strategy (the Rust `STRATEGY_VERSION`).
STRATEGY_VERSION = "0.1.0"
#: Distribution that provides it.
PACKAGE = "omega-test-plugin"

__all__ = ["PACKAGE", "STRATEGY_NAME", "STRATEGY_VERSION", "SmaCrossParams", "__version__"]
