"""The native module's door to Arrow: candle tables in as flat NumPy columns, result tables out from
plain byte buffers. The native module (`omega._native`) calls these two functions so that it needs
no Arrow or NumPy crate of its own (docs/performance.md "Cold demo build"); pyarrow, a runtime
dependency anyway, does the container and type work.

In: `candle_columns` turns any accepted candle container into one contiguous column per
`CANDLE_COLUMNS` entry (int64 µs timestamps, float64 prices), each a NumPy view of the Arrow buffer
when the column is one chunk of the right type, or a converted copy otherwise. The native side
copies each column once into the core's market (pyo3's safe buffer protocol). Schema problems are
returned as a reason string, which the native side raises as E4004 ("invalid market data: …").

Out: `table_from_buffers` wraps columns laid out as Arrow buffers (validity bitmap, offsets,
values) by the native side into a `pyarrow.Table` without copying them again.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from omega.columns import PRICE_COLUMNS

__all__ = ["candle_columns", "table_from_buffers"]

_TIME = "timestamp_us"
_I64_MAX = 2**63 - 1
_I64_MIN = -(2**63)
# µs per unit of an Arrow timestamp (ns is divided, with floor, like Rust's div_euclid).
_UNIT_FACTOR = {"s": 1_000_000, "ms": 1_000, "us": 1}


class _SchemaError(Exception):
    """A candle table that cannot be read as the core's market (→ E4004 on the native side)."""


class _Columns:
    """Columns of a table by name (the first of equal names), looked up without rebuilding lists."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self.names: list[str] = table.column_names
        self.index: dict[str, int] = {}
        for i, n in enumerate(self.names):
            self.index.setdefault(n, i)

    def get(self, name: str) -> pa.ChunkedArray:
        at = self.index.get(name)
        if at is None:
            raise _SchemaError(
                f"missing column '{name}' (schema: want timestamp_us, {', '.join(PRICE_COLUMNS)}; "
                f"got {', '.join(self.names)})"
            )
        return self.table.column(at)


def _no_nulls(col: pa.ChunkedArray, name: str) -> None:
    if col.null_count:
        offset = 0
        for chunk in col.chunks:
            if chunk.null_count:
                row = int(pc.index(chunk.is_null(), True).as_py())
                raise _SchemaError(f"null in column '{name}' at row {offset + row}")
            offset += len(chunk)


def _single_chunk(col: pa.ChunkedArray) -> pa.Array | None:
    chunks = [c for c in col.chunks if len(c)]
    return chunks[0] if len(chunks) == 1 else None


_F64 = pa.float64()
_I64 = pa.int64()


def _prices(table: _Columns, name: str) -> tuple[npt.NDArray[np.float64], bool]:
    col = table.get(name)
    t = col.type
    # Decimals are refused as on the reference backend: their conversion to float64 is not one rule.
    if not (pa.types.is_integer(t) or pa.types.is_floating(t)):
        raise _SchemaError(f"column '{name}' has type {t}, want an integer or floating type (schema)")
    _no_nulls(col, name)
    chunk = _single_chunk(col)
    if chunk is not None and t == _F64:
        return chunk.to_numpy(zero_copy_only=True), True
    try:
        # unchecked, as Rust's `as`: large int64 values round to the nearest float64
        values = pc.cast(col, pa.float64(), safe=False)
    except pa.ArrowException as e:
        raise _SchemaError(f"column '{name}' cannot be converted to float64: {e}") from e
    if values.null_count:
        raise _SchemaError(f"column '{name}' has values not representable as float64")
    return np.ascontiguousarray(values.to_numpy(), dtype=np.float64), False


def _timestamps(table: _Columns) -> tuple[npt.NDArray[np.int64], bool]:
    col = table.get(_TIME)
    t = col.type
    if pa.types.is_timestamp(t):
        unit = t.unit
    elif t == _I64:
        unit = "us"
    else:
        raise _SchemaError(f"column '{_TIME}' has type {t}, want int64 (µs) or an Arrow timestamp (schema)")
    _no_nulls(col, _TIME)
    chunk = _single_chunk(col)
    if chunk is not None and unit == "us":
        return chunk.view(pa.int64()).to_numpy(zero_copy_only=True), True
    raw = np.concatenate([c.view(pa.int64()).to_numpy(zero_copy_only=False) for c in col.chunks if len(c)] or [[]])
    raw = raw.astype(np.int64, copy=False)
    if unit == "ns":
        return raw // 1_000, False
    factor = _UNIT_FACTOR[unit]
    if factor > 1:
        bad = (raw > _I64_MAX // factor) | (raw < -(-_I64_MIN // factor))
        if bad.any():
            v = int(raw[int(np.argmax(bad))])
            raise _SchemaError(f"column '{_TIME}': timestamp {v} overflows when converted to µs")
        raw = raw * factor
    return raw, False


def _as_table(candles: Any) -> pa.Table:
    if isinstance(candles, pa.Table):
        return candles
    if isinstance(candles, pa.RecordBatch):
        return pa.Table.from_batches([candles])
    from omega.data import to_arrow_table  # raises the coded E4004 for unusable containers

    return to_arrow_table(candles)


def candle_columns(candles: Any) -> tuple[str | None, list[npt.NDArray[Any]], list[str], list[str]]:
    """`(reason, columns, direct, converted)`: `columns` in `CANDLE_COLUMNS` order (contiguous int64
    µs, then float64), `direct` the names read straight from the caller's Arrow buffer, `converted`
    those combined from chunks or cast first. `reason` is not None (and `columns` empty) when the
    table does not fit the candle schema."""
    table = _Columns(_as_table(candles))
    try:
        ts, ts_direct = _timestamps(table)
        columns: list[npt.NDArray[Any]] = [ts]
        direct, converted = ([_TIME], []) if ts_direct else ([], [_TIME])
        for name in PRICE_COLUMNS:
            values, is_direct = _prices(table, name)
            columns.append(values)
            (direct if is_direct else converted).append(name)
    except _SchemaError as e:
        return str(e), [], [], []
    return None, columns, direct, converted


_PRIMITIVE: dict[str, pa.DataType] = {"int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_()}


def _buffer(data: bytes | None) -> pa.Buffer | None:
    return None if data is None else pa.py_buffer(data)


def _array(kind: str, length: int, buffers: list[bytes | None]) -> pa.Array:
    if kind in _PRIMITIVE:
        return pa.Array.from_buffers(_PRIMITIVE[kind], length, [_buffer(b) for b in buffers])
    if kind == "utf8":
        return pa.Array.from_buffers(pa.string(), length, [_buffer(b) for b in buffers])
    if kind == "list<utf8>":
        list_offsets, value_offsets, data = buffers
        n_values = (len(value_offsets or b"") // 4) - 1
        values = pa.Array.from_buffers(pa.string(), n_values, [None, _buffer(value_offsets), _buffer(data)])
        return pa.Array.from_buffers(pa.list_(pa.string()), length, [None, _buffer(list_offsets)], children=[values])
    raise ValueError(f"unknown column kind {kind!r}")


# Empty result tables by column (name, kind): most runs end with no open position, and a Table is
# immutable, so one empty table per layout is shared.
_EMPTY: dict[tuple[tuple[str, str], ...], pa.Table] = {}


def table_from_buffers(columns: list[tuple[str, str, int, list[bytes | None]]]) -> pa.Table:
    """`(name, kind, length, buffers)` per column (kinds: int64, float64, bool, utf8, list<utf8>;
    buffers in Arrow's order: validity bitmap or None, then offsets/values) → a Table whose fields
    are all nullable."""
    if all(n == 0 for _, _, n, _ in columns):
        key = tuple((name, kind) for name, kind, _, _ in columns)
        if key not in _EMPTY:
            _EMPTY[key] = _build(columns)
        return _EMPTY[key]
    return _build(columns)


def _build(columns: list[tuple[str, str, int, list[bytes | None]]]) -> pa.Table:
    arrays = [_array(kind, n, bufs) for _, kind, n, bufs in columns]
    schema = pa.schema(
        [pa.field(name, a.type, nullable=True) for (name, _, _, _), a in zip(columns, arrays, strict=True)]
    )
    return pa.Table.from_arrays(arrays, schema=schema)
