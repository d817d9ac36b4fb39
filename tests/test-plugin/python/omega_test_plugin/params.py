"""Parameters of ``omega_test_sma_cross`` (``config["params"]``), mirroring the Rust ``Params``.

Unknown keys are refused, as on the Rust side, so that no accepted key is silently without effect.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class SmaCrossParams(BaseModel):
    """SMA-cross parameters with the Rust defaults."""

    # strict: no "3" → 3 or true → 1, as the Rust reader (issue 13); whole floats see `_whole`
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    fast: int = Field(default=10, ge=1, le=2**64 - 1, description="SMA length of the fast average (bid closes).")
    slow: int = Field(default=30, ge=1, le=2**64 - 1, description="SMA length of the slow average; must exceed fast.")
    atr_length: int = Field(default=14, ge=1, le=2**64 - 1, description="Wilder ATR length (bid side).")
    sl_atr: float = Field(default=2.0, gt=0, allow_inf_nan=False, description="Stop-loss distance in ATRs.")
    tp_atr: float = Field(default=3.0, gt=0, allow_inf_nan=False, description="Take-profit distance in ATRs.")
    max_bars: int = Field(
        default=60, ge=1, le=2**64 - 1, description="Close a position with reason 'timeout' after this many bars."
    )
    panic_at_bar: int | None = Field(
        default=None, ge=0, le=2**64 - 1, description="Test hook: evaluate fails at this bar."
    )
    fail_init: bool = Field(default=False, description="Test hook: on_init fails with E4002.")

    @field_validator("fast", "slow", "atr_length", "max_bars", "panic_at_bar", mode="before")
    @classmethod
    def _whole(cls, v: object) -> object:
        """A float without fraction below 1e15 is that integer: the Rust reader accepts ``3.0`` too."""
        if isinstance(v, float) and v.is_integer() and 0.0 <= v < 1e15:
            return int(v)
        return v

    @model_validator(mode="after")
    def _slow_exceeds_fast(self) -> SmaCrossParams:
        if self.fast >= self.slow:
            raise ValueError(f"slow must be greater than fast ({self.fast} >= {self.slow})")
        return self
