"""The ``omega`` command (argparse): ``run``, ``scan``, ``sweep``, ``report``, ``demo``,
``data inspect``, ``strategies``, ``errors``, ``version``.

Exit codes: 0 success, 1 the command ran but failed (e.g. backends disagree, or a bug in Omega),
2 a user error: the coded message and a hint on stderr, never a traceback (``--verbose`` adds it),
130 interrupted (Ctrl-C). docs/cli.md describes every command.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omega import cli_data
from omega.errors import InvalidConfigError, OmegaError

HINTS: dict[str, str] = {
    "E4001": "`omega strategies` lists the installed strategies and their backends",
    "E4002": "check the key named above (docs/engine.md for `engine.*`, the strategy's docs for `params.*`)",
    "E4003": "the strategy asked for an indicator the core does not have: see docs/indicators.md",
    "E4004": "check the data file: columns, timestamps and formats are in docs/data.md",
    "E4005": "raise engine.max_open_positions or check the strategy's exits",
    "E4006": "the strategy produced an invalid signal: report it to the strategy's authors",
    "E4007": "rebuild the plugin against this omega-core (`omega version` shows the ABI)",
    "E4008": "the strategy's own code failed: run with --verbose and report it to its authors",
    "E4009": "this is a bug in Omega: run with --verbose and report the traceback",
}
"""What to try next, per error code (shown under the message)."""


class UsageError(InvalidConfigError):
    """A bad command line value (reported like E4002)."""


def _add_run_inputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("strategy", help="strategy name (`omega strategies` lists them)")
    p.add_argument("--data", required=True, type=Path, help="candles: .parquet/.arrow/.csv, or the BID CSV with --ask")
    p.add_argument("--ask", type=Path, default=None, help="the ASK CSV of a broker BID/ASK export pair")
    p.add_argument("--config", required=True, type=Path, help="run config, JSON or TOML (docs/cli.md)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key (dotted path, value as JSON or plain text), e.g. params.window_length=60",
    )
    p.add_argument("--backend", choices=("rust", "python"), default=None, help="engine (default: auto)")


def _parser() -> argparse.ArgumentParser:
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument(
        "--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help="show tracebacks of errors"
    )
    # No set_defaults here: parents share the action object, so it would reset the subcommands' flag.
    p = argparse.ArgumentParser(prog="omega", description="Omega FX backtesting", parents=[verbose])
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", parents=[verbose], help="run a backtest on your data and config")
    _add_run_inputs(run)
    run.add_argument("--out", type=Path, default=None, help="write the result here (read back by `omega report`)")
    run.add_argument("--report", action="store_true", help="also write OUT/report.html (OUT defaults to omega-out)")

    scan = sub.add_parser("scan", parents=[verbose], help="list every signal as if flat (docs/scan.md)")
    _add_run_inputs(scan)
    scan.add_argument("--out", type=Path, default=None, help="write the signals (.parquet or .csv)")

    sweep = sub.add_parser("sweep", parents=[verbose], help="backtest every config of a grid (docs/sweeps.md)")
    _add_run_inputs(sweep)
    sweep.add_argument("--grid", required=True, type=Path, help="the grid, JSON or TOML (docs/cli.md)")
    sweep.add_argument("--jobs", type=int, default=None, help="worker threads (Rust) or processes (Python)")
    sweep.add_argument("--trades", action="store_true", help="also write every config's trades (trades.parquet)")
    sweep.add_argument(
        "--out", type=Path, default=Path("omega-sweep"), help="write sweep.parquet and sweep.csv here (omega-sweep)"
    )

    rep = sub.add_parser("report", parents=[verbose], help="write the HTML report of a result directory")
    rep.add_argument("directory", type=Path, help="a directory written by `omega run --out`")
    rep.add_argument("--out", type=Path, default=None, help="HTML file (default DIRECTORY/report.html)")

    demo = sub.add_parser("demo", parents=[verbose], help="run a strategy on a synthetic market on every backend")
    demo.add_argument("--bars", type=int, default=20_000, help="number of bars to generate (default 20000)")
    demo.add_argument("--strategy", default=None, help="strategy name (default: first with a Rust backend)")
    demo.add_argument("--seed", type=int, default=7, help="market seed (default 7)")
    demo.add_argument("--timeframe", default="M1", help="primary timeframe (default M1)")
    demo.add_argument("--params", default=None, help="strategy params as JSON, e.g. '{\"fast\": 10}'")
    demo.add_argument("--report", type=Path, default=Path("omega-demo") / "report.html", help="HTML report path")
    demo.add_argument("--no-report", action="store_true", help="do not write the HTML report")
    sub.add_parser("strategies", parents=[verbose], help="list discovered strategies and their backends (JSON)")
    sub.add_parser("errors", parents=[verbose], help="list error codes (JSON)")
    sub.add_parser("version", parents=[verbose], help="print versions")
    cli_data.add_parser(sub)
    return p


# --- inputs ---------------------------------------------------------------------------------------


def load_market(data_path: Path, ask_path: Path | None = None) -> Any:
    """The candles of a CLI run: the one place the command line reads market data, through
    `omega.data.load` (Parquet, IPC, CSV, a BID + ASK pair, single-side exports; docs/data.md)."""
    from omega import data

    return data.load(data_path if ask_path is None else [data_path, ask_path])


def read_structured(path: Path, what: str = "config") -> Any:
    """The content of a JSON or TOML file (by suffix; else JSON, then TOML); E4002 naming the file
    when it is missing, not UTF-8, malformed or nested beyond what the parsers handle."""
    if not path.is_file():
        raise InvalidConfigError(f"{what} file {path} does not exist", {"path": str(path), "key": what})
    suffix = path.suffix.lower()
    kind = "TOML" if suffix == ".toml" else "JSON" if suffix == ".json" else "JSON or TOML"
    try:
        text = path.read_text(encoding="utf-8")
        if suffix == ".toml":
            return tomllib.loads(text)
        if suffix == ".json":
            return json.loads(text)
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InvalidConfigError(f"{path} is not valid {kind}: {e}", {"path": str(path), "key": what}) from e
    except RecursionError as e:
        raise InvalidConfigError(
            f"{path} is nested too deeply to read as {kind}", {"path": str(path), "key": what}
        ) from e


def load_config(path: Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """A run config from a JSON or TOML file (by suffix; else JSON, then TOML), with ``--set`` overrides."""
    cfg = read_structured(path, "config")
    if not isinstance(cfg, dict):
        raise InvalidConfigError(f"{path}: a config is a table/object of keys, got {type(cfg).__name__}")
    for item in overrides:
        apply_override(cfg, item)
    return cfg


def load_grid(path: Path) -> Any:
    """A sweep grid from a JSON or TOML file: a list of partial configs (JSON), an object whose one
    key ``configs`` holds that list (``[[configs]]`` in TOML), or an object of dotted keys and/or
    nested tables whose leaves are lists of values (flattened to dotted keys in file order)."""
    grid = read_structured(path, "grid")
    if isinstance(grid, dict) and list(grid) == ["configs"] and isinstance(grid["configs"], list):
        return grid["configs"]
    if isinstance(grid, list):
        return grid
    if not isinstance(grid, dict):
        raise InvalidConfigError(
            f"{path}: a grid is an object of key → list of values or a list of partial configs, "
            f"got {type(grid).__name__}",
            {"path": str(path), "key": "grid"},
        )
    return _flatten_grid(grid)


def _flatten_grid(node: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in node.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten_grid(v, f"{key}."))
        else:
            out[key] = v
    return out


def apply_override(cfg: dict[str, Any], item: str) -> None:
    """Apply one ``--set key.path=value`` to `cfg` in place (value parsed as JSON, else kept as text)."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise UsageError(f"--set {item!r}: want KEY=VALUE with a dotted key, e.g. params.window_length=60")
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    node = cfg
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise UsageError(f"--set {item!r}: '{part}' is not a section", {"key": key})
        node = child
    node[parts[-1]] = value


# --- commands -------------------------------------------------------------------------------------


def _cmd_run(args: argparse.Namespace) -> int:
    import omega

    cfg = load_config(args.config, args.overrides)
    candles = load_market(args.data, args.ask)
    result = omega.run_backtest(args.strategy, cfg, candles, backend=args.backend)
    print(f"{result.strategy} on {result.backend}: {result.bars_processed:,} bars in {result.execution_time_ms:.0f} ms")
    print(result.summary())
    out = args.out if args.out is not None else (Path("omega-out") if args.report else None)
    if out is not None:
        result.write(out)
        print(f"result written to {out}/")
        if args.report:
            print(f"report: {result.report(out / 'report.html')}")
    return 0


def _cmd_scan(args: argparse.Namespace) -> int:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    import omega

    cfg = load_config(args.config, args.overrides)
    candles = load_market(args.data, args.ask)
    table = omega.scan_signals(args.strategy, cfg, candles, backend=args.backend)
    print(f"{table.num_rows:,} signals")
    if args.out is None:
        shown = table.slice(0, 10).to_pylist()
        for row in shown:
            print("  " + " ".join(f"{k}={v}" for k, v in list(row.items())[:8]))
        return 0
    suffix = args.out.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise UsageError(f"--out {args.out}: want a .parquet or .csv file", {"path": str(args.out)})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".parquet":
        pq.write_table(table, args.out)
    else:
        flat = table.drop_columns([f.name for f in table.schema if not _csv_friendly(f.type)])
        pacsv.write_csv(flat, args.out)
    print(f"signals written to {args.out}")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    import pyarrow.parquet as pq

    import omega

    cfg = load_config(args.config, args.overrides)
    grid = load_grid(args.grid)
    candles = load_market(args.data, args.ask)
    keep = "trades" if args.trades else "metrics"
    result = omega.sweep(args.strategy, cfg, grid, candles, n_jobs=args.jobs, keep=keep, backend=args.backend)
    print(f"{result.strategy} on {result.backend}: {len(result)} configs, {result.table.num_rows} rows")
    best = result.best("net_profit", n=5)
    shown = ["config_id", *result.keys, *(m for m in ("net_profit", "total_trades") if m in best.column_names)]
    for row in best.select(shown).to_pylist():
        print("  " + " ".join(f"{k}={v}" for k, v in row.items()))
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(result.table, out / "sweep.parquet")
    write_csv(result.table, out / "sweep.csv")
    written = ["sweep.parquet", "sweep.csv"]
    if result.trades is not None:
        pq.write_table(result.trades, out / "trades.parquet")
        written.append("trades.parquet")
    print(f"written to {out}/: {', '.join(written)}")
    return 0


def write_csv(table: Any, path: Path) -> None:
    """`table` as CSV; list, struct and map columns (e.g. a varied ``enabled_scenarios``) as JSON text."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    for i, f in enumerate(table.schema):
        if not _csv_friendly(f.type):
            text = [None if v is None else json.dumps(v) for v in table.column(i).to_pylist()]
            table = table.set_column(i, pa.field(f.name, pa.utf8()), pa.array(text, pa.utf8()))
    pacsv.write_csv(table, path)


def _csv_friendly(t: Any) -> bool:
    import pyarrow as pa

    return not (pa.types.is_list(t) or pa.types.is_struct(t) or pa.types.is_map(t))


def _cmd_report(args: argparse.Namespace) -> int:
    import omega

    print(f"report: {omega.report(args.directory, args.out)}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from omega.demo import run_demo

    try:
        params = json.loads(args.params) if args.params else None
    except json.JSONDecodeError as e:
        raise UsageError(f"--params is not valid JSON: {e}") from e
    report = None if args.no_report else args.report
    return run_demo(args.bars, args.strategy, seed=args.seed, timeframe=args.timeframe, params=params, report=report)


def _cmd_info(args: argparse.Namespace) -> int:
    if args.command == "strategies":
        from omega.plugins import list_strategies

        print(json.dumps(list_strategies(), indent=1))
        return 0
    if args.command == "errors":
        from omega.errors import list_errors

        print(json.dumps(list_errors(), indent=1))
        return 0
    import omega
    from omega.bridge import _get_rust_module

    native = _get_rust_module()
    core = native.core_version() if native is not None else "not installed"
    print(f"omega {omega.__version__} (native core: {core})")
    return 0


COMMANDS = {"run": _cmd_run, "scan": _cmd_scan, "sweep": _cmd_sweep, "report": _cmd_report, "demo": _cmd_demo}


def _fail(message: str, hint: str, verbose: bool) -> None:
    if verbose:
        traceback.print_exc()
    print(f"omega: {message}", file=sys.stderr)
    print(f"hint: {hint}" + ("" if verbose else " (--verbose shows the traceback)"), file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``omega`` script and ``python -m omega``."""
    args = _parser().parse_args(argv)
    args.verbose = getattr(args, "verbose", False)
    if args.command == "data":
        return cli_data.run(args)
    try:
        return COMMANDS.get(args.command, _cmd_info)(args)
    except OmegaError as e:
        _fail(str(e), HINTS.get(e.code, f"see docs/errors.md#{e.code.lower()}"), args.verbose)
        return 1 if e.code == "E4009" else 2
    except OSError as e:
        _fail(f"{e.strerror or e}: {e.filename}" if e.filename else str(e), "check the path", args.verbose)
        return 2
    except KeyboardInterrupt:
        print("omega: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug in Omega (or a strategy): say so plainly, traceback on request
        _fail(f"internal error: {type(e).__name__}: {e}", HINTS["E4009"], args.verbose)
        return 1
