"""Every relative link in the README, the changelog and docs/ reaches a file of the repository,
and every ``#fragment`` a heading of the linked Markdown file (GitHub's heading ids).

Why: the docs cross-link results, history and method pages heavily; a renamed heading or a
moved results folder otherwise leaves a reader at a dead link with nothing failing.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").rglob("*.md")])
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def heading_id(text: str) -> str:
    """GitHub's id of a heading: link text kept, markup and punctuation dropped, lower case,
    spaces to hyphens (underscores and hyphens stay)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[`*]", "", text.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def heading_ids(page: Path) -> set[str]:
    """Ids of every heading of ``page``; a repeated heading gets -1, -2, ... as on GitHub."""
    ids: set[str] = set()
    seen: dict[str, int] = {}
    for line in _FENCE.sub("", page.read_text(encoding="utf-8")).splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            base = heading_id(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            ids.add(base if n == 0 else f"{base}-{n}")
    return ids


def relative_links(page: Path) -> list[str]:
    """Link targets of ``page`` outside code, without a scheme (http:, mailto:, ...)."""
    text = _CODE_SPAN.sub("", _FENCE.sub("", page.read_text(encoding="utf-8")))
    return [t for t in _LINK.findall(text) if not re.match(r"^[a-zA-Z][a-zA-Z+.-]*:", t)]


def broken_links(page: Path) -> list[str]:
    out = []
    for target in relative_links(page):
        path, _, fragment = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            out.append(f"{target}: no such file")
        elif ROOT not in dest.parents and dest != ROOT:
            out.append(f"{target}: outside the repository")
        elif fragment and dest.suffix == ".md" and fragment not in heading_ids(dest):
            out.append(f"{target}: no heading with that id in {dest.relative_to(ROOT)}")
    return out


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    assert broken_links(page) == []


def test_the_checker_finds_a_dead_file_and_a_dead_heading(tmp_path, monkeypatch):
    # the checker itself, on a page made for it: one good link of each kind, two dead ones
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    (tmp_path / "other.md").write_text("# A heading, with `code` and punctuation!\n\n## Twice\n\n## Twice\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md#a-heading-with-code-and-punctuation) [ok2](other.md#twice-1) "
        "[gone](missing.md) [nohead](other.md#nowhere) `[code](ignored.md)` [web](https://example.com)\n"
    )
    assert broken_links(page) == [
        "missing.md: no such file",
        "other.md#nowhere: no heading with that id in other.md",
    ]
