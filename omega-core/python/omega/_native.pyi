"""Type stubs of the native module `omega._native` (crate `omega-core-py`).

Sections follow the binding modules: errors, config, market, indicators, registry, engine.
"""

from collections.abc import Iterator, Sequence
from typing import Any, Final, final

import numpy as np
import numpy.typing as npt

from omega.errors import IndicatorNotAvailableError as IndicatorNotAvailableError
from omega.errors import InsufficientDataError as InsufficientDataError
from omega.errors import InternalError as InternalError
from omega.errors import InvalidConfigError as InvalidConfigError
from omega.errors import InvalidSignalError as InvalidSignalError
from omega.errors import OmegaError as OmegaError
from omega.errors import PluginIncompatibleError as PluginIncompatibleError
from omega.errors import PositionLimitExceededError as PositionLimitExceededError
from omega.errors import StrategyNotFoundError as StrategyNotFoundError
from omega.errors import StrategyPanicError as StrategyPanicError

__all__ = [
    "CAPSULE_NAME",
    "STRATEGY_REGISTRY",
    "BacktestResult",
    "IndicatorCache",
    "IndicatorNotAvailableError",
    "InsufficientDataError",
    "InternalError",
    "InvalidConfigError",
    "InvalidSignalError",
    "OmegaError",
    "PluginIncompatibleError",
    "PositionLimitExceededError",
    "StrategyConfig",
    "StrategyNotFoundError",
    "StrategyPanicError",
    "StrategyRegistry",
    "SweepControl",
    "TradeResult",
    "__version__",
    "abi_version",
    "core_version",
    "default_cache_bytes",
    "indicator_kinds",
    "indicator_series",
    "native_call_count",
    "register_plugin",
    "register_plugins",
    "run_backtest_rust",
    "run_sweep_rust",
    "scan_signals_rust",
    "valid_strategy_name",
    "validate_candles",
]

__version__: Final[str]
CAPSULE_NAME: Final[str]

def abi_version() -> tuple[int, int]:
    """`(major, minor)` of the strategy plugin ABI this core accepts."""

def core_version() -> str:
    """Version of the omega-core crate compiled into this module."""

# --- config --------------------------------------------------------------------------------

@final
class StrategyConfig:
    """The seed's `StrategyConfig` with the `engine` section; validated on every change (E4002)."""

    def __new__(
        cls,
        symbol: str,
        timeframe: str,
        enabled_scenarios: Sequence[int] | None = None,
        direction_filter: str | None = None,
        params: dict[str, Any] | None = None,
        engine: dict[str, Any] | None = None,
    ) -> StrategyConfig: ...
    @staticmethod
    def from_json(json_str: str) -> StrategyConfig:
        """Parse and validate JSON (E4002 naming the offending key)."""
    def to_json(self) -> str:
        """The JSON handed to the engine and plugins (all defaults filled in)."""
    def to_dict(self) -> dict[str, Any]:
        """The config as a plain dict."""
    symbol: str
    timeframe: str
    enabled_scenarios: list[int]
    direction_filter: str
    params: dict[str, Any]
    engine: dict[str, Any]
    def __eq__(self, value: object, /) -> bool: ...

# --- market --------------------------------------------------------------------------------

def validate_candles(
    candles: Any, *, timeframe: str = "M1", symbol: str = "EURUSD", allow_crossed_quotes: bool = False
) -> dict[str, Any]:
    """Check candles as a backtest would (E4004); report `rows`, `zero_copy_columns` (read straight
    from the caller's buffer, no conversion; the core copies each column once) and `copied_columns`
    (combined from chunks or cast first)."""

# --- indicators ----------------------------------------------------------------------------

# An indicator key tuple is `(kind, side, timeframe, params)`: kind name or number, "bid"/"ask",
# None/name/minutes, floats (shorter tuples default the rest).

@final
class IndicatorCache:
    """The core's memoising indicator store over one market; pass it to `run_backtest_rust` in place
    of candles to share the validated market and its series between the runs of a sweep."""

    def __new__(
        cls,
        candles: Any,
        *,
        timeframe: str = "M1",
        symbol: str = "EURUSD",
        htf_anchor: str = "utc",
        allow_crossed_quotes: bool = False,
    ) -> IndicatorCache: ...
    def series(self, key: tuple[Any, ...]) -> npt.NDArray[np.float64]:
        """The series of a key tuple, one value per bar of its timeframe (E4003 when invalid)."""
    def bars(self, timeframe: str | int | None = None) -> dict[str, npt.NDArray[Any]]:
        """Bars of a timeframe as arrays (plus `visible` for a higher timeframe)."""
    @property
    def computed_series(self) -> int: ...
    @property
    def htf_anchor(self) -> str: ...
    @property
    def timeframe(self) -> str: ...
    @property
    def symbol(self) -> str: ...
    def __len__(self) -> int: ...

def indicator_series(
    candles: Any, key: tuple[Any, ...], *, timeframe: str = "M1", htf_anchor: str = "utc"
) -> npt.NDArray[np.float64]:
    """One series of a key tuple on `candles`."""

def indicator_kinds() -> list[tuple[str, int]]:
    """Indicator kind names and their ABI numbers."""

# --- registry ------------------------------------------------------------------------------

@final
class StrategyRegistry:
    """The registered Rust strategies: `in`, iteration over names, `len`, `get`."""

    def __contains__(self, key: object, /) -> bool: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[str]: ...
    def names(self) -> list[str]: ...
    def get(self, name: str) -> dict[str, Any] | None:
        """`{name, version, core_version, provider, abi_minor, panic_unwind}` or None."""

STRATEGY_REGISTRY: Final[StrategyRegistry]

def register_plugin(capsule: Any, provider: str, expected_name: str | None = None) -> str:
    """Validate and register a strategy capsule (E4007; E4002 for a conflict or a name other than
    `expected_name`); returns its name. Nothing is registered on error."""

def register_plugins(items: list[tuple[Any, str, str | None]]) -> list[str]:
    """Register `(capsule, provider, expected_name)` items all or nothing; returns their names."""

def valid_strategy_name(name: str) -> bool:
    """Whether `name` is a valid strategy name (the rule plugin tables are checked against)."""

# --- engine --------------------------------------------------------------------------------

@final
class TradeResult:
    """One trade (docs/engine.md "Trade record")."""

    @property
    def id(self) -> int: ...
    @property
    def symbol(self) -> str: ...
    @property
    def direction(self) -> str: ...
    @property
    def entry_index(self) -> int: ...
    @property
    def exit_index(self) -> int: ...
    @property
    def entry_time_us(self) -> int: ...
    @property
    def exit_time_us(self) -> int: ...
    @property
    def entry_price(self) -> float: ...
    @property
    def exit_price(self) -> float: ...
    @property
    def initial_stop_loss(self) -> float: ...
    @property
    def stop_loss(self) -> float: ...
    @property
    def take_profit(self) -> float | None: ...
    @property
    def lots(self) -> float: ...
    @property
    def pnl_pips(self) -> float: ...
    @property
    def pnl_gross(self) -> float: ...
    @property
    def commission(self) -> float: ...
    @property
    def swap(self) -> float: ...
    @property
    def pnl(self) -> float: ...
    @property
    def slippage_pips(self) -> float: ...
    @property
    def r_multiple(self) -> float: ...
    @property
    def bars_held(self) -> int: ...
    @property
    def exit_reason(self) -> str: ...
    @property
    def scenario(self) -> int | None: ...
    @property
    def reason(self) -> str: ...
    @property
    def tags(self) -> list[str]: ...
    def to_dict(self) -> dict[str, Any]: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class BacktestResult:
    """Result of one native backtest."""

    @property
    def trades(self) -> list[TradeResult]: ...
    @property
    def open_positions(self) -> list[TradeResult]: ...
    @property
    def equity_curve(self) -> npt.NDArray[np.float64]: ...
    @property
    def metrics(self) -> dict[str, float | None]: ...
    @property
    def bars_processed(self) -> int: ...
    @property
    def execution_time_ms(self) -> float: ...
    @property
    def backend(self) -> str: ...
    @property
    def strategy(self) -> str: ...
    def trades_table(self) -> Any:
        """Closed trades as a pyarrow Table (`omega.results.TRADE_SCHEMA`)."""
    def open_positions_table(self) -> Any:
        """Open positions as a pyarrow Table."""

def run_backtest_rust(
    strategy_name: str,
    config: StrategyConfig | str | dict[str, Any],
    candle_data: Any,
    conversion: dict[str, Any] | None = None,
) -> BacktestResult:
    """Run a whole backtest of a registered Rust strategy (one crossing; GIL released);
    ``conversion`` maps pair names to conversion candles (docs/engine.md "Account currency")."""

def native_call_count() -> int:
    """How many times Python entered `run_backtest_rust`, `scan_signals_rust` or `run_sweep_rust` in this process."""

# --- scan ---------------------------------------------------------------------------------------

def scan_signals_rust(strategy_name: str, config: StrategyConfig | str | dict[str, Any], candle_data: Any) -> Any:
    """Scan every bar as if flat (docs/scan.md); returns a pyarrow Table (one native call)."""

# --- sweep --------------------------------------------------------------------------------------

@final
class SweepControl:
    """Progress and cancellation of a running sweep."""

    def __new__(cls) -> SweepControl: ...
    @property
    def done(self) -> int:
        """Configs finished so far."""
    def cancel(self) -> None:
        """Stop the sweep: no config starts after this call and running ones stop mid-run."""
    @property
    def cancelled(self) -> bool:
        """True once `cancel()` was called."""

def default_cache_bytes() -> int:
    """The default byte budget of a sweep's series store."""

def run_sweep_rust(
    strategy_name: str,
    configs: list[StrategyConfig | str | dict[str, Any]],
    candle_data: Any,
    *,
    threads: int = 0,
    cache_bytes: int = ...,
    keep_trades: bool = False,
    control: SweepControl | None = None,
    conversion: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run every config over one market in one native call (docs/sweeps.md); Ctrl-C on the main
    thread or `control.cancel()` stop it mid-config with `KeyboardInterrupt`."""
