"""Developer sessions. Each session installs what it needs into its own virtualenv.

nox -s demo      build the wheels, run the demo backtest on generated data
nox -s tests     Rust tests + every Python test (the CI entry point)
nox -s parity    Rust vs Python reference, trade by trade, and golden files
nox -s lint      rustfmt, clippy, ruff, mypy --strict, stubtest
nox -s bench     criterion benchmarks + the end-to-end Python benchmark
nox -s template  render the strategy template, build, install, discover, test it
nox -s fuzz      cargo fuzz every target for a bounded time, then the Python entry-point fuzzing
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).parent
WHEELS = ROOT / "target" / "wheels-nox"
# One Cargo target dir for every wheel and for cargo test: build time is a feature.
CARGO_ENV = {"CARGO_TARGET_DIR": str(ROOT / "target")}
# Wheel projects in build order: the core first, then every strategy plugin in the repo.
PROJECTS = ["omega-core", "tests/test-plugin", "omega-strategies-zscore"]
# The demo runs MRZ on a generated market: it needs neither the test plugin nor the test tools.
DEMO_PROJECTS = ["omega-core", "omega-strategies-zscore"]
# What the wheels need at run time (they are installed with --no-deps).
RUNTIME_DEPS = ["pyarrow>=14", "numpy>=1.26", "pluggy>=1.5", "pydantic>=2.6", "tqdm>=4.66"]
PY_DEPS = [
    *RUNTIME_DEPS,
    "pytest>=8",
    "hypothesis>=6",
    "cookiecutter>=2.5",
    "ruff",
    "pandas>=2.1",
    # the Dask sweep test (tests/test_sweep_dask.py) and docs/sweeps.md start a loopback LocalCluster
    "dask[distributed]>=2024.1",
    # Drives the system Chromium (Debian package `chromium`) for the HTML report test; it never
    # downloads a browser of its own.
    "playwright>=1.45,<2",
]
LINT_DEPS = ["ruff", "mypy>=1.10", "types-tqdm"]
# The cargo fuzz crate (its own Cargo workspace: normal builds never compile it) and its targets.
FUZZ_DIR = ROOT / "fuzz"
FUZZ_TARGETS = ["config_json", "candles", "plugin_table", "plugin_out"]
# Replays every committed fuzz input through its target with plain `cargo test` (no libFuzzer).
FUZZ_REPLAY = ["cargo", "test", "--manifest-path", str(FUZZ_DIR / "Cargo.toml"), "--no-default-features", "--quiet"]

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests"]


def _projects(names: list[str]) -> list[Path]:
    return [ROOT / p for p in names if (ROOT / p / "pyproject.toml").exists()]


def install_omega(
    session: nox.Session, profile: str = "release", projects: list[str] = PROJECTS, deps: list[str] = PY_DEPS
) -> None:
    """Build the wheels of `projects` with maturin (shared target dir) and install them with `deps`."""
    session.install("maturin>=1.7,<2", *deps)
    WHEELS.mkdir(parents=True, exist_ok=True)
    for old in WHEELS.glob("*.whl"):
        old.unlink()
    for project in _projects(projects):
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
    install_omega(session, projects=DEMO_PROJECTS, deps=RUNTIME_DEPS)
    session.run("python", "-m", "omega", "demo", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """Every test: Rust (cargo test) and Python (pytest) against the installed wheels."""
    session.run("cargo", "test", "--workspace", "--quiet", external=True, env=CARGO_ENV)
    session.run(*FUZZ_REPLAY, external=True, env=CARGO_ENV)
    install_omega(session)
    session.run("python", "-m", "pytest", "tests", "-q", *session.posargs, env={"OMEGA_REQUIRE_NATIVE": "1"})


@nox.session
def parity(session: nox.Session) -> None:
    """Rust vs pure-Python reference: trade by trade, equity curves, golden files, original fixtures."""
    install_omega(session)
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
    session.run("cargo", "fmt", "--manifest-path", str(FUZZ_DIR / "Cargo.toml"), "--check", external=True)
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
    session.run(
        "cargo",
        "clippy",
        "--manifest-path",
        str(FUZZ_DIR / "Cargo.toml"),
        "--no-default-features",
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
    install_omega(session, deps=[*PY_DEPS, *LINT_DEPS])
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
    install_omega(session)
    session.run("python", str(ROOT / "tests" / "bench" / "bench_backtest.py"))
    session.run("python", str(ROOT / "tests" / "bench" / "bench_scan_vs_backtest.py"))
    # issue 12: the hand-written limit vs omega.sweep of the template's rule, MRZ sweeps, scaling, memory
    session.run("cargo", "build", "--release", "-p", "omega-bench-limit", external=True, env=CARGO_ENV)
    install_template_wheel(session)
    session.run("python", str(ROOT / "tests" / "bench" / "bench_sweep.py"), env=CARGO_ENV)


def install_template_wheel(session: nox.Session) -> None:
    """Render templates/strategy with its defaults (strategy `ema_atr_breakout`), build and install it."""
    session.install("cookiecutter>=2.5")
    out = Path(session.create_tmp()) / "template"
    if out.exists():
        import shutil

        shutil.rmtree(out)
    core = ROOT / "omega-core" / "crates" / "omega-core"
    session.run(
        "cookiecutter", str(ROOT / "templates" / "strategy"), "--no-input", "-o", str(out), f"omega_core_path={core}"
    )
    (project,) = out.iterdir()
    wheels = out / "wheels"
    with session.chdir(project):
        session.run("maturin", "build", "--release", "-o", str(wheels), env=CARGO_ENV)
    session.install("--force-reinstall", "--no-deps", *[str(w) for w in wheels.glob("*.whl")])


@nox.session
def template(session: nox.Session) -> None:
    """Render the strategy template, build and install it, and run the generated project's tests."""
    install_omega(session)
    session.install("cookiecutter>=2.5")
    session.run("python", str(ROOT / "tests" / "template" / "render_and_test.py"), env=CARGO_ENV)


@nox.session
def fuzz(session: nox.Session) -> None:
    """Fuzz for a bounded time: every cargo fuzz target (or those named after `--`) for
    OMEGA_FUZZ_SECONDS each (default 180), then the Python entry points with OMEGA_FUZZ_EXAMPLES
    hypothesis examples per test (default 300). New corpus entries go to target/fuzz/corpus/,
    crashes to target/fuzz/artifacts/ (docs/runbook.md "Fuzzing")."""
    seconds = os.environ.get("OMEGA_FUZZ_SECONDS", "180")
    targets = session.posargs or FUZZ_TARGETS
    if unknown := sorted(set(targets) - set(FUZZ_TARGETS)):
        session.error(f"unknown fuzz target(s) {unknown}; the targets are {FUZZ_TARGETS}")
    if shutil.which("cargo-fuzz") is None:
        session.run("cargo", "install", "cargo-fuzz", "--locked", external=True)
    # cargo fuzz needs nightly flags (sanitizers, coverage); the pinned stable toolchain allows
    # them with RUSTC_BOOTSTRAP=1, so no nightly toolchain has to be installed.
    env = {**CARGO_ENV, "RUSTC_BOOTSTRAP": "1"}
    session.run(*FUZZ_REPLAY, external=True, env=CARGO_ENV)
    work = ROOT / "target" / "fuzz"
    for target in targets:
        corpus = work / "corpus" / target
        artifacts = work / "artifacts" / target
        corpus.mkdir(parents=True, exist_ok=True)
        artifacts.mkdir(parents=True, exist_ok=True)
        libfuzzer = [f"-max_total_time={seconds}", f"-artifact_prefix={artifacts}/", "-print_final_stats=1"]
        if (FUZZ_DIR / "dict" / f"{target}.dict").exists():
            libfuzzer.append(f"-dict={FUZZ_DIR / 'dict' / f'{target}.dict'}")
        # New inputs go to the first corpus directory; the committed seeds are only read.
        session.run(
            "cargo",
            "fuzz",
            "run",
            "--fuzz-dir",
            str(FUZZ_DIR),
            "--debug-assertions",
            target,
            str(corpus),
            str(FUZZ_DIR / "corpus" / target),
            "--",
            *libfuzzer,
            external=True,
            env=env,
        )
    install_omega(session)
    session.run(
        "python",
        "-m",
        "pytest",
        str(ROOT / "tests" / "test_fuzz_entry_points.py"),
        "-q",
        env={"OMEGA_REQUIRE_NATIVE": "1", "OMEGA_FUZZ_EXAMPLES": os.environ.get("OMEGA_FUZZ_EXAMPLES", "300")},
    )


if os.environ.get("CI"):
    nox.options.error_on_missing_interpreters = True
