"""Parameters of ``omega_test_sma_cross`` (``config["params"]``), mirroring the Rust ``Params``.

Unknown keys are refused, as on the Rust side, so that no accepted key is silently without effect.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SmaCrossParams(BaseModel):
    """SMA-cross parameters with the Rust defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fast: int = Field(default=10, ge=1, description="SMA length of the fast average (bid closes).")
    slow: int = Field(default=30, ge=1, description="SMA length of the slow average; must exceed fast.")
    atr_length: int = Field(default=14, ge=1, description="Wilder ATR length (bid side).")
    sl_atr: float = Field(default=2.0, gt=0, allow_inf_nan=False, description="Stop-loss distance in ATRs.")
    tp_atr: float = Field(default=3.0, gt=0, allow_inf_nan=False, description="Take-profit distance in ATRs.")
    max_bars: int = Field(default=60, ge=1, description="Close a position with reason 'timeout' after this many bars.")
    panic_at_bar: int | None = Field(default=None, ge=0, description="Test hook: evaluate fails at this bar.")
    fail_init: bool = Field(default=False, description="Test hook: on_init fails with E4002.")

    @model_validator(mode="after")
    def _slow_exceeds_fast(self) -> SmaCrossParams:
        if self.fast >= self.slow:
            raise ValueError(f"slow must be greater than fast ({self.fast} >= {self.slow})")
        return self
