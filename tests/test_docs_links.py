"""The docs point only at what the repository has: every relative Markdown link and every
backticked repository path in README.md, docs/ and the fixture READMEs exists, and nothing refers
to the background `spec/` files (they are not part of the repository; the docs restate them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), *(ROOT / "tests" / "fixtures").rglob("README.md")])
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
PATH = re.compile(r"`((?:docs|tests|omega-core|omega-strategies-zscore|templates)/[\w./-]+)`")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_and_paths_exist(doc: Path) -> None:
    text = doc.read_text()
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target):
            continue
        assert (doc.parent / target).exists(), f"{doc.name}: link to missing {target}"
    for target in PATH.findall(text):
        path = target.rstrip(".")
        assert (ROOT / path).exists() or any(ROOT.glob(path)), f"{doc.name}: `{target}` does not exist"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_references_to_specs_outside_the_repository(doc: Path) -> None:
    assert not re.search(r"\bspec/[\w.-]+\.md", doc.read_text()), f"{doc.name} refers to a spec file not in the repo"


def test_no_doc_claims_performance_md_is_missing() -> None:
    assert (ROOT / "docs" / "performance.md").exists()
    for doc in DOCS:
        text = " ".join(doc.read_text().split())
        assert not re.search(r"performance\.md`?[^.]*(does not exist|not in the tree)", text), doc.name
        assert "Planned in the design but not in the tree" not in text, doc.name
