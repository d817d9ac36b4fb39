"""`omega.data.load`: candle files (Parquet, Arrow IPC, CSV; one file with bid and ask columns, a
BID+ASK file pair, or one price series plus a spread) → a `CANDLE_SCHEMA` table.

Every choice (format, separator, header, time column and layout, which side, spread, join) is
either given or sniffed, and recorded in a `LoadReport`: logged on the `omega.data` logger, kept in
the table's schema metadata (`load_report(table)`), printed by `omega data inspect`. The CSV parsing
itself is pyarrow's reader; this module only sniffs its options and maps the columns.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from omega.columns import CANDLE_COLUMNS, CANDLE_SCHEMA, PRICE_COLUMNS
from omega.errors import InsufficientDataError
from omega.timeparse import parse_times

__all__ = ["DataJoinWarning", "LoadReport", "load", "load_parquet", "load_report", "read_ipc"]

LOG = logging.getLogger("omega.data")
REPORT_KEY = b"omega.load_report"
"""Schema metadata key holding the `LoadReport` of a loaded table (JSON)."""

Format = Literal["parquet", "ipc", "csv"]
JoinPolicy = Literal["inner", "strict"]
Source = str | os.PathLike[str]

_PARQUET_SUFFIXES = {".parquet", ".pq"}
_IPC_SUFFIXES = {".arrow", ".arrows", ".ipc", ".feather"}
_IPC_FILE_MAGIC = b"ARROW1"
_PARQUET_MAGIC = b"PAR1"
_SEPARATORS = ("\t", ";", "|", ",")  # preference when several split every line evenly (',' last: decimal commas)
_SNIFF_BYTES = 64 * 1024
_SIDE_FIELDS = ("open", "high", "low", "close")
# Normalised header names (lower case, <> stripped, _/-/blanks → one blank) by role, best first.
_TIME_NAMES = (
    "timestamp us",
    "timestamp",
    "utc time",
    "gmt time",
    "time (utc)",
    "datetime",
    "date time",
    "local time",
    "index level 0",
)
_VOLUME_NAMES = ("tickvol", "tick volume", "volume", "vol", "real volume")
_SPREAD_NAMES = ("spread",)


class DataJoinWarning(UserWarning):
    """A BID/ASK join left bars out (one side has bars the other lacks)."""


@dataclass(frozen=True)
class LoadReport:
    """What `load` read and every choice it made (given or sniffed)."""

    sources: tuple[str, ...]
    format: str
    layout: str
    rows: int
    first_us: int | None
    last_us: int | None
    choices: tuple[tuple[str, str], ...] = ()
    dropped_bid_only: int = 0
    dropped_ask_only: int = 0

    def span(self) -> str:
        """First and last bar open times as ISO text (UTC)."""
        if self.first_us is None or self.last_us is None:
            return "no bars"
        return f"{_iso(self.first_us)} .. {_iso(self.last_us)}"

    def line(self) -> str:
        """The report in one log line."""
        picks = "; ".join(f"{k}: {v}" for k, v in self.choices)
        return f"loaded {self.rows} bars ({self.span()}) from {', '.join(self.sources)} [{self.layout}, {picks}]"

    def __str__(self) -> str:
        rows = [
            f"sources: {', '.join(self.sources)}",
            f"format: {self.format}",
            f"layout: {self.layout}",
            f"bars: {self.rows} ({self.span()})",
        ]
        rows += [f"{k}: {v}" for k, v in self.choices]
        if self.dropped_bid_only or self.dropped_ask_only:
            rows.append(f"join dropped: {self.dropped_bid_only} BID-only, {self.dropped_ask_only} ASK-only bars")
        return "\n".join(rows)

    def to_json(self) -> str:
        """JSON text of the report (what the table metadata holds)."""
        d = dict(self.__dict__)
        d["choices"] = [list(c) for c in self.choices]
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> LoadReport:
        """Inverse of `to_json`."""
        d = json.loads(text)
        d["sources"] = tuple(d["sources"])
        d["choices"] = tuple((str(k), str(v)) for k, v in d["choices"])
        return cls(**d)


def _iso(us: int) -> str:
    secs, rem = divmod(us, 1_000_000)
    stamp = datetime.fromtimestamp(secs, UTC).replace(tzinfo=None) if -(10**11) < secs < 10**11 else None
    if stamp is None:
        return f"{us} µs"
    text = stamp.isoformat(sep=" ")
    return f"{text}.{rem:06d}" if rem else text


def load_report(table: pa.Table) -> LoadReport | None:
    """The `LoadReport` stored in a table returned by `load` (None for other tables)."""
    meta = table.schema.metadata or {}
    raw = meta.get(REPORT_KEY)
    return LoadReport.from_json(raw) if raw is not None else None


def _bad(message: str, **context: Any) -> InsufficientDataError:
    return InsufficientDataError(message, context)


# --- files ----------------------------------------------------------------------------------------


def _check_path(path: Path) -> None:
    """Coded errors for paths that cannot be a candle file (instead of OSError)."""
    if not path.exists():
        raise _bad(f"no such file: {path}", path=str(path), check="path")
    if path.is_dir():
        raise _bad(f"{path} is a directory, not a candle file", path=str(path), check="path")
    if not os.access(path, os.R_OK):
        raise _bad(f"{path} is not readable (permissions)", path=str(path), check="path")


def _detect_format(path: Path, given: str | None) -> tuple[str, str]:
    if given is not None:
        if given not in ("parquet", "ipc", "csv"):
            raise _bad(f"format={given!r} is not one of parquet, ipc, csv", key="format")
        return given, "given"
    suffix = path.suffix.lower()
    if suffix in _PARQUET_SUFFIXES:
        return "parquet", f"from the suffix {suffix}"
    if suffix in _IPC_SUFFIXES:
        return "ipc", f"from the suffix {suffix}"
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head[:4] == _PARQUET_MAGIC:
        return "parquet", "from the file's magic bytes"
    if head[:6] == _IPC_FILE_MAGIC or head[:4] == b"\xff\xff\xff\xff":
        return "ipc", "from the file's magic bytes"
    return "csv", "text file" if suffix in (".csv", ".txt", ".tsv") else f"text (suffix {suffix or 'none'})"


def load_parquet(path: Source, *, columns: list[str] | None = None) -> pa.Table:
    """Read a Parquet file as it is (no column mapping); unreadable or corrupt files are E4004."""
    p = Path(path)
    _check_path(p)
    try:
        return pq.read_table(p, columns=columns)
    except (pa.ArrowException, OSError, ValueError) as e:
        raise _bad(f"cannot read Parquet {p}: {e}", path=str(p)) from e


def read_ipc(source: Any) -> pa.Table:
    """Arrow IPC file or stream format, from bytes or a path (E4004 when unreadable)."""
    try:
        if isinstance(source, bytes | bytearray | memoryview):
            buf = pa.py_buffer(source)
            if bytes(buf[:6]) == _IPC_FILE_MAGIC:
                return ipc.open_file(buf).read_all()
            return ipc.open_stream(buf).read_all()
        p = Path(source)
        _check_path(p)
        with open(p, "rb") as fh:
            head = fh.read(6)
        if head == _IPC_FILE_MAGIC:
            return ipc.open_file(p).read_all()
        with pa.memory_map(str(p)) as mm:
            return ipc.open_stream(mm).read_all()
    except (pa.ArrowException, OSError, ValueError) as e:
        raise _bad(f"not readable as Arrow IPC (file or stream format): {e}", source="ipc") from e


@dataclass
class _Choices:
    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, key: str, value: str) -> None:
        self.items.append((key, value))


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name.strip().strip("<>").strip().lower())


def _sniff_separator(lines: list[str]) -> str | None:
    for sep in _SEPARATORS:
        counts = {line.count(sep) for line in lines}
        if len(counts) == 1 and counts.pop() >= 1:
            return sep
    return None


def _looks_like_data(field_text: str) -> bool:
    return re.match(r"^\s*\"?-?\d", field_text) is not None


def _headerless_names(first: list[str]) -> tuple[list[str], str]:
    """Column names for a file without a header, from its field count (HistData, MetaTrader 4)."""
    n = len(first)
    split_time = n >= 2 and re.match(r"^\s*\d{1,2}:\d{2}(:\d{2})?\s*$", first[1]) is not None
    if split_time and n in (6, 7):
        names = ["date", "time", "open", "high", "low", "close", "volume"][:n]
    elif n in (5, 6):
        names = ["time", "open", "high", "low", "close", "volume"][:n]
    else:
        raise _bad(
            f"no header and {n} fields per line: cannot tell the columns; add a header line "
            "(e.g. 'Time,Open,High,Low,Close,Volume')",
            check="header",
        )
    return names, f"none (sniffed); columns taken as {', '.join(names)}"


def _read_csv(path: Path, sep: str | None, header: bool | None, choices: _Choices) -> pa.Table:
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if not head.strip():
        raise _bad(f"{path} is empty", path=str(path), check="empty")
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(head) == _SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut off
    lines = lines[:50]
    if sep is None:
        found = _sniff_separator(lines)
        if found is None:
            raise _bad(
                f"{path}: cannot tell the separator (none of tab ; | , splits every line into the same "
                "number of fields); pass sep=",
                path=str(path),
                check="separator",
            )
        sep = found
        choices.add("separator", f"{sep!r} (sniffed)")
    else:
        choices.add("separator", f"{sep!r} (given)")
    rows = list(csv.reader(lines[:2], delimiter=sep))
    first = rows[0]
    decimal = "."
    if sep != "," and any(re.search(r"\d,\d", ln) for ln in lines[1:]):
        decimal = ","
        choices.add("decimal point", "',' (sniffed)")
    if header is None:
        header = not _looks_like_data(first[0])
        header_note = "sniffed"
    else:
        header_note = "given"
    names: list[str] | None = None
    if header:
        names_in_file = [c.strip() for c in first]
        choices.add("header", f"{', '.join(names_in_file)} ({header_note})")
        time_cols = _time_columns(names_in_file)
    else:
        names, note = _headerless_names(first)
        choices.add("header", note if header_note == "sniffed" else note.replace("sniffed", "given"))
        time_cols = _time_columns(names)
    try:
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 22),
            parse_options=pacsv.ParseOptions(delimiter=sep),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.utf8() for c in time_cols},
                decimal_point=decimal,
                strings_can_be_null=True,
            ),
        )
    except (pa.ArrowException, OSError, ValueError) as e:
        raise _bad(f"{path}: not a readable CSV with separator {sep!r}: {e}", path=str(path)) from e


def _time_columns(names: Sequence[str]) -> list[str]:
    """Names of the columns holding times (read as text so that no layout is guessed by Arrow)."""
    by_norm = {_norm(n): n for n in names}
    return [by_norm[n] for n in (*_TIME_NAMES, "date", "time") if n in by_norm]


def _read_raw(path: Path, fmt: str | None, sep: str | None, header: bool | None, choices: _Choices) -> pa.Table:
    _check_path(path)
    kind, how = _detect_format(path, fmt)
    choices.add(f"format of {path.name}", f"{kind} ({how})")
    if kind == "parquet":
        return load_parquet(path)
    if kind == "ipc":
        return read_ipc(path)
    return _read_csv(path, sep, header, choices)


# --- columns ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Options:
    time_column: str | Sequence[str] | None
    date_format: str | None
    tz: str
    time_unit: str | None


def _times(raw: pa.Table, opts: _Options, choices: _Choices) -> pa.Array:
    by_norm = {_norm(n): n for n in raw.column_names}
    tc = opts.time_column
    if isinstance(tc, str):
        if tc not in raw.column_names:
            raise _bad(f"time_column {tc!r} is not a column (have {', '.join(raw.column_names)})", key="time_column")
        cols = [tc]
    elif tc is not None:
        cols = list(tc)
        for c in cols:
            if c not in raw.column_names:
                raise _bad(f"time column {c!r} is not a column (have {', '.join(raw.column_names)})", key="time_column")
    else:
        found = next((by_norm[n] for n in _TIME_NAMES if n in by_norm), None)
        if found is not None:
            cols = [found]
        elif "date" in by_norm and "time" in by_norm:
            cols = [by_norm["date"], by_norm["time"]]
        elif "time" in by_norm or "date" in by_norm:
            cols = [by_norm.get("time") or by_norm["date"]]
        else:
            raise _bad(
                f"no time column among {', '.join(raw.column_names)} (want e.g. 'timestamp_us', 'UTC time', "
                "'Gmt time', 'Time', or 'Date' and 'Time'); pass time_column=",
                check="schema",
            )
    if len(cols) == 2:
        a = pc.cast(raw.column(cols[0]), pa.utf8())
        b = pc.cast(raw.column(cols[1]), pa.utf8())
        col = pc.binary_join_element_wise(a, b, " ").combine_chunks()
        name = f"{cols[0]}+{cols[1]}"
    elif len(cols) == 1:
        col, name = raw.column(cols[0]).combine_chunks(), cols[0]
    else:
        raise _bad("time_column names one column or a (date, time) pair", key="time_column")
    parsed = parse_times(col, name, date_format=opts.date_format, tz=opts.tz, unit=opts.time_unit)
    given = opts.time_column is not None
    choices.add("time", parsed.choice if not given else parsed.choice.replace("column", "column (given)", 1))
    if parsed.values.null_count:
        row = int(pc.index(pc.is_null(parsed.values), True).as_py())
        raise _bad(f"time column '{name}' is empty at row {row}", column=name, row=row)
    return parsed.values


def _float(raw: pa.Table, name: str, path: str) -> pa.Array:
    col = raw.column(name)
    try:
        return pc.cast(col, pa.float64()).combine_chunks()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise _bad(f"{path}: column '{name}' is not numeric: {e}", path=path, column=name) from e


def _canonical(raw: pa.Table) -> dict[str, str] | None:
    """Column names for the bid/ask layout (`bid_open` … `ask_volume`), or None."""
    by_norm = {_norm(n): n for n in raw.column_names}
    want = {c: _norm(c) for c in PRICE_COLUMNS}
    core = [c for c in PRICE_COLUMNS if not c.endswith("volume")]
    if not all(want[c] in by_norm for c in core):
        return None
    return {c: by_norm[want[c]] for c in PRICE_COLUMNS if want[c] in by_norm}


def _single_side(raw: pa.Table, path: str) -> dict[str, str]:
    by_norm = {_norm(n): n for n in raw.column_names}
    missing = [f for f in _SIDE_FIELDS if f not in by_norm]
    if missing:
        raise _bad(
            f"{path}: missing column '{missing[0].capitalize()}' (columns: {', '.join(raw.column_names)}; want "
            "bid_open … ask_volume, or Open, High, Low, Close[, Volume] for one side)",
            path=path,
            column=missing[0],
            check="schema",
        )
    cols = {f: by_norm[f] for f in _SIDE_FIELDS}
    vol = next((by_norm[n] for n in _VOLUME_NAMES if n in by_norm), None)
    if vol is not None:
        cols["volume"] = vol
    spread = next((by_norm[n] for n in _SPREAD_NAMES if n in by_norm), None)
    if spread is not None:
        cols["spread"] = spread
    return cols


def _side_table(raw: pa.Table, path: str, opts: _Options, choices: _Choices, label: str) -> pa.Table:
    cols = _single_side(raw, path)
    out: dict[str, pa.Array] = {"timestamp_us": _times(raw, opts, choices)}
    for f in _SIDE_FIELDS:
        out[f] = _float(raw, cols[f], path)
    if "volume" in cols:
        out["volume"] = _float(raw, cols["volume"], path)
        choices.add(f"{label} volume", f"column '{cols['volume']}'")
    else:
        out["volume"] = pa.array(np.zeros(raw.num_rows))
        choices.add(f"{label} volume", "none in the file: 0")
    if "spread" in cols:
        out["spread"] = _float(raw, cols["spread"], path)
    return pa.table(out)


def _decimals(values: np.ndarray[Any, Any]) -> int:
    """Decimal places of prices as exported (the smallest d with every value a multiple of 10^-d)."""
    sample = values[np.isfinite(values)][:2000]
    for d in range(9):
        scaled = sample * 10.0**d
        if np.all(np.abs(scaled - np.round(scaled)) < 1e-6 * np.maximum(1.0, np.abs(scaled)) * 1e-3):
            return d
    return 9


def _spread_side(
    side_tab: pa.Table,
    side: str,
    spread: float | str | None,
    spread_unit: str | None,
    point: float | None,
    choices: _Choices,
    path: str,
) -> pa.Table:
    """One price series plus a spread → both sides (the other side = this side ± spread)."""
    prices = {f: side_tab.column(f).to_numpy() for f in _SIDE_FIELDS}
    digits = max(_decimals(prices[f]) for f in _SIDE_FIELDS)
    if isinstance(spread, str):
        raise _bad(f"{path}: spread column {spread!r} not found", key="spread")  # resolved by the caller
    if spread is None:
        if "spread" not in side_tab.column_names:
            raise _bad(
                f"{path} holds one price series (Open, High, Low, Close) and no spread: pass spread= (a fixed "
                "spread in price units, or the name of a spread column) or give the BID and ASK files as a pair",
                path=path,
                check="schema",
            )
        raw_spread = side_tab.column("spread").to_numpy()
        integral = bool(np.all(raw_spread == np.round(raw_spread)))
        unit = spread_unit or ("points" if integral and digits > 0 else "price")
        how = (
            "given"
            if spread_unit
            else "sniffed: whole numbers next to fractional prices"
            if unit == "points"
            else "sniffed"
        )
        if unit == "points":
            pt = point if point is not None else 10.0**-digits
            pt_note = "given" if point is not None else f"from {digits} price decimals"
            values = raw_spread * pt
            choices.add("spread", f"column in points ({how}), point {pt:g} ({pt_note})")
        elif unit == "price":
            values = raw_spread
            choices.add("spread", f"column in price units ({how})")
        else:
            raise _bad(f"spread_unit={spread_unit!r} is not 'price' or 'points'", key="spread_unit")
    else:
        if not (isinstance(spread, int | float) and math.isfinite(spread) and spread >= 0):
            raise _bad(f"spread={spread!r} is not a finite number >= 0 (price units)", key="spread")
        unit = spread_unit or "price"
        if unit == "points":
            pt = point if point is not None else 10.0**-digits
            values = np.full(side_tab.num_rows, float(spread) * pt)
            choices.add("spread", f"fixed {spread} points of {pt:g} (given)")
        elif unit == "price":
            values = np.full(side_tab.num_rows, float(spread))
            choices.add("spread", f"fixed {spread} in price units (given)")
        else:
            raise _bad(f"spread_unit={spread_unit!r} is not 'price' or 'points'", key="spread_unit")
    sign = 1.0 if side == "bid" else -1.0
    other = "ask" if side == "bid" else "bid"
    out: dict[str, Any] = {"timestamp_us": side_tab.column("timestamp_us")}
    for f in _SIDE_FIELDS:
        out[f"{side}_{f}"] = prices[f]
    out[f"{side}_volume"] = side_tab.column("volume")
    for f in _SIDE_FIELDS:
        out[f"{other}_{f}"] = np.round(prices[f] + sign * values, max(digits, _decimals(values)))
    out[f"{other}_volume"] = side_tab.column("volume")
    op = "+" if sign > 0 else "-"
    choices.add(
        "sides",
        f"prices are {side.upper()}; {other.upper()} = {side.upper()} {op} spread, rounded to the price decimals",
    )
    return pa.table({c: out[c] for c in CANDLE_COLUMNS}).cast(CANDLE_SCHEMA)


def _join(bid: pa.Table, ask: pa.Table, how: str, choices: _Choices) -> tuple[pa.Table, int, int]:
    if how not in ("inner", "strict"):
        raise _bad(f"how={how!r} is not 'inner' or 'strict'", key="how")
    b = bid.select(["timestamp_us", *_SIDE_FIELDS, "volume"]).rename_columns(
        ["timestamp_us", *(f"bid_{f}" for f in (*_SIDE_FIELDS, "volume"))]
    )
    a = ask.select(["timestamp_us", *_SIDE_FIELDS, "volume"]).rename_columns(
        ["timestamp_us", *(f"ask_{f}" for f in (*_SIDE_FIELDS, "volume"))]
    )
    joined = b.join(a, keys="timestamp_us", join_type="inner").sort_by("timestamp_us")
    bid_only = int(
        pc.sum(pc.invert(pc.is_in(b.column("timestamp_us"), value_set=a.column("timestamp_us")))).as_py() or 0
    )
    ask_only = int(
        pc.sum(pc.invert(pc.is_in(a.column("timestamp_us"), value_set=b.column("timestamp_us")))).as_py() or 0
    )
    if bid_only or ask_only:
        message = (
            f"BID has {b.num_rows} bars, ASK {a.num_rows}: {bid_only} BID-only and {ask_only} ASK-only bars "
            f"have no partner"
        )
        if how == "strict":
            raise _bad(f"{message} (how='strict'); how='inner' keeps the {joined.num_rows} common bars", check="join")
        warnings.warn(f"{message}; kept the {joined.num_rows} common bars (how='inner')", DataJoinWarning, stacklevel=3)
    choices.add("join", f"BID and ASK on time, how={how!r}: {joined.num_rows} common bars")
    return joined.select(list(CANDLE_COLUMNS)).cast(CANDLE_SCHEMA), bid_only, ask_only


def _pair(source: Any) -> tuple[Path, Path, str] | None:
    """(bid, ask, how told) when `source` names two files, else None."""
    if isinstance(source, Mapping):
        keys = {str(k).lower(): v for k, v in source.items()}
        if set(keys) != {"bid", "ask"}:
            raise _bad(f"a mapping of files has the keys 'bid' and 'ask', got {sorted(keys)}", key="source")
        return Path(keys["bid"]), Path(keys["ask"]), "given as bid=/ask="
    if isinstance(source, str | os.PathLike):
        return None
    if isinstance(source, Sequence):
        paths = [Path(p) for p in source]
        if len(paths) == 1:
            return None
        if len(paths) != 2:
            raise _bad(f"give one file or a BID/ASK pair, got {len(paths)} paths", key="source")
        names = [p.name.lower() for p in paths]
        if "ask" in names[0] and "bid" in names[1] and "bid" not in names[0]:
            return paths[1], paths[0], "from the file names"
        if "bid" in names[0] and "ask" in names[1]:
            return paths[0], paths[1], "from the file names"
        return paths[0], paths[1], "by position (first BID, second ASK)"
    raise _bad(f"unsupported source {type(source).__name__}: a path, a (bid, ask) pair or {{'bid':…, 'ask':…}}")


def load(
    source: Source | Sequence[Source] | Mapping[str, Source],
    *,
    format: Format | None = None,
    sep: str | None = None,
    header: bool | None = None,
    time_column: str | Sequence[str] | None = None,
    date_format: str | None = None,
    tz: str = "UTC",
    time_unit: str | None = None,
    side: Literal["bid", "ask"] | None = None,
    spread: float | str | None = None,
    spread_unit: Literal["price", "points"] | None = None,
    point: float | None = None,
    how: JoinPolicy = "inner",
) -> pa.Table:
    """Read candles from a file or a BID/ASK file pair into a `CANDLE_SCHEMA` table.

    Args:
        source: a path (Parquet, Arrow IPC or CSV); a pair `[bid_path, ask_path]` (told apart by
            "bid"/"ask" in the file names, else by position) or `{"bid": …, "ask": …}`.
        format: `"parquet"`, `"ipc"` or `"csv"`; default from the suffix, then the magic bytes.
        sep, header: CSV separator and whether the first line is a header (default: sniffed).
        time_column: the time column, or a `(date, time)` pair; default: the first of
            `timestamp_us`, `timestamp`, `UTC time`, `Gmt time`, `Datetime`, `Local time`, then
            `Date`+`Time`, `Time`, `Date`.
        date_format: strptime layout of the time text (fraction of a second and `UTC`/`GMT`/`±hh:mm`
            suffixes are handled separately); default: sniffed, US dates included.
        tz: time zone of naive times (default UTC); time_unit: unit of integer epoch times
            (`s`, `ms`, `us`, `ns`; default `us` for `timestamp_us`, else from the magnitude).
        side: for one price series, which side it is (default `"bid"`, as MetaTrader exports).
        spread: a fixed spread, or the name of a spread column (a column named `spread`/`<SPREAD>` is
            used by default); spread_unit: `"price"` or `"points"` (default: price for a number,
            points for a whole-number column); point: the point size (default 10^-decimals).
        how: BID/ASK join: `"inner"` keeps common bars and warns (`DataJoinWarning`) counting the
            dropped ones; `"strict"` raises E4004 when any bar lacks its partner.

    Every choice is in `load_report(table)` and logged (logger `omega.data`, INFO). Unreadable
    files, unknown layouts and bad options are `InsufficientDataError` (E4004); the content is
    validated when the table is run.
    """
    if side not in (None, "bid", "ask"):
        raise _bad(f"side={side!r} is not 'bid' or 'ask'", key="side")
    choices = _Choices()
    opts = _Options(time_column, date_format, tz, time_unit)
    pair = _pair(source)
    dropped = (0, 0)
    sources: tuple[str, ...]
    if pair is not None:
        bid_path, ask_path, told = pair
        choices.add("files", f"BID {bid_path.name}, ASK {ask_path.name} ({told})")
        sides: list[pa.Table] = []
        for label, p in (("BID", bid_path), ("ASK", ask_path)):
            raw = _read_raw(p, format, sep, header, choices)
            sides.append(_side_table(raw, str(p), opts, choices, label))
        table, bid_only, ask_only = _join(sides[0], sides[1], how, choices)
        dropped = (bid_only, ask_only)
        sources = (str(bid_path), str(ask_path))
        layout = "bid_ask_files"
        kind = next(v for k, v in choices.items if k.startswith("format of")).split(" ")[0]
        meta: dict[bytes, bytes] = {}
    else:
        one: Any = source if isinstance(source, str | os.PathLike) else next(iter(source))
        path = Path(one)
        raw = _read_raw(path, format, sep, header, choices)
        kind = next(v for k, v in choices.items if k.startswith("format of")).split(" ")[0]
        meta = {k: v for k, v in (raw.schema.metadata or {}).items() if k.startswith(b"omega.") and k != REPORT_KEY}
        sources = (str(path),)
        names = _canonical(raw)
        if names is not None:
            layout = "bid_ask_columns"
            out: dict[str, pa.Array] = {"timestamp_us": _times(raw, opts, choices)}
            for c in PRICE_COLUMNS:
                out[c] = _float(raw, names[c], str(path)) if c in names else pa.array(np.zeros(raw.num_rows))
            if "bid_volume" not in names or "ask_volume" not in names:
                choices.add("volume", "a side without a volume column: 0")
            table = pa.table(out).cast(CANDLE_SCHEMA)
        else:
            layout = "single_side"
            side_tab = _side_table(raw, str(path), opts, choices, "price")
            if isinstance(spread, str):
                if spread not in raw.column_names:
                    raise _bad(
                        f"spread column {spread!r} is not a column of {path} (have {', '.join(raw.column_names)})",
                        key="spread",
                    )
                side_tab = side_tab.drop_columns([c for c in side_tab.column_names if c == "spread"])
                side_tab = side_tab.append_column("spread", _float(raw, spread, str(path)))
                spread = None
            table = _spread_side(side_tab, side or "bid", spread, spread_unit, point, choices, str(path))
            note = "given" if side is not None else "default, as MetaTrader exports"
            choices.items[-1] = ("sides", choices.items[-1][1].replace(";", f" ({note});", 1))
    ts = table.column("timestamp_us")
    report = LoadReport(
        sources=sources,
        format=kind,
        layout=layout,
        rows=table.num_rows,
        first_us=ts[0].as_py() if table.num_rows else None,
        last_us=ts[-1].as_py() if table.num_rows else None,
        choices=tuple(choices.items),
        dropped_bid_only=dropped[0],
        dropped_ask_only=dropped[1],
    )
    LOG.info(report.line())
    meta[REPORT_KEY] = report.to_json().encode()
    return table.replace_schema_metadata(meta)
