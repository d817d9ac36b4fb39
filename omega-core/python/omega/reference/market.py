"""Market data of the pure-Python reference: validated primary bars and higher-timeframe resampling.

Written from docs/data.md (validation, first violation → E4004 naming column and row) and
docs/indicators.md "Higher timeframes" (bins, America/New_York 17:00 anchor by the documented US DST
rule, visibility by close time, only bins that become visible are HTF bars). Timestamps are bar
**open** times in µs UTC; prices plain floats.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from omega.columns import PRICE_COLUMNS
from omega.errors import IndicatorNotAvailableError, InsufficientDataError, InvalidConfigError
from omega.reference.keys import TIMEFRAME_MINUTES

__all__ = [
    "ANCHORS",
    "PRICE_COLUMNS",
    "REQUIRED_COLUMNS",
    "TIMEFRAME_MINUTES",
    "Bars",
    "Market",
    "htf_bin",
    "resample",
]

REQUIRED_COLUMNS: tuple[str, ...] = ("timestamp_us", *PRICE_COLUMNS)
#: HTF anchors of H4/D1 bins (shorter timeframes always use plain UTC boundaries).
ANCHORS: tuple[str, ...] = ("utc", "new_york_1700")

_MINUTE_US = 60_000_000
_HOUR_US = 3_600_000_000
_DAY_US = 86_400_000_000
#: Bar open times must lie in 0001-01-01 .. 9999-12-31T00:00Z (the core's `MIN_TIMESTAMP_US`/`MAX_TIMESTAMP_US`).
MIN_TIMESTAMP_US = -62_135_596_800_000_000
MAX_TIMESTAMP_US = 253_402_214_400_000_000
_UNIT_US = {"s": (1_000_000, 1), "ms": (1_000, 1), "us": (1, 1), "ns": (1, 1_000)}


def _bad(check: str, message: str, column: str | None = None, row: int | None = None) -> InsufficientDataError:
    where = ""
    if column is not None:
        where += f" column '{column}'"
    if row is not None:
        where += f" row {row}"
    text = f"{check}:{where}: {message}" if where else f"{check}: {message}"
    return InsufficientDataError(text, {"check": check, "column": column, "row": row})


def _canonical_timeframe(timeframe: str) -> str:
    name = timeframe.strip().upper() if isinstance(timeframe, str) else ""
    if name not in TIMEFRAME_MINUTES:
        raise InvalidConfigError(f"unknown timeframe {timeframe!r}", {"timeframe": repr(timeframe)})
    return name


def _as_arrow(name: str, values: Any) -> pa.Array | pa.ChunkedArray:
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values
    try:
        arr = pa.array(values)
    except (pa.ArrowException, TypeError, ValueError, OverflowError) as err:
        raise _bad("schema", f"cannot convert to an Arrow array ({err})", name) from None
    if pa.types.is_null(arr.type):  # an empty or all-None sequence carries no type: take the expected one
        arr = arr.cast(pa.int64() if name == "timestamp_us" else pa.float64())
    return arr


def _columns_of_table(table: pa.Table) -> dict[str, pa.ChunkedArray]:
    out: dict[str, pa.ChunkedArray] = {}
    names = list(table.schema.names)
    for name in REQUIRED_COLUMNS:
        idx = [i for i, n in enumerate(names) if n == name]
        if len(idx) > 1:
            raise _bad("schema", "duplicate column", name)
        if idx:
            out[name] = table.column(idx[0])
    return out


def _read_ipc(data: bytes | bytearray | memoryview) -> pa.Table:
    buf = pa.py_buffer(bytes(data))
    try:
        return pa.ipc.open_stream(buf).read_all()
    except (pa.ArrowException, OSError, ValueError):
        pass
    try:
        return pa.ipc.open_file(buf).read_all()
    except (pa.ArrowException, OSError, ValueError) as err:
        raise _bad("schema", f"bytes are neither an Arrow IPC stream nor an IPC file ({err})") from None


def _to_columns(data: Any) -> dict[str, pa.Array | pa.ChunkedArray]:
    if isinstance(data, pa.Table):
        return dict(_columns_of_table(data))
    if isinstance(data, pa.RecordBatch):
        return dict(_columns_of_table(pa.Table.from_batches([data])))
    if isinstance(data, bytes | bytearray | memoryview):
        return dict(_columns_of_table(_read_ipc(data)))
    if isinstance(data, Mapping):
        return {str(k): _as_arrow(str(k), v) for k, v in data.items() if k in REQUIRED_COLUMNS}
    if isinstance(data, pa.RecordBatchReader):
        return dict(_columns_of_table(data.read_all()))
    if hasattr(data, "__arrow_c_stream__"):
        try:
            table = pa.table(data)
        except (pa.ArrowException, TypeError, ValueError):
            try:
                table = pa.RecordBatchReader.from_stream(data).read_all()
            except (pa.ArrowException, TypeError, ValueError) as err:
                raise _bad("schema", f"cannot read the Arrow C stream ({err})") from None
        return dict(_columns_of_table(table))
    raise _bad(
        "schema",
        f"unsupported container {type(data).__name__}: expected a pyarrow Table/RecordBatch, Arrow IPC bytes, "
        "an object with __arrow_c_stream__ or a dict of columns",
    )


def _timestamps(arr: pa.Array | pa.ChunkedArray) -> list[int | None]:
    t = arr.type
    if pa.types.is_int64(t):
        return list(arr.to_pylist())
    unit = str(t.unit)
    mul, div = _UNIT_US[unit]
    raw = arr.cast(pa.int64()).to_pylist()
    out: list[int | None] = []
    for v in raw:
        if v is None:
            out.append(None)
        elif div == 1:
            out.append(int(v) * mul)
        else:
            q = abs(int(v)) // div  # truncation toward zero, like integer division in Rust
            out.append(q if v >= 0 else -q)
    return out


def min_bar_spacing_us(timeframe: str) -> int:
    """Smallest allowed distance between bar opens: the bar length, one hour less for H4 and D1."""
    minutes = TIMEFRAME_MINUTES[timeframe]
    return minutes * 60_000_000 - (3_600_000_000 if minutes >= 240 else 0)


def _validated(
    symbol: str, timeframe: str, cols: Mapping[str, pa.Array | pa.ChunkedArray], allow_crossed_quotes: bool
) -> Market:
    tf = _canonical_timeframe(timeframe)
    # schema / types
    for name in REQUIRED_COLUMNS:
        if name not in cols:
            raise _bad("schema", "missing column", name)
        t = cols[name].type
        if name == "timestamp_us":
            if not (pa.types.is_int64(t) or pa.types.is_timestamp(t)):
                raise _bad("schema", f"type {t} is not int64 or an Arrow timestamp", name)
        elif not (pa.types.is_integer(t) or pa.types.is_floating(t)):
            raise _bad("schema", f"type {t} is not an integer or floating type", name)
    ts_raw = _timestamps(cols["timestamp_us"])
    values: dict[str, list[float | None]] = {}
    for name in PRICE_COLUMNS:
        arr = cols[name]
        values[name] = list(arr.cast(pa.float64(), safe=False).to_pylist())
    # nulls
    null_check: list[tuple[str, list[int | None] | list[float | None]]] = [("timestamp_us", ts_raw)]
    null_check.extend(values.items())
    for name, vals in null_check:
        for i, v in enumerate(vals):
            if v is None:
                raise _bad("nulls", "null value", name, i)
    ts: list[int] = [int(v) for v in ts_raw if v is not None]
    price: dict[str, list[float]] = {k: [float(v) for v in vals if v is not None] for k, vals in values.items()}
    n = len(ts)
    # empty
    if n == 0:
        raise _bad("empty", "no rows", "timestamp_us")
    # ragged (only possible for column dicts)
    for name in PRICE_COLUMNS:
        if len(price[name]) != n:
            raise _bad("ragged", f"{len(price[name])} values but timestamp_us has {n}", name, min(n, len(price[name])))
    # timestamps within the calendar range (the core's bounds), strictly increasing
    for i in range(n):
        if not (MIN_TIMESTAMP_US <= ts[i] <= MAX_TIMESTAMP_US):
            raise _bad(
                "timestamps",
                f"{ts[i]} is outside 0001-01-01 .. 9999-12-31 UTC ({MIN_TIMESTAMP_US}..={MAX_TIMESTAMP_US} µs)",
                "timestamp_us",
                i,
            )
        if i > 0 and ts[i] <= ts[i - 1]:
            raise _bad("timestamps", f"not strictly increasing ({ts[i]} after {ts[i - 1]})", "timestamp_us", i)
    # bars at least one bar length apart (an hour less for H4/D1: DST shifts NY-anchored bins)
    min_gap = min_bar_spacing_us(tf)
    for i in range(1, n):
        if ts[i] - ts[i - 1] < min_gap:
            raise _bad(
                "timestamps",
                f"bars {ts[i] - ts[i - 1]} µs apart, shorter than the {tf} timeframe (wrong timeframe in the config?)",
                "timestamp_us",
                i,
            )
    # finite
    for name in PRICE_COLUMNS:
        for i, v in enumerate(price[name]):
            if not math.isfinite(v):
                raise _bad("finite", f"non-finite value {v!r}", name, i)
    # OHLC ordering per side
    for side in ("bid", "ask"):
        o, h, lo, c = (price[f"{side}_{f}"] for f in ("open", "high", "low", "close"))
        for i in range(n):
            if lo[i] > o[i] or lo[i] > c[i]:
                raise _bad("ohlc", f"low {lo[i]!r} above open {o[i]!r} or close {c[i]!r}", f"{side}_low", i)
            if h[i] < o[i] or h[i] < c[i]:
                raise _bad("ohlc", f"high {h[i]!r} below open {o[i]!r} or close {c[i]!r}", f"{side}_high", i)
    # negative volume
    for name in ("bid_volume", "ask_volume"):
        for i, v in enumerate(price[name]):
            if v < 0.0:
                raise _bad("volume", f"negative volume {v!r}", name, i)
    # crossed quotes
    if not allow_crossed_quotes:
        ac, bc = price["ask_close"], price["bid_close"]
        for i in range(n):
            if ac[i] < bc[i]:
                raise _bad("crossed", f"ask_close {ac[i]!r} < bid_close {bc[i]!r}", "ask_close", i)
    return Market(str(symbol), tf, ts, price)


class Market:
    """Validated primary bars of one symbol; build with :meth:`from_arrow` or :meth:`from_columns`."""

    symbol: str
    timeframe: str
    tf_minutes: int
    timestamp_us: list[int]
    bid_open: list[float]
    bid_high: list[float]
    bid_low: list[float]
    bid_close: list[float]
    bid_volume: list[float]
    ask_open: list[float]
    ask_high: list[float]
    ask_low: list[float]
    ask_close: list[float]
    ask_volume: list[float]

    def __init__(
        self, symbol: str, timeframe: str, timestamp_us: list[int], columns: Mapping[str, list[float]]
    ) -> None:
        """Wrap already validated columns (no checks; use the ``from_*`` constructors for input)."""
        self.symbol = symbol
        self.timeframe = timeframe
        self.tf_minutes = TIMEFRAME_MINUTES[timeframe]
        self.timestamp_us = timestamp_us
        self.bid_open = columns["bid_open"]
        self.bid_high = columns["bid_high"]
        self.bid_low = columns["bid_low"]
        self.bid_close = columns["bid_close"]
        self.bid_volume = columns["bid_volume"]
        self.ask_open = columns["ask_open"]
        self.ask_high = columns["ask_high"]
        self.ask_low = columns["ask_low"]
        self.ask_close = columns["ask_close"]
        self.ask_volume = columns["ask_volume"]

    @property
    def tf_us(self) -> int:
        """Primary bar length in µs."""
        return self.tf_minutes * _MINUTE_US

    def __len__(self) -> int:
        return len(self.timestamp_us)

    def __repr__(self) -> str:
        return f"Market({self.symbol!r}, {self.timeframe!r}, {len(self)} bars)"

    def close_time_us(self, i: int) -> int:
        """Close time of bar ``i`` (= open + primary duration), µs UTC."""
        return self.timestamp_us[i] + self.tf_minutes * _MINUTE_US

    @classmethod
    def from_arrow(cls, data: Any, symbol: str, timeframe: str, *, allow_crossed_quotes: bool = False) -> Market:
        """Validate candles from a pyarrow Table/RecordBatch, IPC bytes, an Arrow C stream or a dict of columns.

        The first violation raises ``InsufficientDataError`` (E4004) naming the column and row; an
        unknown timeframe name is ``InvalidConfigError`` (E4002).
        """
        return _validated(symbol, timeframe, _to_columns(data), allow_crossed_quotes)

    @classmethod
    def from_columns(
        cls,
        symbol: str,
        timeframe: str,
        timestamp_us: Sequence[int] | Any,
        *,
        allow_crossed_quotes: bool = False,
        **cols: Any,
    ) -> Market:
        """Validate candles given as separate columns (sequences, numpy or Arrow arrays)."""
        data: dict[str, Any] = {"timestamp_us": timestamp_us, **cols}
        return _validated(symbol, timeframe, _to_columns(data), allow_crossed_quotes)


@dataclass
class Bars:
    """Bars of one timeframe as columns, with open and close times (µs UTC).

    ``visible`` is ``None`` for the primary bars; for a higher timeframe it has one entry per
    *primary* bar: the index of the latest HTF bar whose close time is at or before that primary
    bar's close time, or −1. Every HTF bar is ``visible[i]`` for at least one ``i``.
    """

    symbol: str
    timeframe: str
    open_time_us: list[int]
    close_time_us: list[int]
    bid_open: list[float]
    bid_high: list[float]
    bid_low: list[float]
    bid_close: list[float]
    bid_volume: list[float]
    ask_open: list[float]
    ask_high: list[float]
    ask_low: list[float]
    ask_close: list[float]
    ask_volume: list[float]
    visible: list[int] | None = None

    def __len__(self) -> int:
        return len(self.open_time_us)

    @property
    def tf_minutes(self) -> int:
        """Minutes of this timeframe."""
        return TIMEFRAME_MINUTES[self.timeframe]

    @classmethod
    def primary(cls, market: Market) -> Bars:
        """The primary bars of ``market`` with their close times (``visible`` None)."""
        tf_us = market.tf_us
        return cls(
            symbol=market.symbol,
            timeframe=market.timeframe,
            open_time_us=list(market.timestamp_us),
            close_time_us=[t + tf_us for t in market.timestamp_us],
            bid_open=list(market.bid_open),
            bid_high=list(market.bid_high),
            bid_low=list(market.bid_low),
            bid_close=list(market.bid_close),
            bid_volume=list(market.bid_volume),
            ask_open=list(market.ask_open),
            ask_high=list(market.ask_high),
            ask_low=list(market.ask_low),
            ask_close=list(market.ask_close),
            ask_volume=list(market.ask_volume),
        )


# --- America/New_York by the documented US rule (since 2007) ----------------------------------------


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (any year)."""
    y = y - 1 if m <= 2 else y
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _year_of_days(z: int) -> int:
    """Proleptic Gregorian year of a day number (days since 1970-01-01)."""
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if m <= 2 else 0)


def _nth_sunday(year: int, month: int, nth: int) -> int:
    first = _days_from_civil(year, month, 1)
    weekday = (first + 3) % 7  # Monday = 0; 1970-01-01 was a Thursday
    return first + (6 - weekday) % 7 + 7 * (nth - 1)


def _last_sunday(year: int, month: int) -> int:
    nxt = _days_from_civil(year + (month == 12), month % 12 + 1, 1)
    last = nxt - 1
    weekday = (last + 3) % 7
    return last - (weekday - 6) % 7


_DST_CACHE: dict[int, tuple[int, int]] = {}


def _dst_bounds_us(year: int) -> tuple[int, int]:
    """UTC µs of DST start (02:00 EST) and end (02:00 EDT) under the US rules of that year.

    Since 2007: 2nd Sunday of March to 1st Sunday of November; 1987–2006: 1st Sunday of April to last
    Sunday of October; before: last Sunday of April to last Sunday of October.
    """
    b = _DST_CACHE.get(year)
    if b is None:
        if year >= 2007:
            start_day, end_day = _nth_sunday(year, 3, 2), _nth_sunday(year, 11, 1)
        elif year >= 1987:
            start_day, end_day = _nth_sunday(year, 4, 1), _last_sunday(year, 10)
        else:
            start_day, end_day = _last_sunday(year, 4), _last_sunday(year, 10)
        b = (start_day * _DAY_US + 7 * _HOUR_US, end_day * _DAY_US + 6 * _HOUR_US)
        _DST_CACHE[year] = b
    return b


def _ny_offset_us(t: int) -> int:
    """UTC offset of America/New_York at UTC instant ``t`` (µs): −4 h in DST, else −5 h."""
    start, end = _dst_bounds_us(_year_of_days(t // _DAY_US))
    return -4 * _HOUR_US if start <= t < end else -5 * _HOUR_US


def _ny_wall_to_utc(w: int) -> int:
    """UTC instant of NY wall-clock time ``w`` (µs on the local time line); first occurrence if ambiguous."""
    u = w + 4 * _HOUR_US
    if _ny_offset_us(u) == -4 * _HOUR_US:
        return u
    return w + 5 * _HOUR_US


def htf_bin(t: int, timeframe: str, anchor: str = "utc") -> tuple[int, int]:
    """The (start, end) in µs UTC of the HTF bin containing instant ``t``."""
    minutes = TIMEFRAME_MINUTES[timeframe]
    if anchor == "new_york_1700" and timeframe in ("H4", "D1"):
        local = t + _ny_offset_us(t)
        day = local // _DAY_US
        hour = (local - day * _DAY_US) // _HOUR_US
        if timeframe == "D1":
            start_hour = 17 if hour >= 17 else 17 - 24
            span = 24
        else:
            start_hour = hour - (hour - 1) % 4  # wall-clock bins at 01, 05, 09, 13, 17, 21
            span = 4
        start_wall = day * _DAY_US + start_hour * _HOUR_US
        return _ny_wall_to_utc(start_wall), _ny_wall_to_utc(start_wall + span * _HOUR_US)
    size = minutes * _MINUTE_US
    start = (t // size) * size
    return start, start + size


def resample(market: Market, timeframe: str, anchor: str = "utc") -> Bars:
    """Bars of ``timeframe`` built from the primary bars, with the visibility index (docs/indicators.md).

    Only bins that some primary bar sees (``visible[i]``) are HTF bars, in the order they become
    visible (V1 stepwise semantics): a bin overtaken by the next one within a single primary step
    (gaps) and the unfinished last bin are dropped. The primary timeframe gives the primary bars
    with ``visible[i] = i``; a timeframe that is not a whole multiple of the primary one is E4003,
    an unknown anchor E4002.
    """
    name = timeframe.strip().upper() if isinstance(timeframe, str) else ""
    if name not in TIMEFRAME_MINUTES:
        raise IndicatorNotAvailableError(f"unknown timeframe {timeframe!r}", {"timeframe": repr(timeframe)})
    if anchor not in ANCHORS:
        raise InvalidConfigError(f"unknown htf_anchor {anchor!r}; expected one of {ANCHORS}", {"anchor": anchor})
    minutes = TIMEFRAME_MINUTES[name]
    prim = market.tf_minutes
    if minutes == prim:
        bars = Bars.primary(market)
        bars.visible = list(range(len(market)))
        return bars
    if minutes < prim or minutes % prim != 0:
        raise IndicatorNotAvailableError(
            f"timeframe {name} cannot be built from primary {market.timeframe} bars (not a whole multiple)",
            {"timeframe": name, "primary": market.timeframe},
        )
    n = len(market)
    ts = market.timestamp_us
    out = Bars(market.symbol, name, [], [], [], [], [], [], [], [], [], [], [], [])
    cur_start: int | None = None
    for i in range(n):
        start, end = htf_bin(ts[i], name, anchor)
        if start != cur_start:
            cur_start = start
            out.open_time_us.append(start)
            out.close_time_us.append(end)
            out.bid_open.append(market.bid_open[i])
            out.bid_high.append(market.bid_high[i])
            out.bid_low.append(market.bid_low[i])
            out.bid_close.append(market.bid_close[i])
            out.bid_volume.append(0.0 + market.bid_volume[i])
            out.ask_open.append(market.ask_open[i])
            out.ask_high.append(market.ask_high[i])
            out.ask_low.append(market.ask_low[i])
            out.ask_close.append(market.ask_close[i])
            out.ask_volume.append(0.0 + market.ask_volume[i])
            continue
        j = len(out.open_time_us) - 1
        if market.bid_high[i] > out.bid_high[j]:
            out.bid_high[j] = market.bid_high[i]
        if market.bid_low[i] < out.bid_low[j]:
            out.bid_low[j] = market.bid_low[i]
        out.bid_close[j] = market.bid_close[i]
        out.bid_volume[j] = out.bid_volume[j] + market.bid_volume[i]
        if market.ask_high[i] > out.ask_high[j]:
            out.ask_high[j] = market.ask_high[i]
        if market.ask_low[i] < out.ask_low[j]:
            out.ask_low[j] = market.ask_low[i]
        out.ask_close[j] = market.ask_close[i]
        out.ask_volume[j] = out.ask_volume[j] + market.ask_volume[i]
    # visibility: latest HTF bar with close_time <= close_time(i)
    visible: list[int] = []
    tf_us = market.tf_us
    k = -1
    m = len(out.close_time_us)
    for i in range(n):
        close_i = ts[i] + tf_us
        while k + 1 < m and out.close_time_us[k + 1] <= close_i:
            k += 1
        visible.append(k)
    # keep only the bins that are visible[i] for some i (visible is non-decreasing: its distinct
    # non-negative values, in order) and renumber visible to them; -1 stays -1
    kept: list[int] = []
    last = -1
    for i in range(n):
        v = visible[i]
        if v < 0:
            continue
        if v != last:
            last = v
            kept.append(v)
        visible[i] = len(kept) - 1
    return Bars(
        symbol=out.symbol,
        timeframe=out.timeframe,
        open_time_us=[out.open_time_us[j] for j in kept],
        close_time_us=[out.close_time_us[j] for j in kept],
        bid_open=[out.bid_open[j] for j in kept],
        bid_high=[out.bid_high[j] for j in kept],
        bid_low=[out.bid_low[j] for j in kept],
        bid_close=[out.bid_close[j] for j in kept],
        bid_volume=[out.bid_volume[j] for j in kept],
        ask_open=[out.ask_open[j] for j in kept],
        ask_high=[out.ask_high[j] for j in kept],
        ask_low=[out.ask_low[j] for j in kept],
        ask_close=[out.ask_close[j] for j in kept],
        ask_volume=[out.ask_volume[j] for j in kept],
        visible=visible,
    )
