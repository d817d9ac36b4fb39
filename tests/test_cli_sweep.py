"""`omega sweep` (issue 12, docs/cli.md "A parameter sweep"): a grid file in, the result table out as
Parquet and CSV, equal to `omega.sweep` in code; user errors coded with exit 2."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import omega
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import ZSCORE
from omega.cli import load_config, load_grid
from omega.errors import InvalidConfigError
from test_cli import EXAMPLE_CONFIG, omega_cli

GRID_TOML = """\
[params]
window_length = [40, 60]
z_score_long = [-1.5, -2.0]

[engine]
risk_per_trade = [50.0, 100.0]
"""


@pytest.fixture(scope="module")
def candles_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sweep") / "candles.parquet"
    pq.write_table(omega.data.generate_market(4_000, seed=9), path)
    return path


def test_grid_forms_read_the_same(tmp_path: Path) -> None:
    toml = tmp_path / "grid.toml"
    toml.write_text(GRID_TOML)
    dotted = tmp_path / "grid.json"
    dotted.write_text(
        json.dumps(
            {
                "params.window_length": [40, 60],
                "params.z_score_long": [-1.5, -2.0],
                "engine.risk_per_trade": [50.0, 100.0],
            }
        )
    )
    assert load_grid(toml) == load_grid(dotted)
    assert list(load_grid(toml)) == ["params.window_length", "params.z_score_long", "engine.risk_per_trade"]
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([{"params": {"window_length": 40}}, {"params.window_length": 90}]))
    tables = tmp_path / "list.toml"
    tables.write_text("[[configs]]\nparams = { window_length = 40 }\n\n[[configs]]\n'params.window_length' = 90\n")
    assert load_grid(listed) == load_grid(tables) == [{"params": {"window_length": 40}}, {"params.window_length": 90}]


def test_sweep_writes_parquet_and_csv_equal_to_the_api(zscore_plugin: str, candles_file: Path, tmp_path: Path) -> None:
    (tmp_path / "grid.toml").write_text(GRID_TOML)
    out = tmp_path / "out"
    proc = omega_cli(
        "sweep", ZSCORE, "--data", candles_file, "--config", EXAMPLE_CONFIG, "--grid", "grid.toml", "--out", out,
        "--jobs", "2", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "8 configs" in proc.stdout
    table = pq.read_table(out / "sweep.parquet")
    expected = omega.sweep(
        ZSCORE, load_config(EXAMPLE_CONFIG), load_grid(tmp_path / "grid.toml"), pq.read_table(candles_file),
        progress=False,
    )  # fmt: skip
    assert table.equals(expected.table)
    with (out / "sweep.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8
    assert [float(r["net_profit"]) for r in rows] == table.column("net_profit").to_pylist()
    assert [int(r["params.window_length"]) for r in rows] == [40, 40, 40, 40, 60, 60, 60, 60]
    assert not (out / "trades.parquet").exists()


def test_sweep_over_scenarios_keeps_lists_as_json_in_the_csv_and_writes_trades(
    zscore_plugin: str, candles_file: Path, tmp_path: Path
) -> None:
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"enabled_scenarios": [[1], [1, 2]]}))
    proc = omega_cli(
        "sweep", ZSCORE, "--data", candles_file, "--config", EXAMPLE_CONFIG, "--grid", grid, "--trades",
        "--backend", "python", "--out", tmp_path / "o", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    with (tmp_path / "o" / "sweep.csv").open(newline="") as f:
        assert [json.loads(r["enabled_scenarios"]) for r in csv.DictReader(f)] == [[1], [1, 2]]
    trades = pq.read_table(tmp_path / "o" / "trades.parquet")
    assert trades.column_names[0] == "config_id"
    counts = pq.read_table(tmp_path / "o" / "sweep.parquet").column("total_trades").to_pylist()
    ids = trades.column("config_id").to_pylist()
    assert [ids.count(i) for i in range(2)] == counts


@pytest.mark.parametrize(
    ("grid", "jobs", "needle"),
    [
        (None, "1", "grid file"),
        ('"window_length"', "1", "a grid is an object"),
        ("[params]\nwindow_length = 40\n", "1", "must be a list of values"),
        ("[params]\nwindow_length = []\n", "1", "is empty"),
        ("[params]\nbogus = [1, 2]\n", "1", "params.bogus"),
        ("[params]\nwindow_length = [40]\n", "0", "n_jobs"),
        ("[params\n", "1", "not valid TOML"),
    ],
)
def test_user_errors_exit_2_with_code(
    zscore_plugin: str, candles_file: Path, tmp_path: Path, grid: str | None, jobs: str, needle: str
) -> None:
    path = tmp_path / ("grid.json" if grid is not None and grid.startswith('"') else "grid.toml")
    if grid is not None:
        path.write_text(grid)
    args = ["sweep", ZSCORE, "--data", candles_file, "--config", EXAMPLE_CONFIG, "--grid", path, "--jobs", jobs]
    proc = omega_cli(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "[E4002]" in proc.stderr
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "\nhint: " in proc.stderr
    verbose = omega_cli(*args, "--verbose", cwd=tmp_path)
    assert verbose.returncode == 2
    assert "Traceback" in verbose.stderr


def test_grid_that_is_not_an_object_or_list_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "g.json"
    path.write_text("3")
    with pytest.raises(InvalidConfigError, match="a grid is an object"):
        load_grid(path)
    path.write_text("[" * 3000 + "]" * 3000)
    with pytest.raises(InvalidConfigError, match="nested too deeply"):
        load_grid(path)


def test_sweep_table_is_what_the_api_returns_for_a_list_grid(
    zscore_plugin: str, candles_file: Path, tmp_path: Path
) -> None:
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps([{"params": {"window_length": 40}}, {"params.window_length": 90}]))
    proc = omega_cli(
        "sweep", ZSCORE, "--data", candles_file, "--config", EXAMPLE_CONFIG, "--grid", grid, "--out", tmp_path / "o",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    table = pq.read_table(tmp_path / "o" / "sweep.parquet")
    assert table.column("params.window_length").to_pylist() == [40, 90]
    assert isinstance(table, pa.Table)
