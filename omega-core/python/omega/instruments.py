"""Instrument specifications (docs/instruments.md): the built-in table, symbol resolution with a
run's ``engine.symbol_spec`` overrides, and the lot grid.

Pure Python (the reference backend uses it; it never imports Rust). The table is
``instruments.json`` next to this file: the Rust core embeds the same file at compile time, so both
backends resolve a symbol from one source.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

from omega.errors import InternalError, InvalidConfigError

__all__ = [
    "FIELDS",
    "SWAP_MODES",
    "WEEKDAYS",
    "Instrument",
    "LotGrid",
    "builtin",
    "lookup",
    "normalize_symbol",
    "resolve",
]

_TABLE = Path(__file__).with_name("instruments.json")

SWAP_MODES: tuple[str, ...] = ("points", "percent")
WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Instrument:
    """A fully resolved instrument (Rust ``omega_core::instruments::Instrument``)."""

    symbol: str
    base: str
    quote: str
    pip_size: float
    digits: int
    contract_size: float
    min_lot: float
    lot_step: float
    max_lot: float
    margin_rate: float
    swap_long: float
    swap_short: float
    swap_mode: str
    triple_swap_weekday: str

    def to_dict(self) -> dict[str, Any]:
        """The table row of this instrument."""
        return asdict(self)

    def lot_grid(self) -> LotGrid:
        """The lot grid of this instrument."""
        return LotGrid.of(self.lot_step, self.min_lot, self.max_lot)


FIELDS: tuple[str, ...] = tuple(Instrument.__dataclass_fields__)
"""Field names of an instrument, in table order (``engine.symbol_spec`` accepts all but ``symbol``)."""

# A symbol outside the table takes these for every field its spec does not give (base, quote and
# pip_size are required).
_UNLISTED: dict[str, Any] = {
    "digits": 5,
    "contract_size": 100_000.0,
    "min_lot": 0.01,
    "lot_step": 0.01,
    "max_lot": 100.0,
    "margin_rate": 0.05,
    "swap_long": 0.0,
    "swap_short": 0.0,
    "swap_mode": "points",
    "triple_swap_weekday": "wednesday",
}


@cache
def builtin() -> tuple[Instrument, ...]:
    """Every built-in instrument, in table order."""
    try:
        rows = json.loads(_TABLE.read_text(encoding="utf-8"))["instruments"]
        return tuple(Instrument(**row) for row in rows)
    except (OSError, ValueError, KeyError, TypeError) as e:  # a broken installation, not user input
        raise InternalError(f"built-in instrument table {_TABLE}: {e}") from e


def normalize_symbol(symbol: str) -> str:
    """The table key of a symbol: upper case without ``/``, ``_``, ``-`` or spaces."""
    return "".join(c for c in symbol if c not in "/_- ").upper()


def lookup(symbol: str) -> Instrument | None:
    """The built-in instrument of ``symbol``, if any."""
    key = normalize_symbol(symbol)
    return next((i for i in builtin() if i.symbol == key), None)


def _key(field: str) -> str:
    return f"engine.symbol_spec.{field}"


def _bad(field: str, reason: str) -> InvalidConfigError:
    return InvalidConfigError(f"invalid parameter '{_key(field)}': {reason}", {"name": _key(field)})


def _valid_code(code: str) -> bool:
    return 0 < len(code) <= 12 and all(c.isascii() and (c.isupper() or c.isdigit()) for c in code)


def resolve(symbol: str, spec: Mapping[str, Any] | None = None) -> Instrument:
    """Resolve ``symbol`` from the table with ``spec`` (``engine.symbol_spec``) applied field by field.

    A symbol outside the table needs ``base``, ``quote`` and ``pip_size`` in ``spec`` (E4002 naming
    them); every resolved value is range-checked (E4002 naming the key).
    """
    given = {k: v for k, v in (spec or {}).items() if v is not None}
    found = lookup(symbol)
    if found is None:
        missing = [k for k in ("base", "quote", "pip_size") if k not in given]
        if missing:
            raise InvalidConfigError(
                f"invalid parameter 'engine.symbol_spec': unknown instrument '{symbol}': it is not in the built-in "
                f"table (docs/instruments.md); give engine.symbol_spec.{', engine.symbol_spec.'.join(missing)} "
                "(and any other field that differs from the FX defaults)",
                {"name": "engine.symbol_spec"},
            )
        row: dict[str, Any] = {
            "symbol": normalize_symbol(symbol),
            "base": "",
            "quote": "",
            "pip_size": 0.0,
            **_UNLISTED,
        }
    else:
        row = found.to_dict()
    row.update(given)
    inst = Instrument(**row)
    _validate(inst)
    return inst


def _validate(i: Instrument) -> None:
    """Range checks in the order of the Rust ``Instrument::validate``."""
    for name, code in (("base", i.base), ("quote", i.quote)):
        if not _valid_code(code):
            raise _bad(name, f"'{code}' is not an upper-case currency code")
    for name in ("pip_size", "contract_size", "min_lot", "lot_step", "max_lot", "margin_rate"):
        v = getattr(i, name)
        if not (math.isfinite(v) and v > 0.0):
            raise _bad(name, f"must be a finite number > 0, got {v}")
    if i.max_lot < i.min_lot:
        raise _bad("max_lot", "must be >= min_lot")
    if i.margin_rate > 1.0:
        raise _bad("margin_rate", "must be <= 1 (a fraction of the notional)")
    if i.digits > 10:
        raise _bad("digits", f"must be <= 10, got {i.digits}")
    for name in ("swap_long", "swap_short"):
        if not math.isfinite(getattr(i, name)):
            raise _bad(name, f"must be finite, got {getattr(i, name)}")


@dataclass(frozen=True)
class LotGrid:
    """Lots as whole multiples of the lot step (docs/engine.md "Sizing"; Rust ``LotGrid``)."""

    lot_step: float
    steps_per_lot: float | None
    min_steps: float
    max_steps: float

    @staticmethod
    def of(lot_step: float, min_lot: float, max_lot: float) -> LotGrid:
        """The grid of ``lot_step`` bounded by ``min_lot`` and ``max_lot``."""
        inv = float(round(1.0 / lot_step))
        exact = inv >= 1.0 and abs(inv * lot_step - 1.0) < 1e-9
        return LotGrid(
            lot_step=lot_step,
            steps_per_lot=inv if exact else None,
            min_steps=max(float(math.ceil(min_lot / lot_step - 1e-9)), 1.0),
            max_steps=float(math.floor(max_lot / lot_step + 1e-9)),
        )

    def steps_in(self, lots: float) -> float:
        """Whole steps in ``lots`` (floored; NaN and inf pass through)."""
        scaled = lots / self.lot_step + 1e-9
        return float(math.floor(scaled)) if math.isfinite(scaled) else scaled

    def lots(self, steps: float) -> float:
        """Lots of ``steps`` whole steps: ``steps / k`` when ``1 / lot_step`` is a whole ``k``."""
        return steps / self.steps_per_lot if self.steps_per_lot is not None else steps * self.lot_step

    def clamp(self, steps: float) -> float | None:
        """Capped at ``max_steps``; None below ``min_steps`` (including NaN): rejected."""
        if steps > self.max_steps:
            steps = self.max_steps
        return steps if steps >= self.min_steps else None
