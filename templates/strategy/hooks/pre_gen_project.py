"""Refuse names that would render a project that cannot build or register (runs before rendering)."""

from __future__ import annotations

import re
import sys

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


def main() -> int:
    """Check every value against its rule; print all problems at once."""
    problems = [
        f"{key} = {VALUES[key]!r}: must be {why}"
        for key, (pattern, why) in RULES.items()
        if not re.match(pattern, VALUES[key])
    ]
    if VALUES["package_name"] == "omega":
        problems.append("package_name = 'omega' would shadow the omega-core package")
    for problem in problems:
        print(f"ERROR: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
