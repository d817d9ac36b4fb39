"""The ``omega`` command line: run/scan/report on files, coded errors with hints, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import omega
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import ZSCORE
from omega.cli import apply_override, load_config, main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = ROOT / "docs" / "examples" / "mrz.toml"


def omega_cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m omega ARGS` in a fresh process (what a user's shell runs)."""
    env = {**os.environ, "OMEGA_PROGRESS": "0"}
    return subprocess.run(
        [sys.executable, "-m", "omega", *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


def _write_broker_pair(candles: pa.Table, directory: Path) -> tuple[Path, Path]:
    """The candles as a broker export: BID and ASK CSVs, `UTC time` as DD.MM.YYYY HH:MM:SS.000."""
    times = [
        datetime.fromtimestamp(t / 1e6, tz=UTC).strftime("%d.%m.%Y %H:%M:%S.000")
        for t in candles.column("timestamp_us").to_pylist()
    ]
    paths = []
    for side in ("bid", "ask"):
        cols = [candles.column(f"{side}_{c}").to_pylist() for c in ("open", "high", "low", "close", "volume")]
        lines = ["UTC time,Open,High,Low,Close,Volume"]
        lines += [",".join([t, *(repr(c[i]) for c in cols)]) for i, t in enumerate(times)]
        path = directory / f"EURUSD_{side.upper()}.csv"
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths[0], paths[1]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli")
    candles = omega.data.generate_market(5_000, seed=4)
    bid, ask = _write_broker_pair(candles, d)
    pq.write_table(candles, d / "candles.parquet")
    return {"dir": d, "bid": bid, "ask": ask, "parquet": d / "candles.parquet", "toml": EXAMPLE_CONFIG}


def test_broker_csv_to_html_report_in_one_command(zscore_plugin: str, files: dict[str, Path], tmp_path: Path) -> None:
    """The README's one-command path: broker BID/ASK CSV export → result directory + HTML report."""
    out = tmp_path / "results"
    inputs = ["--data", files["bid"], "--ask", files["ask"], "--config", files["toml"]]
    proc = omega_cli("run", ZSCORE, *inputs, "--out", out, "--report")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # quiet: no warnings, no progress bar off a terminal
    assert "# Trades" in proc.stdout
    assert "Return [%]" in proc.stdout
    assert (out / "report.html").stat().st_size > 100_000
    stored = omega.read_result(out)
    direct = omega.run_backtest(ZSCORE, load_config(files["toml"]), files["parquet"], backend="rust")
    assert stored.trades.equals(direct.trades)  # the CSV pair reproduced the market exactly
    assert stored.backend == "rust"


def test_run_with_overrides_and_backend(zscore_plugin: str, files: dict[str, Path], tmp_path: Path) -> None:
    cfg = json.loads(json.dumps({**_toml(files["toml"])}))
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    args = ["run", ZSCORE, "--data", str(files["parquet"]), "--config", str(tmp_path / "c.json")]
    args += ["--set", "params.window_length=80", "--set", "engine.costs.commission_per_lot=3.5", "--backend", "python"]
    args += ["--out", str(tmp_path / "o")]
    assert main(args) == 0
    stored = omega.read_result(tmp_path / "o")
    assert stored.backend == "python"
    assert stored.config["params"]["window_length"] == 80
    assert stored.config["engine"]["costs"]["commission_per_lot"] == 3.5
    assert not (tmp_path / "o" / "report.html").exists()


def _toml(path: Path) -> dict[str, Any]:
    import tomllib

    return tomllib.loads(path.read_text())


def test_report_command(zscore_plugin: str, files: dict[str, Path], tmp_path: Path) -> None:
    result = omega.run_backtest(ZSCORE, _toml(files["toml"]), files["parquet"])
    result.write(tmp_path / "r")
    proc = omega_cli("report", tmp_path / "r", "--out", tmp_path / "x.html")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "x.html").read_text() == result.report(tmp_path / "y.html").read_text()


def test_scan_command(zscore_plugin: str, files: dict[str, Path], tmp_path: Path) -> None:
    for name in ("signals.parquet", "signals.csv"):
        out = tmp_path / name
        args = ["scan", ZSCORE, "--data", str(files["parquet"]), "--config", str(files["toml"]), "--out", str(out)]
        assert main(args) == 0
        assert out.stat().st_size > 0
    direct = omega.scan_signals(ZSCORE, _toml(files["toml"]), files["parquet"])
    assert pq.read_table(tmp_path / "signals.parquet").equals(direct)


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["demo", "--timeframe", "M7", "--no-report"], "E4002", "unknown timeframe 'M7'"),
        (["run", ZSCORE, "--data", "missing.parquet", "--config", "{toml}"], "E4004", "no such file: missing.parquet"),
        (["run", ZSCORE, "--data", "{parquet}", "--config", "nope.toml"], "E4002", "nope.toml does not exist"),
        (["run", ZSCORE, "--data", "{parquet}", "--config", "{bad_toml}"], "E4002", "is not valid TOML"),
        (["run", ZSCORE, "--data", "{parquet}", "--config", "{toml}", "--set", "params.bogus=1"], "E4002", "bogus"),
        (["run", ZSCORE, "--data", "{parquet}", "--config", "{toml}", "--set", "oops"], "E4002", "KEY=VALUE"),
        (["run", "no_such_strategy", "--data", "{parquet}", "--config", "{toml}"], "E4001", "no_such_strategy"),
        (["run", ZSCORE, "--data", "{toml}", "--config", "{toml}"], "E4004", "cannot tell the separator"),
        (["report", "{dir}"], "E4004", "no result.json"),
    ],
)
def test_user_errors_exit_2_with_code_and_hint(
    zscore_plugin: str, files: dict[str, Path], tmp_path: Path, args: list[str], code: str, needle: str
) -> None:
    (tmp_path / "bad.toml").write_text("symbol = = 1\n")
    paths = {k: str(v) for k, v in files.items()} | {"bad_toml": str(tmp_path / "bad.toml"), "dir": str(tmp_path)}
    argv = [a.format(**paths) for a in args]
    proc = omega_cli(*argv, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"[{code}]" in proc.stderr
    assert needle in proc.stderr
    assert "\nhint: " in proc.stderr
    for verbose in (omega_cli(*argv, "--verbose", cwd=tmp_path), omega_cli("-v", *argv, cwd=tmp_path)):
        assert verbose.returncode == 2
        assert "Traceback" in verbose.stderr


def test_the_documented_config_is_the_example_file() -> None:
    doc = (ROOT / "docs" / "cli.md").read_text()
    assert f"```toml\n{EXAMPLE_CONFIG.read_text()}```" in doc


def test_overrides_parse_values_as_json_or_text() -> None:
    cfg: dict[str, Any] = {"params": {"a": 1}}
    apply_override(cfg, "params.a=2.5")
    apply_override(cfg, "params.flag=true")
    apply_override(cfg, "enabled_scenarios=[1, 2]")
    apply_override(cfg, "params.htf_tf=NONE")
    apply_override(cfg, "engine.costs.commission_per_lot=3")
    assert cfg == {
        "params": {"a": 2.5, "flag": True, "htf_tf": "NONE"},
        "enabled_scenarios": [1, 2],
        "engine": {"costs": {"commission_per_lot": 3}},
    }
    with pytest.raises(omega.InvalidConfigError, match="not a section"):
        apply_override(cfg, "params.a.b=1")
    with pytest.raises(omega.InvalidConfigError, match="KEY=VALUE"):
        apply_override(cfg, "=1")


def test_config_file_without_suffix_tries_json_then_toml(tmp_path: Path) -> None:
    (tmp_path / "a").write_text('{"symbol": "EURUSD", "timeframe": "M1"}')
    (tmp_path / "b").write_text('symbol = "EURUSD"\ntimeframe = "M1"\n')
    assert load_config(tmp_path / "a") == load_config(tmp_path / "b")
    (tmp_path / "c.json").write_text("[1, 2]")
    with pytest.raises(omega.InvalidConfigError, match="table/object"):
        load_config(tmp_path / "c.json")
