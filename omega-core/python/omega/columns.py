"""The candle table's column names and schema (the core's `market::PRICE_COLUMNS`), shared by
`omega.data` and its loaders so that neither imports the other's internals."""

from __future__ import annotations

import pyarrow as pa

PRICE_COLUMNS: tuple[str, ...] = (
    "bid_open",
    "bid_high",
    "bid_low",
    "bid_close",
    "bid_volume",
    "ask_open",
    "ask_high",
    "ask_low",
    "ask_close",
    "ask_volume",
)
"""Price and volume columns, in schema order (the core's `market::PRICE_COLUMNS`)."""

CANDLE_COLUMNS: tuple[str, ...] = ("timestamp_us", *PRICE_COLUMNS)
"""The columns a backtest reads: bar open time (µs UTC) and bid/ask OHLCV."""

CANDLE_SCHEMA = pa.schema([("timestamp_us", pa.int64())] + [(c, pa.float64()) for c in PRICE_COLUMNS])
"""The canonical candle table: what loaders and `generate_market` produce."""

TIMEFRAME_MINUTES: dict[str, int] = {"M1": 1, "M5": 5, "M15": 15, "M30": 30, "H1": 60, "H4": 240, "D1": 1440}
"""Timeframe names and their length in minutes."""
