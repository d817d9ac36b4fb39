"""End-to-end benchmark: one `omega.run_backtest` call per measurement, Rust and Python backends.

Each measurement runs in a fresh subprocess. Memory: "run peak +MB" is the peak RSS reached during
the measured calls minus the RSS just before them (Linux `clear_refs` resets the peak after the
market is generated), i.e. what the run itself needs on top of the interpreter and the input;
"process peak" is the whole process's ru_maxrss. Prints a Markdown table (docs/performance.md);
raw results go to JSON with --json.

    python tests/bench/bench_backtest.py [--bars 30000 1000000] [--strategy NAME] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from typing import Any

CHILD = r"""
import json, resource, sys, time
import omega
from omega import bridge
spec = json.loads(sys.argv[1])
candles = omega.data.generate_market(n_bars=spec["bars"], seed=11, regime=spec.get("regime", "mean_reverting"))
config = spec["config"]
def status_kb(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None

def reset_peak():
    # Linux: writing 5 to clear_refs resets VmHWM (the peak RSS) to the current RSS.
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False

scan = spec.get("scan", False)
# One untimed call first: plugin discovery and imports happen once per process, not per run.
if scan:
    omega.scan_signals(spec["strategy"], config, candles, backend=spec["backend"])
elif spec["backend"] == "rust":
    omega.run_backtest(spec["strategy"], config, candles, backend="rust")
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rss_before = status_kb("VmRSS")
peak_reset = reset_peak()
times = []
calls_before = None
try:
    from omega import _native
    calls_before = _native.native_call_count()
except ImportError:
    pass
for _ in range(spec["repeat"]):
    t0 = time.perf_counter()
    if scan:
        table = omega.scan_signals(spec["strategy"], config, candles, backend=spec["backend"])
    else:
        result = omega.run_backtest(spec["strategy"], config, candles, backend=spec["backend"])
    times.append((time.perf_counter() - t0) * 1000.0)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
run_peak_kb = status_kb("VmHWM") if peak_reset else None
crossings = None
if calls_before is not None and spec["backend"] == "rust":
    crossings = (_native.native_call_count() - calls_before) / spec["repeat"]
print(json.dumps({
    "times_ms": times,
    "engine_ms": float("nan") if scan else result.execution_time_ms,
    "trades": table.num_rows if scan else len(result.trades),
    "peak_rss_mb": peak / 1024.0,
    "rss_before_run_mb": base / 1024.0,
    "run_peak_increment_mb": None if run_peak_kb is None else (run_peak_kb - rss_before) / 1024.0,
    "native_calls_per_run": crossings,
}))
"""


def measure(
    strategy: str, config: dict[str, Any], bars: int, backend: str, repeat: int, scan: bool = False
) -> dict[str, Any]:
    """Run one measurement in a subprocess and return its JSON report."""
    spec = {"strategy": strategy, "config": config, "bars": bars, "backend": backend, "repeat": repeat, "scan": scan}
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec)], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"benchmark child failed ({backend}, {bars} bars):\n{out.stderr}")
    report: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return report


def main() -> None:
    """Parse arguments, run the matrix, print the table."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--strategy", default="mean_reversion_z_score")
    ap.add_argument("--bars", type=int, nargs="+", default=[30_000, 1_000_000])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--python-max-bars", type=int, default=30_000, help="largest market run on the Python backend")
    ap.add_argument("--params", default="{}", help="strategy params as JSON")
    ap.add_argument("--json", default=None, help="write raw results to this file")
    ap.add_argument("--scan", action="store_true", help="measure omega.scan_signals instead of run_backtest")
    ap.add_argument("--backends", nargs="+", default=["rust", "python"])
    args = ap.parse_args()
    config: dict[str, Any] = {"symbol": "EURUSD", "timeframe": "M1", "params": json.loads(args.params)}
    scenarios = config["params"].pop("enabled_scenarios", None)
    if scenarios is not None:
        config["enabled_scenarios"] = scenarios
    what = "scan" if args.scan else "backtest"
    rows = []
    print(
        "| run | strategy | bars | backend | median ms | min ms | engine ms | trades/rows | run peak +MB "
        "| process peak RSS MB | native calls/run |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for bars in args.bars:
        for backend in args.backends:
            if backend == "python" and bars > args.python_max_bars:
                continue
            repeat = args.repeat if backend == "rust" else 1
            r = measure(args.strategy, config, bars, backend, repeat, args.scan)
            rows.append({"bars": bars, "backend": backend, "run": what, **r})
            print(
                f"| {what} | {args.strategy} | {bars:,} | {backend} | {statistics.median(r['times_ms']):.1f} | "
                f"{min(r['times_ms']):.1f} | {r['engine_ms']:.1f} | {r['trades']} | {r['run_peak_increment_mb']:.0f} | "
                f"{r['peak_rss_mb']:.0f} | "
                f"{r['native_calls_per_run']} |",
                flush=True,
            )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()
