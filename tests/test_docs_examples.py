"""The README's Python examples run as written (style.md §15: examples in docs stay true)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.DOTALL)


@pytest.mark.parametrize("doc", ["README.md", "docs/results.md"])
def test_python_examples_run(doc: str, zscore_plugin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ```python block of the document executes without error (in a scratch directory, as
    examples write files)."""
    monkeypatch.chdir(tmp_path)
    blocks = _python_blocks(ROOT / doc)
    assert blocks, f"{doc} has no python examples"
    for block in blocks:
        exec(compile(block, f"{doc}:example", "exec"), {"__name__": "__doc_example__"})
