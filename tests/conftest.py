"""Shared fixtures of the cross-package tests.

Tests that need the native core (`omega._native`) or the separately built test plugin
(`omega_test_plugin`, strategy `omega_test_sma_cross`) request the `native` / `sma_plugin`
fixtures. Locally a missing piece skips those tests with the reason; with
``OMEGA_REQUIRE_NATIVE=1`` (what `nox -s tests` and CI set) it is a failure instead.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any, NoReturn

import pyarrow as pa
import pytest

SMA = "omega_test_sma_cross"
ZSCORE = "mean_reversion_z_score"
BUILD_HINT = (
    "build and install the wheels (`nox -s tests`, or `maturin build` in omega-core/ and "
    "tests/test-plugin/ then `pip install` them)"
)


def require_native() -> bool:
    """True when missing native pieces must fail the run instead of skipping."""
    return os.environ.get("OMEGA_REQUIRE_NATIVE", "").strip().lower() in ("1", "true", "yes")


def missing(reason: str) -> NoReturn:
    """Skip (locally) or fail (OMEGA_REQUIRE_NATIVE=1) because a native piece is not installed."""
    if require_native():
        pytest.fail(f"{reason} but OMEGA_REQUIRE_NATIVE=1 requires it", pytrace=False)
    pytest.skip(f"{reason}; {BUILD_HINT}")


@pytest.fixture(scope="session")
def native() -> ModuleType:
    """The native module `omega._native` (skip/fail when it is not built)."""
    try:
        return importlib.import_module("omega._native")
    except ImportError as e:
        missing(f"omega._native is not importable ({e})")


@pytest.fixture(scope="session")
def sma_plugin(native: ModuleType) -> str:
    """Name of the test plugin's strategy, discovered with its Rust capsule (skip/fail if absent)."""
    try:
        importlib.import_module("omega_test_plugin")
    except ImportError as e:
        missing(f"the test plugin omega_test_plugin is not installed ({e})")
    import omega

    entry = next((s for s in omega.list_strategies() if s["name"] == SMA), None)
    if entry is None or "rust" not in entry["backends"]:
        missing(f"omega_test_plugin is installed but {SMA} was not discovered with a Rust backend ({entry})")
    return SMA


@pytest.fixture(scope="session")
def zscore_plugin(native: ModuleType) -> str:
    """Name of the MRZ strategy, discovered with its Rust capsule and Python reference (skip/fail if absent)."""
    try:
        importlib.import_module("omega_strategies_zscore")
    except ImportError as e:
        missing(f"omega-strategies-zscore is not installed ({e})")
    import omega

    entry = next((s for s in omega.list_strategies() if s["name"] == ZSCORE), None)
    if entry is None or set(entry["backends"]) != {"rust", "python"}:
        missing(f"omega-strategies-zscore is installed but {ZSCORE} was not discovered with both backends ({entry})")
    return ZSCORE


@pytest.fixture(scope="session")
def market() -> pa.Table:
    """A 6,000-bar generated M1 market (mean-reverting, seed 11)."""
    from omega.data import generate_market

    return generate_market(6_000, seed=11)


@pytest.fixture
def sma_config() -> dict[str, Any]:
    """A config of the SMA test strategy that trades often."""
    return {"symbol": "EURUSD", "timeframe": "M1", "params": {"fast": 5, "slow": 20}}
