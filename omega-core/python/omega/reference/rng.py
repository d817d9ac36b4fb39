"""SplitMix64 of the pure-Python reference: the run's slippage RNG, exactly as docs/engine.md states it.

All arithmetic is on Python ints masked to 64 bits, so every draw equals the Rust engine's.
"""

from __future__ import annotations

__all__ = ["SplitMix64"]

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_MUL1 = 0xBF58476D1CE4E5B9
_MUL2 = 0x94D049BB133111EB
_INV_2_POW_53 = 2.0**-53


class SplitMix64:
    """SplitMix64 generator; the state starts at the seed (an unsigned 64-bit integer)."""

    __slots__ = ("state",)

    def __init__(self, seed: int) -> None:
        """Seed the generator (``seed`` is reduced modulo 2**64)."""
        self.state = int(seed) & _MASK

    def copy(self) -> SplitMix64:
        """An independent generator in the same state."""
        return SplitMix64(self.state)

    def next_u64(self) -> int:
        """Next 64 random bits as an int in [0, 2**64)."""
        self.state = (self.state + _GOLDEN) & _MASK
        z = self.state
        z = ((z ^ (z >> 30)) * _MUL1) & _MASK
        z = ((z ^ (z >> 27)) * _MUL2) & _MASK
        return z ^ (z >> 31)

    def next_f64(self) -> float:
        """Next uniform float in [0, 1): ``(next_u64 >> 11) * 2**-53``."""
        return (self.next_u64() >> 11) * _INV_2_POW_53
