"""Candle data in and out of Arrow (the core calls this module `market`; docs/data.md is normative).

`to_arrow_table` is the one door for every accepted container (Table, RecordBatch, reader, IPC
bytes, file paths through `load`, pandas, `__arrow_c_stream__` exporters, dicts of columns); content
is validated by the core (E4004) so both backends reject the same inputs. `load` (omega.loading)
reads candle files, `resample` (omega.resampling) builds higher timeframes. `generate_market` builds deterministic
synthetic bid/ask bars from integer arithmetic only, so a seed gives the same bytes everywhere.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.ipc as ipc

from omega.columns import CANDLE_COLUMNS, CANDLE_SCHEMA, PRICE_COLUMNS, TIMEFRAME_MINUTES
from omega.errors import InsufficientDataError
from omega.loading import DataJoinWarning, LoadReport, load, load_parquet, load_report, read_ipc
from omega.resampling import guess_timeframe, resample

__all__ = [
    "CANDLE_COLUMNS",
    "CANDLE_SCHEMA",
    "DATA_SLICE_SCHEMA",
    "PRICE_COLUMNS",
    "TIMEFRAME_MINUTES",
    "DataJoinWarning",
    "LoadReport",
    "check_time_unit",
    "check_unique_columns",
    "generate_market",
    "guess_timeframe",
    "load",
    "load_broker_csv",
    "load_parquet",
    "load_report",
    "resample",
    "table_to_ipc_bytes",
    "to_arrow_table",
    "to_native_input",
]

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

_TIME_UNIT_HINTS = (
    # (lowest |first timestamp|, highest, unit, factor to µs): magnitudes µs data cannot have
    # (years 1973–5138 in µs lie between 1e14 and 1e17) when bars are also closer than a minute
    (10**8, 10**11, "seconds", "multiply by 1_000_000"),
    (10**11, 10**14, "milliseconds", "multiply by 1_000"),
)


def _bad(message: str, **context: Any) -> InsufficientDataError:
    return InsufficientDataError(message, context)


def check_unique_columns(table: pa.Table) -> None:
    """E4004 when a candle column appears more than once: which one is meant is ambiguous (found by
    fuzzing: a duplicated `timestamp_us` raised a bare KeyError, and the backends read different
    copies of a duplicated price column)."""
    names = table.column_names
    for name in CANDLE_COLUMNS:
        if (count := names.count(name)) > 1:
            raise _bad(f"schema: column '{name}' appears {count} times", column=name, check="schema")


def check_time_unit(table: pa.Table) -> None:
    """E4004 naming the unit when an integer `timestamp_us` column evidently holds seconds,
    milliseconds or nanoseconds since the epoch (checked on the first two rows: O(1))."""
    if table.column_names.count("timestamp_us") > 1:
        raise _bad("schema: duplicate column 'timestamp_us'", column="timestamp_us", check="schema")
    if "timestamp_us" not in table.column_names or table.num_rows == 0:
        return
    col = table.column("timestamp_us")
    if not pa.types.is_integer(col.type):
        return
    head = col.slice(0, 2).to_pylist()
    if head[0] is None or (len(head) > 1 and head[1] is None):
        return
    t0 = abs(int(head[0]))
    step = int(head[1]) - int(head[0]) if len(head) > 1 else 0
    hint = "; omega.data.load(path, time_unit=...) converts files"
    if t0 >= 10**17:
        raise _bad(
            f"timestamps: column 'timestamp_us' holds nanoseconds since the epoch (first value {head[0]}), "
            f"not microseconds: divide by 1_000{hint}",
            column="timestamp_us",
            check="timestamps",
            unit="ns",
        )
    for low, high, unit, fix in _TIME_UNIT_HINTS:
        if low <= t0 < high and step < 60_000_000:
            raise _bad(
                f"timestamps: column 'timestamp_us' holds {unit} since the epoch (first value {head[0]}), "
                f"not microseconds: {fix}{hint}",
                column="timestamp_us",
                check="timestamps",
                unit=unit,
            )


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


def _is_pandas_frame(obj: Any) -> bool:
    cls = type(obj)
    return cls.__module__.startswith("pandas") and cls.__name__ == "DataFrame"


def _from_pandas(frame: Any) -> pa.Table:
    """A pandas DataFrame → Arrow; a DatetimeIndex (naive = UTC, aware converted) becomes
    `timestamp_us` when there is no such column."""
    import pandas as pd

    try:
        index = frame.index
        if isinstance(index, pd.DatetimeIndex) and "timestamp_us" not in frame.columns:
            if index.tz is not None:
                index = index.tz_convert("UTC").tz_localize(None)
            us = np.asarray(index.as_unit("us").asi8, dtype=np.int64)
            table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
            return table.add_column(0, "timestamp_us", pa.array(us, pa.int64()))
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError) as e:
        raise _bad(f"pandas DataFrame cannot be converted to Arrow: {e}", source="DataFrame") from e


def _from_exporter(obj: Any) -> pa.Table:
    """An `__arrow_c_stream__`/`__arrow_c_array__` object → Table; whatever the exporter raises
    is E4004 (the Rust path reports an unreadable export as E4004 too)."""
    try:
        if hasattr(obj, "__arrow_c_stream__"):
            return pa.table(obj)
        return pa.Table.from_batches([pa.record_batch(obj)])
    except Exception as e:  # third-party exporter code: any failure means unreadable candles
        raise _bad(
            f"Arrow export of {type(obj).__name__} failed: {type(e).__name__}: {e}", source=type(obj).__name__
        ) from e


def to_arrow_table(obj: Any) -> pa.Table:
    """Any accepted candle container → `pyarrow.Table` (content validated later by the core).

    Accepts a pyarrow `Table`, `RecordBatch` or `RecordBatchReader`; Arrow IPC bytes (stream or
    file format); a path (str/PathLike) read by `load` (Parquet, Arrow IPC, CSV); a pandas
    DataFrame (a DatetimeIndex becomes `timestamp_us`); any object with `__arrow_c_stream__` or
    `__arrow_c_array__` (polars, arro3…); a dict of equal-length columns. Anything else, ragged
    dict columns, unreadable files and integer timestamps in another unit than µs are E4004.
    """
    table = _to_table(obj)
    check_unique_columns(table)
    check_time_unit(table)
    return table


def _to_table(obj: Any) -> pa.Table:
    if isinstance(obj, pa.Table):
        return obj
    if isinstance(obj, pa.RecordBatch):
        return pa.Table.from_batches([obj])
    if isinstance(obj, pa.RecordBatchReader):
        try:
            return obj.read_all()
        except pa.ArrowException as e:
            raise _bad(f"reading the Arrow stream failed: {e}", source="RecordBatchReader") from e
    if isinstance(obj, bytes | bytearray | memoryview):
        return read_ipc(obj)
    if isinstance(obj, str | os.PathLike):
        return load(obj)
    if isinstance(obj, Mapping):
        return _dict_to_table(obj)
    if _is_pandas_frame(obj):
        return _from_pandas(obj)
    if hasattr(obj, "__arrow_c_stream__") or hasattr(obj, "__arrow_c_array__"):
        return _from_exporter(obj)
    if _is_native_cache(obj):
        raise _bad("a native IndicatorCache can only be run on the Rust backend", source="IndicatorCache")
    raise _bad(
        f"unsupported candle container {type(obj).__name__}: want a pyarrow Table/RecordBatch, IPC bytes, "
        "a .parquet/.arrow/.csv path, a pandas DataFrame, a dict of columns or an object with __arrow_c_stream__",
        source=type(obj).__name__,
    )


def _is_native_cache(obj: Any) -> bool:
    cls = type(obj)
    return cls.__module__ == "omega._native" and cls.__name__ == "IndicatorCache"


def to_native_input(obj: Any) -> Any:
    """What `_native.run_backtest_rust` receives: Arrow tables and exporters pass through untouched
    (the native side reads their columns through `omega._buffers`), and so does a native `IndicatorCache` (a
    market shared by the runs of a sweep); bytes, paths, dicts and pandas frames are converted
    first. Integer timestamps in another unit than µs are E4004 here, as on the Python backend."""
    if isinstance(obj, pa.Table | pa.RecordBatch):
        table = obj if isinstance(obj, pa.Table) else pa.Table.from_batches([obj])
        check_unique_columns(table)
        check_time_unit(table)
        return obj
    if _is_native_cache(obj) or (
        not _is_pandas_frame(obj) and (hasattr(obj, "__arrow_c_stream__") or hasattr(obj, "__arrow_c_array__"))
    ):
        return obj
    return to_arrow_table(obj)


def load_broker_csv(bid_path: str | os.PathLike[str], ask_path: str | os.PathLike[str]) -> pa.Table:
    """A broker's BID and ASK exports joined on time: `load([bid_path, ask_path])` (inner join,
    `DataJoinWarning` counting dropped bars)."""
    return load({"bid": bid_path, "ask": ask_path})


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
