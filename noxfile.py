"""Developer sessions. Each session installs what it needs into its own virtualenv.

nox -s demo      build the wheels, run the demo backtest on generated data
nox -s tests     Rust tests + every Python test (the CI entry point)
nox -s parity    Rust vs Python reference, trade by trade, and golden files
nox -s lint      rustfmt, clippy, ruff, mypy --strict, stubtest
nox -s bench     criterion benchmarks + the end-to-end Python benchmark
nox -s template  render the strategy template, build, install, discover, test it
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

ROOT = Path(__file__).parent
WHEELS = ROOT / "target" / "wheels-nox"
# One Cargo target dir for every wheel and for cargo test: build time is a feature.
CARGO_ENV = {"CARGO_TARGET_DIR": str(ROOT / "target")}
# Wheel projects in build order: the core first, then every strategy plugin in the repo.
PROJECTS = ["omega-core", "tests/test-plugin", "omega-strategies-zscore"]
# Runtime dependencies come from the wheels' own metadata (pyproject.toml); these are the extras
# each kind of session needs on top.
TEST_DEPS = [
    "pytest>=8",
    "hypothesis>=6",
    "cookiecutter>=2.5",
    "ruff",
    "pandas>=2.1",
    # Drives the system Chromium (Debian package `chromium`) for the HTML report test; it never
    # downloads a browser of its own.
    "playwright>=1.45,<2",
]
LINT_DEPS = ["ruff", "mypy>=1.10", "types-tqdm"]

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests"]


def _projects() -> list[Path]:
    return [ROOT / p for p in PROJECTS if (ROOT / p / "pyproject.toml").exists()]


def install_omega(session: nox.Session, profile: str = "release", extras: list[str] | None = None) -> None:
    """Build every wheel of the repo with maturin (shared target dir) and install them with their
    runtime dependencies, plus `extras`."""
    session.install("maturin>=1.7,<2", *(extras or []))
    WHEELS.mkdir(parents=True, exist_ok=True)
    for old in WHEELS.glob("*.whl"):
        old.unlink()
    for project in _projects():
        # maturin reads [tool.maturin] from the pyproject.toml of the directory it runs in.
        args = ["maturin", "build", "-o", str(WHEELS)]
        if profile == "release":
            args.append("--release")
        else:
            args += ["--profile", profile]
        with session.chdir(project):
            session.run(*args, env=CARGO_ENV)
    wheels = [str(w) for w in sorted(WHEELS.glob("*.whl"))]
    # Replace the wheels even at an unchanged version, then let pip add their missing dependencies.
    session.install("--force-reinstall", "--no-deps", *wheels)
    session.install(*wheels)


@nox.session
def demo(session: nox.Session) -> None:
    """Run the demo backtest on generated sample data (both backends) and write its HTML report."""
    install_omega(session)
    session.run("python", "-m", "omega", "demo", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """Every test: Rust (cargo test) and Python (pytest) against the installed wheels."""
    session.run("cargo", "test", "--workspace", "--quiet", external=True, env=CARGO_ENV)
    install_omega(session, extras=TEST_DEPS)
    session.run("python", "-m", "pytest", "tests", "-q", *session.posargs, env={"OMEGA_REQUIRE_NATIVE": "1"})


@nox.session
def parity(session: nox.Session) -> None:
    """Rust vs pure-Python reference: trade by trade, equity curves, golden files, original fixtures."""
    install_omega(session, extras=TEST_DEPS)
    session.run(
        "python",
        "-m",
        "pytest",
        "tests",
        "-q",
        "-m",
        "parity or faithful",
        *session.posargs,
        env={"OMEGA_REQUIRE_NATIVE": "1"},
    )


@nox.session
def lint(session: nox.Session) -> None:
    """Formatting, clippy, ruff, mypy --strict and stub tests."""
    session.run("cargo", "fmt", "--all", "--check", external=True)
    session.run(
        "cargo",
        "clippy",
        "--workspace",
        "--all-targets",
        "--quiet",
        "--",
        "-D",
        "warnings",
        external=True,
        env=CARGO_ENV,
    )
    session.install("ruff")
    session.run("ruff", "check", ".")
    install_omega(session, extras=LINT_DEPS)
    packages = ["omega-core/python/omega"] + [
        str(p) for p in ROOT.glob("omega-strategies-*/python/*") if p.is_dir() and not p.name.startswith(".")
    ]
    session.run("mypy", "--strict", *packages)
    session.run(
        "python",
        "-m",
        "mypy.stubtest",
        "omega._native",
        "--allowlist",
        str(ROOT / "omega-core" / ".mypy-stubtest-allowlist"),
    )


@nox.session
def bench(session: nox.Session) -> None:
    """Criterion benchmarks and the end-to-end Python benchmark (figures go to docs/performance.md)."""
    session.run("cargo", "bench", "--workspace", *session.posargs, external=True, env=CARGO_ENV)
    install_omega(session, extras=TEST_DEPS)
    session.run("python", str(ROOT / "tests" / "bench" / "bench_backtest.py"))
    session.run("python", str(ROOT / "tests" / "bench" / "bench_scan_vs_backtest.py"))


@nox.session
def template(session: nox.Session) -> None:
    """Render the strategy template, build and install it, and run the generated project's tests."""
    install_omega(session, extras=TEST_DEPS)
    session.run("python", str(ROOT / "tests" / "template" / "render_and_test.py"), env=CARGO_ENV)


if os.environ.get("CI"):
    nox.options.error_on_missing_interpreters = True
