"""Rewrite the parity golden files (``tests/parity/golden/``) from the pure-Python reference backend.

When to run it: only after an *intended* change of results, in the same commit as that change —
a change of the engine semantics (docs/engine.md), of a strategy's logic or parameter meaning, of
`omega.data.generate_market`, or of the case matrix in ``tests/parity/harness.py``; and when a new
strategy plugin is installed (its default cases need golden files). Never to make a failing parity
test pass without knowing why it failed: when one backend disagrees with its golden file and the
other does not, that backend has a bug. Review ``git diff --stat tests/parity/golden`` and the
changed trades before committing.

Usage (from the repository root, with the wheels installed)::

    python tests/parity/regenerate_goldens.py                    # every strategy with both backends
    python tests/parity/regenerate_goldens.py --strategy NAME    # only NAME (repeatable)
    python tests/parity/regenerate_goldens.py --report           # write nothing: run both backends,
                                                                 # compare them and the goldens, print figures

Writing also deletes golden files that no longer belong to a case (of the selected strategies;
without ``--strategy``, of every strategy).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from parity.harness import (  # after the sys.path line: tests/ must be importable
    GOLDEN_DIR,
    REL_TOL,
    Case,
    Report,
    all_cases,
    compare_golden,
    compare_runs,
    load_golden,
    missing_golden_message,
    parity_strategies,
    run_case,
    write_golden,
)


def _select(strategies: list[str] | None) -> list[Case]:
    available = parity_strategies()
    if not available:
        sys.exit("no strategy is discovered with both backends: build and install the wheels first")
    unknown = sorted(set(strategies or []) - set(available))
    if unknown:
        sys.exit(f"not discovered with both backends: {unknown} (available: {available})")
    return all_cases(strategies or available)


def write(cases: list[Case], prune_everything: bool) -> int:
    """Write every case's golden file from the reference backend; delete the orphans."""
    t0 = time.perf_counter()
    written = {write_golden(case, run_case(case, "python")) for case in cases}
    dirs = {GOLDEN_DIR / c.strategy for c in cases}
    candidates = set(GOLDEN_DIR.glob("*/*.json")) if prune_everything else {p for d in dirs for p in d.glob("*.json")}
    orphans = sorted(candidates - written)
    for path in orphans:
        path.unlink()
    for d in GOLDEN_DIR.glob("*"):
        if d.is_dir() and not any(d.iterdir()):
            d.rmdir()
    print(f"wrote {len(written)} golden files in {time.perf_counter() - t0:.1f} s, deleted {len(orphans)} orphans")
    for path in orphans:
        print(f"  deleted {path.relative_to(GOLDEN_DIR)}")
    return 0


def report(cases: list[Case]) -> int:
    """Run both backends on every case and print what the parity suite checks, with figures."""
    seconds = {"python": 0.0, "rust": 0.0}
    max_rel: dict[str, float] = {}
    trades = open_positions = floats = equity_points = 0
    per_strategy: Counter[str] = Counter()
    per_scenario: dict[str, Counter[int | None]] = {}
    exit_reasons: Counter[str] = Counter()
    rejected = 0
    failures: list[Report] = []
    empty: list[str] = []
    for case in cases:
        ref = run_case(case, "python")
        rust = run_case(case, "rust")
        seconds["python"] += ref.seconds
        seconds["rust"] += rust.seconds
        reports = [compare_runs(case, ref, rust)]
        golden = load_golden(case)
        if golden is None:
            missing = Report(f"{case.strategy}/{case.id}: golden")
            missing.problem(missing_golden_message(case))
            reports.append(missing)
        else:
            reports += [compare_golden(case, golden, ref), compare_golden(case, golden, rust)]
        for r in reports:
            floats += r.floats_compared
            for group, d in r.max_rel.items():
                max_rel[group] = max(max_rel.get(group, 0.0), d)
            if not r.ok():
                failures.append(r)
        trades += len(ref.trades)
        open_positions += len(ref.open_positions)
        equity_points += len(ref.equity)
        per_strategy[case.strategy] += 1
        per_scenario.setdefault(case.strategy, Counter()).update(t["scenario"] for t in ref.trades)
        exit_reasons.update(t["exit_reason"] for t in ref.trades + ref.open_positions)
        rejected += int(ref.metrics.get("signals_rejected", 0))
        if not ref.trades:
            empty.append(f"{case.strategy}/{case.id}")
    print(f"cases: {len(cases)} ({', '.join(f'{k}: {v}' for k, v in sorted(per_strategy.items()))})")
    print(f"trades compared: {trades} closed + {open_positions} open; equity points per backend: {equity_points}")
    for name, counts in sorted(per_scenario.items()):
        shown = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)))
        print(f"  {name} trades by scenario: {shown}")
    print(f"exit reasons: {dict(exit_reasons.most_common())}; signals rejected: {rejected}")
    print(f"floats compared (backends and goldens): {floats}")
    diffs = ", ".join(f"{g} {d:.3g}" for g, d in sorted(max_rel.items()))
    print(f"max relative difference (tolerance {REL_TOL:g}): {diffs}")
    identical = not any(r.inexact for r in failures) and all(d == 0.0 for d in max_rel.values())
    print(f"bit-identical everywhere: {identical}")
    print(f"backend time: python {seconds['python']:.1f} s, rust {seconds['rust']:.2f} s")
    print(f"cases without trades: {empty or 'none'}")
    for r in failures:
        print("\n".join(r.text(kind) for kind in ("problems", "inexact") if getattr(r, kind)))
    print("OK" if not failures else f"{len(failures)} comparisons FAILED")
    return 0 if not failures else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strategy", action="append", help="only this strategy (repeatable)")
    parser.add_argument("--report", action="store_true", help="compare only, write nothing, print figures")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="scenario 2 is enabled", category=UserWarning)
    cases = _select(args.strategy)
    if args.report:
        return report(cases)
    return write(cases, prune_everything=not args.strategy)


if __name__ == "__main__":
    sys.exit(main())
