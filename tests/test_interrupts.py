"""Ctrl-C during native work (issue 13 item 1, issue 12; docs/errors.md "Interrupts").

Each test sends SIGINT to this process's main thread from a timer thread while a long native call
runs on a big generated market, and checks that the call ends with a plain `KeyboardInterrupt`
(never `pyo3_runtime.PanicException`, never a finished result) and that the process stays usable:
the next call works. No timing is asserted: the market is sized so that an uninterrupted run takes
seconds, and the signal comes a fraction of a second after the call started.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import numpy as np
import omega
import pyarrow as pa
import pytest
from omega.data import generate_market

pytestmark = pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs POSIX signals")

SIGNAL_AFTER_S = 0.05
"""How long after the call entered native code (`native_call_count` moved) the signal comes: the
call is then inside its bar loop, and far from its end (an uninterrupted run takes much longer)."""

UNARMED_DELAY_S = 0.3
"""The delay for calls that do not count as native calls (indicator work), from the call's start."""

TILE_BARS = 100_000
COPIES = 40
"""The big market: `COPIES` back-to-back copies of a `TILE_BARS`-bar generated market (4M bars)."""


def tiled_market(copies: int = COPIES) -> pa.Table:
    """`copies` copies of one generated M1 market, each shifted to start where the last one ends."""
    tile = generate_market(TILE_BARS, seed=5)
    ts = np.asarray(tile.column("timestamp_us").to_numpy(), dtype=np.int64)
    span = int(ts[-1] - ts[0]) + 60_000_000
    parts = []
    for k in range(copies):
        shifted = pa.array(ts + k * span, pa.int64())
        parts.append(tile.set_column(0, tile.schema.field(0), shifted))
    return pa.concat_tables(parts).combine_chunks()


@pytest.fixture(scope="module")
def big() -> pa.Table:
    return tiled_market()


@pytest.fixture(autouse=True)
def default_sigint_handler() -> Iterator[None]:
    """Python's own SIGINT handler (raises KeyboardInterrupt), whatever the runner installed."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def interrupted(call: Callable[[], Any], entered: Callable[[], bool] | None = None) -> BaseException | None:
    """Run `call` with SIGINT sent to the main thread `SIGNAL_AFTER_S` after `entered()` turns true
    (or `UNARMED_DELAY_S` after the start without it); what `call` raised, or None when it returned
    first (a late signal is absorbed here, not left to hit the test runner). Waiting for the entry
    instead of a fixed delay keeps the test independent of how fast this machine runs the call."""
    main = threading.main_thread().ident
    assert main is not None
    assert threading.get_ident() == main, "signals reach the main thread only"
    finished = threading.Event()

    def fire() -> None:
        if entered is not None:
            give_up = time.monotonic() + 60
            while not entered() and not finished.is_set() and time.monotonic() < give_up:
                time.sleep(0.001)
        if not finished.wait(SIGNAL_AFTER_S if entered is not None else UNARMED_DELAY_S):
            signal.pthread_kill(main, signal.SIGINT)

    sender = threading.Thread(target=fire, daemon=True)
    raised: BaseException | None = None
    try:
        sender.start()
        try:
            call()
        except BaseException as e:  # a PanicException is a BaseException: report it too
            raised = e
        finished.set()
        sender.join()
    except KeyboardInterrupt as late:  # sent just as the call returned: its handler ran here
        raised = raised or late
    return raised


def entry_of(native: ModuleType) -> Callable[[], bool]:
    """True once the process has entered one more native call than now."""
    before = native.native_call_count()
    return lambda: bool(native.native_call_count() > before)


def assert_keyboard_interrupt(raised: BaseException | None) -> None:
    assert raised is not None, "the call finished before the interrupt: make the market bigger"
    assert type(raised) is KeyboardInterrupt, f"{type(raised).__module__}.{type(raised).__name__}: {raised}"


def sma(fast: int = 5, slow: int = 20) -> dict[str, Any]:
    return {"symbol": "EURUSD", "timeframe": "M1", "params": {"fast": fast, "slow": slow}}


def test_backtest_is_interrupted_and_the_next_run_works(
    native: ModuleType, sma_plugin: str, big: pa.Table, market: pa.Table
) -> None:
    entered = native.native_call_count()
    raised = interrupted(lambda: omega.run_backtest(sma_plugin, sma(), big, backend="rust"), entry_of(native))
    assert_keyboard_interrupt(raised)
    assert native.native_call_count() == entered + 1, "the interrupt must come from inside the native call"
    again = omega.run_backtest(sma_plugin, sma(), market, backend="rust")
    assert again.bars_processed == market.num_rows
    assert again.metrics == omega.run_backtest(sma_plugin, sma(), market, backend="rust").metrics


def test_scan_is_interrupted_and_the_next_scan_works(
    native: ModuleType, sma_plugin: str, big: pa.Table, market: pa.Table
) -> None:
    entered = native.native_call_count()
    assert_keyboard_interrupt(
        interrupted(lambda: omega.scan_signals(sma_plugin, sma(), big, backend="rust"), entry_of(native))
    )
    assert native.native_call_count() == entered + 1
    assert omega.scan_signals(sma_plugin, sma(), market, backend="rust").num_rows > 0


def test_sweep_is_cancelled_mid_config_and_the_next_sweep_works(
    native: ModuleType, sma_plugin: str, big: pa.Table, market: pa.Table
) -> None:
    # two configs on two workers: each alone runs for seconds, so stopping "before the next
    # config" would not be enough — they must stop mid-run
    grid = {"params.fast": [5, 6]}
    raised = interrupted(
        lambda: omega.sweep(sma_plugin, sma(), grid, big, n_jobs=2, progress=False, backend="rust"), entry_of(native)
    )
    assert_keyboard_interrupt(raised)
    res = omega.sweep(sma_plugin, sma(), grid, market, n_jobs=2, progress=False, backend="rust")
    single = omega.run_backtest(sma_plugin, sma(6), market, backend="rust")
    assert res.table.column("net_profit").to_pylist()[1] == single.metrics["net_profit"]


def test_native_sweep_on_the_main_thread_watches_ctrl_c_itself(
    native: ModuleType, sma_plugin: str, big: pa.Table, market: pa.Table
) -> None:
    configs = [omega.config.normalize_config(sma(f)).to_json() for f in (5, 6)]
    control = native.SweepControl()
    raised = interrupted(
        lambda: native.run_sweep_rust(sma_plugin, configs, big, threads=2, control=control), entry_of(native)
    )
    assert_keyboard_interrupt(raised)
    assert control.cancelled
    assert control.done == 0, "both configs were stopped mid-run"
    out = native.run_sweep_rust(sma_plugin, configs, market, threads=2)
    assert len(out["metrics"]) == 2


def test_indicator_work_is_interrupted_without_a_panic(native: ModuleType, big: pa.Table) -> None:
    cache = native.IndicatorCache(big)

    def compute_many() -> None:
        # distinct keys, so every call computes; 600 series of 4M bars take far longer than the delay
        for n in range(2, 602):
            native.indicator_series(big, ("ema", "bid", None, (float(n),))) if n % 2 else cache.series(
                ("zscore_ema", "ask", None, (float(n), float(n + 7)))
            )

    assert_keyboard_interrupt(interrupted(compute_many))
    assert len(native.indicator_series(big.slice(0, 1000), ("ema", "bid", None, (10.0,)))) == 1000
    assert cache.series(("ema", "bid", None, (10.0,))).shape == (big.num_rows,)


FRESH_PROCESS = textwrap.dedent(
    """
    import signal, sys, threading
    sys.path[:0] = {path!r}
    from test_interrupts import tiled_market, interrupted, entry_of
    import omega
    from omega import _native

    big = tiled_market({copies})
    small = big.slice(0, 5_000)
    config = {{"symbol": "EURUSD", "timeframe": "M1", "params": {{"fast": 5, "slow": 20}}}}
    native_config = _native.StrategyConfig.from_json(omega.config.normalize_config(config).to_json())
    omega.list_strategies()  # discovery first: it is not what is being interrupted
    # the first numpy-returning call of this process (the result's equity curve), interrupted
    raised = interrupted(lambda: _native.run_backtest_rust({name!r}, native_config, big), entry_of(_native))
    print("raised", type(raised).__module__, type(raised).__name__)
    result = _native.run_backtest_rust({name!r}, native_config, small)
    print("second", len(result.equity_curve))
    """
)


def test_first_numpy_call_of_a_process_interrupted_is_a_keyboard_interrupt(sma_plugin: str) -> None:
    """Issue 13 item 1: interrupting the first numpy-returning call of a process panicked while
    rust-numpy loaded NumPy's C API (`PanicException: Failed to access NumPy array API capsule`)."""
    here = str(__import__("pathlib").Path(__file__).parent)
    script = FRESH_PROCESS.format(path=[here], copies=COPIES, name=sma_plugin)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    assert "raised builtins KeyboardInterrupt" in done.stdout, done.stdout + done.stderr
    assert "second 5000" in done.stdout, done.stdout + done.stderr
    assert "PanicException" not in done.stderr
