"""Omega's exception hierarchy: one class per stable error code (E4001–E4009).

Each class also derives from the builtin the seed maps it to (``ValueError`` or ``RuntimeError``),
so ``except ValueError`` keeps working. ``err.code`` is the code, ``err.context`` a dict of details.
The Rust core raises the same classes (it looks them up here by code); docs/errors.md lists them.
"""

from __future__ import annotations

from typing import Any

DOCS_URL = "docs/errors.md"


class OmegaError(Exception):
    """Base class of every Omega error."""

    code: str = "E4009"
    name: str = "INTERNAL_ERROR"

    def __init__(self, message: str, context: dict[str, Any] | None = None) -> None:
        self.message = message
        self.context: dict[str, Any] = dict(context or {})
        super().__init__(f"[{self.code}] {message}")

    @property
    def docs(self) -> str:
        """Where this error is documented."""
        return f"{DOCS_URL}#{self.code.lower()}"


class StrategyNotFoundError(OmegaError, ValueError):
    """E4001: no strategy of that name is registered (or none for the requested backend)."""

    code = "E4001"
    name = "STRATEGY_NOT_FOUND"


class InvalidConfigError(OmegaError, ValueError):
    """E4002: the configuration or one of its parameters is invalid."""

    code = "E4002"
    name = "INVALID_CONFIG"


class IndicatorNotAvailableError(OmegaError, RuntimeError):
    """E4003: an indicator could not be computed or is not known."""

    code = "E4003"
    name = "INDICATOR_NOT_AVAILABLE"


class InsufficientDataError(OmegaError, ValueError):
    """E4004: market data is empty, too short or invalid (unsorted, NaN, crossed, ragged, schema)."""

    code = "E4004"
    name = "INSUFFICIENT_DATA"


class PositionLimitExceededError(OmegaError, RuntimeError):
    """E4005: more open positions than allowed."""

    code = "E4005"
    name = "POSITION_LIMIT_EXCEEDED"


class InvalidSignalError(OmegaError, RuntimeError):
    """E4006: a strategy returned a signal or action the engine cannot execute."""

    code = "E4006"
    name = "INVALID_SIGNAL"


class PluginIncompatibleError(OmegaError, RuntimeError):
    """E4007: a strategy plugin was built for another plugin ABI (name, version or size mismatch)."""

    code = "E4007"
    name = "PLUGIN_INCOMPATIBLE"


class StrategyPanicError(OmegaError, RuntimeError):
    """E4008: strategy code panicked (Rust) or raised (Python); the run was aborted cleanly."""

    code = "E4008"
    name = "STRATEGY_PANIC"


class InternalError(OmegaError, RuntimeError):
    """E4009: a bug in Omega itself."""

    code = "E4009"
    name = "INTERNAL_ERROR"


ERROR_CLASSES: tuple[type[OmegaError], ...] = (
    StrategyNotFoundError,
    InvalidConfigError,
    IndicatorNotAvailableError,
    InsufficientDataError,
    PositionLimitExceededError,
    InvalidSignalError,
    PluginIncompatibleError,
    StrategyPanicError,
    InternalError,
)

_BY_CODE: dict[str, type[OmegaError]] = {cls.code: cls for cls in ERROR_CLASSES}


def error_for_code(code: str) -> type[OmegaError]:
    """The exception class for an error code (``InternalError`` for unknown codes)."""
    return _BY_CODE.get(code, InternalError)


def config_warning_error(strategy: str, warning: Warning) -> InvalidConfigError:
    """E4002 for a strategy's config-time warning that the warnings filter raised as an exception
    (``python -W error``): the user asked for warnings to be errors, and the config caused it."""
    return InvalidConfigError(
        f"strategy '{strategy}': config warning raised as an error: {type(warning).__name__}: {warning}",
        {"key": "config", "strategy": strategy, "warning": type(warning).__name__},
    )


def list_errors() -> list[dict[str, str]]:
    """Every error code with its name, Python class and builtin base."""
    out = []
    for cls in ERROR_CLASSES:
        base = "ValueError" if issubclass(cls, ValueError) else "RuntimeError"
        out.append({"code": cls.code, "name": cls.name, "class": cls.__name__, "base": base})
    return out
