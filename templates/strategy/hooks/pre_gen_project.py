"""Refuse names that would render a project that cannot build or register (runs before rendering)."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

VALUES = {
    "strategy_name": r"{{ cookiecutter.strategy_name }}",
    "project_slug": r"{{ cookiecutter.project_slug }}",
    "package_name": r"{{ cookiecutter.package_name }}",
    "omega_core_path": r"{{ cookiecutter.omega_core_path }}",
    "omega_core_version": r"{{ cookiecutter.omega_core_version }}",
}
RULES = {
    # Registry key, Rust constant and (title-cased) class-name stem.
    "strategy_name": (r"^[a-z][a-z0-9_]{0,63}$", "lowercase letters, digits and '_', starting with a letter"),
    # Distribution and Cargo package name.
    "project_slug": (r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$", "lowercase words joined by '-'"),
    # Python package and Rust library name.
    "package_name": (r"^[a-z][a-z0-9_]*$", "a lowercase Python identifier"),
    # Written into Cargo.toml as a literal string: no quotes.
    "omega_core_path": (
        r"""^[^\s'"]([^'"]*[^\s'"])?$""",
        "a path to the omega-core crate, without quotes or surrounding spaces",
    ),
    "omega_core_version": (r"^\d+\.\d+\.\d+$", "a version MAJOR.MINOR.PATCH"),
}


def core_path_problem(value: str) -> str | None:
    """Why `value` does not lead to the omega-core crate, or None. A relative path is relative to
    the rendered project (where Cargo resolves it); the hook runs in that directory."""
    resolved = Path(value).expanduser()
    resolved = resolved if resolved.is_absolute() else (Path.cwd() / resolved).resolve()
    manifest = resolved / "Cargo.toml"
    try:
        with manifest.open("rb") as f:
            name = tomllib.load(f).get("package", {}).get("name")
    except (OSError, tomllib.TOMLDecodeError) as e:
        name = None
        why = f"cannot read {manifest} ({type(e).__name__})"
    else:
        why = f"{manifest} is the package {name!r}"
    if name == "omega-core":
        return None
    return (
        f"omega_core_path = {value!r} (resolved to {resolved}) is not the omega-core crate: {why}. "
        "Pass omega_core_path=<absolute path to omega-core/crates/omega-core in an Omega checkout>"
    )


def main() -> int:
    """Check every value against its rule; print all problems at once."""
    problems = [
        f"{key} = {VALUES[key]!r}: must be {why}"
        for key, (pattern, why) in RULES.items()
        if not re.match(pattern, VALUES[key])
    ]
    if not problems or all(not p.startswith("omega_core_path") for p in problems):
        core = core_path_problem(VALUES["omega_core_path"])
        if core is not None:
            problems.append(core)
    if VALUES["package_name"] == "omega":
        problems.append("package_name = 'omega' would shadow the omega-core package")
    for problem in problems:
        print(f"ERROR: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
