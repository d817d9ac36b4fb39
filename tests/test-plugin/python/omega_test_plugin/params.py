"""Parameters of ``omega_test_sma_cross`` (``config["params"]``), mirroring the Rust ``Params``.

Unknown keys are refused, as on the Rust side, so that no accepted key is silently without effect.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator


def _whole(v: object) -> object:
    """A float without fraction below 1e15 is that integer: the Rust reader accepts ``3.0`` too."""
    if isinstance(v, float) and v.is_integer() and 0.0 <= v < 1e15:
        return int(v)
    return v


#: Strict like the Rust reader: a JSON integer (or whole float) up to u64, never ``"3"`` or ``true``.
Whole = Annotated[int, BeforeValidator(_whole), Field(le=2**64 - 1)]


class SmaCrossParams(BaseModel):
    """SMA-cross parameters with the Rust defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    fast: Whole = Field(default=10, ge=1, description="SMA length of the fast average (bid closes).")
    slow: Whole = Field(default=30, ge=1, description="SMA length of the slow average; must exceed fast.")
    atr_length: Whole = Field(default=14, ge=1, description="Wilder ATR length (bid side).")
    sl_atr: float = Field(default=2.0, gt=0, allow_inf_nan=False, description="Stop-loss distance in ATRs.")
    tp_atr: float = Field(default=3.0, gt=0, allow_inf_nan=False, description="Take-profit distance in ATRs.")
    max_bars: Whole = Field(
        default=60, ge=1, description="Close a position with reason 'timeout' after this many bars."
    )
    panic_at_bar: Whole | None = Field(default=None, ge=0, description="Test hook: evaluate fails at this bar.")
    fail_init: bool = Field(default=False, description="Test hook: on_init fails with E4002.")

    @model_validator(mode="after")
    def _slow_exceeds_fast(self) -> SmaCrossParams:
        if self.fast >= self.slow:
            raise ValueError(f"slow must be greater than fast ({self.fast} >= {self.slow})")
        return self
