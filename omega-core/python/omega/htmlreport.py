"""The HTML report of a backtest: one self-contained file that opens offline (docs/report.md).

Charts use TradingView Lightweight Charts (vendored in ``omega/_vendor``, Apache-2.0), inlined
into the page. Long runs are downsampled to at most `MAX_POINTS` bars by exact OHLC aggregation
(equity: last value; drawdown: deepest value per bucket), so a million bars stay responsive; the
page says how many bars one candle holds. Output is deterministic: same result → same bytes.
"""

from __future__ import annotations

import json
import math
from html import escape
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from omega.results import BacktestResult

MAX_POINTS = 20_000
"""Most candles / equity points drawn; longer runs are aggregated into buckets of whole bars."""
MAX_MARKERS = 50_000
"""Most trades marked on the price chart (the first ones by entry time)."""
MARKER_LIMIT = 600
"""Marks drawn only while at most this many are in view (zoom in to see them on long runs)."""
LABEL_LIMIT = 120
"""Marks carry their trade id only while at most this many are in view."""
MAX_TRADE_ROWS = 500
"""Most trades listed in the report's trade table."""
CHART_IDS: tuple[str, ...] = ("chart-price", "chart-equity", "chart-drawdown")
"""Element ids of the three charts (the browser test looks them up)."""

_VENDOR = "lightweight-charts.standalone.production.js"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _asset(*parts: str) -> str:
    return resources.files("omega").joinpath(*parts).read_text(encoding="utf-8")


def bucket_starts(n: int, max_points: int = MAX_POINTS) -> npt.NDArray[np.int64]:
    """First bar index of each bucket when `n` bars are drawn as at most `max_points` points."""
    size = max(1, math.ceil(n / max_points))
    return np.arange(0, n, size, dtype=np.int64)


def _round(values: npt.NDArray[np.float64], decimals: int) -> list[float | None]:
    out = np.round(values, decimals)
    return [None if not math.isfinite(v) else float(v) for v in out.tolist()]


def _price_decimals(prices: npt.NDArray[np.float64]) -> int:
    finite = prices[np.isfinite(prices)]
    top = float(np.abs(finite).max()) if len(finite) else 1.0
    return 3 if top >= 20 else 5


def _chart_data(result: BacktestResult, max_points: int) -> dict[str, Any]:
    """Bucketed series for the three charts plus the trade markers."""
    n = len(result.equity_curve)
    starts = bucket_starts(n, max_points)
    ends = np.append(starts[1:], n) - 1
    ts = result.timestamps_us if result.timestamps_us is not None else np.arange(n, dtype=np.int64) * 60_000_000
    times = (ts[starts] // 1_000_000).tolist()
    data: dict[str, Any] = {"t": times, "bars_per_point": int(starts[1] - starts[0]) if len(starts) > 1 else 1}
    data["equity"] = _round(result.equity_curve[ends], 2)
    data["drawdown"] = _round(np.minimum.reduceat(result.drawdown(), starts), 3) if n else []
    market = result.market
    if market is not None and n:
        bid = {c: market.column(f"bid_{c}").to_numpy() for c in ("open", "high", "low", "close")}
        ask = {c: market.column(f"ask_{c}").to_numpy() for c in ("open", "high", "low", "close")}
        mid = {c: (bid[c] + ask[c]) / 2.0 for c in bid}
        dec = _price_decimals(mid["close"])
        data["precision"] = dec
        data["o"] = _round(mid["open"][starts], dec)
        data["h"] = _round(np.maximum.reduceat(mid["high"], starts), dec)
        data["l"] = _round(np.minimum.reduceat(mid["low"], starts), dec)
        data["c"] = _round(mid["close"][ends], dec)
    data["markers"] = _markers(result, ts, starts)
    data["marker_limit"] = MARKER_LIMIT
    data["label_limit"] = LABEL_LIMIT
    return data


def _markers(result: BacktestResult, ts: npt.NDArray[np.int64], starts: npt.NDArray[np.int64]) -> list[Any]:
    """``[time_s, kind, text]`` per entry and exit: kind 0 long entry, 1 short entry, 2 win exit, 3 loss exit."""
    trades = result.trades
    if trades.num_rows == 0 or len(starts) == 0:
        return []
    cols = {c: trades.column(c).to_pylist() for c in ("id", "direction", "entry_index", "exit_index", "pnl")}
    order = sorted(range(trades.num_rows), key=lambda i: (cols["entry_index"][i], cols["id"][i]))[:MAX_MARKERS]
    bucket_time = (ts[starts] // 1_000_000).tolist()
    out = []
    for i in order:
        entry_b = int(np.searchsorted(starts, cols["entry_index"][i], side="right") - 1)
        exit_b = int(np.searchsorted(starts, cols["exit_index"][i], side="right") - 1)
        long_ = cols["direction"][i] == "long"
        out.append([bucket_time[entry_b], 0 if long_ else 1, f"#{cols['id'][i]}"])
        out.append([bucket_time[exit_b], 2 if (cols["pnl"][i] or 0.0) > 0 else 3, ""])
    out.sort(key=lambda m: (m[0], m[1]))
    return out


def monthly_returns(result: BacktestResult) -> dict[int, dict[int, float]]:
    """``{year: {month (1-12): return %}}`` from month-end equity (the first month from the initial balance)."""
    if result.timestamps_us is None or len(result.equity_curve) == 0:
        return {}
    months = result.timestamps_us.astype("datetime64[us]").astype("datetime64[M]").astype(np.int64)
    last = np.flatnonzero(np.append(months[1:] != months[:-1], True))
    out: dict[int, dict[int, float]] = {}
    prev = result.initial_balance
    for idx in last.tolist():
        eq = float(result.equity_curve[idx])
        year, month = divmod(int(months[idx]), 12)
        out.setdefault(1970 + year, {})[month + 1] = (eq / prev - 1.0) * 100.0 if prev else float("nan")
        prev = eq
    return out


def _monthly_html(result: BacktestResult) -> str:
    table = monthly_returns(result)
    if not table:
        return "<p>No timestamps: monthly returns unavailable.</p>"
    head = "".join(f"<th>{m}</th>" for m in _MONTHS)
    rows = []
    for year, months in sorted(table.items()):
        cells = []
        for m in range(1, 13):
            v = months.get(m)
            if v is None or not math.isfinite(v):
                cells.append("<td></td>")
                continue
            alpha = min(abs(v) / 5.0, 1.0) * 0.6 + 0.08
            color = f"rgba(38,166,154,{alpha:.2f})" if v >= 0 else f"rgba(239,83,80,{alpha:.2f})"
            cells.append(f'<td style="background:{color}">{v:+.2f}%</td>')
        total = 1.0
        for v in months.values():
            total *= 1.0 + v / 100.0
        rows.append(f"<tr><th>{year}</th>{''.join(cells)}<td><b>{(total - 1.0) * 100.0:+.2f}%</b></td></tr>")
    table_html = f'<table class="grid monthly"><tr><th></th>{head}<th>Year</th></tr>{"".join(rows)}</table>'
    return f'<div class="wide">{table_html}</div>'


def _trades_html(result: BacktestResult) -> str:
    t = result.trades
    if t.num_rows == 0:
        return "<p>No closed trades.</p>"
    shown = t.slice(0, MAX_TRADE_ROWS)
    cols = ["id", "direction", "entry_time", "entry_price", "exit_time", "exit_price", "exit_reason", "lots", "pnl"]
    data = {c: shown.column(c).to_pylist() for c in cols}
    rows = []
    for i in range(shown.num_rows):
        cells = []
        for c in cols:
            v = data[c][i]
            if c.endswith("_time"):
                v = v.strftime("%Y-%m-%d %H:%M")
            elif isinstance(v, float):
                v = f"{v:,.2f}" if c in ("pnl", "lots") else f"{v:.5f}"
            cells.append(f"<td>{escape(str(v))}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    note = f"<p>First {MAX_TRADE_ROWS} of {t.num_rows} trades.</p>" if t.num_rows > MAX_TRADE_ROWS else ""
    head = "".join(f"<th>{c}</th>" for c in cols)
    return f'{note}<div class="scroll"><table class="grid trades"><tr>{head}</tr>{"".join(rows)}</table></div>'


def _json_script(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def _span_text(result: BacktestResult) -> str:
    span = result.span()
    tf = result.timeframe
    if span is None:
        return f"{result.bars_processed:,} {tf} bars (no timestamps)"
    a, b = (x.strftime("%Y-%m-%d %H:%M") for x in span)
    return f"{result.bars_processed:,} {tf} bars, {a} → {b} UTC"


def render_report(
    result: BacktestResult, *, title: str | None = None, max_points: int = MAX_POINTS, inline: bool = False
) -> str:
    """The report as HTML text; ``inline=True`` wraps it in an ``<iframe srcdoc>`` for notebooks."""
    data = _chart_data(result, max_points)
    cfg = result.config
    name = title or f"{result.strategy} · {cfg.get('symbol', '')} {result.timeframe}"
    per = data["bars_per_point"]
    agg = f"one candle = {per} {result.timeframe} bars (downsampled)" if per > 1 else f"{result.timeframe} bars"
    has_prices = "o" in data
    price_note = agg if has_prices else "no price data stored with this result"
    engine = cfg.get("engine", {})
    sub = (
        f"{_span_text(result)} · backend {result.backend} · balance {result.initial_balance:,.2f} "
        f"{result.account_currency} · seed {engine.get('seed', '-')}"
    )
    markers = len(data["markers"]) // 2
    marked = f"{markers} trades marked" + (f" (first {MAX_MARKERS})" if result.trades.num_rows > MAX_MARKERS else "")
    body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{escape(name)}</title><style>{_asset("report_assets", "report.css")}</style></head>
<body>
<header><h1>{escape(name)}</h1><p>{escape(sub)}</p></header>
<main>
<section><h2>Price and trades</h2>
<p class="note">Mid price, {escape(price_note)}; {escape(marked)}: ▲ long entry, ▼ short entry,
● exit (blue win, orange loss); <span id="marker-note"></span>. Scroll to zoom, drag to pan; the three
charts move together.</p>
<div id="{CHART_IDS[0]}" class="chart" style="height:380px"></div></section>
<section><h2>Equity ({escape(result.account_currency)})</h2>
<div id="{CHART_IDS[1]}" class="chart" style="height:220px"></div></section>
<section><h2>Drawdown (% of high-water mark)</h2>
<div id="{CHART_IDS[2]}" class="chart" style="height:160px"></div></section>
<div class="cols">
<section><h2>Statistics</h2>{result.summary()._repr_html_()}</section>
<section><h2>Monthly returns</h2>{_monthly_html(result)}
<h2 style="margin-top:16px">Run</h2><pre>{escape(json.dumps(_run_info(result), indent=1))}</pre>
<h2 style="margin-top:16px">Config</h2><pre>{escape(json.dumps(cfg, indent=1, sort_keys=True))}</pre></section>
</div>
<section><h2>Trades</h2>{_trades_html(result)}</section>
</main>
<footer>Omega backtest report. Charts: TradingView Lightweight Charts™, Copyright (c) TradingView, Inc.,
Apache License 2.0, https://www.tradingview.com/</footer>
<script type="application/json" id="omega-data">{_json_script(data)}</script>
<script>{_asset("_vendor", "lightweight-charts", _VENDOR)}</script>
<script>{_asset("report_assets", "report.js")}</script>
</body></html>
"""
    if inline:
        return f'<iframe srcdoc="{escape(body, quote=True)}" style="width:100%;height:900px;border:0"></iframe>'
    return body


def _run_info(result: BacktestResult) -> dict[str, Any]:
    span = result.span()
    return {
        "strategy": result.strategy,
        "backend": result.backend,
        "bars": result.bars_processed,
        "start": span[0].isoformat() if span else None,
        "end": span[1].isoformat() if span else None,
        "trades": result.trades.num_rows,
        "open_positions": result.open_positions.num_rows,
    }


def write_report(result: BacktestResult, path: str | Path, *, title: str | None = None) -> Path:
    """Write `render_report` to `path` (parent directories created); returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(result, title=title), encoding="utf-8")
    return out


def report(source: BacktestResult | str | Path, path: str | Path | None = None, *, title: str | None = None) -> Path:
    """`omega.report`: write the HTML report of a result, or of a result directory (`read_result`).

    `path` defaults to ``report.html`` inside the directory, or in the current directory.
    """
    from omega.results import BacktestResult, read_result

    if isinstance(source, BacktestResult):
        return write_report(source, Path("report.html") if path is None else Path(path), title=title)
    result = read_result(source)
    return write_report(result, Path(source) / "report.html" if path is None else Path(path), title=title)
