"""Tests of the pure-Python reference market data, resampling and sessions (omega.reference.{market,sessions})."""

from __future__ import annotations

import bisect
import io
import json
import math
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omega.errors import IndicatorNotAvailableError, InsufficientDataError, InvalidConfigError
from omega.reference import indicators as ind
from omega.reference.cache import IndicatorCache, MarketHost
from omega.reference.keys import GarchParams, IndicatorKey, PriceSide
from omega.reference.market import PRICE_COLUMNS, TIMEFRAME_MINUTES, Bars, Market, htf_bin, resample
from omega.reference.sessions import in_sessions, in_window, minute_of_day_utc, parse_hhmm

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mrz-original"  # committed copy
MIN = 60_000_000
HOUR = 60 * MIN
DAY = 24 * HOUR


def _us(year: int, month: int, day: int, hour: int, minute: int) -> int:
    """µs since the epoch of a UTC wall time."""
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()) * 1_000_000


def _columns(n: int, start: int, step: int, seed: int = 1) -> dict[str, Any]:
    """Valid bid/ask columns of ``n`` bars: random walk, ask = bid + 0.0002."""
    rnd = random.Random(seed)
    x = 1.1
    cols: dict[str, list[Any]] = {k: [] for k in ("timestamp_us", *PRICE_COLUMNS)}
    for i in range(n):
        o = x
        c = x + rnd.uniform(-5e-4, 5e-4)
        h = max(o, c) + rnd.uniform(0, 3e-4)
        lo = min(o, c) - rnd.uniform(0, 3e-4)
        x = c
        cols["timestamp_us"].append(start + i * step)
        for side, off in (("bid", 0.0), ("ask", 0.0002)):
            cols[f"{side}_open"].append(o + off)
            cols[f"{side}_high"].append(h + off)
            cols[f"{side}_low"].append(lo + off)
            cols[f"{side}_close"].append(c + off)
            cols[f"{side}_volume"].append(float(rnd.randint(0, 500)))
    return cols


def _market(cols: dict[str, Any], tf: str = "M1", **kw: Any) -> Market:
    return Market.from_arrow(cols, "EURUSD", tf, **kw)


# --- construction ---------------------------------------------------------------------------------


def test_from_columns_and_close_time() -> None:
    cols = _columns(10, _us(2024, 1, 2, 0, 0), MIN)
    ts = cols.pop("timestamp_us")
    m = Market.from_columns("EURUSD", "m1", ts, **cols)
    assert (m.symbol, m.timeframe, m.tf_minutes, len(m)) == ("EURUSD", "M1", 1, 10)
    assert m.close_time_us(3) == ts[3] + MIN
    assert m.bid_close == cols["bid_close"]
    assert all(isinstance(v, float) for v in m.ask_volume)
    assert TIMEFRAME_MINUTES == {"M1": 1, "M5": 5, "M15": 15, "M30": 30, "H1": 60, "H4": 240, "D1": 1440}


def _containers() -> list[tuple[str, Callable[[pa.Table], Any]]]:
    def ipc_stream(t: pa.Table) -> bytes:
        sink = io.BytesIO()
        with pa.ipc.new_stream(sink, t.schema) as w:
            w.write_table(t)
        return sink.getvalue()

    def ipc_file(t: pa.Table) -> bytes:
        sink = io.BytesIO()
        with pa.ipc.new_file(sink, t.schema) as w:
            w.write_table(t)
        return sink.getvalue()

    class CStream:
        def __init__(self, t: pa.Table) -> None:
            self._t = t

        def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
            return self._t.__arrow_c_stream__(requested_schema)

    return [
        ("table", lambda t: t),
        ("record_batch", lambda t: t.combine_chunks().to_batches()[0]),
        ("ipc_stream", ipc_stream),
        ("ipc_file", ipc_file),
        ("c_stream", CStream),
        ("dict", lambda t: t.to_pydict()),
        ("reader", lambda t: pa.RecordBatchReader.from_batches(t.schema, t.to_batches())),
    ]


@pytest.mark.parametrize(("name", "wrap"), _containers())
def test_from_arrow_containers(name: str, wrap: Callable[[pa.Table], Any]) -> None:
    cols = _columns(50, _us(2024, 1, 2, 0, 0), MIN)
    table = pa.table({"symbol": ["EURUSD"] * 50, "index": list(range(50)), **cols})
    m = Market.from_arrow(wrap(table), "EURUSD", "M1")
    assert m.timestamp_us == cols["timestamp_us"]
    assert m.ask_close == cols["ask_close"]


def test_from_arrow_pandas_dataframe() -> None:
    pd = pytest.importorskip("pandas", reason="pandas is an optional dependency")
    cols = _columns(20, _us(2024, 1, 2, 0, 0), MIN)
    m = Market.from_arrow(pd.DataFrame(cols), "EURUSD", "M1")
    assert m.bid_low == cols["bid_low"]


@pytest.mark.parametrize(("unit", "mul"), [("s", 1_000_000), ("ms", 1_000), ("us", 1), ("ns", 1 / 1000)])
def test_timestamp_units_and_integer_prices(unit: str, mul: float) -> None:
    t0 = _us(2024, 1, 2, 0, 0)
    cols = _columns(5, t0, MIN)
    raw = [int(t / mul) for t in cols.pop("timestamp_us")]
    arrays: dict[str, Any] = {"timestamp_us": pa.array(raw, pa.timestamp(unit, tz="UTC"))}
    arrays.update(cols)
    arrays["bid_volume"] = pa.array([1, 2, 3, 4, 5], pa.int32())
    arrays["ask_volume"] = pa.array([1, 2, 3, 4, 5], pa.uint16())
    arrays["bid_close"] = pa.array(cols["bid_close"], pa.float32())
    m = Market.from_arrow(pa.table(arrays), "EURUSD", "M1", allow_crossed_quotes=True)
    assert m.timestamp_us == [t0 + i * MIN for i in range(5)]
    assert m.bid_volume == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert all(type(v) is float for v in m.bid_close)


def test_unknown_timeframe_is_config_error() -> None:
    with pytest.raises(InvalidConfigError):
        _market(_columns(3, 0, MIN), tf="W1")


# --- validation -----------------------------------------------------------------------------------


def _case(mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    cols = _columns(10, _us(2024, 1, 2, 0, 0), MIN)
    mutate(cols)
    return cols


def _set(col: str, row: int, value: Any) -> Callable[[dict[str, Any]], None]:
    def f(c: dict[str, Any]) -> None:
        c[col][row] = value

    return f


def _clear_all(c: dict[str, Any]) -> None:
    for v in c.values():
        v.clear()


def _ohlc_bad(side: str, row: int, which: str) -> Callable[[dict[str, Any]], None]:
    def f(c: dict[str, Any]) -> None:
        if which == "low":
            c[f"{side}_low"][row] = c[f"{side}_close"][row] + 1e-5
        else:
            c[f"{side}_high"][row] = c[f"{side}_open"][row] - 1e-5

    return f


VALIDATION_CASES: list[tuple[str, Callable[[dict[str, Any]], None], str, str | None, int | None]] = [
    ("missing column", lambda c: c.pop("ask_low"), "schema", "ask_low", None),
    ("string prices", lambda c: c.__setitem__("bid_open", ["x"] * 10), "schema", "bid_open", None),
    (
        "float timestamps",
        lambda c: c.__setitem__("timestamp_us", [float(t) for t in c["timestamp_us"]]),
        "schema",
        "timestamp_us",
        None,
    ),
    ("null price", _set("bid_close", 4, None), "nulls", "bid_close", 4),
    ("null timestamp", _set("timestamp_us", 2, None), "nulls", "timestamp_us", 2),
    ("empty", _clear_all, "empty", "timestamp_us", None),
    ("ragged", lambda c: c["ask_volume"].pop(), "ragged", "ask_volume", 9),
    ("duplicate timestamp", _set("timestamp_us", 5, _us(2024, 1, 2, 0, 4)), "timestamps", "timestamp_us", 5),
    ("decreasing timestamp", _set("timestamp_us", 9, 0), "timestamps", "timestamp_us", 9),
    ("nan", _set("ask_open", 3, math.nan), "finite", "ask_open", 3),
    ("inf", _set("bid_volume", 7, math.inf), "finite", "bid_volume", 7),
    ("bid low above close", _ohlc_bad("bid", 6, "low"), "ohlc", "bid_low", 6),
    ("ask high below open", _ohlc_bad("ask", 2, "high"), "ohlc", "ask_high", 2),
    ("negative volume", _set("ask_volume", 8, -1.0), "volume", "ask_volume", 8),
]


@pytest.mark.parametrize(
    ("label", "mutate", "check", "column", "row"), VALIDATION_CASES, ids=[c[0] for c in VALIDATION_CASES]
)
def test_validation_errors(
    label: str, mutate: Callable[[dict[str, Any]], None], check: str, column: str | None, row: int | None
) -> None:
    with pytest.raises(InsufficientDataError) as info:
        _market(_case(mutate))
    err = info.value
    assert err.code == "E4004"
    assert err.context["check"] == check
    assert err.context["column"] == column
    assert err.context["row"] == row
    if column is not None:
        assert column in str(err)


def test_crossed_quotes() -> None:
    def cross(c: dict[str, Any]) -> None:
        c["ask_close"][3] = c["bid_close"][3] - 1e-5
        c["ask_low"][3] = min(c["ask_low"][3], c["ask_close"][3])

    with pytest.raises(InsufficientDataError) as info:
        _market(_case(cross))
    assert (info.value.code, info.value.context["column"], info.value.context["row"]) == ("E4004", "ask_close", 3)
    assert len(_market(_case(cross), allow_crossed_quotes=True)) == 10


def test_validation_order_first_check_wins() -> None:
    def two(c: dict[str, Any]) -> None:
        c["bid_volume"][1] = -5.0  # volume check (late)
        c["ask_high"][8] = math.nan  # finite check (earlier)

    with pytest.raises(InsufficientDataError) as info:
        _market(_case(two))
    assert info.value.context["check"] == "finite"
    with pytest.raises(InsufficientDataError) as info2:
        Market.from_arrow(object(), "EURUSD", "M1")
    assert info2.value.context["check"] == "schema"
    with pytest.raises(InsufficientDataError):
        Market.from_arrow(b"not arrow", "EURUSD", "M1")


# --- resampling -----------------------------------------------------------------------------------


def test_resample_aggregation_and_gaps() -> None:
    t0 = _us(2024, 1, 2, 10, 0)
    cols = _columns(20, t0, MIN, seed=3)
    # drop minutes 10:05..10:09 entirely (gap → no M5 bar) and 10:12
    keep = [i for i in range(20) if not (5 <= i <= 9 or i == 12)]
    cols = {k: [v[i] for i in keep] for k, v in cols.items()}
    m = _market(cols)
    b = resample(m, "M5")
    assert b.timeframe == "M5"
    assert b.open_time_us == [t0, t0 + 10 * MIN, t0 + 15 * MIN]
    assert b.close_time_us == [t0 + 5 * MIN, t0 + 15 * MIN, t0 + 20 * MIN]
    members = [[0, 1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12, 13]]  # positions in the kept rows
    for j, mem in enumerate(members):
        for side in ("bid", "ask"):
            assert getattr(b, f"{side}_open")[j] == getattr(m, f"{side}_open")[mem[0]]
            assert getattr(b, f"{side}_close")[j] == getattr(m, f"{side}_close")[mem[-1]]
            assert getattr(b, f"{side}_high")[j] == max(getattr(m, f"{side}_high")[i] for i in mem)
            assert getattr(b, f"{side}_low")[j] == min(getattr(m, f"{side}_low")[i] for i in mem)
            acc = 0.0
            for i in mem:
                acc = acc + getattr(m, f"{side}_volume")[i]
            assert getattr(b, f"{side}_volume")[j] == acc
    # visibility: bar 4 (10:04) closes 10:05 = close of the first M5 bar
    assert b.visible == [-1, -1, -1, -1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2]


def test_primary_timeframe_is_identity_and_shorter_is_e4003() -> None:
    m = _market(_columns(30, _us(2024, 1, 2, 0, 0), 15 * MIN), tf="M15")
    b = resample(m, "M15")
    assert b.visible == list(range(30))
    assert b.open_time_us == m.timestamp_us
    assert b.close_time_us == [t + 15 * MIN for t in m.timestamp_us]
    for tf in ("M1", "M5"):
        with pytest.raises(IndicatorNotAvailableError) as info:
            resample(m, tf)
        assert info.value.code == "E4003"
    with pytest.raises(IndicatorNotAvailableError):
        resample(m, "W1")
    with pytest.raises(InvalidConfigError):
        resample(m, "H4", anchor="tokyo")
    # 30 M15 bars end at 07:30: the 07:00 H1 bin is unfinished, never visible, not an H1 bar
    assert len(resample(m, "H1")) == 7
    # gaps in the primary bars keep the identity
    g = _market(_columns(5, _us(2024, 1, 2, 0, 0), 7 * HOUR, seed=2), tf="H1")
    assert resample(g, "H1", "new_york_1700").visible == [0, 1, 2, 3, 4]


def _check_visibility(m: Market, b: Bars) -> None:
    """visible[i] is the latest HTF bar closed at close_time(i); no unclosed bar is ever visible.

    Every HTF bar is visible to some primary bar: ``visible`` steps through 0, 1, 2, … without a gap.
    """
    assert b.visible is not None
    assert len(b.visible) == len(m)
    for i, v in enumerate(b.visible):
        close_i = m.close_time_us(i)
        if v >= 0:
            assert b.close_time_us[v] <= close_i
        if v + 1 < len(b):
            assert b.close_time_us[v + 1] > close_i
    seen = -1
    for v in b.visible:
        assert v in (seen, seen + 1), f"visible jumps from {seen} to {v}"
        seen = v
    assert seen + 1 == len(b), "an HTF bar is never visible"
    # HTF bins (not the primary bars themselves) follow each other without overlap
    if b.timeframe != m.timeframe:
        assert all(b.close_time_us[j] <= b.open_time_us[j + 1] for j in range(len(b) - 1))
    assert all(b.open_time_us[j] < b.close_time_us[j] for j in range(len(b)))


def _all_bins(m: Market, tf: str, anchor: str) -> list[tuple[int, int, int, int]]:
    """Every non-empty bin as (open, close, first member, end of members), built naively."""
    bins: list[tuple[int, int, int, int]] = []
    for i, t in enumerate(m.timestamp_us):
        start, end = htf_bin(t, tf, anchor)
        if bins and bins[-1][0] == start:
            bins[-1] = (start, end, bins[-1][2], i + 1)
        else:
            bins.append((start, end, i, i + 1))
    return bins


def _check_against_bins(m: Market, b: Bars, tf: str, anchor: str) -> int:
    """``b`` holds exactly the bins some primary bar sees, with their full OHLCV; returns how many were dropped.

    A bin is seen when the first primary close at or after its close comes before the next bin closes.
    """
    closes = [m.close_time_us(i) for i in range(len(m))]
    bins = _all_bins(m, tf, anchor)
    kept = []
    for k, (_, close, _, _) in enumerate(bins):
        i = bisect.bisect_left(closes, close)
        if i < len(closes) and (k + 1 == len(bins) or closes[i] < bins[k + 1][1]):
            kept.append(bins[k])
    assert len(b) == len(kept), (tf, anchor)
    for j, (open_t, close_t, a, z) in enumerate(kept):
        assert (b.open_time_us[j], b.close_time_us[j]) == (open_t, close_t)
        for side in ("bid", "ask"):
            vol = 0.0
            for i in range(a, z):
                vol = vol + getattr(m, f"{side}_volume")[i]
            want = (
                getattr(m, f"{side}_open")[a],
                max(getattr(m, f"{side}_high")[a:z]),
                min(getattr(m, f"{side}_low")[a:z]),
                getattr(m, f"{side}_close")[z - 1],
                vol,
            )
            got = tuple(getattr(b, f"{side}_{f}")[j] for f in ("open", "high", "low", "close", "volume"))
            assert got == want, (tf, anchor, j, side)
    return len(bins) - len(kept)


@pytest.mark.parametrize("anchor", ["utc", "new_york_1700"])
@pytest.mark.parametrize("tf", ["M5", "M15", "M30", "H1", "H4", "D1"])
def test_visibility_never_shows_unclosed_bar(anchor: str, tf: str) -> None:
    rnd = random.Random(5)
    ts: list[int] = []
    t = _us(2024, 3, 8, 13, 7)
    while len(ts) < 3000:
        ts.append(t)
        t += MIN * (1 if rnd.random() < 0.97 else rnd.randint(2, 400))  # irregular gaps
    cols = _columns(len(ts), 0, MIN, seed=9)
    cols["timestamp_us"] = ts
    m = _market(cols)
    b = resample(m, tf, anchor)
    _check_visibility(m, b)
    _check_against_bins(m, b, tf, anchor)


def _gap_market() -> Market:
    """M1 at 09:00 … 09:30, then only 10:59 of the 10:00 hour, then all of 11:00 … 11:59."""
    ts = [_us(2024, 1, 2, 9, k) for k in range(31)]
    ts.append(_us(2024, 1, 2, 10, 59))
    ts.extend(_us(2024, 1, 2, 11, k) for k in range(60))
    cols = _columns(len(ts), 0, MIN, seed=11)
    cols["timestamp_us"] = ts
    return _market(cols)


def test_bin_overtaken_within_one_step_is_dropped() -> None:
    # At the 10:59 bar (close 11:00) both the 09:00 and the 10:00 H1 bins have closed: the 09:00
    # bin is never the visible bar, so (V1 stepwise semantics) it is not an H1 bar.
    m = _gap_market()
    b = resample(m, "H1")
    assert b.open_time_us == [_us(2024, 1, 2, 10, 0), _us(2024, 1, 2, 11, 0)]
    assert b.close_time_us == [_us(2024, 1, 2, 11, 0), _us(2024, 1, 2, 12, 0)]
    assert b.visible == [-1] * 31 + [0] * 60 + [1]
    # the kept bars keep their own members' OHLCV: bar 31 alone, then bars 32..91
    for side in ("bid", "ask"):
        col = {f: getattr(m, f"{side}_{f}") for f in ("open", "high", "low", "close", "volume")}
        assert getattr(b, f"{side}_open") == [col["open"][31], col["open"][32]]
        assert getattr(b, f"{side}_high") == [col["high"][31], max(col["high"][32:])]
        assert getattr(b, f"{side}_low") == [col["low"][31], min(col["low"][32:])]
        assert getattr(b, f"{side}_close") == [col["close"][31], col["close"][91]]
        vol = 0.0
        for v in col["volume"][32:]:
            vol = vol + v
        assert getattr(b, f"{side}_volume") == [0.0 + col["volume"][31], vol]
    _check_visibility(m, b)
    assert _check_against_bins(m, b, "H1", "utc") == 1
    # M30: the 09:30 bin (close 10:00) is overtaken by the 10:30 bin (close 11:00) at the 10:59 bar
    b30 = resample(m, "M30")
    assert b30.open_time_us == [_us(2024, 1, 2, h, mi) for h, mi in ((9, 0), (10, 30), (11, 0), (11, 30))]
    _check_visibility(m, b30)
    assert _check_against_bins(m, b30, "M30", "utc") == 1


def test_unfinished_last_bin_is_dropped() -> None:
    # 00:02 … 00:11: the 00:10 M5 bin closes at 00:15, after the last primary close (00:12)
    m = _market(_columns(10, _us(2024, 1, 2, 0, 2), MIN, seed=6))
    b = resample(m, "M5")
    assert b.open_time_us == [_us(2024, 1, 2, 0, 0), _us(2024, 1, 2, 0, 5)]
    assert b.visible == [-1, -1, 0, 0, 0, 0, 0, 1, 1, 1]
    assert b.bid_close == [m.bid_close[2], m.bid_close[7]]
    # nothing ever closes: no bar at all
    d1 = resample(m, "D1")
    assert len(d1) == 0
    assert d1.visible == [-1] * 10


@pytest.mark.parametrize("anchor", ["utc", "new_york_1700"])
def test_gap_free_data_loses_only_the_unfinished_bin(anchor: str) -> None:
    n = 2 * 1440 + 150  # Monday 00:00 for two days and 150 minutes
    m = _market(_columns(n, _us(2024, 1, 8, 0, 0), MIN, seed=8))
    last_close = m.close_time_us(n - 1)
    for tf in ("M5", "M15", "M30", "H1", "H4", "D1"):
        b = resample(m, tf, anchor)
        bins = _all_bins(m, tf, anchor)
        unfinished = bins[-1][1] > last_close
        assert len(b) + unfinished == len(bins), tf
        assert b.open_time_us == [o for o, _, _, _ in bins[: len(b)]]
        _check_visibility(m, b)
        assert _check_against_bins(m, b, tf, anchor) == unfinished
    assert resample(m, "H1", anchor).close_time_us[-1] == _us(2024, 1, 10, 2, 0)
    assert len(resample(m, "M5", anchor)) == n // 5  # 02:25 … 02:29 closes the last M5 bin at 02:30


def test_random_gaps_match_naive_bins() -> None:
    rnd = random.Random(2024)
    ts: list[int] = []
    t = _us(2024, 10, 28, 13, 7)
    while len(ts) < 6000:
        ts.append(t)
        t += MIN * (1 if rnd.random() < 0.97 else rnd.randint(2, 2880))
    cols = _columns(len(ts), 0, MIN, seed=12)
    cols["timestamp_us"] = ts
    m = _market(cols)
    dropped = 0
    for tf in ("M5", "M30", "H1", "H4", "D1"):
        for anchor in ("utc", "new_york_1700"):
            b = resample(m, tf, anchor)
            _check_visibility(m, b)
            dropped += _check_against_bins(m, b, tf, anchor)
    assert dropped > 10  # the gaps do overtake bins


def test_new_york_anchor_winter_and_summer() -> None:
    # winter (EST, UTC−5): D1 from 22:00 UTC, H4 at 22, 02, 06, 10, 14, 18 UTC
    t = _us(2024, 1, 10, 12, 30)
    assert htf_bin(t, "D1", "new_york_1700") == (_us(2024, 1, 9, 22, 0), _us(2024, 1, 10, 22, 0))
    assert htf_bin(t, "H4", "new_york_1700") == (_us(2024, 1, 10, 10, 0), _us(2024, 1, 10, 14, 0))
    assert htf_bin(_us(2024, 1, 10, 23, 59), "H4", "new_york_1700")[0] == _us(2024, 1, 10, 22, 0)
    # summer (EDT, UTC−4): D1 from 21:00 UTC, H4 at 21, 01, 05, 09, 13, 17 UTC
    t = _us(2024, 7, 10, 12, 30)
    assert htf_bin(t, "D1", "new_york_1700") == (_us(2024, 7, 9, 21, 0), _us(2024, 7, 10, 21, 0))
    assert htf_bin(t, "H4", "new_york_1700") == (_us(2024, 7, 10, 9, 0), _us(2024, 7, 10, 13, 0))
    assert htf_bin(_us(2024, 7, 10, 21, 0), "D1", "new_york_1700")[0] == _us(2024, 7, 10, 21, 0)
    # UTC anchor and the short timeframes ignore New York
    assert htf_bin(t, "D1", "utc") == (_us(2024, 7, 10, 0, 0), _us(2024, 7, 11, 0, 0))
    assert htf_bin(t, "H4", "utc") == (_us(2024, 7, 10, 12, 0), _us(2024, 7, 10, 16, 0))
    assert htf_bin(t, "H1", "new_york_1700") == (_us(2024, 7, 10, 12, 0), _us(2024, 7, 10, 13, 0))


def test_new_york_anchor_dst_switch_days() -> None:
    ny = "new_york_1700"
    # 2024-03-10: 02:00 EST → 03:00 EDT (07:00 UTC). The 01→05 NY bin lasts 3 h, the trading day 23 h.
    assert htf_bin(_us(2024, 3, 10, 3, 0), "H4", ny) == (_us(2024, 3, 10, 2, 0), _us(2024, 3, 10, 6, 0))
    assert htf_bin(_us(2024, 3, 10, 6, 30), "H4", ny) == (_us(2024, 3, 10, 6, 0), _us(2024, 3, 10, 9, 0))
    assert htf_bin(_us(2024, 3, 10, 9, 0), "H4", ny) == (_us(2024, 3, 10, 9, 0), _us(2024, 3, 10, 13, 0))
    assert htf_bin(_us(2024, 3, 10, 12, 0), "D1", ny) == (_us(2024, 3, 9, 22, 0), _us(2024, 3, 10, 21, 0))
    # 2024-11-03: 02:00 EDT → 01:00 EST (06:00 UTC). 01:00–02:00 happens twice; the 01→05 bin lasts 5 h.
    assert htf_bin(_us(2024, 11, 3, 4, 59), "H4", ny) == (_us(2024, 11, 3, 1, 0), _us(2024, 11, 3, 5, 0))
    assert htf_bin(_us(2024, 11, 3, 5, 30), "H4", ny) == (_us(2024, 11, 3, 5, 0), _us(2024, 11, 3, 10, 0))
    assert htf_bin(_us(2024, 11, 3, 6, 30), "H4", ny) == (_us(2024, 11, 3, 5, 0), _us(2024, 11, 3, 10, 0))
    assert htf_bin(_us(2024, 11, 3, 10, 0), "H4", ny) == (_us(2024, 11, 3, 10, 0), _us(2024, 11, 3, 14, 0))
    assert htf_bin(_us(2024, 11, 3, 12, 0), "D1", ny) == (_us(2024, 11, 2, 21, 0), _us(2024, 11, 3, 22, 0))
    # resampled bars across the spring switch: contiguous bins, visibility by close time (the data
    # end at 21:00 UTC on the 10th, when the 23-hour trading day closes)
    cols = _columns(25 * 60, _us(2024, 3, 9, 20, 0), MIN, seed=4)
    m = _market(cols)
    h4 = resample(m, "H4", ny)
    assert h4.open_time_us[:4] == [
        _us(2024, 3, 9, 18, 0),
        _us(2024, 3, 9, 22, 0),
        _us(2024, 3, 10, 2, 0),
        _us(2024, 3, 10, 6, 0),
    ]
    assert h4.close_time_us[3] - h4.open_time_us[3] == 3 * HOUR
    _check_visibility(m, h4)
    _check_against_bins(m, h4, "H4", ny)
    d1 = resample(m, "D1", ny)
    assert d1.open_time_us == [_us(2024, 3, 8, 22, 0), _us(2024, 3, 9, 22, 0)]
    assert d1.close_time_us[1] - d1.open_time_us[1] == 23 * HOUR


def _zoneinfo_bin(t_us: int, tf: str) -> tuple[int, int]:
    """The same NY bins computed with the tz database (fold=0 for ambiguous wall times)."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("America/New_York")
    local = datetime.fromtimestamp(t_us / 1_000_000, tz=UTC).astimezone(tz)
    day = local.replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    if tf == "D1":
        start = day + timedelta(hours=17) if local.hour >= 17 else day - timedelta(hours=7)
        end = start + timedelta(days=1)
    else:
        start = day + timedelta(hours=local.hour - (local.hour - 1) % 4)
        end = start + timedelta(hours=4)

    def utc(w: datetime) -> int:
        return int(w.replace(tzinfo=tz, fold=0).timestamp()) * 1_000_000

    return utc(start), utc(end)


def test_new_york_rule_matches_zoneinfo() -> None:
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo("America/New_York")
    except Exception as err:
        pytest.skip(f"no tz database for America/New_York: {err}")
    rnd = random.Random(2007)
    instants = [rnd.randrange(_us(2007, 1, 1, 0, 0), _us(2037, 12, 31, 0, 0)) // MIN * MIN for _ in range(3000)]
    for year in range(2007, 2038):
        for month, lo_day in ((3, 8), (11, 1)):
            base = _us(year, month, lo_day, 0, 0)
            instants.extend(base + k * 30 * MIN for k in range(7 * 48))  # the whole week with the switch
    for t in instants:
        for tf in ("H4", "D1"):
            assert htf_bin(t, tf, "new_york_1700") == _zoneinfo_bin(t, tf), (t, tf)


@pytest.mark.faithful
def test_fixture_htf_bar_counts_new_york() -> None:
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is a core dependency")
    assert (FIXTURES / "market_s1.parquet").exists(), f"committed fixtures missing: {FIXTURES}"
    summary = json.loads((FIXTURES / "summary_s1_shipped_combined.json").read_text())
    counts = summary["generated_tf_bars"]
    m = Market.from_arrow(pq.read_table(FIXTURES / "market_s1.parquet"), "EURUSD", "M1")
    assert len(m) == counts["M1/bid"] == summary["input_bars"]
    host = MarketHost(m, "new_york_1700")
    for tf in ("H4", "D1", "H1", "M30"):
        # the original generator made one bar per non-empty bin; the HTF bars are those that
        # become visible (the unfinished last bin and bins overtaken in gaps are not)
        assert len(_all_bins(m, tf, "new_york_1700")) == counts[f"{tf}/bid"] == counts[f"{tf}/ask"], tf
        bars = host.bars(tf)
        _check_visibility(m, bars)
        _check_against_bins(m, bars, tf, "new_york_1700")
    d1 = host.bars("D1")
    assert all(datetime.fromtimestamp(t / 1e6, tz=UTC).hour == 22 for t in d1.open_time_us)  # 17:00 EST


# --- sessions -------------------------------------------------------------------------------------


def test_sessions() -> None:
    assert parse_hhmm("23:00") == 1380
    assert parse_hhmm("0:05") == 5
    for bad in ("24:00", "12:60", "1200", "ab:cd", "12:5", ""):
        with pytest.raises(InvalidConfigError):
            parse_hhmm(bad)
    assert minute_of_day_utc(_us(2024, 1, 2, 23, 59)) == 1439
    assert minute_of_day_utc(_us(2024, 1, 2, 0, 0) + 59_999_999) == 0
    assert minute_of_day_utc(-1) == 1439
    windows = [(parse_hhmm("23:00"), parse_hhmm("05:00")), (parse_hhmm("15:00"), parse_hhmm("19:00"))]
    assert in_sessions([], 700)
    for minute, ok in (
        (1380, True),
        (0, True),
        (300, True),
        (301, False),
        (899, False),
        (900, True),
        (1140, True),
        (1141, False),
        (1379, False),
    ):
        assert in_sessions(windows, minute) is ok, minute
    assert in_window(600, 600, 600)
    assert not in_window(600, 600, 601)


# --- robustness -----------------------------------------------------------------------------------

_FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64)
_ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True, width=64)


def _all_keys() -> list[IndicatorKey]:
    g = GarchParams(0.1, 0.8, None, 100.0, 1, True, 1e-6)
    g_simple = GarchParams(0.05, 0.9, 0.0, 100.0, 0, False, 0.0)
    out: list[IndicatorKey] = []
    for side in (PriceSide.BID, PriceSide.ASK):
        out += [
            IndicatorKey.ema(side, 3),
            IndicatorKey.sma(side, 2),
            IndicatorKey.rolling_std(side, 2),
            IndicatorKey.bollinger_upper(side, 3, 2.0),
            IndicatorKey.bollinger_lower(side, 3, 2.0),
            IndicatorKey.atr(side, 2),
            IndicatorKey.rsi(side, 2),
            IndicatorKey.zscore_ema(side, 2, 3),
            IndicatorKey.zscore_sma(side, 3),
            IndicatorKey.kalman_mean(side, 0.5, 1.0),
            IndicatorKey.kalman_zscore(side, 3, 0.5, 1.0),
            IndicatorKey.kalman_zscore(side, 3, 1e-9, 0.0),
            IndicatorKey.garch_sigma(side, g),
            IndicatorKey.garch_sigma(side, g_simple),
            IndicatorKey.kalman_garch_zscore(side, 0.5, 1.0, g),
            IndicatorKey.close(side),
        ]
    return out


@st.composite
def _raw_columns(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(0, 40))
    start = draw(st.integers(-(2**40), 2**52))
    steps = draw(st.lists(st.integers(-2 * MIN, 3 * DAY), min_size=n, max_size=n))
    ts: list[int] = []
    t = start
    for s in steps:
        t += s
        ts.append(t)
    cols: dict[str, Any] = {"timestamp_us": ts}
    elem = _FINITE if draw(st.booleans()) else st.sampled_from([0.0, -0.0, 1.0, -1.0, 1e-300, 1e300, 1.1, 1.1002])
    for name in PRICE_COLUMNS:
        cols[name] = draw(st.lists(elem, min_size=n, max_size=n))
    if draw(st.integers(0, 9)) == 0 and n > 0:  # occasionally a non-finite value or a ragged column
        cols[draw(st.sampled_from(PRICE_COLUMNS))][draw(st.integers(0, n - 1))] = draw(_ANY_FLOAT)
    if draw(st.integers(0, 19)) == 0:
        cols[draw(st.sampled_from(PRICE_COLUMNS))].append(1.0)
    return cols


def _ordered(cols: dict[str, Any]) -> dict[str, Any]:
    """Make OHLC consistent (low = min, high = max) so that validation passes more often."""
    n = len(cols["timestamp_us"])
    out = dict(cols)
    out["timestamp_us"] = sorted(set(cols["timestamp_us"]))
    n = len(out["timestamp_us"])
    for side in ("bid", "ask"):
        quad = [cols[f"{side}_{f}"][:n] for f in ("open", "high", "low", "close")]
        out[f"{side}_high"] = [max(v) for v in zip(*quad, strict=True)]
        out[f"{side}_low"] = [min(v) for v in zip(*quad, strict=True)]
        out[f"{side}_open"] = quad[0]
        out[f"{side}_close"] = quad[3]
        out[f"{side}_volume"] = [abs(v) for v in cols[f"{side}_volume"][:n]]
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cols=_raw_columns(),
    fix=st.booleans(),
    tf=st.sampled_from(["M1", "M5", "H1"]),
    anchor=st.sampled_from(["utc", "new_york_1700"]),
)
def test_arbitrary_finite_data_raises_only_omega_errors(cols: dict[str, Any], fix: bool, tf: str, anchor: str) -> None:
    data = _ordered(cols) if fix else cols
    try:
        m = Market.from_arrow(data, "EURUSD", tf, allow_crossed_quotes=True)
    except InsufficientDataError:  # E4004; any other exception fails the test
        return
    host = MarketHost(m, anchor)
    cache = IndicatorCache(host)
    for htf in ("M5", "H1", "H4", "D1"):
        try:
            bars = cache.htf(htf)
        except IndicatorNotAvailableError:  # E4003: timeframe shorter than the primary
            continue
        _check_visibility(m, bars)
        for key in _all_keys():
            s = cache.series(key.on(htf))
            assert len(s) == len(bars)
    for key in _all_keys():
        s = cache.series(key)
        assert len(s) == len(m)
        assert all(isinstance(v, float) for v in s)
    # the pure functions accept any finite input too
    x = m.bid_close
    ind.rsi_wilder(x, 1)
    ind.garch_sigma(x, GarchParams(0.0, 0.0, -1.0, 0.0, 0, True, -1.0))


def test_new_york_dst_matches_tz_database_1990_2039() -> None:
    """The hand-coded US DST rules (incl. pre-2007) agree with the tz database at every switch."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from omega.reference.market import _dst_bounds_us

    ny = ZoneInfo("America/New_York")
    for year in range(1990, 2040):
        start, end = _dst_bounds_us(year)
        for t_us, hours in ((start - 1, -5), (start, -4), (end - 1, -4), (end, -5)):
            offset = datetime.fromtimestamp(t_us / 1e6, tz=UTC).astimezone(ny).utcoffset()
            assert offset == timedelta(hours=hours), (year, t_us)


def test_bars_closer_than_the_timeframe_are_rejected() -> None:
    """An M5 config on M1 bars would shift every close time: E4004 naming the row (as the core)."""
    minute = 60_000_000
    one = {c: [1.0, 1.0, 1.0] for c in ("bid_open", "bid_high", "bid_low", "bid_close", "bid_volume")}
    one |= {c.replace("bid", "ask"): v for c, v in one.items()}
    Market.from_columns("EURUSD", "M1", [0, minute, 3 * minute], **one)
    with pytest.raises(InsufficientDataError) as err:
        Market.from_columns("EURUSD", "M5", [0, minute, 2 * minute], **one)
    assert err.value.context["row"] == 1
    # NY-anchored D1 bins are 23 h long on the spring DST switch
    two = {k: v[:2] for k, v in one.items()}
    Market.from_columns("EURUSD", "D1", [0, 23 * 60 * minute], **two)
    with pytest.raises(InsufficientDataError):
        Market.from_columns("EURUSD", "D1", [0, 22 * 60 * minute], **two)
