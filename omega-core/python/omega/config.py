"""Run configuration as pydantic models, mirroring the Rust `omega_core::config` (same keys, defaults
and range checks), so that a config is rejected in Python with the key named (E4002) before it
crosses to Rust, where serde checks it again.

`normalize_config` is the one door every config passes through in `omega.run_backtest`: dict,
`BacktestConfig`, JSON text or a native `StrategyConfig` in, a validated `BacktestConfig` out, with
`params` validated by the strategy's own params model when it has one.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from omega.errors import InvalidConfigError

TIMEFRAMES: tuple[str, ...] = ("M1", "M5", "M15", "M30", "H1", "H4", "D1")
"""Timeframe names the core knows, shortest first."""

MAX_NESTING = 127
"""Deepest nesting of objects and lists a config may have, the config object itself being level 1:
serde_json's limit, which reads every config on the Rust side (so both backends accept the same)."""

_HHMM = re.compile(r"^\s*([0-9]{1,2}):([0-9]{2})\s*$")


def parse_hhmm(text: str) -> int | None:
    """Minutes after midnight of ``"H:MM"``/``"HH:MM"`` (None when malformed), like the Rust `parse_hhmm`."""
    m = _HHMM.match(text)
    if m is None:
        return None
    h, mi = int(m.group(1)), int(m.group(2))
    return h * 60 + mi if h < 24 and mi < 60 else None


def _positive(name: str, v: float) -> float:
    if not (math.isfinite(v) and v > 0.0):
        raise ValueError(f"{name} must be a finite number > 0, got {v}")
    return v


def _nonnegative(name: str, v: float) -> float:
    if not (math.isfinite(v) and v >= 0.0):
        raise ValueError(f"{name} must be a finite number >= 0, got {v}")
    return v


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SymbolSpecSettings(_Strict):
    """Per-run overrides of the traded instrument (Rust `SymbolSpec`; docs/instruments.md).

    Every field left unset comes from the built-in instrument table; a symbol outside the table
    needs at least `base`, `quote` and `pip_size` (checked when the run starts, on both backends).
    """

    base: str | None = None
    quote: str | None = None
    pip_size: float | None = None
    digits: int | None = Field(default=None, ge=0, le=2**32 - 1)
    contract_size: float | None = None
    lot_step: float | None = None
    min_lot: float | None = None
    max_lot: float | None = None
    margin_rate: float | None = None
    swap_long: float | None = None
    swap_short: float | None = None
    swap_mode: Literal["points", "percent"] | None = None
    triple_swap_weekday: (
        Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] | None
    ) = None

    @field_validator("pip_size", "contract_size", "lot_step", "min_lot", "max_lot", "margin_rate")
    @classmethod
    def _pos(cls, v: float | None) -> float | None:
        return None if v is None else _positive("value", v)

    @model_validator(mode="after")
    def _lots(self) -> SymbolSpecSettings:
        if self.min_lot is not None and self.max_lot is not None and self.max_lot < self.min_lot:
            raise ValueError("max_lot must be >= min_lot")
        return self


class CostSettings(_Strict):
    """Explicit trading costs (Rust `CostConfig`); every value >= 0."""

    commission_per_lot: float = 0.0
    commission_per_million: float = 0.0
    slippage_fixed_pips: float = 0.0
    slippage_random_pips: float = 0.0
    pip_buffer_factor: float = 0.0

    @field_validator("*")
    @classmethod
    def _nonneg(cls, v: float) -> float:
        return _nonnegative("value", v)


class EngineSettings(_Strict):
    """Engine settings of one run (Rust `EngineConfig`; semantics in docs/engine.md)."""

    initial_balance: float = 100_000.0
    account_currency: str = "USD"
    sizing: Literal["risk", "fixed"] = "risk"
    fill: Literal["signal_close", "next_open"] = "signal_close"
    risk_per_trade: float = 100.0
    fixed_lots: float = 1.0
    symbol_spec: SymbolSpecSettings = Field(default_factory=SymbolSpecSettings)
    costs: CostSettings = Field(default_factory=CostSettings)
    quote_to_account_rate: float | None = None
    seed: int = Field(default=42, ge=0, le=2**64 - 1)
    max_open_positions: int = Field(default=1, ge=1, le=2**32 - 1)
    allow_same_bar_reentry: bool = False
    close_at_end: bool = True
    allow_crossed_quotes: bool = False
    sessions: list[tuple[str, str]] = Field(default_factory=list)
    cooldown_candles: int = Field(default=0, ge=0, le=2**32 - 1)
    cooldown_minutes: float = 0.0
    cooldown_minutes_trade: float = 0.0
    start_time_us: int | None = None
    htf_anchor: Literal["utc", "new_york_1700"] = "utc"
    # account: swaps and margin (docs/engine.md "Swaps", "Margin and stop-out")
    swaps: bool = True
    margin: bool = True
    stop_out_level: float = 0.5

    @field_validator("initial_balance", "risk_per_trade", "fixed_lots")
    @classmethod
    def _pos(cls, v: float) -> float:
        return _positive("value", v)

    @field_validator("quote_to_account_rate")
    @classmethod
    def _rate(cls, v: float | None) -> float | None:
        return None if v is None else _positive("value", v)

    @field_validator("account_currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        if not (0 < len(v) <= 12 and all(c.isascii() and (c.isupper() or c.isdigit()) for c in v)):
            raise ValueError(f"'{v}' is not an upper-case currency code such as USD")
        return v

    @field_validator("cooldown_minutes", "cooldown_minutes_trade", "stop_out_level")
    @classmethod
    def _nonneg(cls, v: float) -> float:
        return _nonnegative("value", v)

    @field_validator("sessions")
    @classmethod
    def _sessions(cls, v: list[tuple[str, str]]) -> list[tuple[str, str]]:
        for a, b in v:
            if parse_hhmm(a) is None or parse_hhmm(b) is None:
                raise ValueError(f"bad window [{a!r}, {b!r}], want HH:MM")
        return v


class BacktestConfig(_Strict):
    """One run's configuration: the seed's `StrategyConfig` fields plus the `engine` section.

    Unknown keys are rejected (E4002) so that no accepted key is silently without effect.
    """

    symbol: str
    timeframe: str
    enabled_scenarios: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5, 6])
    direction_filter: Literal["long", "short", "both"] = "both"
    params: dict[str, Any] = Field(default_factory=dict)
    engine: EngineSettings = Field(default_factory=EngineSettings)

    @field_validator("symbol")
    @classmethod
    def _symbol(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v

    @field_validator("timeframe")
    @classmethod
    def _timeframe(cls, v: str) -> str:
        tf = v.strip().upper()
        if tf not in TIMEFRAMES:
            raise ValueError(f"unknown timeframe {v!r} (one of {', '.join(TIMEFRAMES)})")
        return tf

    @field_validator("enabled_scenarios")
    @classmethod
    def _scenarios(cls, v: list[int]) -> list[int]:
        for s in v:
            if not 0 <= s <= 2**32 - 1:
                raise ValueError(f"scenario {s} out of range")
        return v

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible dict (the form the reference backend receives)."""
        return self.model_dump(mode="json")

    def to_json(self) -> str:
        """JSON text, the form that crosses into Rust (`_native.StrategyConfig.from_json`)."""
        try:
            return json.dumps(self.to_dict(), allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as e:
            raise InvalidConfigError(f"config is not representable as JSON: {e}", {"key": "params"}) from e


StrategyConfig = BacktestConfig
"""Alias: the Python model of the seed's `StrategyConfig` (with the `engine` section)."""


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc)


def config_error(err: ValidationError, prefix: str = "") -> InvalidConfigError:
    """An E4002 error naming the first offending key of a pydantic `ValidationError`."""
    errors = err.errors()
    first = errors[0] if errors else {"loc": (), "msg": str(err), "type": "value_error"}
    key = _loc(tuple(first["loc"]))
    full = f"{prefix}{key}" if key else prefix.rstrip(".") or "config"
    if first.get("type") == "extra_forbidden":
        msg = f"unknown key '{full}'"
    elif first.get("type") == "missing":
        msg = f"missing key '{full}'"
    else:
        msg = f"invalid value for '{full}': {first['msg']}"
    details = [{"key": f"{prefix}{_loc(tuple(e['loc']))}", "error": e["msg"]} for e in errors]
    return InvalidConfigError(msg, {"key": full, "errors": details})


def nesting_depth(value: object, limit: int = MAX_NESTING, level: int = 1) -> int:
    """Levels of dicts/lists/tuples in `value` (a scalar is 0; `value` itself is at `level`),
    counted without recursion and given up just past `limit` (so a structure too deep for Python's
    own recursion is measured too)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, level)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        deepest = max(deepest, level)
        if deepest > limit:
            break
        stack.extend((child, level + 1) for child in children)
    return deepest


def check_nesting(value: object, key: str = "config", level: int = 1) -> None:
    """E4002 naming `key` when `value`, itself at nesting `level`, reaches deeper than `MAX_NESTING`."""
    if nesting_depth(value, level=level) > MAX_NESTING:
        raise InvalidConfigError(
            f"'{key}' is nested more than {MAX_NESTING} levels deep (objects and lists)",
            {"key": key, "max_nesting": MAX_NESTING},
        )


def _as_mapping(config: object) -> dict[str, Any]:
    if isinstance(config, BacktestConfig):
        return config.to_dict()
    if isinstance(config, BaseModel):
        dumped: dict[str, Any] = config.model_dump(mode="json")
        return dumped
    if isinstance(config, str | bytes | bytearray):
        try:
            data = json.loads(config)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InvalidConfigError(f"config is not valid JSON: {e}", {"key": "config"}) from e
        except RecursionError as e:  # deeper than Python's parser goes: far beyond MAX_NESTING
            raise InvalidConfigError(
                f"config JSON is nested more than {MAX_NESTING} levels deep", {"key": "config"}
            ) from e
        if not isinstance(data, dict):
            raise InvalidConfigError("config JSON must be an object", {"key": "config"})
        return data
    if isinstance(config, dict):
        return dict(config)
    to_json = getattr(config, "to_json", None)
    if callable(to_json):  # a native `_native.StrategyConfig`
        text = to_json()
        if isinstance(text, str):
            return _as_mapping(text)
    raise InvalidConfigError(
        f"config must be a dict, a BacktestConfig, or JSON text, not {type(config).__name__}", {"key": "config"}
    )


def validate_params(params: dict[str, Any], params_model: type[BaseModel] | None) -> dict[str, Any]:
    """Validate strategy `params` with its pydantic model (unknown keys are E4002 naming the key).

    Returns the params as the model understood them (coerced values; keys the caller did not set
    are left out, so the strategy's own defaults apply on both backends).
    """
    if params_model is None:
        return params
    if params_model.model_config.get("extra") == "forbid":
        # The model rejects unknown keys itself (naming them) and may accept keys that are not
        # fields (e.g. MRZ's flattened scenario-6 overrides, collected by a validator).
        return _validated_dump(params, params_model)
    known: set[str] = set()
    for name, field in params_model.model_fields.items():
        known.add(name)
        if field.alias:
            known.add(field.alias)
        if isinstance(field.validation_alias, str):
            known.add(field.validation_alias)
    for key in params:
        if key not in known:
            raise InvalidConfigError(
                f"unknown key 'params.{key}' (known: {', '.join(sorted(known)) or 'none'})",
                {"key": f"params.{key}", "model": params_model.__name__},
            )
    return _validated_dump(params, params_model)


def _validated_dump(params: dict[str, Any], params_model: type[BaseModel]) -> dict[str, Any]:
    try:
        model = params_model.model_validate(params)
    except ValidationError as e:
        raise config_error(e, "params.") from e
    out: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return out


def normalize_config(config: object, params_model: type[BaseModel] | None = None) -> BacktestConfig:
    """Any accepted config form → validated `BacktestConfig` (E4002 naming the key on failure)."""
    data = _as_mapping(config)
    for key, value in data.items():
        check_nesting(value, str(key), level=2)
    try:
        cfg = BacktestConfig.model_validate(data)
    except ValidationError as e:
        raise config_error(e) from e
    if params_model is not None:
        cfg = cfg.model_copy(update={"params": validate_params(cfg.params, params_model)})
    return cfg
