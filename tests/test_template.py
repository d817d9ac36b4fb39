"""The strategy template (``templates/strategy``) renders into a complete, valid project.

Cheap enough for every test run: the template is rendered with cookiecutter into a temporary
directory and the tree is checked without building any Rust (manifests parse and declare what a
strategy wheel needs, Python compiles and is ruff-clean, Rust is rustfmt-clean, names are derived
from ``strategy_name``, bad names are refused). Building, installing, discovering and running the
rendered project's own tests is ``nox -s template`` (``tests/template/render_and_test.py``).

cookiecutter, ruff and rustfmt are required: a missing one fails these tests with a message.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "templates" / "strategy"
DEFAULT_SLUG = "omega-strategies-ema-atr-breakout"
DEFAULT_PACKAGE = "omega_strategies_ema_atr_breakout"

#: Every file of a rendered project, `{pkg}` standing for the package name.
EXPECTED_FILES = {
    ".gitignore",
    "Cargo.toml",
    "README.md",
    "pyproject.toml",
    "rustfmt.toml",
    "src/lib.rs",
    "src/strategy.rs",
    "python/{pkg}/__init__.py",
    "python/{pkg}/_native.pyi",
    "python/{pkg}/params.py",
    "python/{pkg}/plugin.py",
    "python/{pkg}/py.typed",
    "python/{pkg}/reference.py",
    "tests/test_parity.py",
    "tests/test_params.py",
}


def _cookiecutter() -> Any:
    try:
        from cookiecutter.exceptions import FailedHookException
        from cookiecutter.main import cookiecutter
    except ImportError as e:
        pytest.fail(
            f"cookiecutter is not installed in {sys.executable} ({e}); the template tests need it: "
            "`pip install 'cookiecutter>=2.5'`",
            pytrace=False,
        )
    return cookiecutter, FailedHookException


def _render(out: Path, **extra: str) -> Path:
    """Render the template with no input (defaults + `extra`) into `out`; the project directory."""
    cookiecutter, _ = _cookiecutter()
    out.mkdir(parents=True, exist_ok=True)
    # Replay files and clones go to `out`, not to the home directory.
    config = out / "cookiecutter-config.yaml"
    dirs = {"replay_dir": out / "replay", "cookiecutters_dir": out / "cookiecutters"}
    config.write_text("".join(f"{key}: {json.dumps(str(path))}\n" for key, path in dirs.items()))
    project = cookiecutter(
        str(TEMPLATE), no_input=True, extra_context=extra, output_dir=str(out / "rendered"), config_file=str(config)
    )
    return Path(project)


def _toml(path: Path) -> dict[str, Any]:
    with path.open("rb") as f:
        return tomllib.load(f)


def _tool(name: str) -> list[str]:
    """The command running `name` (a module of this interpreter, else an executable); fails if absent."""
    if importlib.util.find_spec(name) is not None:
        return [sys.executable, "-m", name]
    exe = shutil.which(name)
    if exe is None:
        pytest.fail(f"{name} is not installed (neither a module of {sys.executable} nor on PATH)", pytrace=False)
    return [exe]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template rendered with its defaults."""
    return _render(tmp_path_factory.mktemp("template"))


def test_defaults_follow_the_workspace() -> None:
    context = json.loads((TEMPLATE / "cookiecutter.json").read_text())
    workspace = _toml(ROOT / "Cargo.toml")["workspace"]
    assert context["omega_core_version"] == workspace["package"]["version"]
    # The default path is computed (a Jinja global of local_extensions.py), not a relative guess.
    assert context["omega_core_path"] == "{{ omega_core_crate() }}"
    assert context["_extensions"] == ["local_extensions.OmegaCorePath"]
    # Same pyo3 as the workspace: one build of it in a shared target dir, the same abi3 floor.
    template_manifest = (TEMPLATE / "{{cookiecutter.project_slug}}" / "Cargo.toml").read_text()
    pyo3 = re.search(r"^pyo3 = \{ version = \"([^\"]+)\", .*features = (\[[^\]]*\])", template_manifest, re.M)
    assert pyo3 is not None, "no pyo3 dependency line in the template's Cargo.toml"
    assert pyo3.group(1) == workspace["dependencies"]["pyo3"]["version"]
    assert json.loads(pyo3.group(2)) == workspace["dependencies"]["pyo3"]["features"]


def test_rendered_tree_is_complete(rendered: Path) -> None:
    assert rendered.name == DEFAULT_SLUG
    files = {p.relative_to(rendered).as_posix() for p in rendered.rglob("*") if p.is_file()}
    assert files == {f.format(pkg=DEFAULT_PACKAGE) for f in EXPECTED_FILES}
    for rel in files:
        text = (rendered / rel).read_text()
        for leftover in ("{{", "{%", "cookiecutter"):
            assert leftover not in text, f"{rel}: unrendered {leftover!r}"
    readme = (rendered / "README.md").read_text()
    assert "ema_atr_breakout" in readme
    assert "maturin build" in readme
    # the install command replaces an installed build of the same version, from a clean dist/
    assert "rm -rf dist && maturin build --release -o dist" in readme
    assert "pip install --force-reinstall --no-deps dist/*.whl" in readme


def test_cargo_manifest(rendered: Path) -> None:
    cargo = _toml(rendered / "Cargo.toml")
    assert cargo["package"]["name"] == DEFAULT_SLUG
    assert "workspace" in cargo, "the crate needs its own [workspace] to build outside the Omega workspace"
    assert cargo["lib"]["name"] == DEFAULT_PACKAGE
    assert sorted(cargo["lib"]["crate-type"]) == ["cdylib", "rlib"]
    deps = cargo["dependencies"]
    assert deps["omega-core"]["path"] == str(ROOT / "omega-core" / "crates" / "omega-core")
    assert "abi3-py311" in deps["pyo3"]["features"]
    assert deps["pyo3"]["optional"] is True
    assert cargo["features"] == {"default": ["python"], "python": ["dep:pyo3"]}
    assert cargo["profile"]["release"]["panic"] == "unwind"
    assert cargo["profile"]["dev"]["panic"] == "unwind"


def test_pyproject(rendered: Path) -> None:
    pyproject = _toml(rendered / "pyproject.toml")
    assert pyproject["build-system"]["build-backend"] == "maturin"
    project = pyproject["project"]
    assert project["name"] == DEFAULT_SLUG
    assert project["requires-python"] == ">=3.11"
    assert any(re.match(r"^omega-core\b", d) for d in project["dependencies"])
    assert project["entry-points"]["omega"] == {"ema_atr_breakout": f"{DEFAULT_PACKAGE}.plugin"}
    maturin = pyproject["tool"]["maturin"]
    assert maturin["module-name"] == f"{DEFAULT_PACKAGE}._native"
    assert maturin["python-source"] == "python"
    assert "python" in maturin["features"]


def test_python_compiles_and_is_ruff_clean(rendered: Path, tmp_path: Path) -> None:
    sources = sorted(rendered.rglob("*.py")) + sorted(rendered.rglob("*.pyi"))
    assert len(sources) == 7
    for path in sources:
        compile(path.read_text(), str(path), "exec")
    # The rendered project's own ruff configuration applies; the cache stays out of the project.
    env = {**os.environ, "RUFF_CACHE_DIR": str(tmp_path / "ruff-cache")}
    for args in (["check", "."], ["format", "--check", "."]):
        proc = subprocess.run([*_tool("ruff"), *args], cwd=rendered, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, f"ruff {' '.join(args)}:\n{proc.stdout}{proc.stderr}"


def test_rust_is_rustfmt_clean(rendered: Path) -> None:
    rustfmt = shutil.which("rustfmt")
    if rustfmt is None:
        pytest.fail("rustfmt is not on PATH (rustup component add rustfmt)", pytrace=False)
    sources = [str(rendered / "src" / "lib.rs"), str(rendered / "src" / "strategy.rs")]
    proc = subprocess.run(
        [rustfmt, "--check", "--edition", "2021", *sources], cwd=rendered, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_rust_and_python_parameters_agree(rendered: Path) -> None:
    """The Rust `Params` defaults and names are those of the pydantic model (no build needed)."""
    strategy = (rendered / "src" / "strategy.rs").read_text()
    default = re.search(r"impl Default for Params \{.*?Params \{(.*?)\}", strategy, re.S)
    assert default is not None
    rust: dict[str, float | None] = {}
    for name, value in re.findall(r"(\w+): ([^,]+),", default.group(1)):
        some = re.fullmatch(r"Some\((.*)\)", value)
        rust[name] = None if value == "None" else float(some.group(1) if some else value)
    names = re.search(r"pub const PARAMS: \[&str; \d+\] = \[(.*?)\];", strategy, re.S)
    assert names is not None
    assert re.findall(r'"(\w+)"', names.group(1)) == list(rust)

    params_py = rendered / "python" / DEFAULT_PACKAGE / "params.py"
    spec = importlib.util.spec_from_file_location("rendered_params", params_py)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.EmaAtrBreakoutParams
    assert list(model.model_fields) == list(rust)
    assert {k: (None if v is None else float(v)) for k, v in model().model_dump().items()} == rust
    assert model.model_config["extra"] == "forbid"


def test_names_derive_from_strategy_name(tmp_path: Path) -> None:
    project = _render(tmp_path, strategy_name="foo", author="A. Quant")
    assert project.name == "omega-strategies-foo"
    package = project / "python" / "omega_strategies_foo"
    assert package.is_dir()
    cargo = _toml(project / "Cargo.toml")
    assert (cargo["package"]["name"], cargo["lib"]["name"]) == ("omega-strategies-foo", "omega_strategies_foo")
    assert cargo["package"]["authors"] == ["A. Quant"]
    pyproject = _toml(project / "pyproject.toml")
    assert pyproject["project"]["entry-points"]["omega"] == {"foo": "omega_strategies_foo.plugin"}
    assert pyproject["tool"]["maturin"]["module-name"] == "omega_strategies_foo._native"
    lib = (project / "src" / "lib.rs").read_text()
    assert "omega_core::export_strategy!(Foo);" in lib
    strategy = (project / "src" / "strategy.rs").read_text()
    assert 'pub const STRATEGY_NAME: &str = "foo";' in strategy
    assert "impl RustStrategy for Foo {" in strategy
    assert 'STRATEGY_NAME = "foo"' in (package / "__init__.py").read_text()
    assert "class FooReference(Strategy):" in (package / "reference.py").read_text()
    assert "class FooParams(BaseModel):" in (package / "params.py").read_text()


def test_default_core_path_works_wherever_rendered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rendered far from the repository (and from another working directory), the project still
    points at this checkout's omega-core crate."""
    monkeypatch.chdir(tmp_path)
    project = _render(tmp_path / "elsewhere" / "deeper")
    path = Path(_toml(project / "Cargo.toml")["dependencies"]["omega-core"]["path"])
    assert path.is_absolute()
    assert path == ROOT / "omega-core" / "crates" / "omega-core"
    assert _toml(path / "Cargo.toml")["package"]["name"] == "omega-core"


def test_relative_core_path_is_checked_from_the_project(tmp_path: Path) -> None:
    core = ROOT / "omega-core" / "crates" / "omega-core"
    out = tmp_path / "rendered"
    out.mkdir(parents=True)
    rel = os.path.relpath(core, out / DEFAULT_SLUG)
    project = _render(tmp_path, omega_core_path=rel)
    assert _toml(project / "Cargo.toml")["dependencies"]["omega-core"]["path"] == rel


@pytest.mark.parametrize("value", ["../omega-core/crates/omega-core", "/nonexistent/omega-core", "{root}/omega-core"])
def test_wrong_core_path_is_refused_with_a_clear_message(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], value: str
) -> None:
    _, failed_hook = _cookiecutter()
    with pytest.raises(failed_hook):
        _render(tmp_path, omega_core_path=value.format(root=ROOT))
    err = capfd.readouterr().err
    assert "is not the omega-core crate" in err
    assert "Pass omega_core_path=<absolute path to omega-core/crates/omega-core" in err


def test_tests_follow_the_strategy_not_the_example(rendered: Path) -> None:
    """Reason and tags come from the strategy's name, and the tests compare against the strategy's
    own constants, rule and parameters, so a first edit of the example does not break them."""
    strategy = (rendered / "src" / "strategy.rs").read_text()
    assert "pub const REASON: &str = STRATEGY_NAME;" in strategy
    assert 'pub const TAGS: [&str; 3] = [STRATEGY_NAME, "ema", "atr"];' in strategy
    reference = (rendered / "python" / DEFAULT_PACKAGE / "reference.py").read_text()
    assert "REASON = STRATEGY_NAME" in reference
    for rel in ("src/lib.rs", "tests/test_parity.py", "src/strategy.rs", f"python/{DEFAULT_PACKAGE}/reference.py"):
        assert '"breakout"' not in (rendered / rel).read_text(), rel
    lib = (rendered / "src" / "lib.rs").read_text()
    assert "strategy::entry_rule(&params" in lib
    assert "assert_eq!(t.tags, strategy::TAGS);" in lib


def test_absolute_core_path_is_used_verbatim(tmp_path: Path) -> None:
    core = str(ROOT / "omega-core" / "crates" / "omega-core")
    project = _render(tmp_path, omega_core_path=core, omega_core_version="0.1.0")
    assert _toml(project / "Cargo.toml")["dependencies"]["omega-core"] == {"path": core, "version": "0.1.0"}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("strategy_name", "Bad-Name"),
        ("strategy_name", "9lives"),
        ("project_slug", "Not_A_Slug"),
        ("package_name", "omega"),
        ("omega_core_version", "latest"),
        ("omega_core_path", "it's/omega-core"),
    ],
)
def test_invalid_values_are_refused(tmp_path: Path, key: str, value: str) -> None:
    _, failed_hook = _cookiecutter()
    with pytest.raises(failed_hook):
        _render(tmp_path, **{key: value})
    out = tmp_path / "rendered"
    assert not out.exists() or not any(out.iterdir()), "nothing is left behind"
