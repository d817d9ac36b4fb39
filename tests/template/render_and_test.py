"""Render ``templates/strategy``, build and install the wheel, and run the rendered project's tests.

Called by ``nox -s template`` (with ``CARGO_TARGET_DIR`` set to the repository's target dir, so
that the rendered crate reuses the compiled dependencies), in an interpreter where the omega wheels
and cookiecutter are installed. Steps, each of which must pass:

1. render the template (no input) into a temporary directory, with ``omega_core_path`` the absolute
   path of this repository's omega-core crate;
2. ``cargo fmt --check``, ``cargo clippy --all-targets -- -D warnings`` and ``cargo test`` there;
3. ``maturin build --release`` and ``pip install`` the wheel into this interpreter;
4. ``omega.list_strategies()`` (in a fresh interpreter) shows the strategy with both backends;
5. the rendered project's ``pytest`` (parity of the two backends, discovery, parameter rules).

The rendered wheel is uninstalled again at the end (``--keep-installed`` leaves it), and the
temporary directory is removed (``--keep`` leaves it and prints where it is). Exit status: 0 when
every step passed, 1 otherwise (the failing step is named).

    python tests/template/render_and_test.py [--keep] [--keep-installed] [--strategy-name NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "templates" / "strategy"
CORE_CRATE = ROOT / "omega-core" / "crates" / "omega-core"
#: A strategy name of its own (not the template default), so that the derived names are exercised
#: and the rendered wheel cannot be mistaken for any real strategy.
DEFAULT_STRATEGY = "template_selftest"


class StepFailed(Exception):
    """A step of the check failed; the message names it."""


def workspace_version() -> str:
    """The omega-core version of this repository (``[workspace.package] version``)."""
    with (ROOT / "Cargo.toml").open("rb") as f:
        version: str = tomllib.load(f)["workspace"]["package"]["version"]
    return version


def run(step: str, args: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run one command, echoing it; its output is returned, a non-zero exit raises `StepFailed`."""
    print(f"\n=== {step}: {' '.join(args)}  (in {cwd})", flush=True)
    started = time.monotonic()
    proc = subprocess.run(args, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    print(proc.stdout, end="" if proc.stdout.endswith("\n") or not proc.stdout else "\n")
    print(f"--- {step}: exit {proc.returncode} after {time.monotonic() - started:.1f} s", flush=True)
    if proc.returncode != 0:
        raise StepFailed(f"{step} failed (exit {proc.returncode}): {' '.join(args)}")
    return proc.stdout


def render(out_dir: Path, strategy_name: str) -> tuple[Path, dict[str, Any]]:
    """Render the template into `out_dir`; returns the project directory and the context used."""
    try:
        from cookiecutter.main import cookiecutter
    except ImportError as e:
        raise StepFailed(f"cookiecutter is not installed in {sys.executable} ({e}); `pip install cookiecutter`") from e
    # Keep cookiecutter's replay files and clones out of the home directory.
    config = out_dir / "cookiecutter-config.yaml"
    dirs = {"replay_dir": out_dir / "replay", "cookiecutters_dir": out_dir / "cookiecutters"}
    config.write_text("".join(f"{key}: {json.dumps(str(path))}\n" for key, path in dirs.items()))
    extra = {
        "strategy_name": strategy_name,
        "omega_core_path": str(CORE_CRATE),
        "omega_core_version": workspace_version(),
    }
    print(f"\n=== render: {TEMPLATE} -> {out_dir} with {extra}", flush=True)
    try:
        rendered = cookiecutter(
            str(TEMPLATE), no_input=True, extra_context=extra, output_dir=str(out_dir), config_file=str(config)
        )
    except Exception as e:  # any cookiecutter error (a failed hook, a template error) fails this step
        raise StepFailed(f"render failed: {type(e).__name__}: {e}") from e
    project = Path(rendered)
    with (project / "pyproject.toml").open("rb") as f:
        pyproject = tomllib.load(f)
    context = {
        "project": project,
        "dist": pyproject["project"]["name"],
        "module": pyproject["tool"]["maturin"]["module-name"],
        "strategy": strategy_name,
    }
    print(f"rendered {project} (distribution {context['dist']}, module {context['module']})")
    return project, context


def find_maturin() -> str:
    """The ``maturin`` executable of this interpreter's environment, else the one on PATH."""
    local = Path(sys.executable).parent / ("maturin.exe" if os.name == "nt" else "maturin")
    found = str(local) if local.is_file() else shutil.which("maturin")
    if found is None:
        raise StepFailed(f"maturin is not installed (next to {sys.executable} or on PATH); `pip install maturin`")
    return found


def check_discovery(strategy: str, dist: str) -> None:
    """In a fresh interpreter: the strategy is listed by omega with both backends, from `dist`."""
    code = "import json, omega; print(json.dumps(omega.list_strategies()))"
    out = run("discover", [sys.executable, "-c", code], cwd=ROOT)
    listed = json.loads(out.strip().splitlines()[-1])
    entry = next((s for s in listed if s["name"] == strategy), None)
    if entry is None:
        raise StepFailed(f"discover: {strategy} is not in omega.list_strategies(): {listed}")
    if entry["backends"] != ["rust", "python"] or entry["package"] != dist:
        raise StepFailed(f"discover: expected backends ['rust', 'python'] from {dist}, got {entry}")
    print(f"discovered: {entry}")


def check_requirements(dist: str) -> None:
    """The installed wheel's requirements are satisfied (``pip check``, lines about `dist` only)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "check"], text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    ours = [line for line in proc.stdout.splitlines() if line.lower().startswith(dist.lower() + " ")]
    if ours:
        raise StepFailed("pip check: " + "; ".join(ours))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--keep-installed", action="store_true", help="leave the rendered wheel installed")
    parser.add_argument("--strategy-name", default=DEFAULT_STRATEGY, help="strategy_name to render with")
    args = parser.parse_args(argv)

    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", str(ROOT / "target"))
    print(f"CARGO_TARGET_DIR={env['CARGO_TARGET_DIR']}  python={sys.executable}")
    tmp = Path(tempfile.mkdtemp(prefix="omega-template-"))
    installed: str | None = None
    status = 1
    try:
        project, ctx = render(tmp, args.strategy_name)
        # Start from the workspace's lock file: the same dependency versions as the rest of the repo
        # (so the shared target dir's builds are reused, and no registry look-up is needed); Cargo
        # drops the entries the rendered crate does not use.
        shutil.copyfile(ROOT / "Cargo.lock", project / "Cargo.lock")
        run("cargo fmt", ["cargo", "fmt", "--check"], cwd=project, env=env)
        run("cargo clippy", ["cargo", "clippy", "--all-targets", "--", "-D", "warnings"], cwd=project, env=env)
        run("cargo test", ["cargo", "test"], cwd=project, env=env)
        wheels = tmp / "wheels"
        run(
            "maturin build",
            [find_maturin(), "build", "--release", "-i", sys.executable, "-o", str(wheels)],
            cwd=project,
            env=env,
        )
        built = sorted(wheels.glob("*.whl"))
        if len(built) != 1:
            raise StepFailed(f"maturin build: expected one wheel in {wheels}, found {[w.name for w in built]}")
        installed = ctx["dist"]
        run(
            "pip install",
            [sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "--force-reinstall", str(built[0])],
            cwd=tmp,
        )
        check_requirements(ctx["dist"])
        check_discovery(ctx["strategy"], ctx["dist"])
        run("pytest", [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project, env=env)
        status = 0
        print(f"\nOK: {ctx['dist']} rendered, built, installed, discovered and tested")
    except StepFailed as e:
        print(f"\nFAILED: {e}", file=sys.stderr)
    finally:
        if installed is not None and not args.keep_installed:
            subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", installed], check=False)
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
