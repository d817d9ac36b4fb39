"""Parameters of ``{{ cookiecutter.strategy_name }}`` (``config["params"]``), mirroring the Rust ``Params``.

Omega validates ``config["params"]`` with this model before either backend runs. Unknown keys are
refused, as on the Rust side, so that no accepted key is silently without effect. Keep the defaults
and bounds in step with ``src/strategy.rs``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class {{ cookiecutter.__class_name }}Params(BaseModel):
    """EMA/ATR channel breakout parameters with the Rust defaults."""

    # strict: no "3" → 3 or true → 1, as the Rust reader (issue 13); whole floats see `_whole`
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    ema_length: int = Field(
        default=20,
        ge=1,
        le=2**64 - 1,
        description="EMA length of the channel centre (bid closes).",
    )
    atr_length: int = Field(default=14, ge=1, le=2**64 - 1, description="Wilder ATR length (bid side).")
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
    max_bars: int = Field(
        default=120,
        ge=1,
        le=2**64 - 1,
        description="Close a position with reason 'timeout' after this many bars.",
    )

    @field_validator("ema_length", "atr_length", "max_bars", mode="before")
    @classmethod
    def _whole(cls, v: object) -> object:
        """A float without fraction below 1e15 is that integer: the Rust reader accepts ``3.0`` too."""
        if isinstance(v, float) and v.is_integer() and 0.0 <= v < 1e15:
            return int(v)
        return v
