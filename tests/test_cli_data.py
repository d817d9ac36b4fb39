"""`omega data inspect`: the description of a candle file, and user errors as a coded message with a
hint and exit code 2 (no traceback unless --verbose)."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from omega import data
from omega.cli import main


def _gapped_parquet(tmp_path: Path) -> Path:
    # M1 bars from Thursday 2024-01-04 00:00 UTC over one FX weekend, with a hole every 700 bars
    m = data.generate_market(6_000, seed=2, gap_every=700, weekend_gaps=True, start="2024-01-04")
    path = tmp_path / "m.parquet"
    pq.write_table(m.replace_schema_metadata(None), path)
    return path


def test_inspect_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _gapped_parquet(tmp_path)
    assert main(["data", "inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "layout: bid_ask_columns" in out
    assert "bars: 6000 (2024-01-04 00:00:00 .. " in out
    assert "timeframe guess: M1 (most common bar distance 1 min" in out
    assert "(1 weekends)" in out


def test_inspect_json_counts_gaps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _gapped_parquet(tmp_path)
    assert main(["data", "inspect", str(path), "--json"]) == 0
    desc = json.loads(capsys.readouterr().out)
    table = data.load(path)
    ts = table.column("timestamp_us").to_pylist()
    steps = [b - a for a, b in itertools.pairwise(ts)]
    assert desc["bars"] == 6000
    assert desc["timeframe_guess"] == "M1"
    assert desc["gaps"] == sum(1 for s in steps if s > 60_000_000)
    assert desc["missing_bars"] == sum(s // 60_000_000 - 1 for s in steps if s > 60_000_000)
    assert desc["weekend_gaps"] == 1
    assert desc["load_report"]["layout"] == "bid_ask_columns"


def test_inspect_pair_prints_join_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bid = tmp_path / "bid.csv"
    ask = tmp_path / "ask.csv"
    bid.write_text(
        "Gmt time,Open,High,Low,Close,Volume\n2024-01-02 00:00,1.1,1.2,1.0,1.1,1\n2024-01-02 00:01,1.1,1.2,1.0,1.1,1\n"
    )
    ask.write_text("Gmt time,Open,High,Low,Close,Volume\n2024-01-02 00:00,1.2,1.3,1.1,1.2,1\n")
    assert main(["data", "inspect", str(bid), "--ask", str(ask)]) == 0
    captured = capsys.readouterr()
    assert "1 BID-only and 0 ASK-only" in captured.err
    assert "join: BID and ASK on time" in captured.out
    assert main(["data", "inspect", str(bid), "--ask", str(ask), "--how", "strict"]) == 2


@pytest.mark.parametrize("args", [["missing.csv"], ["."]])
def test_inspect_user_error_exit_2_no_traceback(tmp_path: Path, args: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "omega", "data", "inspect", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "[E4004]" in proc.stderr
    assert "hint:" in proc.stderr
    assert "Traceback" not in proc.stderr
    verbose = subprocess.run(
        [sys.executable, "-m", "omega", "data", "inspect", *args, "--verbose"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert verbose.returncode == 2
    assert "Traceback" in verbose.stderr
