"""`nox -s parity`: the Rust backend against the pure-Python reference, trade by trade (docs/parity.md).

For every strategy discovered with both backends and every case of its matrix (seeded generated
markets × configs, see `parity.harness`), three checks:

* ``backends`` — both backends run the case; same trade count; per trade every `TRADE_SCHEMA`
  field equal (floats: relative difference ≤ 1e-9, then bit-identical, as docs/engine.md promises);
  same open positions, equity curve (same length, every point) and metrics (same keys and values).
  Cases of the repository's strategies must trade (each expected scenario at least once).
* ``golden-python`` / ``golden-rust`` — each backend against the committed golden file written
  from the reference backend (`tests/parity/regenerate_goldens.py`), so drift of either backend,
  or of both together, is caught. A missing golden file fails and says how to write it.
"""

from __future__ import annotations

import functools
from collections import Counter
from types import ModuleType

import pytest
from parity.harness import (
    GOLDEN_DIR,
    MARKETS,
    MRZ,
    MRZ_VARIANTS,
    REGENERATE,
    SMA,
    Case,
    RunOutput,
    all_cases,
    cases_for,
    compare_golden,
    compare_runs,
    load_golden,
    missing_golden_message,
    parity_strategies,
    run_case,
)

pytestmark = [
    pytest.mark.parity,
    # MRZ warns that scenario 2 shadows 3, 5 and 6 when all six are enabled; the "all" cases do that on purpose.
    pytest.mark.filterwarnings("ignore:scenario 2 is enabled:UserWarning"),
]

CASES: list[Case] = all_cases()
CHECKS = ("backends", "golden-python", "golden-rust")
PARAMS = [(case, check) for case in CASES for check in CHECKS]
BIT_IDENTICAL = "docs/engine.md: both backends compute in the same order and produce bit-identical numbers"


@functools.lru_cache(maxsize=2)
def _run(case: Case, backend: str) -> RunOutput:
    """One run per (case, backend): the three checks of a case follow each other (see PARAMS)."""
    return run_case(case, backend)


@pytest.mark.parametrize(("case", "check"), PARAMS, ids=[f"{c.strategy}/{c.id}/{k}" for c, k in PARAMS])
def test_parity(case: Case, check: str, native: ModuleType) -> None:
    if check == "backends":
        ref = _run(case, "python")
        rust = _run(case, "rust")
        if case.expect_trades:
            assert ref.trades, f"{case.strategy}/{case.id}: no trade on the reference backend, the case proves nothing"
        per_scenario = Counter(t["scenario"] for t in ref.trades)
        silent = [n for n in case.expect_scenarios if per_scenario[n] == 0]
        assert not silent, f"{case.strategy}/{case.id}: scenarios {silent} never traded ({dict(per_scenario)})"
        report = compare_runs(case, ref, rust)
    else:
        golden = load_golden(case)
        if golden is None:
            pytest.fail(missing_golden_message(case), pytrace=False)
        report = compare_golden(case, golden, _run(case, check.removeprefix("golden-")))
    assert not report.problems, report.text("problems")
    assert not report.inexact, f"{report.text('inexact')}\n{BIT_IDENTICAL}"


def test_matrix_covers_the_installed_strategies(zscore_plugin: str, sma_plugin: str) -> None:
    """Discovery at collection found both strategies of the repository, and the matrix has what the issue asks."""
    discovered = parity_strategies()
    assert {zscore_plugin, sma_plugin} <= set(discovered)
    assert sorted({c.strategy for c in CASES}) == discovered

    assert len({m.seed for m in MARKETS}) >= 3
    assert {m.regime for m in MARKETS} == {"mean_reverting", "trending"}
    assert all(0.6 <= m.spread_pips <= 1.5 for m in MARKETS)
    assert any(m.gap_every for m in MARKETS)
    assert any(m.weekend_gaps for m in MARKETS)

    mrz = [c for c in CASES if c.strategy == MRZ]
    for market in MARKETS:
        here = [c.config for c in mrz if c.market == market]
        enabled = [c["enabled_scenarios"] for c in here]
        assert all([n] in enabled for n in range(1, 7)), f"{market.id}: a scenario alone is missing"
        assert [1, 2, 3, 4, 5, 6] in enabled, f"{market.id}: all scenarios together is missing"
    for n in range(1, 7):
        singles = {c.config_id.split("-", 1)[1] for c in mrz if c.config["enabled_scenarios"] == [n]}
        assert {"plain", "costs", "timeout", "sessions"} <= singles, f"scenario {n} alone: variants {singles}"
    assert {c.config_id for c in mrz if c.config_id.startswith("all-")} == {f"all-{v}" for v in MRZ_VARIANTS}

    engines = [c.config["engine"] for c in mrz]
    assert any(e.get("costs", {}).get("commission_per_lot", 0) > 0 for e in engines)
    assert any(e.get("costs", {}).get("slippage_random_pips", 0) > 0 and "seed" in e for e in engines)
    assert any(e.get("sizing") == "risk" for e in engines)
    assert any(c.config["params"]["use_position_manager"] for c in mrz)
    assert len({c.config_id for c in CASES if c.strategy == SMA}) >= 3


def test_a_new_strategy_gets_default_cases() -> None:
    """A strategy without hand-made cases runs its defaults (empty params) on every market."""
    cases = cases_for("some_future_plugin")
    assert [c.market for c in cases] == list(MARKETS)
    for c in cases:
        assert c.config_id == "defaults"
        assert (c.config["symbol"], c.config["timeframe"], c.config["params"]) == (
            c.market.symbol,
            c.market.timeframe,
            {},
        )
        assert c.config["engine"] == {}
        assert c.golden_path == GOLDEN_DIR / "some_future_plugin" / f"{c.market.id}__defaults.json"


def test_every_golden_file_belongs_to_a_case(zscore_plugin: str, sma_plugin: str) -> None:
    """No stale golden file for a case or strategy that no longer exists."""
    expected = {c.golden_path for c in CASES}
    present = set(GOLDEN_DIR.glob("*/*.json"))
    orphans = sorted(str(p.relative_to(GOLDEN_DIR)) for p in present - expected)
    assert not orphans, f"golden files without a case (rewrite the goldens with `{REGENERATE}`): {orphans}"


def test_account_cases_exercise_swaps_margin_and_stop_outs(zscore_plugin: str, sma_plugin: str) -> None:
    """The ``account`` cases (docs/engine.md "Swaps", "Margin and stop-out") reach every new path:
    swaps in points and in percent, signals rejected for margin and stop-outs, in the committed goldens."""
    account = [c for c in CASES if c.config_id.endswith("account")]
    assert {c.strategy for c in account} == {MRZ, SMA}
    metrics = [g["metrics"] for c in account if (g := load_golden(c)) is not None]
    assert len(metrics) == len(account), "account goldens missing: " + REGENERATE
    charged = {
        c.config["engine"]["symbol_spec"]["swap_mode"] for c, m in zip(account, metrics, strict=True) if m["swap_total"]
    }
    assert charged == {"points", "percent"}
    assert sum(m["signals_rejected_margin"] for m in metrics) > 0
    assert sum(m["stop_outs"] for m in metrics) > 0
