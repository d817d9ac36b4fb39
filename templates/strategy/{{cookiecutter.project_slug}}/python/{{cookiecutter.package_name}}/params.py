"""Parameters of ``{{ cookiecutter.strategy_name }}`` (``config["params"]``), mirroring the Rust ``Params``.

Omega validates ``config["params"]`` with this model before either backend runs. Unknown keys are
refused, as on the Rust side, so that no accepted key is silently without effect. Keep the defaults
and bounds in step with ``src/strategy.rs``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _whole(v: object) -> object:
    """A float without fraction below 1e15 is that integer: the Rust reader accepts ``3.0`` too."""
    if isinstance(v, float) and v.is_integer() and 0.0 <= v < 1e15:
        return int(v)
    return v


#: Strict like the Rust reader: a JSON integer (or whole float) up to u64, never ``"3"`` or ``true``.
Whole = Annotated[int, BeforeValidator(_whole), Field(le=2**64 - 1)]


class {{ cookiecutter.__class_name }}Params(BaseModel):
    """EMA/ATR channel breakout parameters with the Rust defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    ema_length: Whole = Field(default=20, ge=1, description="EMA length of the channel centre (bid closes).")
    atr_length: Whole = Field(default=14, ge=1, description="Wilder ATR length (bid side).")
    band_atr: float = Field(default=1.0, ge=0, allow_inf_nan=False, description="Channel half-width in ATRs.")
    sl_atr: float = Field(default=1.5, gt=0, allow_inf_nan=False, description="Stop-loss distance in ATRs.")
    tp_atr: float = Field(default=3.0, gt=0, allow_inf_nan=False, description="Take-profit distance in ATRs.")
    breakeven_r: float | None = Field(
        default=1.0,
        gt=0,
        allow_inf_nan=False,
        description="Move the stop-loss to the entry once the profit reaches this multiple of the initial risk "
        "(None: never).",
    )
    max_bars: Whole = Field(default=120, ge=1, description="Close a position with reason 'timeout' after this many bars.")
