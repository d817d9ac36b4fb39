"""Fuzzing the Python entry points (issue 13; docs/runbook.md "Fuzzing"): whatever comes in,
`omega.data.load`, `omega.run_backtest` and `omega.scan_signals` either succeed or raise a coded
`omega.OmegaError`, on both backends. Inputs: random and mutated candle files (CSV, Parquet, Arrow
IPC), candle tables of random columns, dtypes and values, config dicts near the edges, config text.

A refusal must be an `OmegaError` of the class the input calls for (config E4002, data E4004, …);
an internal error (E4009) or any other exception is a finding. The example budget comes from
`OMEGA_FUZZ_EXAMPLES` (small in the test suite; `nox -s fuzz` raises it).
"""

from __future__ import annotations

import io
import json
import os
import warnings
from collections.abc import Callable
from typing import Any

import omega
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from omega.columns import PRICE_COLUMNS
from omega.data import generate_market, table_to_ipc_bytes

EXAMPLES = int(os.environ.get("OMEGA_FUZZ_EXAMPLES", "15"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
BACKENDS = ("rust", "python")
# A small market both backends run quickly; MRZ's defaults need fewer bars than this to signal.
MARKET = generate_market(240, seed=3, timeframe="M1")
COLUMNS = ["timestamp_us", *PRICE_COLUMNS]


def coded(call: Callable[[], Any], allowed: set[str]) -> str | None:
    """Run `call`; return None on success, the code of an `OmegaError` among `allowed`; anything
    else (another exception, another code) propagates or fails, so hypothesis shrinks it."""
    try:
        with warnings.catch_warnings():
            # Config and data warnings are part of the API (MrzConfigWarning, DataJoinWarning).
            warnings.simplefilter("ignore")
            call()
    except omega.OmegaError as e:
        code: str = e.code
        message = f"{type(e).__name__} {code} not in {sorted(allowed)}: {e}"
    else:
        return None
    assert code in allowed, message
    return code


# --- omega.data.load on random and mutated files -------------------------------------------------


def _csv_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pa_csv.write_csv(table, sink)
    return sink.getvalue()


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


SMALL = MARKET.slice(0, 12)
VALID_FILES = {
    ".csv": _csv_bytes(SMALL),
    ".parquet": _parquet_bytes(SMALL),
    ".arrow": table_to_ipc_bytes(SMALL, file_format=True),
    ".ipc": table_to_ipc_bytes(SMALL),
}
SUFFIXES = [*VALID_FILES, ".feather", ".txt", ""]


@st.composite
def mutated(draw: st.DrawFn, valid: bytes) -> bytes:
    """`valid` with a few bytes overwritten, a slice removed or duplicated, and maybe truncated."""
    out = bytearray(valid)
    for _ in range(draw(st.integers(0, 6))):
        if not out:
            break
        at = draw(st.integers(0, len(out) - 1))
        op = draw(st.sampled_from(["set", "cut", "dup"]))
        if op == "set":
            out[at] = draw(st.integers(0, 255))
        elif op == "cut":
            del out[at : at + draw(st.integers(1, 64))]
        else:
            out[at:at] = out[at : at + draw(st.integers(1, 64))]
    if draw(st.booleans()):
        out = out[: draw(st.integers(0, len(out)))]
    return bytes(out)


file_contents = st.one_of(
    st.binary(max_size=512),
    st.sampled_from(sorted(VALID_FILES)).flatmap(lambda s: mutated(VALID_FILES[s])),
    st.text(max_size=300).map(lambda t: ("timestamp_us,bid_open\n" + t).encode("utf-8", "surrogatepass")),
)


@FUZZ
@given(content=file_contents, suffix=st.sampled_from(SUFFIXES))
def test_load_random_files_raises_only_e4004(
    tmp_path_factory: pytest.TempPathFactory, content: bytes, suffix: str
) -> None:
    path = tmp_path_factory.mktemp("load") / f"candles{suffix}"
    path.write_bytes(content)
    coded(lambda: omega.data.load(path), {"E4004"})


@FUZZ
@given(content=st.one_of(st.binary(max_size=512), mutated(VALID_FILES[".ipc"])))
def test_ipc_bytes_as_candles(zscore_plugin: str, content: bytes) -> None:
    # IPC bytes straight into a run: the loader, then the core's validation.
    config = {"symbol": "EURUSD", "timeframe": "M1"}
    coded(lambda: omega.run_backtest(zscore_plugin, config, content, backend="rust"), {"E4004"})


# --- candle tables of random columns, dtypes and values -----------------------------------------

EDGE_FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.1, 1.1001, 1e-300, 5e-324, 1e300, 1.7976931348623157e308]),
)
EDGE_INTS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, 60_000_000, 1_704_067_200_000_000, -(2**63), 2**63 - 1, 1_704_067_200]),
)


@st.composite
def column(draw: st.DrawFn, n: int, name: str) -> Any:
    """One column of `n` rows: floats, ints, strings, bools, decimals, nulls or timestamps."""
    kind = draw(st.sampled_from(["float", "int", "str", "bool", "null", "ts", "valid", "valid", "valid"]))
    if kind == "valid":
        return MARKET.column(name).to_pylist()[:n]
    if kind == "float":
        return pa.array(draw(st.lists(EDGE_FLOATS, min_size=n, max_size=n)), pa.float64())
    if kind == "int":
        return pa.array(draw(st.lists(EDGE_INTS, min_size=n, max_size=n)), pa.int64())
    if kind == "str":
        return pa.array(draw(st.lists(st.text(max_size=5), min_size=n, max_size=n)), pa.string())
    if kind == "bool":
        return pa.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), pa.bool_())
    if kind == "ts":
        unit = draw(st.sampled_from(["s", "ms", "us", "ns"]))
        values = draw(st.lists(st.integers(-(2**62), 2**62), min_size=n, max_size=n))
        return pa.array(values, pa.timestamp(unit, tz=draw(st.sampled_from([None, "UTC"]))))
    return pa.array([None] * n, pa.float64())


@st.composite
def candle_tables(draw: st.DrawFn) -> pa.Table:
    """A table of 0–40 rows; each required column valid or replaced, some dropped or duplicated."""
    n = draw(st.integers(0, 40))
    names = [c for c in COLUMNS if draw(st.integers(0, 15)) != 0]
    arrays = [draw(column(n, c)) for c in names]
    arrays = [a if isinstance(a, pa.Array) else pa.array(a) for a in arrays]
    if names and draw(st.integers(0, 7)) == 0:
        names.append(names[0])
        arrays.append(arrays[0])
    return pa.Table.from_arrays(arrays, names=names)


@FUZZ
@given(table=candle_tables(), backend=st.sampled_from(BACKENDS))
def test_random_candle_tables(zscore_plugin: str, table: pa.Table, backend: str) -> None:
    config = {"symbol": "EURUSD", "timeframe": "M1", "params": {"window_length": 5, "atr_length": 3}}
    allowed = {"E4004", "E4003"}
    coded(lambda: omega.run_backtest(zscore_plugin, config, table, backend=backend, progress=False), allowed)
    coded(lambda: omega.scan_signals(zscore_plugin, config, table, backend=backend), allowed)


# --- configs near the edges ----------------------------------------------------------------------

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    EDGE_INTS,
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(["M1", "M5", "H1", "H4", "D1", "long", "short", "both", "NONE", "fixed", "risk", "07:00"]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
ENGINE_KEYS = sorted(omega.EngineSettings.model_fields)
MRZ_KEYS = [
    "window_length", "z_score_long", "z_score_short", "ema_length", "atr_length", "atr_mult", "b_b_length",
    "std_factor", "kalman_r", "kalman_q", "htf_tf", "htf_ema", "htf_filter", "enabled_scenarios",
    "direction_filter", "use_position_manager", "max_holding_minutes", "garch_alpha", "garch_beta",
    "intraday_vol_allowed", "scenario6_timeframes", "scenario6_params", "scenario6_mode", "not_a_key",
]  # fmt: skip


def _keyed(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(keys) | st.text(max_size=6), JSON_VALUES, max_size=4)


configs = st.fixed_dictionaries(
    {"symbol": st.sampled_from(["EURUSD", "USDJPY", "", "eurusd", "XXX", "EUR\ud800"]) | st.text(max_size=7)},
    optional={
        "timeframe": st.sampled_from(["M1", "M5", "m1", "H2", ""]) | JSON_SCALARS,
        "enabled_scenarios": st.lists(EDGE_INTS | st.integers(-2, 9), max_size=4) | JSON_VALUES,
        "direction_filter": JSON_SCALARS,
        "params": _keyed(MRZ_KEYS),
        "engine": _keyed(ENGINE_KEYS),
        "extra": JSON_VALUES,
    },
)


@FUZZ
@given(config=configs, backend=st.sampled_from(BACKENDS))
def test_random_configs(zscore_plugin: str, config: dict[str, Any], backend: str) -> None:
    # The table's timeframe is M1: a config on another one is refused (E4002/E4004), never run wrong.
    allowed = {"E4002", "E4004", "E4003"}
    coded(lambda: omega.run_backtest(zscore_plugin, config, MARKET, backend=backend, progress=False), allowed)
    coded(lambda: omega.scan_signals(zscore_plugin, config, MARKET, backend=backend), allowed)


@FUZZ
@given(text=st.one_of(st.text(max_size=200), configs.map(json.dumps).flatmap(lambda s: mutated(s.encode()))))
def test_config_text(zscore_plugin: str, text: str | bytes) -> None:
    if isinstance(text, bytes):
        try:
            text = text.decode()
        except UnicodeDecodeError:
            assume(False)
            return
    coded(lambda: omega.run_backtest(zscore_plugin, text, MARKET, backend="rust"), {"E4002", "E4004", "E4003"})


# --- findings, kept as regression cases on both backends (fuzz/regressions/README.md) ------------

MIN_TS = -62_135_596_800_000_000  # 0001-01-01T00:00:00Z
MAX_TS = 253_402_214_400_000_000  # 9999-12-31T00:00:00Z


def _bars_at(times: list[int]) -> pa.Table:
    rows = MARKET.slice(0, len(times))
    return rows.set_column(0, "timestamp_us", pa.array(times, pa.int64()))


@pytest.mark.parametrize(
    ("times", "accepted"),
    [
        ([MIN_TS, MIN_TS + 60_000_000], True),
        ([MAX_TS - 60_000_000, MAX_TS], True),
        ([MIN_TS - 1, 0], False),
        ([0, MAX_TS + 1], False),
        ([-(2**63), 2**63 - 1], False),
    ],
)
def test_bar_times_are_bounded_to_years_1_to_9999(native: Any, times: list[int], accepted: bool) -> None:
    # The `candles` fuzz target found bars near the ends of int64 overflowing the core's time
    # arithmetic (New York DST bins of the daily metrics); both validators now bound bar times.
    from omega.reference.market import MAX_TIMESTAMP_US, MIN_TIMESTAMP_US, Market

    assert (MIN_TIMESTAMP_US, MAX_TIMESTAMP_US) == (MIN_TS, MAX_TS)
    table = _bars_at(times)
    checks: list[Callable[[], Any]] = [
        lambda: native.validate_candles(table),
        lambda: Market.from_arrow(table, "EURUSD", "M1"),
    ]
    for check in checks:
        if accepted:
            check()
        else:
            with pytest.raises(omega.InsufficientDataError, match=r"outside 0001-01-01 \.\. 9999-12-31"):
                check()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_late_out_of_range_bar_is_e4004_in_a_run(zscore_plugin: str, backend: str) -> None:
    # Through the public entry point: the data layer's unit check looks at the first rows only.
    table = _bars_at([1_704_067_200_000_000 + i * 60_000_000 for i in range(5)] + [MAX_TS + 1])
    with pytest.raises(omega.InsufficientDataError, match="row 5") as info:
        omega.run_backtest(zscore_plugin, {"symbol": "EURUSD", "timeframe": "M1"}, table, backend=backend)
    assert "outside 0001-01-01 .. 9999-12-31" in str(info.value)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("column", ["timestamp_us", "bid_open"])
def test_a_duplicated_candle_column_is_e4004(zscore_plugin: str, backend: str, column: str) -> None:
    # Found by test_random_candle_tables: a duplicated `timestamp_us` raised a bare KeyError, and a
    # duplicated price column was read as its first copy by Rust and refused by the reference.
    table = MARKET.append_column(column, MARKET.column(column))
    config = {"symbol": "EURUSD", "timeframe": "M1"}
    with pytest.raises(omega.InsufficientDataError, match=f"column '{column}' appears 2 times"):
        omega.run_backtest(zscore_plugin, config, table, backend=backend, progress=False)
    with pytest.raises(omega.InsufficientDataError, match=f"column '{column}' appears 2 times"):
        omega.scan_signals(zscore_plugin, config, table, backend=backend)
