"""Sweep benchmark (issue 12, docs/performance.md "Sweeps"): everything measured side by side in
one run on the same generated M1 market.

1. The limit: `omega-limit` (tests/bench/limit), the template's example rule as a hand-written
   fused Rust loop: one run, and the hand-written 100-config sweep sharing indicator work (1 and 2
   threads).
2. The same rule through Omega: the template's strategy wheel (`ema_atr_breakout`, rendered with
   the cookiecutter defaults and installed; `nox -s bench` does that) with one `omega.run_backtest`
   and one `omega.sweep` of the same 100 configs (Rust backend, 1 and 2 threads).
3. MRZ: one run vs 100 configs varying only thresholds (`z_score_long/short`, `atr_mult`).
4. Memory: peak RSS of the MRZ 100-config sweep in a fresh process, vs its RSS with the input
   loaded, and the store's byte budget.

Times: minimum and median of --repeat timed calls after one untimed warm-up call.

    python tests/bench/bench_sweep.py [--bars 1000000] [--small 30000] [--repeat 3] [--limit PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import omega
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = "ema_atr_breakout"
MRZ = "mean_reversion_z_score"
TEMPLATE_BASE: dict[str, Any] = {
    "symbol": "EURUSD",
    "timeframe": "M1",
    "params": {"ema_length": 20, "atr_length": 14, "band_atr": 1.0, "sl_atr": 1.5, "tp_atr": 3.0},
    "engine": {"sizing": "fixed", "fixed_lots": 1.0},
}
# the limit's grid100(): EMA 10-50 × ATR 14/21 × band 0.5-2.5 × TP 2/3 (last key fastest)
TEMPLATE_GRID: dict[str, list[Any]] = {
    "params.ema_length": [10, 20, 30, 40, 50],
    "params.atr_length": [14, 21],
    "params.band_atr": [0.5, 1.0, 1.5, 2.0, 2.5],
    "params.tp_atr": [2.0, 3.0],
}
MRZ_BASE: dict[str, Any] = {
    "symbol": "EURUSD",
    "timeframe": "M1",
    "enabled_scenarios": [1, 2],
    "params": {"window_length": 60, "htf_tf": "NONE", "z_score_long": -2.0, "z_score_short": 2.0},
}
MRZ_GRID: dict[str, list[Any]] = {
    "params.z_score_long": [-1.5, -2.0, -2.5, -3.0, -3.5],
    "params.z_score_short": [1.5, 2.0, 2.5, 3.0, 3.5],
    "params.atr_mult": [1.0, 1.5, 2.0, 2.5],
}

RSS_CHILD = r"""
import json, resource, sys
import pyarrow as pa
import omega
spec = json.loads(sys.argv[1])
with pa.OSFile(spec["market"], "rb") as fh:
    candles = pa.ipc.open_file(fh).read_all()
def rss_kb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
# import the strategy (discovery) before measuring the base
omega.list_strategies()
base = rss_kb()
res = omega.sweep(spec["strategy"], spec["base"], spec["grid"], candles, progress=False, n_jobs=spec["jobs"])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"base_kb": base, "peak_kb": peak, "input_bytes": candles.nbytes, "rows": res.table.num_rows,
                  "stats": res.stats}))
"""


def timed(repeat: int, fn: Callable[[], Any]) -> tuple[float, float]:
    """(min, median) wall milliseconds of `repeat` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000.0)
    return min(times), statistics.median(times)


def write_columns(table: pa.Table, directory: Path) -> None:
    """One raw little-endian f64 file per price column (what `omega-limit` reads)."""
    for name in ("bid_open", "bid_high", "bid_low", "bid_close", "ask_open", "ask_high", "ask_low", "ask_close"):
        np.asarray(table.column(name).to_numpy(), dtype="<f8").tofile(directory / f"{name}.f64")


def run_limit(binary: Path, table: pa.Table, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        write_columns(table, Path(d))
        out = subprocess.run([str(binary), d, str(repeat)], capture_output=True, text=True, check=True)
    report: dict[str, Any] = json.loads(out.stdout)
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=30_000)
    ap.add_argument("--repeat", type=int, default=3)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    ap.add_argument("--limit", type=Path, default=target / "release" / "omega-limit")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if not args.limit.exists():
        sys.exit(f"{args.limit} not found: cargo build --release -p omega-bench-limit")
    names = {s["name"] for s in omega.list_strategies()}
    if TEMPLATE not in names:
        sys.exit(f"strategy '{TEMPLATE}' is not installed: render templates/strategy with the defaults and install it")

    big = omega.data.generate_market(args.bars, seed=11)
    small = omega.data.generate_market(args.small, seed=11)
    r: dict[str, Any] = {"bars": args.bars, "small": args.small, "cores": os.cpu_count()}

    # 1 + 2: the template rule, limit vs Omega, side by side
    r["limit"] = run_limit(args.limit, big, args.repeat)
    r["limit_small"] = run_limit(args.limit, small, args.repeat)
    r["omega_single_ms"] = timed(args.repeat, lambda: omega.run_backtest(TEMPLATE, TEMPLATE_BASE, big))
    r["omega_single_small_ms"] = timed(args.repeat, lambda: omega.run_backtest(TEMPLATE, TEMPLATE_BASE, small))
    for jobs in (1, 2):
        r[f"omega_sweep{jobs}_ms"] = timed(
            args.repeat,
            lambda j=jobs: omega.sweep(TEMPLATE, TEMPLATE_BASE, TEMPLATE_GRID, big, n_jobs=j, progress=False),
        )
    # the same 100 configs give the limit's net profits
    check = omega.sweep(TEMPLATE, TEMPLATE_BASE, TEMPLATE_GRID, big, progress=False)
    omega_net = check.table.column("net_profit").to_pylist()
    worst = max(abs(a - b) / max(abs(b), 1.0) for a, b in zip(omega_net, r["limit"]["sweep_net"], strict=True))
    r["net_profit_max_rel_diff"] = worst

    # 3: MRZ, thresholds only
    r["mrz_single_ms"] = timed(args.repeat, lambda: omega.run_backtest(MRZ, MRZ_BASE, big))
    r["mrz_sweep_ms"] = timed(args.repeat, lambda: omega.sweep(MRZ, MRZ_BASE, MRZ_GRID, big, progress=False))

    # 4: memory of the MRZ sweep in a fresh process
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "market.arrow"
        with pa.OSFile(str(path), "wb") as fh, pa.ipc.new_file(fh, big.schema) as w:
            w.write_table(big)
        spec = {"market": str(path), "strategy": MRZ, "base": MRZ_BASE, "grid": MRZ_GRID, "jobs": 2}
        cmd = [sys.executable, "-c", RSS_CHILD, json.dumps(spec)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        r["mrz_rss"] = json.loads(out.stdout)
    r["budget_bytes"] = omega.bridge._get_rust_module().default_cache_bytes()  # type: ignore[union-attr]

    lim, lim_s = r["limit"], r["limit_small"]
    one, small_one = r["omega_single_ms"][0], r["omega_single_small_ms"][0]
    mb = 1024 * 1024
    rows = [
        ("limit single (fused loop), 1M", lim["single_ms"][0], None),
        ("omega.run_backtest single, 1M", one, one / lim["single_ms"][0]),
        ("limit single, 30k", lim_s["single_ms"][0], None),
        ("omega.run_backtest single, 30k", small_one, small_one / lim_s["single_ms"][0]),
        ("limit sweep 100 configs, 1 thread", lim["sweep1_ms"][0], None),
        ("limit sweep 100 configs, 2 threads", lim["sweep2_ms"][0], None),
        ("omega.sweep 100 configs, 1 thread", r["omega_sweep1_ms"][0], r["omega_sweep1_ms"][0] / lim["sweep1_ms"][0]),
        ("omega.sweep 100 configs, 2 threads", r["omega_sweep2_ms"][0], r["omega_sweep2_ms"][0] / lim["sweep2_ms"][0]),
        ("MRZ single run, 1M", r["mrz_single_ms"][0], None),
        ("MRZ 100 threshold configs, 2 threads", r["mrz_sweep_ms"][0], r["mrz_sweep_ms"][0] / r["mrz_single_ms"][0]),
    ]
    print(f"\n{args.bars:,} / {args.small:,} M1 bars, {os.cpu_count()} cores, min of {args.repeat} (median in JSON)\n")
    print("| measurement | ms | ratio |")
    print("|---|---|---|")
    for name, ms, ratio in rows:
        print(f"| {name} | {ms:.1f} | {'' if ratio is None else f'{ratio:.2f}×'} |")
    s1, s2 = r["omega_sweep1_ms"][0], r["omega_sweep2_ms"][0]
    lim_scale = lim["sweep1_ms"][0] / lim["sweep2_ms"][0]
    print(f"\nscaling omega.sweep 2 threads vs 1: {s1 / s2:.2f}× throughput (limit: {lim_scale:.2f}×)")
    rss = r["mrz_rss"]
    print(
        f"MRZ sweep memory: input {rss['input_bytes'] / mb:.0f} MB,"
        f" process RSS with input {rss['base_kb'] / 1024:.0f} MB,"
        f" peak {rss['peak_kb'] / 1024:.0f} MB (+{(rss['peak_kb'] - rss['base_kb']) / 1024:.0f} MB),"
        f" store peak {rss['stats']['peak_bytes'] / mb:.0f} MB of a {r['budget_bytes'] / mb:.0f} MB budget"
    )
    print(f"omega.sweep net profits vs the limit's: max relative difference {worst:.2e}")
    if args.json:
        args.json.write_text(json.dumps(r, indent=1))


if __name__ == "__main__":
    main()
