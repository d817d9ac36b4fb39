"""Timestamps of candle files → int64 µs UTC: text sniffed among common broker formats (or given),
epoch integers with their unit named, Arrow timestamps with or without a time zone.

Text is split by one regex into a date-time body, an optional fraction of a second, an optional
`Z`/`UTC`/`GMT` marker and an optional `±hh[:]mm` offset; the body is parsed with Arrow's
`strptime`. Every choice is returned as a sentence for the `LoadReport`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from omega.errors import InsufficientDataError

DATE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d",
    "%Y.%m.%d",
    "%Y/%m/%d",
    "%Y%m%d",
    "%d.%m.%Y",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
)
"""Date layouts tried when sniffing (ISO, MetaTrader, HistData, Dukascopy, European and US)."""

TIME_FORMATS: tuple[str, ...] = ("%H:%M:%S", "%H:%M", "%H%M%S", "%H%M")
"""Time-of-day layouts tried after the date (a fraction of a second and a zone are split off first)."""

TIME_UNITS: dict[str, int] = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 0}
"""Epoch units and their factor to µs (ns divides by 1000)."""

_SPLIT = (
    r"^(?P<body>\S+[ T]\d{1,2}:\d{2}(?::\d{2})?)(?:\.(?P<frac>\d{1,9}))?\s*"
    r"(?P<zone>Z|UTC|GMT)?\s*(?P<off>[+-]\d{2}:?\d{2})?$"
)
_SAMPLE = 256


@dataclass(frozen=True)
class ParsedTimes:
    """Timestamps in µs UTC and the sentence describing how they were read."""

    values: pa.Array
    choice: str


def _bad(message: str, **context: object) -> InsufficientDataError:
    return InsufficientDataError(message, dict(context))


def _first_null(arr: pa.Array) -> int:
    mask = pc.is_null(arr)
    return int(pc.index(mask, True).as_py())


def _swapped(fmt: str) -> str | None:
    """The day/month swapped twin of an ambiguous layout (DD/MM vs MM/DD), else None."""
    if "%d/%m" in fmt:
        return fmt.replace("%d/%m", "%m/%d")
    if "%m/%d" in fmt:
        return fmt.replace("%m/%d", "%d/%m")
    if "%d-%m-%Y" in fmt:
        return fmt.replace("%d-%m-%Y", "%m-%d-%Y")
    if "%m-%d-%Y" in fmt:
        return fmt.replace("%m-%d-%Y", "%d-%m-%Y")
    return None


def _candidates() -> list[str]:
    out = [f"{d} {t}" for d in DATE_FORMATS for t in TIME_FORMATS]
    return out + list(DATE_FORMATS)


def _strictly_increasing(us: pa.Array) -> bool:
    if len(us) < 2:
        return True
    a = us.slice(1)
    b = us.slice(0, len(us) - 1)
    return bool(pc.all(pc.greater(a, b)).as_py())


def parse_epoch(col: pa.Array, name: str, unit: str | None) -> ParsedTimes:
    """Integer epoch times → µs; the unit is `unit`, `us` for a column named `timestamp_us`, else
    guessed from the magnitude (the report names it)."""
    ints = pc.cast(col, pa.int64())
    if unit is None:
        if name == "timestamp_us":
            unit, how = "us", "by its name"
        else:
            peak = pc.max(pc.abs(ints)).as_py() or 0
            unit = "s" if peak < 10**11 else "ms" if peak < 10**14 else "us" if peak < 10**17 else "ns"
            how = "guessed from the magnitude"
    else:
        how = "given"
        if unit not in TIME_UNITS:
            raise _bad(f"time_unit={unit!r} is not one of {', '.join(TIME_UNITS)}", key="time_unit")
    factor = TIME_UNITS[unit]
    try:
        us = pc.divide(ints, 1000) if factor == 0 else pc.multiply_checked(ints, factor)
    except pa.ArrowInvalid as e:
        raise _bad(f"column '{name}': epoch {unit} values overflow int64 µs: {e}", column=name) from e
    return ParsedTimes(us, f"column '{name}' as epoch integers in {unit} ({how})")


def _split(text: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """(body, fraction µs, offset µs) of every row (rows without a time-of-day keep their text)."""
    parts = pc.extract_regex(text, _SPLIT)
    matched = pc.is_valid(parts)
    body = pc.if_else(matched, pc.struct_field(parts, "body"), text)
    body = pc.replace_substring_regex(body, r"^(\S+)T(\d)", r"\1 \2")
    frac_txt = pc.fill_null(pc.struct_field(parts, "frac"), "")
    frac_txt = pc.utf8_slice_codeunits(pc.utf8_rpad(frac_txt, width=6, padding="0"), 0, 6)
    frac_us = pc.cast(frac_txt, pa.int64())
    off_txt = pc.replace_substring(pc.fill_null(pc.struct_field(parts, "off"), ""), ":", "")
    off_txt = pc.if_else(pc.equal(pc.utf8_length(off_txt), 0), "+0000", off_txt)  # unmatched groups are ""
    sign = pc.if_else(pc.equal(pc.utf8_slice_codeunits(off_txt, 0, 1), "-"), -1, 1)
    hours = pc.cast(pc.utf8_slice_codeunits(off_txt, 1, 3), pa.int64())
    minutes = pc.cast(pc.utf8_slice_codeunits(off_txt, 3, 5), pa.int64())
    off_us = pc.multiply(sign, pc.add(pc.multiply(hours, 3_600_000_000), pc.multiply(minutes, 60_000_000)))
    return body, frac_us, off_us


def _strptime(body: pa.Array, fmt: str) -> pa.Array:
    return pc.strptime(body, format=fmt, unit="s", error_is_null=True)


def _local_to_utc(naive: pa.Array, tz: str) -> pa.Array:
    if tz.upper() == "UTC":
        return naive
    try:
        aware = pc.assume_timezone(naive, timezone=tz, ambiguous="raise", nonexistent="raise")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise _bad(f"local times in {tz!r} cannot be converted to UTC: {e}", key="tz") from e
    return pc.cast(aware, pa.timestamp("s"))


def _to_us(naive: pa.Array, frac_us: pa.Array, off_us: pa.Array) -> pa.Array:
    secs = pc.cast(naive, pa.int64())
    return pc.subtract(pc.add(pc.multiply(secs, 1_000_000), frac_us), off_us)


def parse_text(col: pa.Array, name: str, date_format: str | None, tz: str) -> ParsedTimes:
    """Date-time text → µs UTC with `date_format` (strptime syntax without the fraction and zone) or
    the first sniffed layout that reads every row; DD/MM versus MM/DD is decided by the data (a day
    above 12, then increasing times) or refused as ambiguous."""
    text = pc.utf8_trim_whitespace(pc.cast(col, pa.utf8()))
    if text.null_count:
        raise _bad(f"column '{name}' has an empty time at row {_first_null(text)}", column=name, row=_first_null(text))
    body, frac_us, off_us = _split(text)
    zone = "naive times read as UTC" if tz.upper() == "UTC" else f"naive times read as {tz}"
    if date_format is not None:
        fmt = date_format.replace(".%f", "").replace("%f", "").strip()
        naive = _strptime(body, fmt)
        if naive.null_count:
            row = _first_null(naive)
            raise _bad(
                f"column '{name}' row {row}: {text[row].as_py()!r} does not match date_format {date_format!r}",
                column=name,
                row=row,
            )
        us = _to_us(_local_to_utc(naive, tz), frac_us, off_us)
        return ParsedTimes(us, f"column '{name}' as {fmt!r} (given), {zone}")
    n = len(body)
    sample = body if n <= 2 * _SAMPLE else pa.concat_arrays([body.slice(0, _SAMPLE), body.slice(n - _SAMPLE)])
    fitting = [f for f in _candidates() if _strptime(sample, f).null_count == 0]
    full: dict[str, pa.Array] = {}
    for f in fitting:
        parsed = _strptime(body, f)
        if parsed.null_count == 0:
            full[f] = parsed
    if not full:
        first = text[0].as_py()
        raise _bad(
            f"column '{name}': times like {first!r} match no known layout; pass date_format= "
            "(strptime syntax, e.g. '%d.%m.%Y %H:%M:%S')",
            column=name,
        )
    fmt = next(iter(full))
    twin = _swapped(fmt)
    note = "sniffed"
    if twin is not None and twin in full:
        inc = {f: _strictly_increasing(_to_us(full[f], frac_us, off_us)) for f in (fmt, twin)}
        if inc[fmt] == inc[twin]:
            raise _bad(
                f"column '{name}': dates are ambiguous, both {fmt!r} and {twin!r} read every row; "
                f"pass date_format={fmt!r} or date_format={twin!r}",
                column=name,
            )
        fmt = fmt if inc[fmt] else twin
        note = "sniffed; the other day/month order gives unordered times"
    elif twin is not None:
        note = "sniffed; day and month told apart by a value above 12"
    us = _to_us(_local_to_utc(full[fmt], tz), frac_us, off_us)
    return ParsedTimes(us, f"column '{name}' as {fmt!r} ({note}), {zone}")


def parse_times(col: pa.Array, name: str, *, date_format: str | None, tz: str, unit: str | None) -> ParsedTimes:
    """Any time column (Arrow timestamp, date, integer epoch or text) → µs UTC."""
    t = col.type
    if pa.types.is_timestamp(t):
        if t.tz is None:
            naive = pc.cast(col, pa.timestamp("us"))
            if tz.upper() != "UTC":
                try:
                    naive = pc.assume_timezone(naive, timezone=tz, ambiguous="raise", nonexistent="raise")
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                    raise _bad(f"local times in {tz!r} cannot be converted to UTC: {e}", key="tz") from e
            us = pc.cast(pc.cast(naive, pa.timestamp("us")), pa.int64())
            return ParsedTimes(us, f"column '{name}' as Arrow timestamps ({t.unit}), naive read as {tz}")
        us = pc.cast(pc.cast(col, pa.timestamp("us", tz="UTC")), pa.int64())
        return ParsedTimes(us, f"column '{name}' as Arrow timestamps ({t.unit}, {t.tz}) converted to UTC")
    if pa.types.is_date(t):
        return parse_times(pc.cast(col, pa.timestamp("s")), name, date_format=date_format, tz=tz, unit=unit)
    if pa.types.is_integer(t):
        return parse_epoch(col, name, unit)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        digits = pc.match_substring_regex(pc.utf8_trim_whitespace(col), r"^-?\d{9,}$")
        if date_format is None and len(col) and bool(pc.all(digits).as_py()):
            return parse_epoch(pc.cast(pc.utf8_trim_whitespace(col), pa.int64()), name, unit)
        return parse_text(col, name, date_format, tz)
    raise _bad(f"column '{name}' has type {t}, which is not a time (text, integer or timestamp)", column=name)
