"""Stub of the Rust extension module ``omega_test_plugin._native``."""

__version__: str
STRATEGY_NAME: str
CORE_VERSION: str
ABI_MAJOR: int
ABI_MINOR: int

def plugin_capsule() -> object:
    """The strategy's plugin table as a ``PyCapsule`` named ``omega.strategy_plugin.v1``."""
