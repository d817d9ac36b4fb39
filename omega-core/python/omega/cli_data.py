"""`omega data inspect FILE [--ask FILE]`: what `omega.data.load` reads from a file and what the
bars look like (span, count, timeframe guess, gaps), before anything is run on them.

Registered by `omega.cli` with `add_parser`; user errors print the coded message and a hint and
exit 2 (`--verbose` adds the traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
import warnings
from typing import Any

import numpy as np
import pyarrow as pa

from omega.errors import OmegaError

_WEEKEND_HOURS = (40, 56)  # FX weekend gap: Friday ~21:00 to Sunday ~21:00 UTC, give or take DST
_SHOWN_GAPS = 5


def add_parser(sub: Any) -> None:
    """Add the `data` command group (`inspect`) to the `omega` subparsers."""
    data = sub.add_parser("data", help="inspect candle files")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    p = data_sub.add_parser("inspect", help="load a candle file and describe it: span, bars, gaps, timeframe")
    p.add_argument("file", help="Parquet, Arrow IPC or CSV file (the BID file of a pair with --ask)")
    p.add_argument("--ask", default=None, help="the ASK file of a BID/ASK pair")
    p.add_argument("--format", choices=("parquet", "ipc", "csv"), default=None, help="file format (default: sniffed)")
    p.add_argument("--sep", default=None, help="CSV separator (default: sniffed)")
    p.add_argument("--date-format", default=None, help="strptime layout of the time text (default: sniffed)")
    p.add_argument("--tz", default="UTC", help="time zone of naive times (default UTC)")
    p.add_argument("--time-unit", choices=("s", "ms", "us", "ns"), default=None, help="unit of integer epoch times")
    p.add_argument("--spread", default=None, help="fixed spread (price units) or spread column, for one price series")
    p.add_argument("--side", choices=("bid", "ask"), default=None, help="side of a single price series (default bid)")
    p.add_argument("--how", choices=("inner", "strict"), default="inner", help="BID/ASK join policy")
    p.add_argument("--json", action="store_true", help="print the description as JSON")
    p.add_argument("--verbose", action="store_true", help="show a traceback on errors")


def _spread(text: str | None) -> float | str | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def describe(table: pa.Table) -> dict[str, Any]:
    """Span, bar count, timeframe guess and gaps of a candle table (µs UTC open times)."""
    from omega.data import guess_timeframe
    from omega.loading import _iso

    ts = np.asarray(table.column("timestamp_us").to_numpy(), dtype=np.int64)
    tf, how = guess_timeframe(table)
    out: dict[str, Any] = {"bars": len(ts), "timeframe_guess": tf, "timeframe_how": how}
    if len(ts) == 0:
        return out
    out["first"], out["last"] = _iso(int(ts[0])), _iso(int(ts[-1]))
    steps = np.diff(ts)
    if len(steps) and np.any(steps <= 0):
        row = int(np.argmax(steps <= 0)) + 1
        out["unordered_at_row"] = row
    step_us = int(np.median(steps)) if tf is None and len(steps) else 0
    if tf is not None:
        from omega.columns import TIMEFRAME_MINUTES

        step_us = TIMEFRAME_MINUTES[tf] * 60_000_000
    if step_us > 0:
        gap_idx = np.flatnonzero(steps > step_us)
        hours = steps[gap_idx] / 3_600_000_000
        weekday = ((ts[gap_idx] // 86_400_000_000) + 3) % 7  # Monday = 0
        weekend = (weekday == 4) & (hours >= _WEEKEND_HOURS[0]) & (hours <= _WEEKEND_HOURS[1])
        other = gap_idx[~weekend]
        largest = other[np.argsort(-steps[other], kind="stable")][:_SHOWN_GAPS]
        out["gaps"] = len(gap_idx)
        out["weekend_gaps"] = int(weekend.sum())
        out["missing_bars"] = int(((steps[gap_idx] // step_us) - 1).sum())
        out["largest_gaps"] = [
            {"after": _iso(int(ts[i])), "before": _iso(int(ts[i + 1])), "missing_bars": int(steps[i] // step_us - 1)}
            for i in sorted(largest.tolist())
        ]
    return out


def _text(desc: dict[str, Any], report: str) -> str:
    lines = [report, ""]
    lines.append(f"timeframe guess: {desc['timeframe_guess'] or 'unknown'} ({desc['timeframe_how']})")
    if "unordered_at_row" in desc:
        lines.append(f"warning: times are not strictly increasing at row {desc['unordered_at_row']}")
    if "gaps" in desc:
        lines.append(
            f"gaps: {desc['gaps']} ({desc['weekend_gaps']} weekends), {desc['missing_bars']} bars missing in all"
        )
        for g in desc["largest_gaps"]:
            lines.append(f"  {g['after']} -> {g['before']}: {g['missing_bars']} bars missing")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run `omega data inspect`; 0 on success, 2 on a user error (coded message and hint)."""
    from omega.data import load, load_report

    source: Any = {"bid": args.file, "ask": args.ask} if args.ask else args.file
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            table = load(
                source,
                format=args.format,
                sep=args.sep,
                date_format=args.date_format,
                tz=args.tz,
                time_unit=args.time_unit,
                spread=_spread(args.spread),
                side=args.side,
                how=args.how,
            )
        report = load_report(table)
        desc = describe(table)
    except OmegaError as e:
        if args.verbose:
            traceback.print_exc()
        print(f"omega: {e}", file=sys.stderr)
        print(f"hint: see `omega data inspect --help` and {e.docs}", file=sys.stderr)
        return 2
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    if args.json:
        desc["load_report"] = json.loads(report.to_json()) if report is not None else None
        print(json.dumps(desc, indent=1))
    else:
        print(_text(desc, str(report)))
    return 0
