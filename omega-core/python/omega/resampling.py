"""`omega.data.resample` and `guess_timeframe`: candles of one timeframe → a higher one, with the
bins of the engine's HTF resampler (docs/indicators.md "Higher timeframes").

Bin edges come from `omega.reference.market.htf_bin`, the Python statement of the engine's rule
(UTC boundaries; H4/D1 optionally anchored at 17:00 New York). A bin's bar is first open, highest
high, lowest low, last close and the volume summed in time order, as the engine builds it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from omega.columns import CANDLE_SCHEMA, PRICE_COLUMNS, TIMEFRAME_MINUTES
from omega.errors import InsufficientDataError, InvalidConfigError
from omega.reference.market import ANCHORS, htf_bin

_MINUTE_US = 60_000_000
_HOUR_US = 3_600_000_000
_TIMEFRAME_KEY = b"omega.timeframe"


def _tf_name(timeframe: str, what: str) -> str:
    name = timeframe.strip().upper() if isinstance(timeframe, str) else ""
    if name not in TIMEFRAME_MINUTES:
        raise InvalidConfigError(
            f"{what} {timeframe!r} is not one of {', '.join(TIMEFRAME_MINUTES)}", {"timeframe": repr(timeframe)}
        )
    return name


def _timestamps(table: pa.Table) -> npt.NDArray[np.int64]:
    if "timestamp_us" not in table.column_names:
        raise InsufficientDataError("missing column 'timestamp_us'", {"column": "timestamp_us", "check": "schema"})
    col = table.column("timestamp_us")
    if pa.types.is_timestamp(col.type):
        col = pc.cast(pc.cast(col, pa.timestamp("us", tz=col.type.tz)), pa.int64())
    if not pa.types.is_integer(col.type):
        raise InsufficientDataError(
            f"column 'timestamp_us' has type {col.type}, want int64 µs or an Arrow timestamp",
            {"column": "timestamp_us"},
        )
    ts: npt.NDArray[np.int64] = np.asarray(col.to_numpy(), dtype=np.int64)
    if len(ts) > 1 and not bool(np.all(np.diff(ts) > 0)):
        row = int(np.argmax(np.diff(ts) <= 0)) + 1
        raise InsufficientDataError(
            f"timestamps: column 'timestamp_us' row {row}: not strictly increasing",
            {"column": "timestamp_us", "row": row},
        )
    return ts


def guess_timeframe(table: pa.Table) -> tuple[str | None, str]:
    """(timeframe, how it was found): the table's `omega.timeframe` metadata, else the most common
    distance between bars when it is a timeframe length; `(None, why)` when neither applies."""
    meta = table.schema.metadata or {}
    if _TIMEFRAME_KEY in meta:
        name = meta[_TIMEFRAME_KEY].decode()
        if name in TIMEFRAME_MINUTES:
            return name, "from the table metadata"
    ts = _timestamps(table)
    if len(ts) < 2:
        return None, "fewer than two bars"
    steps, counts = np.unique(np.diff(ts), return_counts=True)
    step = int(steps[int(np.argmax(counts))])
    share = float(counts.max()) / float(len(ts) - 1)
    for name, minutes in TIMEFRAME_MINUTES.items():
        if step == minutes * _MINUTE_US:
            return name, f"most common bar distance {minutes} min ({share:.0%} of steps)"
    return None, f"most common bar distance {step / 1e6:g} s is not a timeframe"


def _bin_edges(
    ts: npt.NDArray[np.int64], timeframe: str, anchor: str
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(start, end) of the bin of every timestamp."""
    if anchor == "new_york_1700" and timeframe in ("H4", "D1"):
        # bins and DST switches fall on whole hours: one htf_bin call per distinct hour
        hours = np.floor_divide(ts, _HOUR_US)
        uniq, inverse = np.unique(hours, return_inverse=True)
        edges = np.array([htf_bin(int(h) * _HOUR_US, timeframe, anchor) for h in uniq], dtype=np.int64).reshape(-1, 2)
        return edges[inverse, 0], edges[inverse, 1]
    size = TIMEFRAME_MINUTES[timeframe] * _MINUTE_US
    start = np.floor_divide(ts, size) * size
    return start, start + size


def resample(
    candles: Any,
    timeframe: str,
    *,
    source_timeframe: str | None = None,
    anchor: str = "utc",
    visible_only: bool = False,
) -> pa.Table:
    """Candles → bars of `timeframe` (a `CANDLE_SCHEMA` table, `timestamp_us` = bin open time).

    Bins are the engine's HTF bins (`anchor="new_york_1700"` anchors H4/D1 at 17:00 New York);
    every bin holding at least one bar becomes a bar, except a last bin the data does not reach the
    end of (an unfinished bar). `visible_only=True` keeps exactly the bars a strategy sees through
    the engine's HTF view: it also drops a bin whose data ends early (a gap) when the first bar
    after the gap already closes the next bin. `source_timeframe` defaults to `guess_timeframe`;
    the target must be a whole multiple of it. Unknown names or a non-multiple are E4002, bad candles E4004.
    """
    from omega.data import to_arrow_table

    table = to_arrow_table(candles)
    target = _tf_name(timeframe, "timeframe")
    if anchor not in ANCHORS:
        raise InvalidConfigError(f"anchor {anchor!r} is not one of {', '.join(ANCHORS)}", {"anchor": anchor})
    if source_timeframe is None:
        guessed, why = guess_timeframe(table)
        if guessed is None:
            raise InvalidConfigError(
                f"cannot tell the candles' timeframe ({why}); pass source_timeframe=", {"key": "source_timeframe"}
            )
        source = guessed
    else:
        source = _tf_name(source_timeframe, "source_timeframe")
    src_min, dst_min = TIMEFRAME_MINUTES[source], TIMEFRAME_MINUTES[target]
    if dst_min < src_min or dst_min % src_min:
        raise InvalidConfigError(
            f"{target} bars cannot be built from {source} bars (not a whole multiple)",
            {"timeframe": target, "source_timeframe": source},
        )
    missing = [c for c in PRICE_COLUMNS if c not in table.column_names]
    if missing:
        raise InsufficientDataError(f"missing column '{missing[0]}'", {"column": missing[0], "check": "schema"})
    ts = _timestamps(table)
    cols = {c: np.asarray(pc.cast(table.column(c), pa.float64()).to_numpy(), dtype=np.float64) for c in PRICE_COLUMNS}
    if len(ts) == 0:
        return CANDLE_SCHEMA.empty_table()
    start, end = _bin_edges(ts, target, anchor)
    first = np.flatnonzero(np.concatenate(([True], start[1:] != start[:-1])))
    last = np.concatenate((first[1:], [len(ts)])) - 1
    if visible_only:
        # the engine's visibility: per source bar, the latest bin closed by that bar's close
        closes = ts + src_min * _MINUTE_US
        visible = np.searchsorted(end[first], closes, side="right") - 1
        keep = np.unique(visible[visible >= 0])
    else:
        keep = np.arange(len(first) - (1 if ts[-1] + src_min * _MINUTE_US < end[-1] else 0))  # unfinished last bin
    out: dict[str, Any] = {"timestamp_us": start[first][keep]}
    for side in ("bid", "ask"):
        out[f"{side}_open"] = cols[f"{side}_open"][first][keep]
        out[f"{side}_high"] = np.maximum.reduceat(cols[f"{side}_high"], first)[keep]
        out[f"{side}_low"] = np.minimum.reduceat(cols[f"{side}_low"], first)[keep]
        out[f"{side}_close"] = cols[f"{side}_close"][last][keep]
        out[f"{side}_volume"] = _ordered_sums(cols[f"{side}_volume"], first, last)[keep]
    meta = {
        _TIMEFRAME_KEY: target.encode(),
        b"omega.resampled_from": source.encode(),
        b"omega.htf_anchor": anchor.encode(),
    }
    return pa.table({c: out[c] for c in CANDLE_SCHEMA.names}).cast(CANDLE_SCHEMA).replace_schema_metadata(meta)


def _ordered_sums(
    values: npt.NDArray[np.float64], first: npt.NDArray[np.intp], last: npt.NDArray[np.intp]
) -> npt.NDArray[np.float64]:
    """Per-bin sums added one bar after another, like the engine (numpy's reductions pair terms)."""
    acc = np.zeros(len(first))
    lengths = last - first + 1
    for k in range(int(lengths.max()) if len(lengths) else 0):
        live = lengths > k
        acc[live] = acc[live] + values[first[live] + k]
    return acc
