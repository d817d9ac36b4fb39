"""The seed's bridge (`omega.bridge`) and backend selection: the ``OMEGA_USE_RUST_STRATEGY`` flag in
every form, the native module missing, exactly one native crossing per Rust backtest, the GIL
released during a run, and the demo/CLI that drives both backends."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from types import ModuleType
from typing import Any

import omega
import pyarrow as pa
import pytest
from omega import bridge, errors, results

FLAG = "OMEGA_USE_RUST_STRATEGY"


def _native_available() -> bool:
    return bridge._get_rust_module() is not None


@pytest.mark.parametrize("value", [None, "", "auto", "AUTO", " Auto "])
def test_flag_auto(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv(FLAG, raising=False)
    else:
        monkeypatch.setenv(FLAG, value)
    assert bridge.flag_value() == "auto"
    assert bridge.should_use_rust_strategy() is _native_available()
    assert bridge.get_active_backend() == ("rust" if _native_available() else "python")


@pytest.mark.parametrize("value", ["true", "1", "TRUE", " True "])
def test_flag_force_rust(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(FLAG, value)
    assert bridge.flag_value() == "true"
    assert bridge.should_use_rust_strategy() is True
    assert bridge.get_active_backend() == "rust"


@pytest.mark.parametrize("value", ["false", "0", "FALSE", " False"])
def test_flag_force_python(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(FLAG, value)
    assert bridge.flag_value() == "false"
    assert bridge.should_use_rust_strategy() is False
    assert bridge.get_active_backend() == "python"


@pytest.mark.parametrize("value", ["yes", "no", "2", "rust", "python", "on", "-1"])
def test_flag_invalid_is_e4002(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(FLAG, value)
    for call in (bridge.should_use_rust_strategy, bridge.get_active_backend, bridge.flag_value):
        with pytest.raises(errors.InvalidConfigError) as info:
            call()
        assert info.value.code == "E4002"
        assert FLAG in str(info.value)
        assert info.value.context == {"key": FLAG, "value": value}


def test_without_native_module(monkeypatch: pytest.MonkeyPatch, market: pa.Table) -> None:
    """With no native module: auto means Python, forcing Rust is E4001, nothing is available."""
    monkeypatch.setattr(bridge, "_get_rust_module", lambda: None)
    monkeypatch.delenv(FLAG, raising=False)
    assert bridge.should_use_rust_strategy() is False
    assert bridge.get_active_backend() == "python"
    assert bridge.is_rust_strategy_available("omega_test_sma_cross") is False
    with pytest.raises(errors.StrategyNotFoundError, match="not available") as info:
        bridge.run_rust_backtest("omega_test_sma_cross", {"symbol": "EURUSD", "timeframe": "M1"}, market)
    assert info.value.code == "E4001"
    monkeypatch.setenv(FLAG, "true")
    assert bridge.should_use_rust_strategy() is True  # the flag says so; running then fails


def test_is_rust_strategy_available(native: ModuleType, sma_plugin: str) -> None:
    assert bridge.is_rust_strategy_available(sma_plugin) is True
    assert bridge.is_rust_strategy_available("no_such_strategy") is False
    assert sma_plugin in native.STRATEGY_REGISTRY


def test_run_rust_backtest_seed_signature(sma_plugin: str, market: pa.Table, sma_config: dict[str, Any]) -> None:
    result = bridge.run_rust_backtest(sma_plugin, sma_config, market)
    assert result.backend == "rust"
    assert result.bars_processed == market.num_rows
    assert len(result.trades) > 0
    # a BacktestConfig and JSON text give the same run
    again = bridge.run_rust_backtest(sma_plugin, omega.BacktestConfig.model_validate(sma_config).to_json(), market)
    assert again.trades_table().equals(result.trades_table())
    native_cfg = bridge._get_rust_module().StrategyConfig("EURUSD", "M1", params={"fast": 5, "slow": 20})  # type: ignore[union-attr]
    assert omega.run_backtest(sma_plugin, native_cfg, market, backend="rust").trades.equals(
        results.with_time_columns(result.trades_table())
    )


def test_run_rust_backtest_validates_params(sma_plugin: str, market: pa.Table) -> None:
    cfg = {"symbol": "EURUSD", "timeframe": "M1", "params": {"fast": 5, "slow": 20, "sloww": 3}}
    with pytest.raises(errors.InvalidConfigError, match=r"params\.sloww"):
        bridge.run_rust_backtest(sma_plugin, cfg, market)


def test_run_rust_backtest_unknown_strategy(native: ModuleType, market: pa.Table) -> None:
    with pytest.raises(errors.StrategyNotFoundError):
        bridge.run_rust_backtest("no_such_strategy", {"symbol": "EURUSD", "timeframe": "M1"}, market)


def _backend_of(monkeypatch: pytest.MonkeyPatch, flag: str | None, backend: str | None, *args: Any) -> str:
    if flag is None:
        monkeypatch.delenv(FLAG, raising=False)
    else:
        monkeypatch.setenv(FLAG, flag)
    result = omega.run_backtest(*args, backend=backend)
    return str(result.backend)


@pytest.mark.parametrize(
    ("flag", "backend", "expected"),
    [
        (None, None, "rust"),
        ("auto", None, "rust"),
        ("true", None, "rust"),
        ("1", None, "rust"),
        ("false", None, "python"),
        ("0", None, "python"),
        ("false", "rust", "rust"),
        ("true", "python", "python"),
        ("garbage", "python", "python"),  # an explicit backend does not read the flag
    ],
)
def test_run_backtest_backend_selection(
    monkeypatch: pytest.MonkeyPatch,
    sma_plugin: str,
    market: pa.Table,
    sma_config: dict[str, Any],
    flag: str | None,
    backend: str | None,
    expected: str,
) -> None:
    assert _backend_of(monkeypatch, flag, backend, sma_plugin, sma_config, market) == expected


def test_run_backtest_bad_backend_and_flag(
    monkeypatch: pytest.MonkeyPatch, sma_plugin: str, market: pa.Table, sma_config: dict[str, Any]
) -> None:
    with pytest.raises(errors.InvalidConfigError, match="backend"):
        omega.run_backtest(sma_plugin, sma_config, market, backend="gpu")
    monkeypatch.setenv(FLAG, "maybe")
    with pytest.raises(errors.InvalidConfigError, match=FLAG):
        omega.run_backtest(sma_plugin, sma_config, market)


def test_forced_rust_without_native_is_e4001(
    monkeypatch: pytest.MonkeyPatch, sma_plugin: str, market: pa.Table, sma_config: dict[str, Any]
) -> None:
    monkeypatch.setattr(bridge, "_get_rust_module", lambda: None)
    monkeypatch.setenv(FLAG, "true")
    with pytest.raises(errors.StrategyNotFoundError) as info:
        omega.run_backtest(sma_plugin, sma_config, market)
    assert info.value.context["backend"] == "rust"
    monkeypatch.setenv(FLAG, "auto")  # auto falls back to the reference backend
    assert omega.run_backtest(sma_plugin, sma_config, market).backend == "python"


def test_two_crossings_per_rust_backtest(
    native: ModuleType, sma_plugin: str, market: pa.Table, sma_config: dict[str, Any]
) -> None:
    """One Rust backtest is exactly one entry into the native run (plus its return); the Python
    backend does not enter it at all."""
    before = native.native_call_count()
    omega.run_backtest(sma_plugin, sma_config, market, backend="rust")
    assert native.native_call_count() == before + 1
    bridge.run_rust_backtest(sma_plugin, sma_config, market)
    assert native.native_call_count() == before + 2
    omega.run_backtest(sma_plugin, sma_config, market, backend="python")
    assert native.native_call_count() == before + 2


def _python_calls_during(fn: Any) -> int:
    """Number of Python-level function calls (and C calls made from Python) while `fn` runs."""
    import sys

    calls = 0

    def profiler(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    sys.setprofile(profiler)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return calls


@pytest.mark.parametrize("strategy", ["omega_test_sma_cross", "mean_reversion_z_score"])
def test_python_calls_do_not_grow_with_bars(native: ModuleType, sma_plugin: str, strategy: str) -> None:
    """The architecture's two-crossing claim, measured: the Python-level calls made during a Rust
    backtest (conversion, dispatch, result wrapping) are the same for 2,000 and 40,000 bars, so no
    Python runs per bar. Both markets are prepared before counting."""
    if strategy not in {s["name"] for s in omega.list_strategies()}:
        pytest.fail(f"{strategy} is not installed")
    small = omega.data.generate_market(2_000, seed=3)
    large = omega.data.generate_market(40_000, seed=3)
    cfg = {"symbol": "EURUSD", "timeframe": "M1"}
    # warm up imports and plugin discovery so both counts see the same code paths
    omega.run_backtest(strategy, cfg, small, backend="rust")
    n_small = _python_calls_during(lambda: omega.run_backtest(strategy, cfg, small, backend="rust"))
    n_large = _python_calls_during(lambda: omega.run_backtest(strategy, cfg, large, backend="rust"))
    assert n_small == n_large, (n_small, n_large)
    # a fixed amount of Python around the one native call (config validation, warnings, result
    # wrapping); one Python call per bar would add at least 38,000 to the larger run
    assert n_small < 2_000


def test_gil_released_during_a_run(native: ModuleType, sma_plugin: str) -> None:
    """A Python thread keeps running while the native backtest runs in another thread."""
    candles = omega.data.generate_market(600_000, seed=5)
    cfg = native.StrategyConfig("EURUSD", "M1", params={"fast": 5, "slow": 20})
    ticks = 0
    stop = threading.Event()

    def spin() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    worker = threading.Thread(target=spin)
    worker.start()
    try:
        time.sleep(0.05)
        start_ticks = ticks
        t0 = time.perf_counter()
        result = native.run_backtest_rust(sma_plugin, cfg, candles)
        elapsed = time.perf_counter() - t0
        during = ticks - start_ticks
    finally:
        stop.set()
        worker.join()
    assert result.bars_processed == 600_000
    # Holding the GIL, the spinning thread could only run at the call's edges: a few hundred
    # ticks at most. Released, it runs for the whole call (millions of ticks per second).
    assert during > 20_000, f"only {during} ticks in {elapsed * 1000:.1f} ms"


def test_demo_runs_both_backends(sma_plugin: str, capsys: pytest.CaptureFixture[str]) -> None:
    from omega.cli import main

    args = ["demo", "--bars", "4000", "--strategy", sma_plugin, "--params", '{"fast": 5, "slow": 20}', "--no-report"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "\n  rust " in out
    assert "\n  python " in out
    assert "backends agree" in out
    assert "net " in out


def test_cli_lists_and_fails_cleanly(sma_plugin: str, capsys: pytest.CaptureFixture[str]) -> None:
    from omega.cli import main

    assert main(["strategies"]) == 0
    assert sma_plugin in capsys.readouterr().out
    assert main(["errors"]) == 0
    assert "E4009" in capsys.readouterr().out
    assert main(["demo", "--bars", "100", "--strategy", "no_such_strategy"]) == 1
    assert main(["demo", "--bars", "500", "--strategy", sma_plugin, "--params", '{"bogus": 1}']) == 2
    assert "E4002" in capsys.readouterr().err


def test_omega_imports_and_runs_without_the_native_module() -> None:
    """With `omega._native` unimportable, `omega` still imports and the reference backend runs."""
    code = textwrap.dedent(
        """
        import importlib.util, sys
        sys.modules["omega._native"] = None  # as if the extension were not installed
        import omega
        assert omega.bridge._get_rust_module() is None
        assert omega.bridge.get_active_backend() == "python"
        assert omega.__version__
        candles = omega.data.generate_market(800, seed=4)
        if importlib.util.find_spec("omega_test_plugin") is not None:
            entry = next(s for s in omega.list_strategies() if s["name"] == "omega_test_sma_cross")
            assert entry["backends"] == ["python"], entry
            cfg = {"symbol": "EURUSD", "timeframe": "M1", "params": {"fast": 5, "slow": 20}}
            assert omega.run_backtest("omega_test_sma_cross", cfg, candles).backend == "python"
        print("ok")
        """
    )
    env = {k: v for k, v in os.environ.items() if k != FLAG}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
