"""Issue 8's performance criterion: a scan over N bars vs a backtest over the same bars.

Both calls run in ONE process on the same in-memory market, interleaved (backtest, scan, backtest,
scan, …) after one untimed call each, so that process-to-process noise (page faults, allocator
state) does not decide the comparison. Prints the medians and the ratio.

    python tests/bench/bench_scan_vs_backtest.py [--bars 1000000] [--rounds 15] [--strategy NAME]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import omega


def main() -> None:
    """Interleave scans and backtests and print their median wall times."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--strategy", default="mean_reversion_z_score")
    ap.add_argument("--backend", default="rust")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    market = omega.data.generate_market(args.bars, seed=11)
    cfg = {"symbol": "EURUSD", "timeframe": "M1"}

    def backtest() -> int:
        return len(omega.run_backtest(args.strategy, cfg, market, backend=args.backend).trades)

    def scan() -> int:
        return int(omega.scan_signals(args.strategy, cfg, market, backend=args.backend).num_rows)

    trades, rows = backtest(), scan()
    times: dict[str, list[float]] = {"backtest": [], "scan": []}
    for _ in range(args.rounds):
        for name, fn in (("backtest", backtest), ("scan", scan)):
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) * 1000.0)
    b, s = statistics.median(times["backtest"]), statistics.median(times["scan"])
    print(f"{args.strategy}, {args.bars:,} bars, {args.backend}, {args.rounds} interleaved rounds")
    print(f"backtest: median {b:.1f} ms, min {min(times['backtest']):.1f} ms ({trades} trades)")
    print(f"scan:     median {s:.1f} ms, min {min(times['scan']):.1f} ms ({rows} signal rows)")
    print(f"scan / backtest = {s / b:.3f}")


if __name__ == "__main__":
    main()
