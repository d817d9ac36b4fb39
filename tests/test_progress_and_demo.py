"""Progress bars for Python-backend runs (only when visible) and the demo's output."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import warnings
from pathlib import Path

import omega
import pytest
from conftest import ZSCORE
from omega import progress
from omega.demo import run_demo
from omega.reference.engine import PROGRESS_EVERY

CONFIG = {"symbol": "EURUSD", "timeframe": "M1", "enabled_scenarios": [1], "params": {"htf_tf": "NONE"}}


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_wanted_follows_setting_env_and_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMEGA_PROGRESS", raising=False)
    assert progress.wanted(None, io.StringIO()) is False  # a pipe or a file: no bar
    assert progress.wanted(None, _Tty()) is True
    assert progress.wanted(False, _Tty()) is False
    assert progress.wanted(True, io.StringIO()) is True
    monkeypatch.setenv("OMEGA_PROGRESS", "0")
    assert progress.wanted(None, _Tty()) is False
    monkeypatch.setenv("OMEGA_PROGRESS", "1")
    assert progress.wanted(None, io.StringIO()) is True


def test_python_run_reports_progress_to_the_end(zscore_plugin: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    from omega.reference.engine import run_reference_backtest

    spec = omega.get_strategy(ZSCORE)
    assert spec.reference is not None
    n = 3 * PROGRESS_EVERY + 5
    candles = omega.data.generate_market(n, seed=1)
    run_reference_backtest(spec.reference, omega.BacktestConfig(**CONFIG).to_dict(), candles, progress=calls.append)
    assert calls == [0, PROGRESS_EVERY, 2 * PROGRESS_EVERY, 3 * PROGRESS_EVERY]


def test_bar_draws_after_the_delay_and_completes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "SHOW_AFTER_S", 0.0)
    out = _Tty()
    with progress.bar(10_000, "demo", None, stream=out) as update:
        assert update is not None
        update(5_000)
    text = out.getvalue()
    assert "demo" in text
    assert "100%" in text
    assert "10.0k/10.0k" in text


def test_no_output_when_not_a_terminal(zscore_plugin: str, capsys: pytest.CaptureFixture[str]) -> None:
    omega.run_backtest(ZSCORE, CONFIG, omega.data.generate_market(3_000, seed=1), backend="python")
    assert capsys.readouterr().err == ""


def test_progress_bar_in_a_terminal(zscore_plugin: str, tmp_path: Path) -> None:
    """A Python-backend run in a pseudo-terminal draws a bar on stderr. The child sets
    SHOW_AFTER_S to 0 so that the outcome does not depend on how fast this machine runs 60k bars."""
    code = (
        "import omega\n"
        "import omega.progress\n"
        "omega.progress.SHOW_AFTER_S = 0.0\n"
        f"cfg = {CONFIG!r}\n"
        "m = omega.data.generate_market(60_000, seed=1)\n"
        f"omega.run_backtest({ZSCORE!r}, cfg, m, backend='python')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMEGA_PROGRESS"}
    controller, worker = pty.openpty()
    fcntl.ioctl(worker, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a new pty is 0 columns wide
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=worker, stdout=worker, env=env)
    os.close(worker)
    chunks = []
    while True:  # read while it runs: a full pty buffer would block the child
        try:
            data = os.read(controller, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(controller)
    assert proc.wait(timeout=300) == 0
    text = b"".join(chunks).decode(errors="replace")
    assert f"{ZSCORE} (python)" in text
    assert "100%" in text


def test_demo_is_quiet_and_says_what_it_ran(zscore_plugin: str, tmp_path: Path) -> None:
    lines: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = run_demo(6_000, ZSCORE, report=tmp_path / "r.html", out=lines.append)
    assert code == 0
    assert [str(w.message) for w in caught] == []  # no warnings about its own config
    text = "\n".join(lines)
    assert "synthetic EURUSD M1" in text
    assert "6,000 bars" in text
    assert "2024-01-01 00:00 →" in text  # the span
    assert "balance 100,000.00 USD" in text
    assert "window_length=100" in text  # the parameters, defaults included
    assert re.search(r"#1 +(long|short) +2024-01-\d\d \d\d:\d\d @", text)  # trades with their times
    assert "backends agree" in text
    assert (tmp_path / "r.html").stat().st_size > 100_000
    assert f"report    {tmp_path / 'r.html'}" in text


def test_demo_cli_is_quiet(zscore_plugin: str, tmp_path: Path) -> None:
    env = {**os.environ, "OMEGA_PROGRESS": "0", "PYTHONWARNINGS": "always"}
    proc = subprocess.run(
        [sys.executable, "-m", "omega", "demo", "--bars", "3000"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert (tmp_path / "omega-demo" / "report.html").exists()
