"""Jinja globals for the template: `omega_core_crate()` is the absolute path of the omega-core crate
of the checkout this template belongs to, so that the default `omega_core_path` works wherever the
project is rendered (the pre-generation hook checks whatever path is finally used)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2.ext import Extension

CORE_CRATE = Path(__file__).resolve().parents[2] / "omega-core" / "crates" / "omega-core"


class OmegaCorePath(Extension):
    """Adds `omega_core_crate()` to the template's Jinja globals."""

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        environment.globals["omega_core_crate"] = lambda: str(CORE_CRATE)
