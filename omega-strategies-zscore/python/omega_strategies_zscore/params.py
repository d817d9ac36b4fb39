"""Parameters of the Mean Reversion Z-Score (MRZ) strategy (spec ``mrz-strategy.md`` §2).

Two models:

* :class:`MrzParams` — the ``params`` section of an Omega config: every strategy parameter of §2,
  plus ``stale_bar_limit_bars`` (§1 stale rule). ``enabled_scenarios`` and ``direction_filter``
  normally live at the top level of the config (the core's ``StrategyConfig``); given inside
  ``params`` (the original layout) they override the top level, as in the Rust port.
* :class:`MrzConfig` — the whole Omega config as the strategy sees it (``symbol``, ``timeframe``,
  ``enabled_scenarios``, ``direction_filter``, ``params``, ``engine``; the engine section is
  validated by the engine, not here).

Parsing follows §2 with the strict decisions of §7 #16/#17: integers must be JSON integers (or
whole-number floats), floats JSON numbers, booleans JSON booleans, lists JSON lists; filter modes,
``intraday_vol_feature`` and timeframe names are trimmed and case-normalised and must then be one
of the allowed values; unknown keys are errors. Where §2 itself states a lenient rule it is kept:
``direction_filter`` (anything but long/short = both), ``enabled_scenarios`` entries (invalid ones
ignored, none left = all), ``scenario6_mode`` (anything but any = all) and scenario-6 override
values (cast as V1 did, a failed cast gives the global value, unknown override keys ignored).
Every problem raises :class:`omega.errors.InvalidConfigError` (E4002) naming the key.

:func:`from_original_config` converts the original V1/V2 JSON layout into an Omega config dict.
"""

from __future__ import annotations

import math
import re
import warnings
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal, Self

from omega.config import I64_MAX, I64_MIN, model_keys_at, trim, unknown_key_error
from omega.errors import InvalidConfigError
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

__all__ = [
    "ALL_SCENARIOS",
    "S6_PARAM_KEYS",
    "TIMEFRAME_MINUTES",
    "MrzConfig",
    "MrzConfigWarning",
    "MrzParams",
    "S6Resolved",
    "config_warnings",
    "default_cluster_window",
    "from_original_config",
    "is_no_timeframe",
    "normalize_timeframe",
    "parse_config",
    "parse_params",
]

#: Timeframe names Omega knows and their length in minutes.
TIMEFRAME_MINUTES: dict[str, int] = {"M1": 1, "M5": 5, "M15": 15, "M30": 30, "H1": 60, "H4": 240, "D1": 1440}

#: Scenario numbers of MRZ.
ALL_SCENARIOS: tuple[int, ...] = (1, 2, 3, 4, 5, 6)

#: Keys recognised in scenario-6 per-timeframe overrides (§2).
S6_PARAM_KEYS: tuple[str, ...] = (
    "window_length",
    "b_b_length",
    "std_factor",
    "kalman_r",
    "kalman_q",
    "z_score_long",
    "z_score_short",
    "z_score",
)

#: Flattened scenario-6 keys: ``scenario6_<TF>_<long|short>_<key>`` (case-insensitive).
_S6_FLAT_RE = re.compile(
    r"^scenario6_([A-Za-z0-9]+)_(long|short)_(" + "|".join(S6_PARAM_KEYS) + r")\Z",
    re.IGNORECASE,
)

_HTF_MODES = ("above", "below", "both", "none")


class MrzConfigWarning(UserWarning):
    """A valid but suspicious MRZ configuration (e.g. a scenario that can never fire)."""


# --------------------------------------------------------------------------------------------
# Scalar types: strict JSON types; integers may be given as whole-number floats (14.0), as the
# Rust port's parser accepts them
# --------------------------------------------------------------------------------------------
def _whole_float_to_int(v: Any) -> Any:
    if isinstance(v, float) and math.isfinite(v) and v == math.trunc(v) and abs(v) < 9.0e15:
        return int(v)
    return v


_Whole = BeforeValidator(_whole_float_to_int)
# Upper bound: the Rust reader reads whole numbers as i64.
Int0 = Annotated[int, _Whole, Field(strict=True, ge=0, le=I64_MAX)]
Int1 = Annotated[int, _Whole, Field(strict=True, ge=1, le=I64_MAX)]
Int2 = Annotated[int, _Whole, Field(strict=True, ge=2, le=I64_MAX)]
AnyInt = Annotated[int, _Whole, Field(strict=True, ge=I64_MIN, le=I64_MAX)]
Num = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Num0 = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0)]
NumPos = Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0.0)]
Bool = Annotated[bool, Field(strict=True)]
Str = Annotated[str, Field(strict=True)]


def normalize_timeframe(value: str, *, allow: tuple[str, ...] = ()) -> str:
    """Trim and upper-case a timeframe name; it must be a known TF or one of ``allow``."""
    tf = trim(value).upper()
    if tf in TIMEFRAME_MINUTES or tf in allow:
        return tf
    allowed = ", ".join(repr(a) for a in [*TIMEFRAME_MINUTES, *allow])
    raise ValueError(f"unknown timeframe {value!r} (allowed: {allowed})")


def is_no_timeframe(tf: str) -> bool:
    """True for the filter timeframes that mean "not applied" (``""`` and ``"NONE"``, §3.3)."""
    return tf in ("", "NONE")


def default_cluster_window(timeframe: str) -> int:
    """Default ``intraday_vol_cluster_window`` for a primary timeframe (orig: BS:_default_cluster_window)."""
    tf = trim(timeframe).upper()
    if tf == "M5":
        return 300
    if tf == "M15":
        return 200
    if tf in ("M30", "H1"):
        return 240
    return 200


def _first_error_key(err: ValidationError, prefix: str) -> tuple[str, str]:
    """(dotted key, message) of the first error of a pydantic ValidationError."""
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    key = f"{prefix}.{loc}" if prefix and loc else (prefix or loc)
    if first["type"] == "extra_forbidden":
        return key, f"unknown key '{key}'"
    msg = str(first["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if not first["loc"]:
        return key, f"invalid {key or 'config'}: {msg}"
    return key, f"invalid value for '{key}': {msg} (got {first.get('input')!r})"


def _raise_invalid(err: ValidationError, prefix: str, model: type[BaseModel]) -> InvalidConfigError:
    first = err.errors()[0]
    if first["type"] == "extra_forbidden":
        key = _first_error_key(err, prefix)[0]
        return unknown_key_error(key, model_keys_at(model, tuple(first["loc"])))
    key, message = _first_error_key(err, prefix)
    errors = [
        {"loc": ".".join(str(p) for p in e["loc"]), "type": e["type"], "msg": str(e["msg"])} for e in err.errors()
    ]
    return InvalidConfigError(message, {"key": key, "errors": errors})


class _StrictModel(BaseModel):
    """Base: unknown keys forbidden; ``model_validate`` raises InvalidConfigError (E4002).

    (Keyword construction ``Model(...)`` raises pydantic's ValidationError, a ValueError; use
    ``model_validate``, :func:`parse_params` or :func:`parse_config` for Omega's error codes.)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    _error_prefix: ClassVar[str] = ""

    @classmethod
    def model_validate(
        cls,
        obj: Any,
        *,
        strict: bool | None = None,
        from_attributes: bool | None = None,
        context: Any | None = None,
        **kwargs: Any,
    ) -> Self:
        """Validate ``obj``; raises InvalidConfigError (E4002) naming the offending key."""
        if not isinstance(obj, dict) and not isinstance(obj, cls):
            raise InvalidConfigError(
                f"{cls._error_prefix or cls.__name__} must be an object, got {type(obj).__name__}",
                {"key": cls._error_prefix},
            )
        try:
            return super().model_validate(
                obj, strict=strict, from_attributes=from_attributes, context=context, **kwargs
            )
        except ValidationError as e:
            raise _raise_invalid(e, cls._error_prefix, cls) from None


# --------------------------------------------------------------------------------------------
# Scenario 6 overrides (§2): kept as given, cast when resolved, as V1 and the Rust port do
# --------------------------------------------------------------------------------------------
_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_FLOAT_TEXT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def _cast_int(v: Any) -> int | None:
    """V1's ``int(v)`` for an override: booleans 0/1, numbers truncated, integer strings; None = fails."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int) and I64_MIN <= v <= I64_MAX:
        return v
    if isinstance(v, int | float):  # beyond i64 Rust sees a float
        f = float(v) if isinstance(v, float) or abs(v) < 2**1024 else math.inf
        return math.trunc(f) if math.isfinite(f) and abs(f) < 9.0e15 else None
    if isinstance(v, str) and _INT_TEXT.fullmatch(trim(v)):
        n = int(trim(v))
        return n if I64_MIN <= n <= I64_MAX else None
    return None


def _cast_float(v: Any) -> float | None:
    """V1's ``float(v)`` for an override (booleans, numbers, numeric strings); None = fails or not finite."""
    f: float | None = None
    if isinstance(v, bool):
        f = 1.0 if v else 0.0
    elif isinstance(v, float):
        f = v
    elif isinstance(v, int):
        f = float(v) if abs(v) < 2**1024 else math.inf
    elif isinstance(v, str) and _FLOAT_TEXT.fullmatch(trim(v)):
        f = float(trim(v))
    return f if f is not None and math.isfinite(f) else None


def _s6_name(raw: str, primary: str) -> str:
    """A scenario-6 timeframe name: trimmed, upper-cased, ``PRIMARY`` → the primary timeframe."""
    up = trim(raw).upper()
    return trim(primary).upper() if up == "PRIMARY" else up


class S6Resolved(BaseModel):
    """Effective scenario-6 parameters for one (timeframe, direction)."""

    model_config = ConfigDict(frozen=True)

    window_length: int
    b_b_length: int
    std_factor: float
    kalman_r: float
    kalman_q: float
    threshold: float

    def usable(self) -> bool:
        """False when a window is below 2: the indicators refuse it and this TF's check always fails."""
        return self.window_length >= 2 and self.b_b_length >= 2


def _parse_enabled(v: Any) -> list[int]:
    """A scenario list: whole numbers 1..6, at least one (issue 13: no entry is silently dropped,
    an empty list is not "all"); null means every scenario."""
    if v is None:
        return list(ALL_SCENARIOS)
    if not isinstance(v, list):
        raise ValueError("must be a list of scenario numbers")
    if not v:
        raise ValueError("must name at least one scenario (1..6)")
    found: set[int] = set()
    for e in v:
        n = None if isinstance(e, bool) else _whole_float_to_int(e)
        if not isinstance(n, int) or not 1 <= n <= 6:
            raise ValueError(f"{e!r} is not a scenario number (1..6)")
        found.add(n)
    return sorted(found)


def _lenient_enabled(v: Any) -> list[int]:
    """V1's scenario list (original layout only): entries that are not whole numbers 1..6 (or
    integer strings) are ignored; nothing left (or null) means every scenario."""
    if v is None:
        return list(ALL_SCENARIOS)
    if not isinstance(v, list):
        raise ValueError("must be a list of scenario numbers")
    found: set[int] = set()
    for e in v:
        n: int | None = None
        if isinstance(e, str):
            n = int(trim(e)) if _INT_TEXT.fullmatch(trim(e)) else None
        elif not isinstance(e, bool):
            w = _whole_float_to_int(e)
            n = w if isinstance(w, int) else None
        if n is not None and 1 <= n <= 6:
            found.add(n)
    return sorted(found) if found else list(ALL_SCENARIOS)


# --------------------------------------------------------------------------------------------
# The parameters
# --------------------------------------------------------------------------------------------
class MrzParams(_StrictModel):
    """Every MRZ parameter of spec §2 (the ``params`` section of an Omega config)."""

    _error_prefix: ClassVar[str] = "params"

    # Scenario 1–3 core
    atr_length: Int1 = 14
    atr_mult: Num0 = 2.0
    b_b_length: Int2 = 20
    std_factor: Num0 = 2.0
    window_length: Int2 = 100
    z_score_long: Num = -2.5
    z_score_short: Num = 2.5
    ema_length: Int1 = 30
    kalman_r: NumPos = 0.01
    kalman_q: Num0 = 1.0
    tp_min_distance: Num0 = 1.0
    #: Original layout inside ``params``: overrides the top-level field when given (trimmed,
    #: lower-cased; anything but long/short means both, §2).
    direction_filter: Str | None = None
    #: Original layout inside ``params``: overrides the top-level field when given (§2 list rules).
    enabled_scenarios: list[int] | None = None
    # Position manager (§6); 0 is an error (§7 #16), null disables the timeout
    use_position_manager: Bool = True
    max_holding_minutes: Int1 | None = 30
    # HTF filters (§3.3); "" and "NONE" = not applied
    htf_tf: Str = "D1"
    htf_ema: Int1 = 100
    htf_filter: Str = "both"
    extra_htf_tf: Str = "AUTO"
    extra_htf_ema: Int1 = 50
    extra_htf_filter: Str = "both"
    # GARCH (§3.1)
    garch_alpha: Num0 = 0.05
    garch_beta: Num0 = 0.90
    garch_omega: Num | None = None
    garch_use_log_returns: Bool = True
    garch_scale: NumPos = 100.0
    garch_min_periods: Int0 = 50
    garch_sigma_floor: Num0 = 1e-6
    local_z_lookback: Int0 = 0
    # Scenario 5 volatility-cluster guard (§3.2)
    intraday_vol_feature: Str = "garch_forecast"
    intraday_vol_cluster_window: Int1 | None = None
    intraday_vol_cluster_k: Int1 = 3
    intraday_vol_log_transform: Bool = True
    intraday_vol_min_points: Int1 = 60
    intraday_vol_garch_lookback: AnyInt = 500
    cluster_hysteresis_bars: Int0 = 0
    intraday_vol_allowed: Annotated[list[Str], Field(strict=True)] = Field(default_factory=lambda: ["low", "mid"])
    # Scenario 6 (§2, §4)
    scenario6_mode: Str = "all"
    scenario6_timeframes: Annotated[list[Str], Field(strict=True)] = Field(default_factory=list)
    #: ``{TF: {overrides…, "long": {…}, "short": {…}}}`` as given; cast when resolved.
    scenario6_params: Annotated[dict[str, dict[str, Any]], Field(strict=True)] = Field(default_factory=dict)
    #: The flattened keys ``scenario6_<TF>_<long|short>_<key>`` as given (key → value).
    scenario6_flat: Annotated[dict[str, Any], Field(strict=True)] = Field(default_factory=dict)
    # §1 stale rule: 0 = automatic limit
    stale_bar_limit_bars: Int0 = 0

    # ---- normalisation -------------------------------------------------------------------
    @model_validator(mode="before")
    @classmethod
    def _collect_flattened(cls, data: Any) -> Any:
        """Move ``scenario6_<TF>_<dir>_<key>`` keys into ``scenario6_flat``."""
        if not isinstance(data, dict):
            return data
        out: dict[str, Any] = {}
        flat: dict[str, Any] = {}
        for key, val in data.items():
            if isinstance(key, str) and _S6_FLAT_RE.match(key):
                flat[key] = val
            else:
                out[key] = val
        if flat:
            if "scenario6_flat" in out:
                raise ValueError("give scenario-6 flattened keys or 'scenario6_flat', not both")
            out["scenario6_flat"] = flat
        return out

    @model_serializer(mode="wrap")
    def _flatten_on_dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Dump ``scenario6_flat`` back as the flattened keys and leave out the unset top-level overrides,
        so that a dump is valid input to either backend and means the same."""
        out: dict[str, Any] = handler(self)
        for key in ("enabled_scenarios", "direction_filter"):  # None = not given (the top level applies)
            if key in out and out[key] is None:
                del out[key]
        flat = out.pop("scenario6_flat", None)
        if flat:
            out.update(flat)
        return out

    @field_validator("enabled_scenarios", mode="before")
    @classmethod
    def _enabled(cls, v: Any) -> Any:
        return _parse_enabled(v)

    @field_validator("direction_filter")
    @classmethod
    def _direction(cls, v: str | None) -> str | None:
        return None if v is None else trim(v).lower()

    @field_validator("htf_tf")
    @classmethod
    def _norm_htf_tf(cls, v: str) -> str:
        return normalize_timeframe(v, allow=("NONE", ""))

    @field_validator("extra_htf_tf")
    @classmethod
    def _norm_extra_htf_tf(cls, v: str) -> str:
        return normalize_timeframe(v, allow=("NONE", "", "AUTO"))

    @field_validator("htf_filter", "extra_htf_filter")
    @classmethod
    def _norm_filter(cls, v: str) -> str:
        mode = trim(v).lower()
        if mode not in _HTF_MODES:
            raise ValueError(f"must be one of {', '.join(_HTF_MODES)}")
        return mode

    @field_validator("intraday_vol_feature")
    @classmethod
    def _norm_feature(cls, v: str) -> str:
        feat = trim(v).lower()
        if feat not in ("garch_forecast", "atr_points"):
            raise ValueError("must be 'garch_forecast' or 'atr_points'")
        return feat

    @field_validator("intraday_vol_allowed")
    @classmethod
    def _norm_allowed(cls, v: list[str]) -> list[str]:
        return [trim(s).lower() for s in v]

    @field_validator("scenario6_mode")
    @classmethod
    def _norm_s6_mode(cls, v: str) -> str:
        return "any" if trim(v).lower() == "any" else "all"  # §2: anything else = all

    @field_validator("scenario6_timeframes", mode="before")
    @classmethod
    def _s6_tfs_scalar(cls, v: Any) -> Any:
        if v is None:
            return []
        return [v] if isinstance(v, str) else v

    @field_validator("scenario6_timeframes")
    @classmethod
    def _norm_s6_tfs(cls, v: list[str]) -> list[str]:
        out: list[str] = []
        for raw in v:
            if not trim(raw):
                continue
            tf = normalize_timeframe(raw, allow=("PRIMARY",))
            if tf not in out:
                out.append(tf)
        return out

    @field_validator("scenario6_params", mode="before")
    @classmethod
    def _s6_params_null(cls, v: Any) -> Any:
        return {} if v is None else v

    @field_validator("scenario6_flat")
    @classmethod
    def _check_flat_keys(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key in v:
            if not _S6_FLAT_RE.match(key):
                raise ValueError(f"{key!r} is not a key scenario6_<TF>_<long|short>_<name>")
        return v

    # ---- derived values -------------------------------------------------------------------
    def htf_b_timeframe(self, primary: str) -> str:
        """Filter B timeframe with AUTO resolved (M5→H1, M15/M30→H4, otherwise NONE)."""
        if self.extra_htf_tf != "AUTO":
            return self.extra_htf_tf
        p = trim(primary).upper()
        if p == "M5":
            return "H1"
        if p in ("M15", "M30"):
            return "H4"
        return "NONE"

    def cluster_window(self, primary: str) -> int:
        """``intraday_vol_cluster_window`` with the timeframe default applied."""
        if self.intraday_vol_cluster_window is not None:
            return self.intraday_vol_cluster_window
        return default_cluster_window(primary)

    def garch_lookback(self) -> int:
        """Local GARCH window of the S5 feature (≤ 0 means 500)."""
        return self.intraday_vol_garch_lookback if self.intraday_vol_garch_lookback > 0 else 500

    def s6_timeframes(self, primary: str) -> list[str]:
        """Scenario-6 chain timeframes with PRIMARY resolved, de-duplicated keeping order."""
        out: list[str] = []
        for tf in self.scenario6_timeframes:
            name = _s6_name(tf, primary)
            if name not in out:
                out.append(name)
        return out

    def s6_params_for(self, tf: str, direction: Literal["long", "short"], primary: str) -> S6Resolved:
        """Effective scenario-6 parameters for (TF, direction) (§2, §7 #12).

        Layers, later ones winning: the TF's flat keys, then ``[TF][direction]``, then the
        flattened keys; entries whose key names the same TF (e.g. ``PRIMARY`` and the primary's
        name) are merged in sorted key order, as the Rust port's JSON map iterates. Values are cast
        as V1 did (§2); a value that fails to cast gives the global value. The threshold is the
        ``z_score`` layer value if that key is set at all, else ``z_score_<direction>``, else the
        global threshold.
        """
        merged: dict[str, Any] = {}
        nested = [(_s6_name(k, primary), v) for k, v in sorted(self.scenario6_params.items())]
        for name, obj in nested:
            if name == tf:
                merged.update({k: obj[k] for k in S6_PARAM_KEYS if k in obj})
        for name, obj in nested:
            sub = obj.get(direction) if name == tf else None
            if isinstance(sub, dict):
                merged.update({k: sub[k] for k in S6_PARAM_KEYS if k in sub})
        for key in sorted(self.scenario6_flat):
            m = _S6_FLAT_RE.match(key)
            assert m is not None
            if m.group(2).lower() == direction and _s6_name(m.group(1), primary) == tf:
                merged[m.group(3).lower()] = self.scenario6_flat[key]

        def as_int(key: str, default: int) -> int:
            v = _cast_int(merged[key]) if key in merged else None
            return v if v is not None and v >= 0 else default

        def as_float(key: str, default: float) -> float:
            v = _cast_float(merged[key]) if key in merged else None
            return default if v is None else v

        own, global_thr = (
            ("z_score_long", self.z_score_long)
            if direction == "long"
            else (
                "z_score_short",
                self.z_score_short,
            )
        )
        threshold = as_float("z_score", global_thr) if "z_score" in merged else as_float(own, global_thr)
        return S6Resolved(
            window_length=as_int("window_length", self.window_length),
            b_b_length=as_int("b_b_length", self.b_b_length),
            std_factor=as_float("std_factor", self.std_factor),
            kalman_r=as_float("kalman_r", self.kalman_r),
            kalman_q=as_float("kalman_q", self.kalman_q),
            threshold=threshold,
        )

    def garch_available(self) -> bool:
        """False when α + β ≥ 1 (GARCH series missing everywhere, §7 #15)."""
        return self.garch_alpha + self.garch_beta < 1.0


class MrzConfig(_StrictModel):
    """An Omega config for MRZ: the top level of the core's ``StrategyConfig`` with typed ``params``."""

    symbol: Str
    timeframe: Str
    #: Scenario numbers 1..6, at least one.
    enabled_scenarios: Annotated[list[Annotated[int, Field(strict=True, ge=1, le=6)]], Field(min_length=1)] = Field(
        default_factory=lambda: list(ALL_SCENARIOS)
    )
    direction_filter: Literal["long", "short", "both"] = "both"
    params: MrzParams = Field(default_factory=MrzParams)
    #: The engine section; validated by the engine (``EngineConfig``), passed through here.
    engine: Annotated[dict[str, Any], Field(strict=True)] = Field(default_factory=dict)

    @field_validator("symbol")
    @classmethod
    def _symbol(cls, v: str) -> str:
        if not trim(v):
            raise ValueError("must not be empty")
        return v

    @field_validator("timeframe")
    @classmethod
    def _tf(cls, v: str) -> str:
        return normalize_timeframe(v)

    def scenarios(self) -> list[int]:
        """Effective enabled scenarios: ``params.enabled_scenarios`` if given, else the top level."""
        if self.params.enabled_scenarios is not None:
            return list(self.params.enabled_scenarios)
        return sorted(set(self.enabled_scenarios))

    def direction(self) -> str:
        """Effective direction filter: ``params.direction_filter`` if given, else the top level."""
        return self.params.direction_filter if self.params.direction_filter is not None else self.direction_filter

    def scenario_enabled(self, n: int) -> bool:
        """Whether scenario ``n`` is enabled."""
        return n in self.scenarios()

    def direction_allowed(self, direction: str) -> bool:
        """Whether the effective direction filter admits ``direction`` (anything but long/short = both)."""
        d = self.direction()
        return d not in ("long", "short") or d == direction


def parse_params(params: dict[str, Any] | MrzParams | None) -> MrzParams:
    """Validate a ``params`` dict (E4002 naming the key on any problem)."""
    if params is None:
        return MrzParams()
    if isinstance(params, MrzParams):
        return params
    return MrzParams.model_validate(params)


def parse_config(config: dict[str, Any] | MrzConfig) -> MrzConfig:
    """Validate a whole Omega config for MRZ (E4002 naming the key on any problem)."""
    if isinstance(config, MrzConfig):
        return config
    return MrzConfig.model_validate(config)


def _tf_buildable(tf: str, primary: str) -> bool:
    m = TIMEFRAME_MINUTES[tf]
    p = TIMEFRAME_MINUTES[primary]
    return m >= p and m % p == 0


def config_warnings(cfg: MrzConfig) -> list[str]:
    """Config-time warnings of spec §7 (#5, #14, #15, #19): valid but probably unintended."""
    p = cfg.params
    out: list[str] = []
    primary = cfg.timeframe
    dirs = [d for d in ("long", "short") if cfg.direction_allowed(d)]
    if cfg.scenario_enabled(2) and dirs:
        shadowed = [n for n in (3, 5, 6) if cfg.scenario_enabled(n)]
        if shadowed:
            out.append(
                f"scenario 2 is enabled, so scenarios {shadowed} can never fire for the same direction "
                "(they add conditions to scenario 2 and are evaluated after it)"
            )
    if cfg.scenario_enabled(5) and not p.intraday_vol_allowed:
        out.append("intraday_vol_allowed is empty: scenario 5 never fires")
    uses_garch = cfg.scenario_enabled(4) or (cfg.scenario_enabled(5) and p.intraday_vol_feature == "garch_forecast")
    if uses_garch and not p.garch_available():
        out.append("garch_alpha + garch_beta >= 1: GARCH is unavailable, scenarios 4/5 never fire")
    if cfg.scenario_enabled(4) and p.local_z_lookback > 0 and p.local_z_lookback < p.garch_min_periods + 2:
        out.append("local_z_lookback < garch_min_periods + 2: the local z is never valid, scenario 4 never fires")
    tfs: list[tuple[str, str]] = []
    if any(cfg.scenario_enabled(n) for n in (2, 3, 4, 5, 6)):
        tfs += [("htf_tf", p.htf_tf), ("extra_htf_tf", p.htf_b_timeframe(primary))]
    if cfg.scenario_enabled(6):
        tfs += [("scenario6_timeframes", tf) for tf in p.s6_timeframes(primary)]
        for tf in p.s6_timeframes(primary):
            for d in ("long", "short"):
                if cfg.direction_allowed(d) and not p.s6_params_for(tf, d, primary).usable():
                    out.append(f"scenario-6 {tf} {d}: a window below 2 is never valid, that check always fails")
        if not p.scenario6_timeframes:
            out.append("scenario6_timeframes is empty: scenario 6 never fires")
    for name, tf in tfs:
        if not is_no_timeframe(tf) and not _tf_buildable(tf, primary):
            out.append(f"{name} {tf} cannot be built from primary {primary}: its values are missing everywhere")
    return out


# --------------------------------------------------------------------------------------------
# Original (V1/V2) JSON layout → Omega config
# --------------------------------------------------------------------------------------------

#: Top-level keys of the original layout that do not affect a backtest's signals or fills in
#: Omega, with the reason. Ignored by :func:`from_original_config` (original layout only).
ORIGINAL_IGNORED_KEYS: dict[str, str] = {
    "mode": "only 'candle' exists in Omega (checked)",
    "enable_entry_logging": "V1 logging switch",
    "logging_mode": "V1 logging switch",
    "enable_backtest_robust_metrics": "V1 robustness report",
    "robust_jitter_frac": "V1 robustness report",
    "robust_jitter_repeats": "V1 robustness report",
    "robust_data_jitter_repeats": "V1 robustness report",
    "robust_data_jitter_atr_period": "V1 robustness report",
    "robust_data_jitter_sigma_atr": "V1 robustness report",
    "robust_data_jitter_fraq": "V1 robustness report",
    "reporting": "V1 report/jitter settings",
    "rates": "V1 FX conversion provider; Omega uses conversion candles or engine.quote_to_account_rate",
    "rates_static": "V1 FX conversion provider; Omega uses conversion candles or engine.quote_to_account_rate",
    "end_date": "data selection: the caller passes the candles to run on",
    "warmup_bars": "data selection: Omega runs indicators from the first supplied row",
    "execution_costs_file": "V1 cost file; set engine.costs explicitly",
    "symbol_specs_file": "V1 symbol spec file; set engine.symbol_spec explicitly",
}

#: Keys of ``timeframes`` / ``timestamp_alignment`` that Omega does not need, with the reason.
ORIGINAL_IGNORED_SUBKEYS: dict[str, str] = {
    "timeframes.additional": "needed timeframes are derived from the parameters (§7 #19)",
    "timestamp_alignment.additional_tfs_mode": "Omega carries the last closed HTF bar forward (§1)",
    "timestamp_alignment.diagnostics": "V1 diagnostics switch",
    "timestamp_alignment.higher_tf_timestamps_mode": "Omega times HTF bars explicitly by their close (§7 #3)",
    "timestamp_alignment.entry_timestamp_mode": "Omega always decides at the bar close (§7 #21)",
    "timestamp_alignment.use_previous_completed_higher_tf": "Omega always uses completed HTF bars (§1)",
}

#: Strategy-parameter keys V1's robustness tooling read from the parameters; not MRZ parameters.
ORIGINAL_IGNORED_PARAMS: frozenset[str] = frozenset(
    {"enable_backtest_robust_metrics", "jitter_frac", "robust_jitter_frac", "jitter_repeats", "robust_jitter_repeats"}
)

_ORIGINAL_KNOWN = {
    "symbol",
    "timeframes",
    "strategy",
    "strategy_parameters",
    "session_filter",
    "sessions",
    "cooldown_candles",
    "cooldown_minutes",
    "cooldown_minutes_trade",
    "timestamp_alignment",
    "start_date",
    "initial_balance",
    "risk_per_trade",
    "account_currency",
    "slippage",
    "execution",
}


def _bad(key: str, msg: str) -> InvalidConfigError:
    return InvalidConfigError(f"original config '{key}': {msg}", {"key": key})


def _as_dict(value: Any, key: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _bad(key, f"must be an object, got {type(value).__name__}")
    return value


def _sessions_from_fixed_times(value: Any, key: str) -> list[list[str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad(key, "must be a list of [start, end] pairs")
    out: list[list[str]] = []
    for w in value:
        if isinstance(w, dict):
            a, b = w.get("start"), w.get("end")
            if set(w) - {"start", "end"}:
                raise _bad(key, f"unexpected keys in window {w!r}")
        elif isinstance(w, list | tuple) and len(w) == 2:
            a, b = w[0], w[1]
        else:
            raise _bad(key, f'bad window {w!r}, want ["HH:MM", "HH:MM"]')
        if not isinstance(a, str) or not isinstance(b, str):
            raise _bad(key, f'bad window {w!r}, want ["HH:MM", "HH:MM"]')
        out.append([a, b])
    return out


def _session_filter(value: Any, key: str) -> list[list[str]]:
    sf = _as_dict(value, key)
    extra = set(sf) - {"fixed_times"}
    if extra:
        raise _bad(key, f"unsupported session filter keys {sorted(extra)} (only fixed_times)")
    return _sessions_from_fixed_times(sf.get("fixed_times"), f"{key}.fixed_times")


def _date_to_us(value: Any, key: str) -> int:
    if not isinstance(value, str):
        raise _bad(key, "must be a 'YYYY-MM-DD' string")
    try:
        dt = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise _bad(key, f"{value!r} is not a 'YYYY-MM-DD' date") from None
    return int(dt.timestamp()) * 1_000_000


def from_original_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """Convert an original Omega V1/V2 backtest JSON (``strategy.parameters`` or flat
    ``strategy_parameters``) into an Omega config dict ``{symbol, timeframe, enabled_scenarios,
    direction_filter, params, engine}``.

    Keys listed in :data:`ORIGINAL_IGNORED_KEYS` / :data:`ORIGINAL_IGNORED_SUBKEYS` are dropped;
    any other unknown key raises InvalidConfigError (E4002). Values are passed on unchanged except
    where V1 normalised them (direction filter trimmed/lower-cased, primary TF upper-cased), so
    that :func:`parse_config` applies Omega's strict checks to them.
    """
    if not isinstance(cfg, dict):
        raise InvalidConfigError("original config must be an object", {"key": ""})
    unknown = sorted(set(cfg) - _ORIGINAL_KNOWN - set(ORIGINAL_IGNORED_KEYS))
    if unknown:
        raise _bad(unknown[0], "unknown top-level key of the original layout")
    mode = cfg.get("mode", "candle")
    if mode != "candle":
        raise _bad("mode", f"only 'candle' mode is supported, got {mode!r}")

    # --- strategy parameters
    strategy = _as_dict(cfg.get("strategy"), "strategy")
    extra = set(strategy) - {"module", "class", "name", "parameters", "session_filter"}
    if extra:
        raise _bad(f"strategy.{sorted(extra)[0]}", "unknown key")
    cls_name = strategy.get("class")
    if cls_name is not None and cls_name != "MeanReversionZScoreStrategy":
        raise _bad("strategy.class", f"not an MRZ config (class {cls_name!r})")
    if "parameters" in strategy and "strategy_parameters" in cfg:
        raise _bad("strategy_parameters", "given together with strategy.parameters")
    if "strategy_parameters" in cfg:
        raw_params = dict(_as_dict(cfg["strategy_parameters"], "strategy_parameters"))
    else:
        raw_params = dict(_as_dict(strategy.get("parameters"), "strategy.parameters"))
    for k in ORIGINAL_IGNORED_PARAMS:
        raw_params.pop(k, None)

    # symbol / timeframe: parameters override the injected top-level values (orig: RUN:prepare_strategies)
    symbol = raw_params.pop("symbol", cfg.get("symbol"))
    timeframes = _as_dict(cfg.get("timeframes"), "timeframes")
    extra = set(timeframes) - {"primary", "additional"}
    if extra:
        raise _bad(f"timeframes.{sorted(extra)[0]}", "unknown key")
    timeframe = raw_params.pop("timeframe", timeframes.get("primary"))
    if isinstance(timeframe, str):
        timeframe = trim(timeframe).upper()

    out: dict[str, Any] = {"symbol": symbol, "timeframe": timeframe}
    if "enabled_scenarios" in raw_params:
        try:  # §2 list rules; a scalar is an error (§7 #17)
            out["enabled_scenarios"] = _lenient_enabled(raw_params.pop("enabled_scenarios"))
        except ValueError as e:
            raise _bad("enabled_scenarios", str(e)) from None
    if "direction_filter" in raw_params:
        df = raw_params.pop("direction_filter")
        if not isinstance(df, str):
            raise _bad("direction_filter", f"must be a string, got {df!r}")
        d = trim(df).lower()
        if d not in ("long", "short", "both"):
            warnings.warn(f"direction_filter {df!r} means both (spec §2)", MrzConfigWarning, stacklevel=2)
            d = "both"
        out["direction_filter"] = d

    # --- timestamp alignment
    ta = _as_dict(cfg.get("timestamp_alignment"), "timestamp_alignment")
    known_ta = {k.split(".", 1)[1] for k in ORIGINAL_IGNORED_SUBKEYS if k.startswith("timestamp_alignment.")}
    extra = set(ta) - known_ta - {"stale_bar_limit_bars"}
    if extra:
        raise _bad(f"timestamp_alignment.{sorted(extra)[0]}", "unknown key")
    if ta.get("entry_timestamp_mode", "close") != "close":
        warnings.warn(
            "timestamp_alignment.entry_timestamp_mode 'open' is not reproduced: Omega decides at the bar close "
            "(spec §7 #21)",
            MrzConfigWarning,
            stacklevel=2,
        )
    if ta.get("use_previous_completed_higher_tf", True) is not True:
        warnings.warn(
            "use_previous_completed_higher_tf false is not reproduced: Omega only shows closed HTF bars (spec §1)",
            MrzConfigWarning,
            stacklevel=2,
        )
    if "stale_bar_limit_bars" in ta and "stale_bar_limit_bars" not in raw_params:
        raw_params["stale_bar_limit_bars"] = ta["stale_bar_limit_bars"]
    out["params"] = raw_params

    # --- engine
    engine: dict[str, Any] = {"htf_anchor": "new_york_1700"}
    if strategy.get("session_filter"):
        engine["sessions"] = _session_filter(strategy["session_filter"], "strategy.session_filter")
    elif cfg.get("session_filter"):
        if cfg.get("sessions"):
            raise _bad("sessions", "given together with session_filter")
        engine["sessions"] = _session_filter(cfg["session_filter"], "session_filter")
    elif cfg.get("sessions"):
        engine["sessions"] = _sessions_from_fixed_times(cfg["sessions"], "sessions")
    for key in ("cooldown_candles", "cooldown_minutes", "cooldown_minutes_trade", "initial_balance", "risk_per_trade"):
        if key in cfg:
            engine[key] = cfg[key]
    if "account_currency" in cfg:
        engine["account_currency"] = cfg["account_currency"]
    if "start_date" in cfg:
        engine["start_time_us"] = _date_to_us(cfg["start_date"], "start_date")
    slip = _as_dict(cfg.get("slippage"), "slippage")
    extra = set(slip) - {"fixed_pips", "random_pips"}
    if extra:
        raise _bad(f"slippage.{sorted(extra)[0]}", "unknown key")
    costs: dict[str, Any] = {}
    if "fixed_pips" in slip:
        costs["slippage_fixed_pips"] = slip["fixed_pips"]
    if "random_pips" in slip:
        costs["slippage_random_pips"] = slip["random_pips"]
    if costs:
        engine["costs"] = costs
    execution = _as_dict(cfg.get("execution"), "execution")
    extra = set(execution) - {"random_seed"}
    if extra:
        raise _bad(f"execution.{sorted(extra)[0]}", "unknown key")
    if execution.get("random_seed") is not None:
        engine["seed"] = execution["random_seed"]
    out["engine"] = engine
    return out
