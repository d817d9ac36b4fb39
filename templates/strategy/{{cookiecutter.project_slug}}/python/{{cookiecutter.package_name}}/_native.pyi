"""Stub of the Rust extension module ``{{ cookiecutter.package_name }}._native`` (``src/lib.rs``)."""

__version__: str
STRATEGY_NAME: str
CORE_VERSION: str
ABI_MAJOR: int
ABI_MINOR: int

def plugin_capsule() -> object:
    """The strategy's plugin table as a ``PyCapsule`` named ``omega.strategy_plugin.v1``."""
