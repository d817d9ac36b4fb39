"""The README's Python examples run as written (style.md §15: examples in docs stay true)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.DOTALL)


@pytest.mark.parametrize("doc", ["README.md", "docs/data.md", "docs/results.md"])
def test_python_examples_run(doc: str, zscore_plugin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ```python block of the document executes without error (in a scratch directory, as
    examples write files)."""
    monkeypatch.chdir(tmp_path)
    blocks = _python_blocks(ROOT / doc)
    assert blocks, f"{doc} has no python examples"
    for block in blocks:
        exec(compile(block, f"{doc}:example", "exec"), {"__name__": "__doc_example__"})


SWEEP_BLOCKS = _python_blocks(ROOT / "docs" / "sweeps.md")
# Blocks that need an optional package: the package and why it is not a test dependency.
OPTIONAL = {"optuna": "Optuna is an optional extra of the optimiser example, not a dependency of Omega"}


@pytest.mark.parametrize("index", range(len(SWEEP_BLOCKS)), ids=[f"block{i}" for i in range(len(SWEEP_BLOCKS))])
def test_sweep_doc_examples_run(index: int, zscore_plugin: str) -> None:
    """Every ```python block of docs/sweeps.md executes (the Dask one starts a loopback cluster)."""
    block = SWEEP_BLOCKS[index]
    for module, why in OPTIONAL.items():
        if re.search(rf"^import {module}\b", block, flags=re.MULTILINE) and importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed: {why}")
    exec(compile(block, f"docs/sweeps.md:block{index}", "exec"), {"__name__": "__doc_example__"})
