"""Run configuration as pydantic models: the one table of config rules on the Python side
(docs/config.md). Each field carries its key, strict type, bounds and default; the API
(`normalize_config`, both backends) and the reference backend (`omega.reference.engine.parse_config`)
both validate with these models. The Rust `omega_core::config` keeps the same rules for direct native
calls; tests/test_config_rules.py walks every key here and proves the native side agrees.

`normalize_config` is the one door every config passes through in `omega.run_backtest`: dict,
`BacktestConfig`, JSON text or a native `StrategyConfig` in, a validated `BacktestConfig` out, with
`params` validated by the strategy's own params model when it has one.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from omega.errors import InvalidConfigError

TIMEFRAMES: tuple[str, ...] = ("M1", "M5", "M15", "M30", "H1", "H4", "D1")
"""Timeframe names the core knows, shortest first."""

WHITESPACE: str = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
"""What a trim removes: Unicode White_Space, the set of Rust's `str::trim` (Python's `str.strip()`
also strips the separators U+001C–U+001F, which Rust keeps; one rule for both sides)."""

MAX_CONFIG_DEPTH = 64
"""Deepest nesting of a config (the config object is level 1, `params` level 2); the Rust
`omega_core::config::MAX_CONFIG_DEPTH` is the same number (checked by tests/test_config_rules.py)."""

U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1
I64_MIN, I64_MAX = -(2**63), 2**63 - 1

# Strict scalar types: a value of another JSON type is an error, never converted ("100" is not 100,
# "yes" is not True, True is not 1, 1.0 is not an integer), exactly as serde reads the same JSON.
Float = Annotated[float, Field(strict=True, allow_inf_nan=False)]
PositiveFloat = Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0.0)]
NonNegativeFloat = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0)]
U32 = Annotated[int, Field(strict=True, ge=0, le=U32_MAX)]
U64 = Annotated[int, Field(strict=True, ge=0, le=U64_MAX)]
I64 = Annotated[int, Field(strict=True, ge=I64_MIN, le=I64_MAX)]
Bool = Annotated[bool, Field(strict=True)]
Text = Annotated[str, Field(strict=True)]
CurrencyCode = Annotated[str, Field(strict=True, pattern=r"^[A-Z0-9]{1,12}$")]
SessionWindow = Annotated[list[Text], Field(strict=True, min_length=2, max_length=2)]


def trim(text: str) -> str:
    """`text` without leading/trailing Unicode White_Space (Rust's `str::trim`)."""
    return text.strip(WHITESPACE)


def parse_hhmm(text: str) -> int | None:
    """Minutes after midnight of ``"H:MM"``/``"HH:MM"`` (None when malformed), the Rust `parse_hhmm` rule."""
    h, sep, m = trim(text).partition(":")
    if not sep or not 1 <= len(h) <= 2 or len(m) != 2 or not all(c in "0123456789" for c in h + m):
        return None
    hours, minutes = int(h), int(m)
    return hours * 60 + minutes if hours < 24 and minutes < 60 else None


def json_problem(value: object, max_depth: int = MAX_CONFIG_DEPTH) -> tuple[str, str] | None:
    """(dotted key, reason) of the first value that JSON and Rust cannot carry, else None.

    Objects and lists may nest `max_depth` levels, keys must be strings, text must be valid
    Unicode (no lone surrogates), numbers finite. These are the limits of the JSON that crosses
    into Rust, applied to every config before either backend sees it.
    """
    stack: list[tuple[object, str, int]] = [(value, "", 1)]
    while stack:
        v, path, depth = stack.pop()
        if isinstance(v, dict | list | tuple):
            if depth > max_depth:
                return path or "config", f"nested deeper than {max_depth} levels"
            items: Iterator[tuple[object, object]] = iter(v.items()) if isinstance(v, dict) else enumerate(v)
            for k, item in items:
                if isinstance(v, dict) and not isinstance(k, str):
                    return path or "config", f"key {k!r} is not a string"
                if isinstance(k, str) and _bad_text(k):
                    return path or "config", f"key {k!r} is not valid Unicode text (lone surrogate)"
                stack.append((item, f"{path}.{k}" if path else str(k), depth + 1))
        elif isinstance(v, str) and _bad_text(v):
            return path or "config", "text is not valid Unicode (lone surrogate)"
        elif isinstance(v, float) and not math.isfinite(v):
            return path or "config", f"{v} is not a finite number"
    return None


def _bad_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SymbolSpecSettings(_Strict):
    """Per-run overrides of the traded instrument (Rust `SymbolSpec`; docs/instruments.md).

    Every field left unset comes from the built-in instrument table; a symbol outside the table
    needs at least `base`, `quote` and `pip_size` (checked when the run starts, on both backends).
    """

    base: Text | None = None
    quote: Text | None = None
    pip_size: PositiveFloat | None = None
    digits: U32 | None = None
    contract_size: PositiveFloat | None = None
    lot_step: PositiveFloat | None = None
    min_lot: PositiveFloat | None = None
    max_lot: PositiveFloat | None = None
    margin_rate: PositiveFloat | None = None
    swap_long: Float | None = None
    swap_short: Float | None = None
    swap_mode: Literal["points", "percent"] | None = None
    triple_swap_weekday: (
        Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] | None
    ) = None

    @model_validator(mode="after")
    def _lots(self) -> SymbolSpecSettings:
        if self.min_lot is not None and self.max_lot is not None and self.max_lot < self.min_lot:
            raise ValueError("max_lot must be >= min_lot")
        return self


class CostSettings(_Strict):
    """Explicit trading costs (Rust `CostConfig`); every value >= 0."""

    commission_per_lot: NonNegativeFloat = 0.0
    commission_per_million: NonNegativeFloat = 0.0
    slippage_fixed_pips: NonNegativeFloat = 0.0
    slippage_random_pips: NonNegativeFloat = 0.0
    pip_buffer_factor: NonNegativeFloat = 0.0


class EngineSettings(_Strict):
    """Engine settings of one run (Rust `EngineConfig`; semantics in docs/engine.md)."""

    initial_balance: PositiveFloat = 100_000.0
    account_currency: CurrencyCode = "USD"
    sizing: Literal["risk", "fixed"] = "risk"
    fill: Literal["signal_close", "next_open"] = "signal_close"
    risk_per_trade: PositiveFloat = 100.0
    fixed_lots: PositiveFloat = 1.0
    symbol_spec: SymbolSpecSettings = Field(default_factory=SymbolSpecSettings)
    costs: CostSettings = Field(default_factory=CostSettings)
    quote_to_account_rate: PositiveFloat | None = None
    seed: U64 = 42
    max_open_positions: Annotated[int, Field(strict=True, ge=1, le=U32_MAX)] = 1
    allow_same_bar_reentry: Bool = False
    close_at_end: Bool = True
    allow_crossed_quotes: Bool = False
    sessions: Annotated[list[SessionWindow], Field(strict=True)] = Field(default_factory=list)
    cooldown_candles: U32 = 0
    cooldown_minutes: NonNegativeFloat = 0.0
    cooldown_minutes_trade: NonNegativeFloat = 0.0
    start_time_us: I64 | None = None
    htf_anchor: Literal["utc", "new_york_1700"] = "utc"
    # account: swaps and margin (docs/engine.md "Swaps", "Margin and stop-out")
    swaps: Bool = True
    margin: Bool = True
    stop_out_level: NonNegativeFloat = 0.5

    @field_validator("sessions")
    @classmethod
    def _sessions(cls, v: list[list[str]]) -> list[list[str]]:
        for a, b in v:
            if parse_hhmm(a) is None or parse_hhmm(b) is None:
                raise ValueError(f"bad window [{a!r}, {b!r}], want HH:MM")
        return v


class BacktestConfig(_Strict):
    """One run's configuration: the seed's `StrategyConfig` fields plus the `engine` section.

    Unknown keys are rejected (E4002) so that no accepted key is silently without effect.
    """

    symbol: Text
    timeframe: Text
    enabled_scenarios: Annotated[list[Annotated[int, Field(strict=True, ge=1, le=U32_MAX)]], Field(min_length=1)] = (
        Field(default_factory=lambda: [1, 2, 3, 4, 5, 6])
    )
    direction_filter: Literal["long", "short", "both"] = "both"
    params: Annotated[dict[str, Any], Field(strict=True)] = Field(default_factory=dict)
    engine: EngineSettings = Field(default_factory=EngineSettings)

    @model_validator(mode="before")
    @classmethod
    def _representable(cls, data: Any) -> Any:
        problem = json_problem(data)
        if problem is not None:
            raise ConfigShapeError(*problem)
        return data

    @field_validator("symbol")
    @classmethod
    def _symbol(cls, v: str) -> str:
        if not trim(v):
            raise ValueError("must not be empty")
        return v

    @field_validator("timeframe")
    @classmethod
    def _timeframe(cls, v: str) -> str:
        tf = trim(v).upper()
        if tf not in TIMEFRAMES:
            raise ValueError(f"unknown timeframe {v!r} (one of {', '.join(TIMEFRAMES)})")
        return tf

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


class ConfigShapeError(ValueError):
    """A config value JSON/Rust cannot carry (too deep, lone surrogate, …); becomes E4002 naming `key`."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


def unknown_key_error(
    key: str, known: list[str] | tuple[str, ...] | set[str], details: dict[str, Any] | None = None
) -> InvalidConfigError:
    """E4002 for an unknown key: names it, lists the valid keys and suggests close matches (difflib)."""
    name = key.rsplit(".", 1)[-1]
    valid = sorted(known)
    close = difflib.get_close_matches(name, valid, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    msg = f"unknown key '{key}'{hint} (valid keys: {', '.join(valid) or 'none'})"
    return InvalidConfigError(msg, {"key": key, "valid_keys": valid, "suggestions": close, **(details or {})})


def model_keys_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """Field names of the (nested) model that holds `loc`'s last key."""
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        sub = None if field is None else _model_in(field.annotation)
        if sub is None:
            return []
        model = sub
    return list(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc)


def config_error(err: ValidationError, prefix: str = "", model: type[BaseModel] | None = None) -> InvalidConfigError:
    """An E4002 error naming the first offending key of a pydantic `ValidationError`.

    `model` (default `BacktestConfig` without a prefix) lets an unknown key list the valid keys.
    """
    errors = err.errors()
    first: dict[str, Any] = dict(errors[0]) if errors else {"loc": (), "msg": str(err), "type": "value_error"}
    loc = tuple(first["loc"])
    ctx: dict[str, Any] = first.get("ctx") or {}
    ctx_err = ctx.get("error")
    if isinstance(ctx_err, ConfigShapeError):
        key = f"{prefix}{ctx_err.key}"
        return InvalidConfigError(f"invalid value for '{key}': {ctx_err.reason}", {"key": key})
    key = _loc(loc)
    full = f"{prefix}{key}" if key else prefix.rstrip(".") or "config"
    details = [{"key": f"{prefix}{_loc(tuple(e['loc']))}", "error": e["msg"]} for e in errors]
    if first.get("type") == "extra_forbidden":
        owner = model if model is not None else (BacktestConfig if not prefix else None)
        known = model_keys_at(owner, loc) if owner is not None else []
        return unknown_key_error(full, known, {"errors": details})
    if first.get("type") == "missing":
        msg = f"missing key '{full}'"
    else:
        msg = f"invalid value for '{full}': {first['msg']} (got {_short(first.get('input'))})"
    return InvalidConfigError(msg, {"key": full, "errors": details})


def nesting_depth(value: object, limit: int = MAX_CONFIG_DEPTH, level: int = 1) -> int:
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
    """E4002 naming `key` when `value`, itself at nesting `level`, reaches deeper than `MAX_CONFIG_DEPTH`."""
    if nesting_depth(value, level=level) > MAX_CONFIG_DEPTH:
        raise InvalidConfigError(
            f"'{key}' is nested more than {MAX_CONFIG_DEPTH} levels deep (objects and lists)",
            {"key": key, "max_nesting": MAX_CONFIG_DEPTH},
        )


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


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
        except RecursionError:
            raise InvalidConfigError(
                f"config JSON is nested deeper than {MAX_CONFIG_DEPTH} levels", {"key": "config"}
            ) from None
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
            raise unknown_key_error(f"params.{key}", known, {"model": params_model.__name__})
    return _validated_dump(params, params_model)


def _validated_dump(params: dict[str, Any], params_model: type[BaseModel]) -> dict[str, Any]:
    try:
        model = params_model.model_validate(params)
    except ValidationError as e:
        raise config_error(e, "params.", params_model) from e
    out: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return out


def normalize_config(config: object, params_model: type[BaseModel] | None = None) -> BacktestConfig:
    """Any accepted config form → validated `BacktestConfig` (E4002 naming the key on failure)."""
    data = _as_mapping(config)
    try:
        cfg = BacktestConfig.model_validate(data)
    except ValidationError as e:
        raise config_error(e) from e
    if params_model is not None:
        cfg = cfg.model_copy(update={"params": validate_params(cfg.params, params_model)})
    return cfg
