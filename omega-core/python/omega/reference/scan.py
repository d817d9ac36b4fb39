"""The signal scan in pure Python: ``evaluate`` on every bar as if flat (no position, no cooldown,
no session gate), one row per signalling bar, with ``session_ok`` reported instead of applied.

Same semantics as the core's ``engine::scan`` (docs/scan.md); never imports Rust.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from omega.errors import InvalidSignalError
from omega.reference.cache import IndicatorCache
from omega.reference.engine import _guarded, run_with_strategy, strategy_name
from omega.reference.market import Market
from omega.reference.sessions import in_sessions, minute_of_day_utc, parse_hhmm
from omega.reference.strategy import Strategy
from omega.reference.types import Candle, DataSlice


@dataclass(frozen=True)
class ScanRow:
    """One signalling bar (field names as in the core's ``ScanRow``)."""

    index: int
    timestamp_us: int
    direction: str
    scenario: int | None
    entry_price: float
    stop_loss: float
    take_profit: float | None
    reason: str
    tags: tuple[str, ...]
    meta: tuple[tuple[str, float], ...]
    session_ok: bool


def _finite(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def scan_signals(strategy: Strategy, cache: IndicatorCache, market: Market, config: Mapping[str, Any]) -> list[ScanRow]:
    """Scan ``market`` with an initialised and prepared ``strategy`` (config already parsed)."""
    eng = config["engine"]
    windows = [(parse_hhmm(a), parse_hhmm(b)) for a, b in eng["sessions"]]
    start = eng["start_time_us"]
    symbol: str = config["symbol"]
    name = strategy_name(type(strategy))
    tf_us = market.tf_minutes * 60_000_000
    ts = market.timestamp_us
    bo, bh, bl, bc, bv = market.bid_open, market.bid_high, market.bid_low, market.bid_close, market.bid_volume
    ao, ah, al, ac, av = market.ask_open, market.ask_high, market.ask_low, market.ask_close, market.ask_volume
    rows: list[ScanRow] = []
    for i in range(len(market)):
        t = ts[i]
        if start is not None and t < start:
            continue
        bar = DataSlice(
            symbol,
            market.timeframe,
            i,
            t,
            Candle(t, bo[i], bh[i], bl[i], bc[i], bv[i]),
            Candle(t, ao[i], ah[i], al[i], ac[i], av[i]),
        )
        signal = _guarded(name, strategy.evaluate, bar, cache)
        if signal is None:
            continue
        tp = signal.take_profit
        if not (_finite(signal.entry_price) and _finite(signal.stop_loss) and (tp is None or _finite(tp))):
            raise InvalidSignalError(
                f"invalid signal: strategy '{name}' at bar {i}: non-finite signal "
                f"(entry {signal.entry_price}, sl {signal.stop_loss}, tp {tp})",
                {"strategy": name, "bar": i},
            )
        meta = tuple(sorted((str(k), float(v)) for k, v in (signal.meta or {}).items()))
        rows.append(
            ScanRow(
                index=i,
                timestamp_us=t,
                direction=signal.direction,
                scenario=signal.scenario,
                entry_price=float(signal.entry_price),
                stop_loss=float(signal.stop_loss),
                take_profit=None if tp is None else float(tp),
                reason=signal.reason,
                tags=tuple(signal.tags),
                meta=meta,
                session_ok=in_sessions(windows, minute_of_day_utc(t + tf_us)),
            )
        )
    return rows


def run_reference_scan(strategy_cls: type[Strategy], config: Mapping[str, Any], candles: Any) -> list[ScanRow]:
    """Validate ``config`` and ``candles``, build the strategy, scan, release it."""
    return run_with_strategy(strategy_cls, config, candles, scan_signals)
