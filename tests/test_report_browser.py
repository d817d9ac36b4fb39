"""The HTML report in a real headless Chromium (Debian's `chromium`, driven by Playwright over CDP).

Checks that each chart drew a non-blank canvas of the size of its box, that no console error or
page error occurred, that zooming in on a million bars brings the trade marks into view and keeps
the three charts in step. Run as a script to refresh the screenshot in docs/:
``python tests/test_report_browser.py docs/report-screenshot.png``.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import omega
import pytest
from conftest import ZSCORE, missing
from omega.htmlreport import CHART_IDS, MARKER_LIMIT

VIEWPORT = {"width": 1400, "height": 1900}
DEMO_CONFIG: dict[str, Any] = {
    "symbol": "EURUSD",
    "timeframe": "M1",
    "enabled_scenarios": [1, 2],
    "params": {"z_score_long": -2.0, "z_score_short": 2.0, "window_length": 60, "htf_tf": "NONE"},
    "engine": {"risk_per_trade": 100.0, "costs": {"commission_per_lot": 3.0, "slippage_fixed_pips": 0.2}},
}

# Per chart: size of the biggest canvas (the plot pane) against its box, opaque pixels and colours.
_CANVAS_PROBE = """(ids) => ids.map((id) => {
  const box = document.getElementById(id);
  const canvases = Array.from(box.querySelectorAll("canvas"));
  let best = null;
  for (const c of canvases) { if (!best || c.width * c.height > best.width * best.height) best = c; }
  if (!best) return {id: id, canvases: 0};
  const data = best.getContext("2d").getImageData(0, 0, best.width, best.height).data;
  let opaque = 0;
  const colours = new Set();
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] === 0) continue;
    opaque++;
    if (colours.size < 64) colours.add(data[i] + "," + data[i + 1] + "," + data[i + 2]);
  }
  const css = best.getBoundingClientRect();
  return {id: id, canvases: canvases.length, width: css.width, height: css.height,
          boxWidth: box.clientWidth, boxHeight: box.clientHeight,
          opaque: opaque / (best.width * best.height), colours: colours.size};
})"""


def chromium_path() -> str | None:
    """The Chromium binary: ``OMEGA_CHROMIUM``, else the first of chromium / chromium-browser / google-chrome."""
    explicit = os.environ.get("OMEGA_CHROMIUM")
    if explicit:
        return explicit
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Page:
    """A report opened in headless Chromium, with every console error and page error recorded."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def open(self, path: Path) -> None:
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_function("() => window.omegaReport !== undefined", timeout=30_000)
        self.page.wait_for_timeout(300)  # charts paint on the next animation frames

    def canvases(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.page.evaluate(_CANVAS_PROBE, list(CHART_IDS))
        return result

    def ranges(self) -> list[Any]:
        return list(
            self.page.evaluate("() => window.omegaReport.charts.map(c => c.timeScale().getVisibleLogicalRange())")
        )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    exe = chromium_path()
    if exe is None:
        missing("Chromium was not found (Debian: `apt-get install chromium`, or set OMEGA_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        missing(f"playwright is not installed ({e})")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def open_page(browser: Any, path: Path) -> Page:
    page = Page(browser.new_page(viewport=VIEWPORT))
    page.open(path)
    return page


def _assert_charts_rendered(page: Page) -> None:
    probes = page.canvases()
    assert [p["id"] for p in probes] == list(CHART_IDS)
    for p in probes:
        assert p["canvases"] >= 2, p  # plot pane and axes
        # the plot pane fills its box apart from the price axis and the time axis
        assert 0.8 * p["boxWidth"] <= p["width"] <= p["boxWidth"], p
        assert 0.7 * p["boxHeight"] <= p["height"] <= p["boxHeight"], p
        assert p["boxWidth"] >= 1000, p
        assert p["opaque"] > 0.5, p  # painted background, not a blank canvas
        assert p["colours"] >= 8, p  # grid, series and fills drawn on it


def test_report_renders_in_chromium(browser: Any, zscore_plugin: str, tmp_path: Path) -> None:
    candles = omega.data.generate_market(30_000, seed=7)
    result = omega.run_backtest(ZSCORE, DEMO_CONFIG, candles, backend="rust")
    path = result.report(tmp_path / "report.html")
    page = open_page(browser, path)
    _assert_charts_rendered(page)
    assert page.errors == []
    page.page.screenshot(path=str(tmp_path / "report.png"))
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert "trade marks in view" in page.page.inner_text("#marker-note")
    page.page.close()


def test_million_bars_zoom_shows_trades_and_keeps_charts_in_step(
    browser: Any, zscore_plugin: str, tmp_path: Path
) -> None:
    candles = omega.data.generate_market(1_000_000, seed=11)
    # Margin off: this run loses the account early, and with margin checked (the default) it stops
    # trading after ~1,650 trades; the zoom test needs trades spread over all the bars.
    config = {**DEMO_CONFIG, "engine": {**DEMO_CONFIG["engine"], "margin": False}}
    result = omega.run_backtest(ZSCORE, config, candles, backend="rust")
    assert result.trades.num_rows > MARKER_LIMIT
    page = open_page(browser, result.report(tmp_path / "big.html"))
    _assert_charts_rendered(page)
    note = page.page.inner_text("#marker-note")
    assert "zoom in" in note  # all trades in view: too many to draw
    box = page.page.locator("#chart-price").bounding_box()
    assert box is not None
    page.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(30):  # scroll-wheel zoom, as a user would, until the marks are drawn
        for _ in range(5):
            page.page.mouse.wheel(0, -600)
        page.page.wait_for_timeout(50)
        note = page.page.inner_text("#marker-note")
        if "zoom in" not in note:
            break
    shown = int(note.split()[0])
    assert 0 < shown <= MARKER_LIMIT, note
    ranges = page.ranges()
    assert ranges[0] == ranges[1] == ranges[2], ranges
    assert 10 < ranges[0]["to"] - ranges[0]["from"] < 5_000
    _assert_charts_rendered(page)
    assert page.errors == []
    page.page.close()


def _screenshot(out: Path) -> None:
    """Write the docs screenshot: the report of `omega demo` (MRZ on 20 000 synthetic M1 bars)."""
    from omega.demo import run_demo
    from playwright.sync_api import sync_playwright

    html = out.with_suffix(".html")
    if run_demo(20_000, ZSCORE, report=html, out=lambda _: None) != 0:
        raise SystemExit("the demo failed")
    exe = chromium_path()
    if exe is None:
        raise SystemExit("Chromium not found")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        page = open_page(b, html)
        page.page.screenshot(path=str(out))
        b.close()
    html.unlink()


if __name__ == "__main__":
    _screenshot(Path(sys.argv[1]))
