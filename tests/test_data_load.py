"""`omega.data.load`, `resample` and the run-path conversions, on hand-written files.

Expected times come from the standard library (`datetime`), expected prices from the file text;
every error is asserted to be a coded `InsufficientDataError` (E4004) or `InvalidConfigError`
(E4002) with a message naming what is wrong, on both backends where the run path is involved.
"""

from __future__ import annotations

import logging
import warnings
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from omega import data, errors

E4004 = errors.InsufficientDataError


def us(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, *, tz: timezone = UTC) -> int:
    """µs since the epoch of a wall time in `tz` (stdlib arithmetic, independent of the loader)."""
    stamp = datetime(y, mo, d, h, mi, s, tzinfo=tz)
    delta = stamp - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def col(t: pa.Table, name: str) -> list[Any]:
    return t.column(name).to_pylist()


# --- formats ------------------------------------------------------------------------------------------

OMEGA_CSV = (
    ",".join(data.CANDLE_COLUMNS)
    + "\n"
    + """\
1704153600000000,1.1,1.2,1.0,1.15,10,1.1001,1.2001,1.0001,1.1501,10
1704153660000000,1.15,1.25,1.1,1.2,11,1.1501,1.2501,1.1001,1.2001,11
"""
)


def test_csv_with_bid_and_ask_columns(tmp_path: Path) -> None:
    t = data.load(write(tmp_path / "m.csv", OMEGA_CSV))
    assert t.schema.remove_metadata() == data.CANDLE_SCHEMA
    assert col(t, "timestamp_us") == [us(2024, 1, 2), us(2024, 1, 2, 0, 1)]
    assert col(t, "ask_close") == [1.1501, 1.2001]
    report = data.load_report(t)
    assert report is not None
    assert report.layout == "bid_ask_columns"
    assert report.format == "csv"
    assert ("separator", "',' (sniffed)") in report.choices
    assert "by its name" in dict(report.choices)["time"]


def test_csv_iso_text_times_with_offset_and_fraction(tmp_path: Path) -> None:
    text = OMEGA_CSV.replace("1704153600000000", "2024-01-02T01:00:00.250+01:00").replace(
        "1704153660000000", "2024-01-02T01:01:00.250+01:00"
    )
    t = data.load(write(tmp_path / "m.csv", text))
    assert col(t, "timestamp_us") == [us(2024, 1, 2) + 250_000, us(2024, 1, 2, 0, 1) + 250_000]


@pytest.mark.parametrize("kind", ["parquet", "ipc_file", "ipc_stream", "feather_no_suffix"])
def test_binary_formats(tmp_path: Path, kind: str) -> None:
    src = data.generate_market(50, seed=1)
    if kind == "parquet":
        path = tmp_path / "m.parquet"
        pq.write_table(src, path)
    elif kind == "ipc_file":
        path = tmp_path / "m.arrow"
        path.write_bytes(data.table_to_ipc_bytes(src, file_format=True))
    elif kind == "ipc_stream":
        path = tmp_path / "m.arrows"
        path.write_bytes(data.table_to_ipc_bytes(src))
    else:  # no telling suffix: the magic bytes decide
        path = tmp_path / "m.bin"
        path.write_bytes(data.table_to_ipc_bytes(src, file_format=True))
    t = data.load(path)
    assert t.equals(src)
    assert (t.schema.metadata or {})[b"omega.timeframe"] == b"M1"  # kept from the file
    report = data.load_report(t)
    assert report is not None
    assert report.format == ("parquet" if kind == "parquet" else "ipc")


def test_explicit_format_overrides_suffix(tmp_path: Path) -> None:
    path = write(tmp_path / "m.dat", OMEGA_CSV)
    assert data.load(path, format="csv").num_rows == 2
    with pytest.raises(E4004, match="cannot read Parquet"):
        data.load(path, format="parquet")


def test_parquet_from_pandas_with_tz_aware_index(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    src = data.generate_market(30, seed=2)
    frame = src.to_pandas().drop(columns=["timestamp_us"])
    frame.index = pd.to_datetime(col(src, "timestamp_us"), unit="us", utc=True).tz_convert("Europe/Berlin")
    frame.index.name = "timestamp"
    path = tmp_path / "m.parquet"
    frame.to_parquet(path)
    t = data.load(path)
    assert col(t, "timestamp_us") == col(src, "timestamp_us")
    assert "converted to UTC" in dict(data.load_report(t).choices)["time"]  # type: ignore[union-attr]


DUKA_BID = """Gmt time;Open;High;Low;Close;Volume
02.01.2024 00:00:00.000;1,10427;1,10430;1,10420;1,10425;12,5
02.01.2024 00:01:00.000;1,10425;1,10431;1,10421;1,10426;7
02.01.2024 00:02:00.000;1,10426;1,10432;1,10422;1,10427;7
"""
DUKA_ASK = """Gmt time;Open;High;Low;Close;Volume
02.01.2024 00:00:00.000;1,10437;1,10440;1,10430;1,10435;3
02.01.2024 00:01:00.000;1,10435;1,10441;1,10431;1,10436;4
"""


def test_broker_pair_gmt_time_semicolons_decimal_comma(tmp_path: Path) -> None:
    bid = write(tmp_path / "EURUSD_Candlestick_1_M_BID.csv", DUKA_BID)
    ask = write(tmp_path / "EURUSD_Candlestick_1_M_ASK.csv", DUKA_ASK)
    with pytest.warns(data.DataJoinWarning, match="BID has 3 bars, ASK 2: 1 BID-only and 0 ASK-only"):
        t = data.load([ask, bid])  # order does not matter: the names say which is which
    assert col(t, "timestamp_us") == [us(2024, 1, 2), us(2024, 1, 2, 0, 1)]
    assert col(t, "bid_open") == [1.10427, 1.10425]
    assert col(t, "ask_close") == [1.10435, 1.10436]
    assert col(t, "bid_volume") == [12.5, 7.0]
    assert col(t, "ask_volume") == [3.0, 4.0]
    report = data.load_report(t)
    assert report is not None
    assert report.layout == "bid_ask_files"
    assert (report.dropped_bid_only, report.dropped_ask_only) == (1, 0)
    choices = dict(report.choices)
    assert choices["separator"] == "';' (sniffed)"
    assert choices["decimal point"] == "',' (sniffed)"
    assert "'Gmt time' as '%d.%m.%Y %H:%M:%S'" in choices["time"]
    assert "from the file names" in choices["files"]


def test_broker_pair_strict_join_raises(tmp_path: Path) -> None:
    bid = write(tmp_path / "a.csv", DUKA_BID)
    ask = write(tmp_path / "b.csv", DUKA_ASK)
    with pytest.raises(E4004, match=r"1 BID-only and 0 ASK-only.*how='strict'"):
        data.load({"bid": bid, "ask": ask}, how="strict")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert data.load({"bid": bid, "ask": bid}, how="strict").num_rows == 3  # complete pair: no warning


def test_pair_by_position_is_stated(tmp_path: Path) -> None:
    a = write(tmp_path / "first.csv", DUKA_BID)
    b = write(tmp_path / "second.csv", DUKA_BID)
    t = data.load([a, b])
    assert "by position" in dict(data.load_report(t).choices)["files"]  # type: ignore[union-attr]


MT5 = (
    "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n"
    "2024.01.02\t00:00:00\t1.10427\t1.10430\t1.10420\t1.10425\t12\t0\t12\n"
    "2024.01.02\t00:01:00\t1.10425\t1.10431\t1.10421\t1.10426\t7\t0\t10\n"
)


def test_metatrader_single_side_with_spread_column_in_points(tmp_path: Path) -> None:
    t = data.load(write(tmp_path / "EURUSD_M1.csv", MT5))
    assert col(t, "timestamp_us") == [us(2024, 1, 2), us(2024, 1, 2, 0, 1)]
    assert col(t, "bid_open") == [1.10427, 1.10425]
    assert col(t, "ask_open") == [1.10439, 1.10435]  # + 12 and 10 points of 0.00001
    assert col(t, "ask_low") == [1.10432, 1.10431]
    assert col(t, "bid_volume") == [12.0, 7.0] == col(t, "ask_volume")  # TICKVOL preferred over VOL
    choices = dict(data.load_report(t).choices)  # type: ignore[union-attr]
    assert choices["separator"] == "'\\t' (sniffed)"
    assert "'<DATE>+<TIME>' as '%Y.%m.%d %H:%M:%S'" in choices["time"]
    assert "points" in choices["spread"]
    assert "1e-05" in choices["spread"]
    assert "BID (default" in choices["sides"]


def test_single_side_spread_options(tmp_path: Path) -> None:
    path = write(tmp_path / "m.csv", MT5)
    fixed = data.load(path, spread=0.0002)
    assert col(fixed, "ask_close") == [1.10445, 1.10446]
    in_price = data.load(path, spread="<SPREAD>", spread_unit="points", point=0.0001)
    assert col(in_price, "ask_open") == [1.10547, 1.10525]
    ask_side = data.load(path, spread=0.0002, side="ask")
    assert col(ask_side, "ask_open") == [1.10427, 1.10425]
    assert col(ask_side, "bid_open") == [1.10407, 1.10405]
    assert "prices are ASK (given)" in dict(data.load_report(ask_side).choices)["sides"]  # type: ignore[union-attr]


def test_histdata_headerless_compact_dates(tmp_path: Path) -> None:
    text = (
        "20240102 170000;1.104270;1.104300;1.104200;1.104250;0\n20240102 170100;1.104250;1.104310;1.104210;1.104260;0\n"
    )
    t = data.load(write(tmp_path / "DAT_ASCII_EURUSD_M1_2024.csv", text), spread=0.00002)
    assert col(t, "timestamp_us") == [us(2024, 1, 2, 17), us(2024, 1, 2, 17, 1)]
    assert col(t, "ask_high") == [1.10432, 1.10433]
    assert "none (sniffed)" in dict(data.load_report(t).choices)["header"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("dates", "layout"),
    [
        (("01/02/2024", "01/13/2024"), "%m/%d/%Y"),  # a day above 12 in the second field: US
        (("13/01/2024", "02/02/2024"), "%d/%m/%Y"),  # a day above 12 in the first field: European
        (("01/02/2024", "03/02/2024"), None),  # both orders fit and both increase: refused
        (("12/01/2024", "01/02/2024"), "%d/%m/%Y"),  # as US dates the times would go backwards
    ],
)
def test_us_and_european_dates(tmp_path: Path, dates: tuple[str, str], layout: str | None) -> None:
    text = f"Date,Time,Open,High,Low,Close\n{dates[0]},09:00,1.1,1.2,1.0,1.1\n{dates[1]},09:00,1.1,1.2,1.0,1.1\n"
    path = write(tmp_path / "m.csv", text)
    if layout is None:
        with pytest.raises(E4004, match=r"ambiguous.*date_format="):
            data.load(path, spread=0.0001)
        t = data.load(path, spread=0.0001, date_format="%m/%d/%Y %H:%M")
        assert col(t, "timestamp_us")[0] == us(2024, 1, 2, 9)
        return
    t = data.load(path, spread=0.0001)
    expected = [datetime.strptime(f"{d} 09:00", f"{layout} %H:%M").replace(tzinfo=UTC) for d in dates]
    assert col(t, "timestamp_us") == [us(e.year, e.month, e.day, e.hour) for e in expected]
    assert f"'{layout} %H:%M'" in dict(data.load_report(t).choices)["time"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("header", "value"),
    [("UTC time", "2024-01-02 00:00:00"), ("Time", "2024-01-02 00:00"), ("Datetime", "2024/01/02 00:00:00")],
)
def test_time_headers(tmp_path: Path, header: str, value: str) -> None:
    path = write(tmp_path / "m.csv", f"{header},Open,High,Low,Close,Volume\n{value},1.1,1.2,1.0,1.1,5\n")
    t = data.load(path, spread=0.0)
    assert col(t, "timestamp_us") == [us(2024, 1, 2)]


def test_explicit_options_are_stated(tmp_path: Path) -> None:
    text = "when|o|h|l|c\n2024-01-02 01:00|1.1|1.2|1.0|1.1\n2024-01-02 01:01|1.1|1.2|1.0|1.1\n"
    # 'o/h/l/c' are not price names: the loader says which columns it wants
    with pytest.raises(E4004, match="missing column 'Open'"):
        data.load(write(tmp_path / "m.txt", text), sep="|", time_column="when", spread=0.0)
    text = text.replace("o|h|l|c", "Open|High|Low|Close")
    t = data.load(
        write(tmp_path / "m.txt", text),
        sep="|",
        time_column="when",
        date_format="%Y-%m-%d %H:%M",
        tz="Europe/Berlin",
        spread=0.0,
    )
    assert col(t, "timestamp_us") == [us(2024, 1, 2, 0), us(2024, 1, 2, 0, 1)]  # 01:00 CET = 00:00 UTC
    choices = dict(data.load_report(t).choices)  # type: ignore[union-attr]
    assert choices["separator"] == "'|' (given)"
    assert "(given)" in choices["time"]
    assert "Europe/Berlin" in choices["time"]


@pytest.mark.parametrize(("unit", "scale"), [("s", 1), ("ms", 1_000), ("us", 1_000_000), ("ns", 1_000_000_000)])
def test_epoch_integer_times_unit_from_magnitude(tmp_path: Path, unit: str, scale: int) -> None:
    t0 = 1_704_153_600
    text = f"timestamp,Open,High,Low,Close\n{t0 * scale},1.1,1.2,1.0,1.1\n{(t0 + 60) * scale},1.1,1.2,1.0,1.1\n"
    t = data.load(write(tmp_path / "m.csv", text), spread=0.0)
    assert col(t, "timestamp_us") == [us(2024, 1, 2), us(2024, 1, 2, 0, 1)]
    assert f"in {unit} (guessed from the magnitude)" in dict(data.load_report(t).choices)["time"]  # type: ignore[union-attr]


def test_log_line_and_repr(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="omega.data"):
        t = data.load(write(tmp_path / "m.csv", OMEGA_CSV))
    assert any("loaded 2 bars (2024-01-02 00:00:00 .. 2024-01-02 00:01:00)" in r.message for r in caplog.records)
    report = data.load_report(t)
    assert report is not None
    assert "separator: ',' (sniffed)" in str(report)
    assert data.LoadReport.from_json(report.to_json()) == report
    assert data.load_report(data.generate_market(3)) is None


# --- errors (coded, never OSError/FileNotFoundError/ArrowInvalid) ---------------------------------------


def _corrupt_parquet(tmp_path: Path) -> Path:
    path = tmp_path / "m.parquet"
    pq.write_table(data.generate_market(2_000, seed=1), path, compression="snappy")
    raw = bytearray(path.read_bytes())
    for i in range(200, 2_000):  # scribble over the first data pages, keep the footer
        raw[i] ^= 0x5A
    path.write_bytes(bytes(raw))
    return path


ERRORS: dict[str, tuple[Any, dict[str, Any], str]] = {
    "missing_path": ("nope/never.csv", {}, "no such file"),
    "directory": (".", {}, "is a directory"),
    "empty_file": ("empty.csv", {}, "is empty"),
    "no_separator": ("one_col.csv", {}, "cannot tell the separator"),
    "unknown_time_layout": ("odd_time.csv", {}, "match no known layout"),
    "date_format_mismatch": ("m.csv", {"date_format": "%d.%m.%Y"}, "does not match date_format"),
    "no_time_column": ("no_time.csv", {}, "no time column"),
    "time_column_missing": ("m.csv", {"time_column": "When"}, "time_column 'When' is not a column"),
    "not_numeric": ("text_price.csv", {"spread": 0.0}, "column 'Open' is not numeric"),
    "single_side_no_spread": ("single.csv", {}, "pass spread="),
    "negative_spread": ("single.csv", {"spread": -1.0}, "finite number >= 0"),
    "spread_column_missing": ("single.csv", {"spread": "Spr"}, "spread column 'Spr'"),
    "bad_spread_unit": ("single.csv", {"spread": 1.0, "spread_unit": "pips"}, "spread_unit="),
    "bad_side": ("single.csv", {"spread": 1.0, "side": "mid"}, "side='mid'"),
    "bad_format": ("m.csv", {"format": "xlsx"}, "format='xlsx'"),
    "bad_time_unit": ("epoch.csv", {"time_unit": "h", "spread": 0.0}, "time_unit='h'"),
    "bad_tz": ("single.csv", {"tz": "Mars/Olympus", "spread": 0.0}, "Mars/Olympus"),
    "three_files": (["a.csv", "b.csv", "c.csv"], {}, "got 3 paths"),
    "bad_mapping": ({"bid": "a.csv"}, {}, "keys 'bid' and 'ask'"),
    "headerless_wrong_width": ("wide.csv", {}, "cannot tell the columns"),
    "corrupt_parquet": ("corrupt", {}, "cannot read Parquet"),
    "garbage_ipc": ("garbage.arrow", {}, "not readable as Arrow IPC"),
    "bad_how": ("pair", {"how": "outer"}, "how='outer'"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_load_errors_are_coded(tmp_path: Path, case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "m.csv", OMEGA_CSV)
    write(tmp_path / "empty.csv", "")
    write(tmp_path / "one_col.csv", "x\n1\n2\n")
    write(tmp_path / "odd_time.csv", "Time,Open,High,Low,Close\nyesterday,1,1,1,1\n")
    write(tmp_path / "no_time.csv", "A,Open,High,Low,Close\nx,1,1,1,1\n")
    write(tmp_path / "text_price.csv", "Time,Open,High,Low,Close\n2024-01-02 00:00,abc,1,1,1\n")
    write(tmp_path / "single.csv", "Time,Open,High,Low,Close\n2024-01-02 00:00,1.1,1.2,1.0,1.1\n")
    write(tmp_path / "epoch.csv", "timestamp,Open,High,Low,Close\n1704153600,1.1,1.2,1.0,1.1\n")
    write(tmp_path / "wide.csv", "2024-01-02,1,2,3\n2024-01-03,1,2,3\n")
    write(tmp_path / "garbage.arrow", "this is not arrow")
    for name in ("a.csv", "b.csv", "c.csv"):
        write(tmp_path / name, DUKA_BID)
    source, kwargs, needle = ERRORS[case]
    if source == "corrupt":
        source = _corrupt_parquet(tmp_path)
    elif source == "pair":
        source = ["a.csv", "b.csv"]
    with pytest.raises(E4004) as info:
        data.load(source, **kwargs)
    assert needle in str(info.value)
    assert info.value.code == "E4004"


# --- the run path: pandas, time units, exporters, files: the same verdict on both backends -------------


class RaisingExporter:
    """An Arrow exporter whose export fails (a broken third-party frame)."""

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        raise RuntimeError("export exploded")


def _run_both(plugin: str, config: dict[str, Any], candles: Any) -> list[Any]:
    import omega

    out = []
    for backend in ("rust", "python"):
        try:
            out.append(omega.run_backtest(plugin, config, candles, backend=backend))
        except errors.OmegaError as e:
            out.append(e)
    return out


@pytest.fixture(scope="module")
def m300() -> pa.Table:
    return data.generate_market(300, seed=4)


def test_pandas_datetime_index_and_tz_aware(m300: pa.Table, zscore_plugin: str, native: ModuleType) -> None:
    pd = pytest.importorskip("pandas")
    config = {
        "symbol": "EURUSD",
        "timeframe": "M1",
        "enabled_scenarios": [1],
        "params": {"window_length": 30, "htf_tf": "NONE"},
    }
    frame = m300.to_pandas().drop(columns=["timestamp_us"])
    stamps = pd.to_datetime(col(m300, "timestamp_us"), unit="us")
    frame_naive = frame.set_axis(stamps)
    frame_aware = frame.set_axis(stamps.tz_localize("UTC").tz_convert("America/New_York"))
    expected = col(m300, "timestamp_us")
    for f in (frame_naive, frame_aware):
        assert col(data.to_arrow_table(f), "timestamp_us") == expected
        rust, python = _run_both(zscore_plugin, config, f)
        assert not isinstance(rust, Exception)
        assert not isinstance(python, Exception)
        assert rust.bars_processed == python.bars_processed == m300.num_rows


@pytest.mark.parametrize(("unit", "div"), [("seconds", 1_000_000), ("milliseconds", 1_000), ("nanoseconds", None)])
def test_integer_timestamps_in_another_unit_name_it(
    m300: pa.Table, unit: str, div: int | None, sma_plugin: str, sma_config: dict[str, Any]
) -> None:
    ts = np.asarray(col(m300, "timestamp_us"), dtype=np.int64)
    wrong = ts * 1000 if div is None else ts // div
    table = m300.set_column(0, "timestamp_us", pa.array(wrong, pa.int64()))
    outcomes = _run_both(sma_plugin, sma_config, table)
    for out in outcomes:
        assert isinstance(out, E4004), out
        assert f"holds {unit} since the epoch" in str(out)


def test_raising_exporter_is_e4004_on_both_backends(sma_plugin: str, sma_config: dict[str, Any]) -> None:
    outcomes = _run_both(sma_plugin, sma_config, RaisingExporter())
    assert [type(o) for o in outcomes] == [E4004, E4004]
    with pytest.raises(E4004, match="export exploded"):
        data.to_arrow_table(RaisingExporter())


@pytest.mark.parametrize("case", ["missing", "directory", "corrupt_parquet"])
def test_bad_paths_are_e4004_on_both_backends(
    tmp_path: Path, case: str, sma_plugin: str, sma_config: dict[str, Any]
) -> None:
    path = {"missing": tmp_path / "none.parquet", "directory": tmp_path}.get(case) or _corrupt_parquet(tmp_path)
    outcomes = _run_both(sma_plugin, sma_config, path)
    assert [type(o) for o in outcomes] == [E4004, E4004], outcomes
    assert outcomes[0].message == outcomes[1].message  # type: ignore[union-attr]


def test_csv_path_runs_on_both_backends(tmp_path: Path, sma_plugin: str, sma_config: dict[str, Any]) -> None:
    src = data.generate_market(400, seed=9)
    path = tmp_path / "m.csv"
    src.to_pandas().to_csv(path, index=False, float_format="%.17g")
    rust, python = _run_both(sma_plugin, sma_config, path)
    direct = _run_both(sma_plugin, sma_config, src)
    assert rust.trades.equals(direct[0].trades)
    assert len(python.trades) == len(direct[1].trades)


# --- resample ----------------------------------------------------------------------------------------


def _bars(times: list[int], closes: list[float]) -> pa.Table:
    n = len(times)
    cols: dict[str, Any] = {"timestamp_us": pa.array(times, pa.int64())}
    for side, off in (("bid", 0.0), ("ask", 0.0001)):
        cols[f"{side}_open"] = [c - 0.0002 + off for c in closes]
        cols[f"{side}_high"] = [c + 0.0005 + off for c in closes]
        cols[f"{side}_low"] = [c - 0.0005 + off for c in closes]
        cols[f"{side}_close"] = [c + off for c in closes]
        cols[f"{side}_volume"] = [float(i + 1) for i in range(n)]
    return pa.table(cols)


def test_resample_hand_built_bins() -> None:
    base = us(2024, 1, 2)
    minute = 60_000_000
    # M1 bars at minutes 0,1,2,3,4 | 5,7 (gap) | 10,11 (unfinished: M5 bin 10-15 not reached)
    offsets = [0, 1, 2, 3, 4, 5, 7, 10, 11]
    closes = [1.0 + 0.001 * k for k in range(len(offsets))]
    t = _bars([base + o * minute for o in offsets], closes)
    r = data.resample(t, "M5", source_timeframe="M1")
    assert col(r, "timestamp_us") == [base, base + 5 * minute]
    assert col(r, "bid_open") == [closes[0] - 0.0002, closes[5] - 0.0002]
    assert col(r, "bid_high") == [max(c + 0.0005 for c in closes[:5]), closes[6] + 0.0005]
    assert col(r, "bid_low") == [closes[0] - 0.0005, closes[5] - 0.0005]
    assert col(r, "bid_close") == [closes[4], closes[6]]
    assert col(r, "bid_volume") == [1.0 + 2 + 3 + 4 + 5, 6.0 + 7]
    assert (r.schema.metadata or {})[b"omega.timeframe"] == b"M5"
    # the M5 table runs as M5 input: the engine's validation accepts its spacing
    from omega.reference.market import Market

    assert len(Market.from_arrow(r, "EURUSD", "M5")) == 2


def test_resample_new_york_daily_bins_follow_dst() -> None:
    hour = 3_600_000_000
    # H1 bars around the March 2024 DST switch (10 March): NY 17:00 is 22:00 UTC before, 21:00 after
    start = us(2024, 3, 8, 12)
    t = _bars([start + k * hour for k in range(96)], [1.0] * 96)
    r = data.resample(t, "D1", source_timeframe="H1", anchor="new_york_1700")
    opens = col(r, "timestamp_us")
    assert opens[:3] == [us(2024, 3, 7, 22), us(2024, 3, 8, 22), us(2024, 3, 9, 22)]
    assert opens[3] == us(2024, 3, 10, 21)  # 17:00 EDT
    assert col(r, "bid_volume")[1] == float(sum(range(11, 35)))  # the 24 bars of the 8th 22:00 → 9th 22:00


def test_resample_matches_the_reference_engine_bins() -> None:
    from omega.reference.market import Market
    from omega.reference.market import resample as ref_resample

    m = data.generate_market(12_000, seed=5, gap_every=97, weekend_gaps=True, start="2024-03-01")
    market = Market.from_arrow(m, "EURUSD", "M1")
    for tf in ("M5", "M15", "H1", "H4", "D1"):
        for anchor in ("utc", "new_york_1700"):
            ref = ref_resample(market, tf, anchor)
            vis = data.resample(m, tf, anchor=anchor, visible_only=True)
            assert col(vis, "timestamp_us") == ref.open_time_us, (tf, anchor)
            for c in data.PRICE_COLUMNS:
                assert col(vis, c) == getattr(ref, c), (tf, anchor, c)
            full = data.resample(m, tf, anchor=anchor)
            kept = set(col(full, "timestamp_us"))
            assert kept >= set(ref.open_time_us)  # only bins no strategy ever sees are extra


def test_resample_matches_the_rust_htf_resampler(native: ModuleType) -> None:
    m = data.generate_market(12_000, seed=6, gap_every=61, weekend_gaps=True, start="2024-10-25")
    for anchor in ("utc", "new_york_1700"):
        cache = native.IndicatorCache(m, timeframe="M1", htf_anchor=anchor)
        for tf in ("M5", "M30", "H4", "D1"):
            bars = cache.bars(tf)
            ours = data.resample(m, tf, anchor=anchor, visible_only=True)
            assert col(ours, "timestamp_us") == bars["open_time_us"].tolist(), (tf, anchor)
            for c in data.PRICE_COLUMNS:
                assert np.array_equal(ours.column(c).to_numpy(), bars[c]), (tf, anchor, c)


def test_guess_timeframe() -> None:
    m = data.generate_market(500, seed=1, timeframe="M15")
    assert data.guess_timeframe(m) == ("M15", "from the table metadata")
    tf, how = data.guess_timeframe(m.replace_schema_metadata(None))
    assert tf == "M15"
    assert "15 min" in how
    odd = _bars([0, 7_000_000, 14_000_000], [1.0, 1.0, 1.0])
    assert data.guess_timeframe(odd)[0] is None


@pytest.mark.parametrize(
    ("kwargs", "exc", "needle"),
    [
        ({"timeframe": "M7"}, errors.InvalidConfigError, "timeframe 'M7'"),
        ({"timeframe": "M5", "source_timeframe": "M15"}, errors.InvalidConfigError, "not a whole multiple"),
        ({"timeframe": "H4", "anchor": "tokyo"}, errors.InvalidConfigError, "anchor 'tokyo'"),
        ({"timeframe": "M5", "source_timeframe": "X"}, errors.InvalidConfigError, "source_timeframe 'X'"),
    ],
)
def test_resample_errors(kwargs: dict[str, Any], exc: type[Exception], needle: str) -> None:
    m = data.generate_market(100, seed=1)
    with pytest.raises(exc, match=needle):
        data.resample(m, **kwargs)


def test_resample_unordered_and_unknown_timeframe() -> None:
    base = us(2024, 1, 2)
    t = _bars([base + 120_000_000, base + 60_000_000], [1.0, 1.0])
    with pytest.raises(E4004, match="not strictly increasing"):
        data.resample(t, "M5", source_timeframe="M1")
    odd = _bars([base, base + 7_000_000, base + 14_000_000], [1.0, 1.0, 1.0])
    with pytest.raises(errors.InvalidConfigError, match="pass source_timeframe="):
        data.resample(odd, "M5")


def test_to_arrow_table_accepts_a_csv_path(tmp_path: Path) -> None:
    t = data.to_arrow_table(write(tmp_path / "m.csv", OMEGA_CSV))
    assert t.num_rows == 2


def test_timedelta_helper_is_consistent() -> None:
    # guard for the test helper itself: one hour in Berlin winter time is UTC+1
    assert us(2024, 1, 2, 1, tz=timezone(timedelta(hours=1))) == us(2024, 1, 2)
