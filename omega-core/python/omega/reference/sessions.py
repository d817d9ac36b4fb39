"""Session windows of the pure-Python reference (docs/engine.md, entry gate).

Times of day are UTC minutes 0..1439 of a bar's **close** time; a window ``(a, b)`` includes both
ends and wraps midnight when ``a > b``; no windows means always open.
"""

from __future__ import annotations

from collections.abc import Sequence

from omega.config import parse_hhmm as hhmm_minutes
from omega.errors import InvalidConfigError

_MINUTE_US = 60_000_000


def minute_of_day_utc(ts_us: int) -> int:
    """UTC minute of the day of a µs timestamp: ``(ts div 60e6) mod 1440`` (floor division)."""
    return (int(ts_us) // _MINUTE_US) % 1440


def parse_hhmm(s: str) -> int:
    """Minutes after midnight of an ``"HH:MM"`` string (E4002 if malformed or out of range).

    The rule is `omega.config.parse_hhmm` (the same as the Rust `parse_hhmm`).
    """
    if not isinstance(s, str):
        raise InvalidConfigError(f"session time must be a string 'HH:MM', got {s!r}", {"value": repr(s)})
    minutes = hhmm_minutes(s)
    if minutes is None:
        raise InvalidConfigError(f"session time must be 'HH:MM' (00:00 to 23:59), got {s!r}", {"value": s})
    return minutes


def in_window(a: int, b: int, minute: int) -> bool:
    """``a <= t <= b`` if ``a <= b``, else ``t >= a or t <= b`` (wraps midnight)."""
    if a <= b:
        return a <= minute <= b
    return minute >= a or minute <= b


def in_sessions(windows: Sequence[tuple[int, int]], minute: int) -> bool:
    """True if ``minute`` lies in some window (inclusive ends, wrapping); no windows → True."""
    if len(windows) == 0:
        return True
    return any(in_window(a, b, minute) for a, b in windows)
