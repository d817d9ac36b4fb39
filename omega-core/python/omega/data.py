"""Candle data in and out of Arrow (the core calls this module `market`; docs/data.md is normative).

`to_arrow_table` is the one door for every accepted container (Table, RecordBatch, reader, IPC
bytes, Parquet/IPC paths, `__arrow_c_stream__` exporters, dicts of columns); content is validated
by the core (E4004) so both backends reject the same inputs. `generate_market` builds deterministic
synthetic bid/ask bars from integer arithmetic only, so a seed gives the same bytes everywhere.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from omega.errors import InsufficientDataError

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

DATA_SLICE_SCHEMA = pa.schema(
    [
        ("symbol", pa.utf8()),
        ("timeframe", pa.utf8()),
        ("index", pa.uint64()),
        ("timestamp_us", pa.int64()),
        *[(c, pa.float64()) for c in PRICE_COLUMNS],
    ]
)
"""The seed's DATA_SLICE_SCHEMA; `symbol`, `timeframe` and `index` may be present and are ignored."""

TIMEFRAME_MINUTES: dict[str, int] = {"M1": 1, "M5": 5, "M15": 15, "M30": 30, "H1": 60, "H4": 240, "D1": 1440}

_IPC_FILE_MAGIC = b"ARROW1"
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_IPC_SUFFIXES = {".arrow", ".arrows", ".ipc", ".feather"}


def _bad(message: str, **context: Any) -> InsufficientDataError:
    return InsufficientDataError(message, context)


def _read_ipc(source: Any) -> pa.Table:
    """Arrow IPC file or stream format, from bytes or a path."""
    try:
        if isinstance(source, bytes | bytearray | memoryview):
            buf = pa.py_buffer(source)
            if bytes(buf[:6]) == _IPC_FILE_MAGIC:
                return ipc.open_file(buf).read_all()
            return ipc.open_stream(buf).read_all()
        with open(source, "rb") as fh:
            head = fh.read(6)
        if head == _IPC_FILE_MAGIC:
            return ipc.open_file(source).read_all()
        with pa.memory_map(str(source)) as mm:
            return ipc.open_stream(mm).read_all()
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise _bad(f"not readable as Arrow IPC (file or stream format): {e}", source="ipc") from e


def _dict_to_table(columns: Mapping[str, Any]) -> pa.Table:
    lengths = {str(k): len(v) for k, v in columns.items()}
    if lengths:
        ref_name = "timestamp_us" if "timestamp_us" in lengths else next(iter(lengths))
        ref = lengths[ref_name]
        for name, n in lengths.items():
            if n != ref:
                raise _bad(
                    f"ragged columns: '{name}' has {n} rows, '{ref_name}' has {ref}",
                    column=name,
                    rows=n,
                    expected=ref,
                )
    try:
        return pa.table({str(k): v for k, v in columns.items()})
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as e:
        raise _bad(f"columns cannot be converted to Arrow: {e}", source="dict") from e


def to_arrow_table(obj: Any) -> pa.Table:
    """Any accepted candle container → `pyarrow.Table` (no validation of the content).

    Accepts a pyarrow `Table`, `RecordBatch` or `RecordBatchReader`; Arrow IPC bytes (stream or
    file format); a path (str/PathLike) to `.parquet`/`.pq` or `.arrow`/`.arrows`/`.ipc`/`.feather`;
    any object with `__arrow_c_stream__` or `__arrow_c_array__` (pandas, polars, arro3…); a dict of
    equal-length columns. Anything else, or ragged dict columns, is E4004.
    """
    if isinstance(obj, pa.Table):
        return obj
    if isinstance(obj, pa.RecordBatch):
        return pa.Table.from_batches([obj])
    if isinstance(obj, pa.RecordBatchReader):
        return obj.read_all()
    if isinstance(obj, bytes | bytearray | memoryview):
        return _read_ipc(obj)
    if isinstance(obj, str | os.PathLike):
        path = Path(obj)
        suffix = path.suffix.lower()
        if suffix in _PARQUET_SUFFIXES:
            return load_parquet(path)
        if suffix in _IPC_SUFFIXES:
            return _read_ipc(path)
        raise _bad(f"unsupported file type '{suffix}' for {path} (want .parquet or .arrow/.ipc)", path=str(path))
    if isinstance(obj, Mapping):
        return _dict_to_table(obj)
    if hasattr(obj, "__arrow_c_stream__") or hasattr(obj, "__arrow_c_array__"):
        try:
            if hasattr(obj, "__arrow_c_stream__"):
                return pa.table(obj)
            return pa.Table.from_batches([pa.record_batch(obj)])
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as e:
            raise _bad(f"Arrow export of {type(obj).__name__} failed: {e}", source=type(obj).__name__) from e
    if _is_native_cache(obj):
        raise _bad("a native IndicatorCache can only be run on the Rust backend", source="IndicatorCache")
    raise _bad(
        f"unsupported candle container {type(obj).__name__}: want a pyarrow Table/RecordBatch, IPC bytes, "
        "a .parquet/.arrow path, a dict of columns or an object with __arrow_c_stream__",
        source=type(obj).__name__,
    )


def _is_native_cache(obj: Any) -> bool:
    cls = type(obj)
    return cls.__module__ == "omega._native" and cls.__name__ == "IndicatorCache"


def to_native_input(obj: Any) -> Any:
    """What `_native.run_backtest_rust` receives: Arrow exporters pass through untouched (zero
    copy through the Arrow C stream interface), and so does a native `IndicatorCache` (a market
    shared by the runs of a sweep); bytes, paths and dicts are converted first."""
    if hasattr(obj, "__arrow_c_stream__") or hasattr(obj, "__arrow_c_array__") or _is_native_cache(obj):
        return obj
    return to_arrow_table(obj)


def load_parquet(path: str | os.PathLike[str], *, columns: list[str] | None = None) -> pa.Table:
    """Read a Parquet file of candles (DATA_SLICE_SCHEMA columns)."""
    try:
        return pq.read_table(path, columns=columns)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise _bad(f"cannot read Parquet {path}: {e}", path=str(path)) from e


_BROKER_COLUMNS = ("UTC time", "Open", "High", "Low", "Close", "Volume")
_DMY = r"^\s*(\d{2})\.(\d{2})\.(\d{4})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)\s*(?:UTC|GMT)?\s*(?:[+-]00:?00)?\s*$"


def _parse_times(col: pa.ChunkedArray | pa.Array, path: str) -> pa.Array:
    """Broker time text → int64 µs UTC. ISO 8601 with or without offset (naive = UTC) and
    `DD.MM.YYYY HH:MM:SS[.fff][ UTC|GMT[+0000]]` are accepted."""
    if pa.types.is_timestamp(col.type):
        ts = col if col.type.tz is None else pc.cast(col, pa.timestamp(col.type.unit, tz="UTC"))
        return pc.cast(pc.cast(ts, pa.timestamp("us", tz=getattr(ts.type, "tz", None))), pa.int64())
    text = pc.cast(col, pa.utf8())

    def iso_with_offset() -> Any:
        return pc.cast(text, pa.timestamp("us", tz="UTC"))

    def iso_naive() -> Any:
        return pc.cast(text, pa.timestamp("us"))

    def day_month_year() -> Any:
        return pc.cast(pc.replace_substring_regex(text, _DMY, r"\3-\2-\1 \4"), pa.timestamp("us"))

    for attempt in (iso_with_offset, iso_naive, day_month_year):
        try:
            return pc.cast(attempt(), pa.int64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    raise _bad(f"{path}: column 'UTC time' is not a recognised timestamp format", path=path, column="UTC time")


def _read_broker_side(path: str | os.PathLike[str], side: str) -> pa.Table:
    p = str(path)
    try:
        raw = pacsv.read_csv(p, convert_options=pacsv.ConvertOptions(column_types={"UTC time": pa.utf8()}))
    except pa.ArrowInvalid as e:
        raise _bad(f"{p}: not a readable CSV: {e}", path=p) from e
    for name in _BROKER_COLUMNS:
        if name not in raw.column_names:
            raise _bad(f"{p}: missing column '{name}' (want {', '.join(_BROKER_COLUMNS)})", path=p, column=name)
    out: dict[str, pa.Array] = {"timestamp_us": _parse_times(raw.column("UTC time"), p)}
    for name in _BROKER_COLUMNS[1:]:
        try:
            out[f"{side}_{name.lower()}"] = pc.cast(raw.column(name), pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            raise _bad(f"{p}: column '{name}' is not numeric: {e}", path=p, column=name) from e
    return pa.table(out)


def load_broker_csv(bid_path: str | os.PathLike[str], ask_path: str | os.PathLike[str]) -> pa.Table:
    """The common broker export: one BID and one ASK CSV (`UTC time,Open,High,Low,Close,Volume`),
    inner-joined on time and sorted → a `CANDLE_SCHEMA` table."""
    bid = _read_broker_side(bid_path, "bid")
    ask = _read_broker_side(ask_path, "ask")
    joined = bid.join(ask, keys="timestamp_us", join_type="inner").sort_by("timestamp_us")
    return joined.select(list(CANDLE_COLUMNS)).cast(CANDLE_SCHEMA)


# --------------------------------------------------------------------------------------------
# Deterministic synthetic markets
# --------------------------------------------------------------------------------------------

_MASK64 = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15
_SQRT3 = math.sqrt(3.0)


def _uniforms(seed: int, stream: int, n: int) -> npt.NDArray[np.float64]:
    """`n` uniforms in [0, 1) from a counter-based SplitMix64 (stream `stream` of `seed`).

    Pure integer arithmetic on uint64, so the bits do not depend on the platform or NumPy version.
    """
    base = np.uint64((seed * 0xD1B54A32D192ED03 + (stream + 1) * 0x8CB92BA72F3D8DD7) & _MASK64)
    z = base + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(_GAMMA)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    out: npt.NDArray[np.float64] = (z >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)
    return out


def _normals(seed: int, stream: int, n: int) -> npt.NDArray[np.float64]:
    """Approximately standard-normal draws (Irwin–Hall sum of 4 uniforms, unit variance)."""
    u = [_uniforms(seed, stream * 8 + k, n) for k in range(4)]
    out: npt.NDArray[np.float64] = (((u[0] + u[1]) + u[2]) + u[3] - 2.0) * _SQRT3
    return out


def _start_us(start: str | datetime | int) -> int:
    if isinstance(start, int):
        return start
    if isinstance(start, str):
        start = datetime.fromisoformat(start.replace("Z", "+00:00"))
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    delta = start - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _fx_closed(ts_us: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Bars that open in the FX weekend: Friday 21:00 UTC to Sunday 21:00 UTC."""
    minutes = ts_us // 60_000_000
    days = minutes // 1440
    hour = (minutes % 1440) // 60
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    closed: npt.NDArray[np.bool_] = ((weekday == 4) & (hour >= 21)) | (weekday == 5) | ((weekday == 6) & (hour < 21))
    return closed


def _bar_times(
    n: int, start_us: int, tf_us: int, weekend_gaps: bool, gap_every: int | None, seed: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Open times of `n` bars and a flag per bar: True when a hole (or weekend) precedes it."""
    skip = np.zeros(n, dtype=np.int64)
    if gap_every:
        holes = np.arange(gap_every, n, gap_every)
        skip[holes] = 1 + np.floor(_uniforms(seed, 90, len(holes)) * 30.0).astype(np.int64)
    wanted = np.arange(n, dtype=np.int64) + np.cumsum(skip)  # index among trading slots
    need = int(wanted[-1]) + 1 if n else 0
    if not weekend_gaps:
        slots = wanted
    else:
        m = max(16, need * 3 // 2)
        while True:
            k = np.arange(m, dtype=np.int64)
            trading = k[~_fx_closed(start_us + k * tf_us)]
            if len(trading) >= need:
                break
            m *= 2
        slots = trading[wanted]
    gap = np.zeros(n, dtype=np.bool_)
    if n > 1:
        gap[1:] = np.diff(slots) > 1
    return (start_us + slots * tf_us).astype(np.int64), gap


def generate_market(
    n_bars: int = 10_000,
    seed: int = 0,
    timeframe: str = "M1",
    *,
    start: str | datetime | int = "2024-01-01T00:00:00+00:00",
    symbol: str = "EURUSD",
    regime: Literal["mean_reverting", "trending"] = "mean_reverting",
    spread_pips: float = 1.0,
    volatility_pips: float | None = None,
    gap_every: int | None = None,
    weekend_gaps: bool = False,
    base_price: float | None = None,
) -> pa.Table:
    """Deterministic synthetic bid/ask bars (`CANDLE_SCHEMA`), valid per docs/data.md.

    `regime="mean_reverting"`: an Ornstein–Uhlenbeck deviation (half-life 30 bars) around a slowly
    wandering level; `"trending"`: drifting segments of 300–3000 bars that turn back towards the
    start price when far from it. `volatility_pips` is the per-bar noise (default 0.6·√minutes),
    `spread_pips` the mean spread (each bar ±25 %). `gap_every=k` leaves a hole of 1–30 bars (and
    a price jump) after every k-th bar; `weekend_gaps` drops bars opening Friday 21:00 to Sunday
    21:00 UTC. Prices are rounded to a tenth of a pip. Same arguments → same bytes.
    """
    if n_bars < 0:
        raise ValueError("n_bars must be >= 0")
    tf = timeframe.strip().upper()
    if tf not in TIMEFRAME_MINUTES:
        raise ValueError(f"unknown timeframe {timeframe!r}")
    if regime not in ("mean_reverting", "trending"):
        raise ValueError(f"unknown regime {regime!r}")
    if gap_every is not None and gap_every < 1:
        raise ValueError("gap_every must be >= 1")
    if not (math.isfinite(spread_pips) and spread_pips > 0):
        raise ValueError("spread_pips must be > 0")
    minutes = TIMEFRAME_MINUTES[tf]
    tf_us = minutes * 60_000_000
    jpy = "JPY" in symbol.upper()
    pip = 0.01 if jpy else 0.0001
    decimals = 3 if jpy else 5
    base = base_price if base_price is not None else (150.0 if jpy else 1.1)
    sigma = volatility_pips if volatility_pips is not None else 0.6 * math.sqrt(minutes)
    n = n_bars

    ts, after_gap = _bar_times(n, _start_us(start), tf_us, weekend_gaps, gap_every, seed)
    eps = _normals(seed, 1, n) * sigma
    jumps = np.where(after_gap, _normals(seed, 2, n) * (3.0 * sigma), 0.0)

    if regime == "mean_reverting":
        phi = 0.5 ** (1.0 / 30.0)
        level = np.cumsum(_normals(seed, 3, n) * (0.25 * sigma))
        dev = np.fromiter(_ar1(eps + jumps, phi), dtype=np.float64, count=n)
        close_pips = level + dev
    else:
        close_pips = _trend(n, seed, sigma, eps + jumps, base / pip)

    mid_close = base + close_pips * pip
    mid_open = np.empty(n)
    if n:
        mid_open[0] = base
        mid_open[1:] = mid_close[:-1] + jumps[1:] * (0.5 * pip)
    wick_up = _uniforms(seed, 4, n) * (0.6 * sigma * pip)
    wick_dn = _uniforms(seed, 5, n) * (0.6 * sigma * pip)
    mid_high = np.maximum(mid_open, mid_close) + wick_up
    mid_low = np.minimum(mid_open, mid_close) - wick_dn
    half = (0.75 + 0.5 * _uniforms(seed, 6, n)) * (0.5 * spread_pips * pip)
    volume = np.floor(1.0 + _uniforms(seed, 7, n) * 999.0)

    def rnd(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        out: npt.NDArray[np.float64] = np.round(x, decimals)
        return out

    cols: dict[str, Any] = {"timestamp_us": pa.array(ts, pa.int64())}
    for side, sign in (("bid", -1.0), ("ask", 1.0)):
        cols[f"{side}_open"] = rnd(mid_open + sign * half)
        cols[f"{side}_high"] = rnd(mid_high + sign * half)
        cols[f"{side}_low"] = rnd(mid_low + sign * half)
        cols[f"{side}_close"] = rnd(mid_close + sign * half)
        cols[f"{side}_volume"] = volume
    meta = {
        "omega.symbol": symbol,
        "omega.timeframe": tf,
        "omega.generator": f"generate_market(seed={seed}, regime={regime}, spread_pips={spread_pips})",
    }
    return pa.table(cols, schema=CANDLE_SCHEMA.with_metadata(meta))


def _ar1(shocks: npt.NDArray[np.float64], phi: float) -> Any:
    """x_t = phi·x_{t−1} + shock_t from x_{−1} = 0 (plain float arithmetic, in order)."""
    x = 0.0
    for s in shocks.tolist():
        x = phi * x + s
        yield x


def _trend(n: int, seed: int, sigma: float, shocks: npt.NDArray[np.float64], base_pips: float) -> Any:
    """Close deviation in pips for the trending regime: drifting segments, turning back when the
    price has moved more than 15 % of the start price."""
    out = np.empty(n)
    lengths = 300 + np.floor(_uniforms(seed, 11, n // 300 + 2) * 2700.0).astype(np.int64)
    strength = 0.05 + _uniforms(seed, 12, len(lengths)) * 0.15
    signs = _uniforms(seed, 13, len(lengths))
    pos, x = 0, 0.0
    limit = 0.15 * base_pips
    for k in range(len(lengths)):
        if pos >= n:
            break
        end = min(n, pos + int(lengths[k]))
        direction = 1.0 if signs[k] < 0.5 else -1.0
        if abs(x) > limit:
            direction = -1.0 if x > 0 else 1.0
        seg = np.cumsum(shocks[pos:end] + direction * float(strength[k]) * sigma) + x
        out[pos:end] = seg
        x = float(seg[-1])
        pos = end
    return out


def table_to_ipc_bytes(table: pa.Table, *, file_format: bool = False) -> bytes:
    """Serialise a table as Arrow IPC (stream format by default, file format on request)."""
    sink = io.BytesIO()
    writer_cls = ipc.new_file if file_format else ipc.new_stream
    with writer_cls(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()
