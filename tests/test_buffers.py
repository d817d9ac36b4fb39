"""`omega._buffers`, the native module's door to Arrow: candle columns in (views where the layout
allows, the core's E4004 reasons otherwise) and result tables out of raw Arrow buffers. Expected
values are hand-built Arrow arrays, independent of the code under test."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from omega import _buffers, data

COLUMNS = list(data.CANDLE_COLUMNS)


def _i64(*v: int) -> bytes:
    return struct.pack(f"={len(v)}q", *v)


def _f64(*v: float) -> bytes:
    return struct.pack(f"={len(v)}d", *v)


def _i32(*v: int) -> bytes:
    return struct.pack(f"={len(v)}i", *v)


def test_table_from_buffers_matches_hand_built_arrays() -> None:
    cols: list[tuple[str, str, int, list[bytes | None]]] = [
        ("id", "int64", 3, [None, _i64(7, -1, 2**62)]),
        # validity bitmap 0b101: rows 0 and 2 valid, row 1 null
        ("take_profit", "float64", 3, [bytes([0b101]), _f64(1.5, 0.0, -2.25)]),
        ("session_ok", "bool", 3, [None, bytes([0b110])]),
        ("reason", "utf8", 3, [None, _i32(0, 2, 2, 5), b"abxyz"]),
        ("tags", "list<utf8>", 3, [_i32(0, 2, 2, 3), _i32(0, 1, 3, 6), b"abcdef"]),
    ]
    table = _buffers.table_from_buffers(cols)
    expected = pa.table(
        {
            "id": pa.array([7, -1, 2**62], pa.int64()),
            "take_profit": pa.array([1.5, None, -2.25], pa.float64()),
            "session_ok": pa.array([False, True, True]),
            "reason": pa.array(["ab", "", "xyz"]),
            "tags": pa.array([["a", "bc"], [], ["def"]], pa.list_(pa.string())),
        }
    )
    assert table.equals(expected)
    assert all(f.nullable for f in table.schema)
    table.validate(full=True)


def test_empty_tables_are_shared_per_layout() -> None:
    layout: list[tuple[str, str, int, list[bytes | None]]] = [
        ("id", "int64", 0, [None, b""]),
        ("tags", "list<utf8>", 0, [_i32(0), _i32(0), b""]),
    ]
    first = _buffers.table_from_buffers(layout)
    assert first.num_rows == 0
    assert first.schema.names == ["id", "tags"]
    assert _buffers.table_from_buffers(list(layout)) is first
    other = _buffers.table_from_buffers([("id", "float64", 0, [None, b""])])
    assert other is not first
    assert other.schema.field("id").type == pa.float64()


def _candles(n: int = 4) -> pa.Table:
    return data.generate_market(n, seed=5)


def test_single_chunk_columns_are_views_of_the_arrow_buffers() -> None:
    t = _candles()
    reason, cols, direct, converted = _buffers.candle_columns(t)
    assert reason is None
    assert direct == COLUMNS
    assert converted == []
    for name, col in zip(COLUMNS, cols, strict=True):
        buf = t.column(name).chunk(0).buffers()[1]
        assert buf is not None, name
        assert col.ctypes.data == buf.address, name
        assert col.flags.c_contiguous


def test_converted_columns_and_timestamp_units() -> None:
    t = _candles(3)
    us = t.column("timestamp_us").to_numpy()
    ns = t.set_column(0, "timestamp_us", pa.array(us * 1_000 + 999, pa.timestamp("ns", tz="UTC")))
    f32 = ns.set_column(1, "bid_open", pa.array([1.5, 2.5, 3.5], pa.float32()))
    reason, cols, direct, converted = _buffers.candle_columns(f32)
    assert reason is None
    assert converted == ["timestamp_us", "bid_open"]
    assert "timestamp_us" not in direct
    np.testing.assert_array_equal(cols[0], us)  # ns floored to µs
    np.testing.assert_array_equal(cols[1], [1.5, 2.5, 3.5])
    assert cols[0].dtype == np.int64
    assert cols[1].dtype == np.float64


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda t: t.drop_columns(["ask_low"]), "missing column 'ask_low'"),
        (lambda t: t.set_column(2, "bid_high", pa.array(["x"] * t.num_rows)), "column 'bid_high' has type string"),
        (
            lambda t: t.set_column(4, "bid_close", pa.array([1.0, None, 1.0, None], pa.float64())),
            "null in column 'bid_close' at row 1",
        ),
        (
            lambda t: t.set_column(
                0, "timestamp_us", pa.array([2**62, 2**62 + 1, 2**62 + 2, 2**62 + 3], pa.timestamp("s"))
            ),
            f"timestamp {2**62} overflows when converted to µs",
        ),
    ],
)
def test_schema_problems_are_reasons(edit: Any, reason: str) -> None:
    got, cols, direct, converted = _buffers.candle_columns(edit(_candles()))
    assert got is not None
    assert reason in got
    assert cols == []
    assert direct == []
    assert converted == []


def test_nulls_are_found_across_chunks() -> None:
    t = _candles(6)
    chunked = pa.Table.from_batches(t.to_batches(max_chunksize=4))
    col = pa.chunked_array([chunked.column("ask_open").chunk(0), pa.array([1.0, None], pa.float64())])
    got, *_ = _buffers.candle_columns(chunked.set_column(6, "ask_open", col))
    assert got == "null in column 'ask_open' at row 5"
