"""{{ cookiecutter.project_name }}: the ``{{ cookiecutter.strategy_name }}`` strategy for Omega, as its own wheel.

- ``_native``: the Rust strategy's plugin table as a ``PyCapsule`` (ABI v1);
- ``plugin``: the pluggy hookimpl (entry-point group ``"omega"``) that registers both backends;
- ``reference``: the same strategy in pure Python (imported when Omega discovers plugins);
- ``params``: its parameters as a pydantic model.

Run it with ``omega.run_backtest("{{ cookiecutter.strategy_name }}", config, candles)``.
"""

from {{ cookiecutter.package_name }}.params import {{ cookiecutter.__class_name }}Params

#: Registry name of the strategy.
STRATEGY_NAME = "{{ cookiecutter.strategy_name }}"
#: Version of the strategy: the Rust crate's version (``Cargo.toml``), which is the wheel's.
STRATEGY_VERSION = "0.1.0"
#: Distribution that provides it.
PACKAGE = "{{ cookiecutter.project_slug }}"

__version__ = STRATEGY_VERSION

__all__ = ["PACKAGE", "STRATEGY_NAME", "STRATEGY_VERSION", "{{ cookiecutter.__class_name }}Params", "__version__"]
