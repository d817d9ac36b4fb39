"""Candle input (`omega.data` and the native `market` conversion): every accepted container gives
the same run, zero copy where the layout allows, every invalid input is E4004 through the native
path, and the loaders and the market generator produce valid, deterministic tables."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
from omega import bridge, data, errors

COLUMNS = list(data.CANDLE_COLUMNS)


def _ipc_stream(t: pa.Table) -> bytes:
    return data.table_to_ipc_bytes(t)


def _ipc_file(t: pa.Table) -> bytes:
    return data.table_to_ipc_bytes(t, file_format=True)


def _pandas(t: pa.Table) -> Any:
    pytest.importorskip("pandas", reason="pandas is an optional dependency of omega-core")
    return t.to_pandas()


CONTAINERS: dict[str, Callable[[pa.Table], Any]] = {
    "table": lambda t: t,
    "record_batch": lambda t: t.combine_chunks().to_batches()[0],
    "reader": lambda t: pa.RecordBatchReader.from_batches(t.schema, t.to_batches()),
    "chunked_table": lambda t: pa.Table.from_batches(t.to_batches(max_chunksize=777)),
    "ipc_stream_bytes": _ipc_stream,
    "ipc_file_bytes": _ipc_file,
    "pandas": _pandas,
    "dict_of_numpy": lambda t: {c: t.column(c).to_numpy() for c in t.column_names},
    "dict_of_lists": lambda t: t.to_pydict(),
}


@pytest.fixture(scope="module")
def small() -> pa.Table:
    return data.generate_market(3_000, seed=3)


@pytest.mark.parametrize("kind", sorted(CONTAINERS))
def test_containers_give_identical_runs(
    kind: str, sma_plugin: str, small: pa.Table, sma_config: dict[str, Any]
) -> None:
    reference = bridge.run_rust_backtest(sma_plugin, sma_config, small)
    result = bridge.run_rust_backtest(sma_plugin, sma_config, CONTAINERS[kind](small))
    assert result.bars_processed == small.num_rows
    assert result.trades_table().equals(reference.trades_table())
    assert result.equity_curve.tobytes() == reference.equity_curve.tobytes()


@pytest.mark.parametrize("suffix", [".parquet", ".arrow", ".feather"])
def test_paths(tmp_path: Path, suffix: str, native: ModuleType, small: pa.Table) -> None:
    path = tmp_path / f"candles{suffix}"
    if suffix == ".parquet":
        pq.write_table(small, path)
    else:
        path.write_bytes(_ipc_file(small))
    assert data.to_arrow_table(path).equals(small)
    assert data.to_arrow_table(str(path)).equals(small)
    assert native.validate_candles(path)["rows"] == small.num_rows


def test_arrow_ipc_stream_path(tmp_path: Path, small: pa.Table) -> None:
    path = tmp_path / "candles.arrows"
    path.write_bytes(_ipc_stream(small))
    assert data.to_arrow_table(path).equals(small)


def test_zero_copy_for_single_chunk_float64(native: ModuleType, small: pa.Table) -> None:
    info = native.validate_candles(small)
    assert info["rows"] == small.num_rows
    assert info["zero_copy_columns"] == COLUMNS
    assert info["copied_columns"] == []
    assert native.validate_candles(small.slice(100, 500))["zero_copy_columns"] == COLUMNS
    chunked = pa.Table.from_batches(small.to_batches(max_chunksize=1000))
    info = native.validate_candles(chunked)
    assert info["zero_copy_columns"] == []
    assert info["copied_columns"] == COLUMNS


def test_other_numeric_types_are_converted(native: ModuleType, small: pa.Table) -> None:
    f32 = small
    for c in ("bid_open", "bid_high", "bid_low", "bid_close"):  # rounding is monotone: OHLC order holds
        f32 = f32.set_column(f32.column_names.index(c), c, pc.cast(small.column(c), pa.float32()))
    info = native.validate_candles(f32, allow_crossed_quotes=True)
    assert info["copied_columns"] == ["bid_open", "bid_high", "bid_low", "bid_close"]
    ints = pa.table(
        {
            "timestamp_us": pa.array([0, 60_000_000, 120_000_000], pa.int64()),
            **{c: pa.array([10, 12, 11], pa.int32()) for c in data.PRICE_COLUMNS if "volume" not in c},
            "bid_volume": pa.array([1, 2, 3], pa.uint8()),
            "ask_volume": pa.array([1.0, 2.0, 3.0], pa.float16()),
        }
    )
    ints = ints.set_column(ints.column_names.index("bid_high"), "bid_high", pa.array([10, 12, 11], pa.int64()))
    assert native.validate_candles(ints.select(COLUMNS))["rows"] == 3


@pytest.mark.parametrize(("unit", "factor"), [("s", 1_000_000), ("ms", 1_000), ("us", 1), ("ns", 0)])
@pytest.mark.parametrize("tz", [None, "UTC"])
def test_timestamp_types(native: ModuleType, unit: str, factor: int, tz: str | None, small: pa.Table) -> None:
    t = small.slice(0, 50)
    us = t.column("timestamp_us").to_numpy()
    raw = us * 1_000 if unit == "ns" else us // factor
    ts = pa.array(raw, pa.timestamp(unit, tz=tz))
    converted = t.set_column(0, "timestamp_us", ts)
    cache = native.IndicatorCache(converted)
    assert np.array_equal(cache.bars()["open_time_us"], us)
    if unit == "us":
        assert native.validate_candles(converted)["zero_copy_columns"][0] == "timestamp_us"


def test_seed_schema_extra_columns_are_ignored(native: ModuleType, small: pa.Table) -> None:
    n = small.num_rows
    full = pa.table(
        {
            "symbol": pa.array(["EURUSD"] * n),
            "timeframe": pa.array(["M1"] * n),
            "index": pa.array(np.arange(n, dtype=np.uint64)),
            **{c: small.column(c) for c in COLUMNS},
        },
        schema=data.DATA_SLICE_SCHEMA,
    )
    assert native.validate_candles(full)["rows"] == n
    assert data.DATA_SLICE_SCHEMA.names[:4] == ["symbol", "timeframe", "index", "timestamp_us"]


# --- invalid input: E4004 through the native path ----------------------------------------------


def _with(t: pa.Table, column: str, values: Any, typ: pa.DataType | None = None) -> pa.Table:
    arr = pa.array(values, type=typ or t.schema.field(column).type)
    return t.set_column(t.column_names.index(column), column, arr)


def _edit(t: pa.Table, column: str, row: int, value: Any) -> pa.Table:
    values = t.column(column).to_pylist()
    values[row] = value
    return _with(t, column, values)


def _bad_inputs() -> dict[str, tuple[Callable[[pa.Table], Any], str]]:
    def swap_rows(t: pa.Table) -> pa.Table:
        ts = t.column("timestamp_us").to_pylist()
        ts[10], ts[11] = ts[11], ts[10]
        return _with(t, "timestamp_us", ts)

    def crossed(t: pa.Table) -> pa.Table:
        row = 7
        ask = t.column("bid_close")[row].as_py() - 0.0005
        t = _edit(t, "ask_close", row, ask)
        t = _edit(t, "ask_low", row, min(ask, t.column("ask_low")[row].as_py()))
        return t

    def ragged(t: pa.Table) -> dict[str, Any]:
        d = {c: t.column(c).to_numpy() for c in COLUMNS}
        d["ask_volume"] = d["ask_volume"][:-1]
        return d

    return {
        "unsorted": (swap_rows, "row 11"),
        "duplicate_time": (lambda t: _edit(t, "timestamp_us", 5, t.column("timestamp_us")[4].as_py()), "row 5"),
        "nan": (lambda t: _edit(t, "bid_open", 3, float("nan")), "bid_open"),
        "inf": (lambda t: _edit(t, "ask_high", 9, float("inf")), "ask_high"),
        "ask_below_bid": (crossed, "ask < bid"),
        "high_below_close": (lambda t: _edit(t, "bid_high", 2, 0.5), "row 2"),
        "negative_volume": (lambda t: _edit(t, "bid_volume", 1, -1.0), "bid_volume"),
        "null_price": (lambda t: _edit(t, "bid_close", 4, None), "null in column 'bid_close' at row 4"),
        "null_time": (lambda t: _edit(t, "timestamp_us", 0, None), "timestamp_us"),
        "missing_column": (lambda t: t.drop_columns(["ask_close"]), "missing column 'ask_close'"),
        "string_prices": (
            lambda t: _with(t, "bid_low", [str(v) for v in t.column("bid_low").to_pylist()], pa.utf8()),
            "type",
        ),
        "float_timestamps": (
            lambda t: _with(t, "timestamp_us", t.column("timestamp_us").to_pylist(), pa.float64()),
            "type",
        ),
        "empty": (lambda t: t.slice(0, 0), "empty"),
        "no_columns": (lambda t: pa.table({}), "missing column"),
        "ragged_dict": (ragged, "ragged"),
        "unsupported_object": (lambda t: [1, 2, 3], "unsupported"),
        "garbage_bytes": (lambda t: b"definitely not arrow", "IPC"),
        "missing_path": (lambda t: "/nonexistent/candles.xlsx", "no such file"),
    }


BAD = _bad_inputs()


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_e4004(case: str, sma_plugin: str, small: pa.Table, sma_config: dict[str, Any]) -> None:
    make, needle = BAD[case]
    candles = make(small.slice(0, 200))
    with pytest.raises(ValueError, match="E4004") as info:
        bridge.run_rust_backtest(sma_plugin, sma_config, candles)
    err = info.value
    assert isinstance(err, errors.InsufficientDataError), f"{type(err).__name__}: {err}"
    assert err.code == "E4004"
    assert needle in str(err)


def test_crossed_quotes_allowed_by_config(sma_plugin: str, small: pa.Table, sma_config: dict[str, Any]) -> None:
    make, _ = BAD["ask_below_bid"]
    candles = make(small.slice(0, 200))
    cfg = {**sma_config, "engine": {"allow_crossed_quotes": True}}
    assert bridge.run_rust_backtest(sma_plugin, cfg, candles).bars_processed == 200


def test_bad_input_is_e4004_in_validate_candles(native: ModuleType, small: pa.Table) -> None:
    for case, (make, needle) in BAD.items():
        with pytest.raises(errors.InsufficientDataError, match="E4004") as info:
            native.validate_candles(make(small.slice(0, 200)))
        assert needle in str(info.value), case


# --- loaders -------------------------------------------------------------------------------------


def _broker_csv(t: pa.Table, side: str, fmt: str) -> str:
    out = io.StringIO()
    out.write("UTC time,Open,High,Low,Close,Volume\n")
    ts = t.column("timestamp_us").to_numpy().astype("datetime64[us]").astype("datetime64[s]")
    for i, stamp in enumerate(ts):
        text = str(stamp).replace("T", " ")
        if fmt == "iso_offset":
            text = f"{text}+00:00"
        elif fmt == "dukascopy":
            y, mo, rest = text[:4], text[5:7], text[8:]
            text = f"{rest[:2]}.{mo}.{y} {rest[3:]}.000 UTC"
        row = [t.column(f"{side}_{k}")[i].as_py() for k in ("open", "high", "low", "close", "volume")]
        out.write(",".join([text, *(repr(v) for v in row)]) + "\n")
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["iso", "iso_offset", "dukascopy"])
def test_load_broker_csv(tmp_path: Path, fmt: str, small: pa.Table) -> None:
    t = small.slice(0, 120)
    bid, ask = tmp_path / "EURUSD_M1_BID.csv", tmp_path / "EURUSD_M1_ASK.csv"
    bid.write_text(_broker_csv(t, "bid", fmt))
    # the ASK file misses the first two bars and has them in another order: inner join + sort
    lines = _broker_csv(t, "ask", fmt).splitlines()
    ask.write_text("\n".join([lines[0], *reversed(lines[3:])]) + "\n")
    with pytest.warns(data.DataJoinWarning, match="2 BID-only and 0 ASK-only"):
        loaded = data.load_broker_csv(bid, ask)
    assert loaded.schema.remove_metadata() == data.CANDLE_SCHEMA
    assert loaded.equals(t.slice(2).cast(data.CANDLE_SCHEMA).replace_schema_metadata(None))


def test_load_broker_csv_missing_column(tmp_path: Path) -> None:
    bid = tmp_path / "bid.csv"
    bid.write_text("UTC time,Open,High,Low,Volume\n2024-01-01 00:00:00,1,1,1,1\n")
    with pytest.raises(errors.InsufficientDataError, match="missing column 'Close'"):
        data.load_broker_csv(bid, bid)


def test_load_parquet(tmp_path: Path, small: pa.Table) -> None:
    path = tmp_path / "m.parquet"
    pq.write_table(small, path)
    assert data.load_parquet(path).equals(small)
    assert data.load_parquet(path, columns=["timestamp_us"]).column_names == ["timestamp_us"]
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet")
    with pytest.raises(errors.InsufficientDataError):
        data.load_parquet(bad)


def test_ipc_bytes_helpers_round_trip(small: pa.Table) -> None:
    assert ipc.open_stream(_ipc_stream(small)).read_all().equals(small)
    assert _ipc_file(small)[:6] == b"ARROW1"
    assert data.to_arrow_table(_ipc_file(small)).equals(small)


# --- the market generator ------------------------------------------------------------------------


def test_generate_market_is_deterministic() -> None:
    a = data.generate_market(5_000, seed=42, gap_every=700, weekend_gaps=True)
    b = data.generate_market(5_000, seed=42, gap_every=700, weekend_gaps=True)
    assert _ipc_stream(a) == _ipc_stream(b)
    assert not data.generate_market(5_000, seed=43).equals(data.generate_market(5_000, seed=42))


@pytest.mark.parametrize("regime", ["mean_reverting", "trending"])
@pytest.mark.parametrize("timeframe", ["M1", "M15", "H4", "D1"])
def test_generate_market_is_valid(native: ModuleType, regime: str, timeframe: str) -> None:
    t = data.generate_market(4_000, 9, timeframe, regime=regime, weekend_gaps=True, gap_every=500)  # type: ignore[arg-type]
    assert t.schema.remove_metadata() == data.CANDLE_SCHEMA
    assert native.validate_candles(t, timeframe=timeframe)["rows"] == 4_000
    assert t.schema.metadata[b"omega.timeframe"] == timeframe.encode()


def test_generate_market_weekends_and_gaps() -> None:
    t = data.generate_market(20_000, seed=1, weekend_gaps=True, gap_every=1_000)
    ts = t.column("timestamp_us").to_numpy()
    minutes = ts // 60_000_000
    weekday = (minutes // 1440 + 3) % 7
    hour = (minutes % 1440) // 60
    closed = ((weekday == 4) & (hour >= 21)) | (weekday == 5) | ((weekday == 6) & (hour < 21))
    assert not closed.any()
    steps = np.diff(ts) // 60_000_000
    assert (steps >= 1).all()
    assert (steps > 1).sum() >= 19  # one hole per 1,000 bars plus the weekend
    plain = data.generate_market(20_000, seed=1)
    assert (np.diff(plain.column("timestamp_us").to_numpy()) == 60_000_000).all()


def test_generate_market_jpy_and_spread() -> None:
    t = data.generate_market(2_000, seed=2, symbol="USDJPY", spread_pips=2.0)
    bid, ask = t.column("bid_close").to_numpy(), t.column("ask_close").to_numpy()
    assert 100 < bid.mean() < 200
    assert np.array_equal(np.round(bid, 3), bid)
    spread_pips = (ask - bid) / 0.01
    assert 1.4 < spread_pips.mean() < 2.6
    assert (spread_pips > 0).all()


def test_generate_market_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="timeframe"):
        data.generate_market(10, timeframe="W1")
    with pytest.raises(ValueError, match="regime"):
        data.generate_market(10, regime="sideways")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="gap_every"):
        data.generate_market(10, gap_every=0)
    assert data.generate_market(0).num_rows == 0
