"""The ``omega`` command: ``demo``, ``strategies``, ``errors``, ``version``, ``data inspect``.

Exit codes: 0 success, 1 the command ran but failed (e.g. backends disagree), 2 an Omega error
(message with its code on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from omega import cli_data
from omega.errors import OmegaError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="omega", description="Omega FX backtesting")
    sub = p.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run a strategy on a generated market on every available backend")
    demo.add_argument("--bars", type=int, default=20_000, help="number of bars to generate (default 20000)")
    demo.add_argument("--strategy", default=None, help="strategy name (default: first with a Rust backend)")
    demo.add_argument("--seed", type=int, default=7, help="market seed (default 7)")
    demo.add_argument("--timeframe", default="M1", help="primary timeframe (default M1)")
    demo.add_argument("--params", default=None, help="strategy params as JSON, e.g. '{\"fast\": 10}'")
    sub.add_parser("strategies", help="list discovered strategies and their backends (JSON)")
    sub.add_parser("errors", help="list error codes (JSON)")
    sub.add_parser("version", help="print versions")
    cli_data.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``omega`` script and ``python -m omega``."""
    args = _parser().parse_args(argv)
    if args.command == "data":
        return cli_data.run(args)
    try:
        if args.command == "demo":
            from omega.demo import run_demo

            params = json.loads(args.params) if args.params else None
            return run_demo(args.bars, args.strategy, seed=args.seed, timeframe=args.timeframe, params=params)
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
    except OmegaError as e:
        print(f"omega: {e}", file=sys.stderr)
        return 2
    except json.JSONDecodeError as e:
        print(f"omega: --params is not valid JSON: {e}", file=sys.stderr)
        return 2
