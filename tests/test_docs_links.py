"""Every relative link in the project's Markdown resolves, and none leaves the repository.

README.md, CHANGELOG.md, docs/*.md and examples/**/*.md are read as GitHub renders them:
inline links and images (`[text](target)`, `![alt](target)`), reference definitions
(`[name]: target`) and HTML `href`/`src` attributes, outside fenced code blocks and code
spans. A relative target must name a file or folder of the repository, inside it; a
`#anchor` (alone, or after a Markdown file) must be a heading of that file, by GitHub's
slug rules. A code span naming a Markdown file (`docs/search.md`) must name one that
exists too: the examples once pointed readers to a `LANGUAGE.md` the repository does not
have.
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent


def markdown_files() -> list[Path]:
    """The Markdown files the checks cover (README, CHANGELOG, docs/, examples/)."""
    files = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md")),
             *sorted((ROOT / "examples").rglob("*.md"))]
    return [f for f in files if f.is_file()]


# --------------------------------------------------------------------- parsing
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)", re.S)
# [text](target "title"): text may hold one level of brackets and span lines
_INLINE = re.compile(
    r"(!?)\[((?:[^\[\]\\]|\\.|\[[^\[\]]*\])*)\]\(\s*(<[^>\n]*>|(?:[^\s()\\]|\\.|\([^\s()]*\))*)"
    r"(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^()]*\)))?\s*\)")
_REFDEF = re.compile(r"^ {0,3}\[([^\]]+)\]:\s*(<[^>]*>|\S+)", re.M)
_HTML = re.compile(r"<(?:a|img)\b[^>]*?\s(?:href|src)\s*=\s*(\"[^\"]*\"|'[^']*')", re.I)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_MD_MENTION = re.compile(r"^[A-Za-z0-9_.\-/]+\.md$")


def without_fences(text: str) -> str:
    """The text with fenced code blocks blanked (lines kept, so line numbers stay)."""
    out, fence = [], None
    for line in text.split("\n"):
        m = _FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)
            out.append("")
        elif fence is not None:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and \
                    not line.strip()[len(m.group(1)):].strip():
                fence = None
            out.append("")
        else:
            out.append(line)
    return "\n".join(out)


def code_spans(text: str) -> list[tuple[int, str]]:
    """(offset, content) of every code span of fence-free text."""
    return [(m.start(), m.group(2).strip()) for m in _CODE_SPAN.finditer(text)]


def without_code_spans(text: str) -> str:
    """Code spans replaced by `x` runs of their length (a `[a](b)` shown as code is no link)."""
    return _CODE_SPAN.sub(lambda m: "x" * len(m.group(0)), text)


def links(text: str) -> list[tuple[int, str]]:
    """(line, target) of every link, image, reference definition and HTML href/src."""
    body = without_code_spans(without_fences(text))
    found = []
    for rx, group in ((_INLINE, 3), (_REFDEF, 2), (_HTML, 1)):
        for m in rx.finditer(body):
            target = m.group(group)
            if rx is _HTML:
                target = target[1:-1]
            target = target.strip()
            if target.startswith("<") and target.endswith(">"):
                target = target[1:-1]
            found.append((body.count("\n", 0, m.start()) + 1, target))
    return sorted(found)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: its rendered text lower-cased, punctuation dropped
    (letters, digits, `_`, `-` and spaces stay), each space a `-`."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = re.sub(r"<[^>]+>", "", text)                          # inline HTML
    text = text.replace("`", "").replace("*", "")
    text = text.strip().lower()
    text = "".join(c for c in text if c.isalnum() or c in "_- ")
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file (a repeated slug gets -1, -2, ... as on GitHub)."""
    seen: dict[str, int] = {}
    out: set[str] = set()
    for line in without_fences(path.read_text(encoding="utf-8")).split("\n"):
        m = re.match(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    for m in re.finditer(r"<a\s+(?:name|id)\s*=\s*[\"']([^\"']+)[\"']", path.read_text(encoding="utf-8")):
        out.add(m.group(1))
    return out


def problem(source: Path, target: str) -> str | None:
    """Why a link of `source` does not resolve inside the repository, or None."""
    if not target or _SCHEME.match(target) or target.startswith("//"):
        return None  # a URL (http:, mailto:, ...): not a file of the repository
    path_part, _, fragment = target.partition("#")
    path_part = unquote(path_part.split("?", 1)[0])
    if path_part:
        base = ROOT if path_part.startswith("/") else source.parent  # GitHub: `/` is the repository root
        resolved = (base / path_part.lstrip("/")).resolve()
        if resolved != ROOT and ROOT not in resolved.parents:
            return f"{target}: outside the repository ({resolved})"
        if not resolved.exists():
            return f"{target}: no such file or folder ({resolved.relative_to(ROOT)})"
    else:
        resolved = source
    if fragment and resolved.is_file() and resolved.suffix == ".md":
        if unquote(fragment).lower() not in anchors(resolved):
            return f"{target}: no heading #{fragment} in {resolved.relative_to(ROOT)}"
    return None


# ----------------------------------------------------------------------- tests
@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_inside_the_repository(path):
    text = path.read_text(encoding="utf-8")
    bad = [f"{path.relative_to(ROOT)}:{line}: {why}" for line, target in links(text)
           if (why := problem(path, target)) is not None]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_markdown_files_named_in_code_exist(path):
    """`docs/search.md` in a code span names a file of the repository (from the root, or
    next to the file that names it)."""
    text = without_fences(path.read_text(encoding="utf-8"))
    bad = []
    for offset, content in code_spans(text):
        if _MD_MENTION.match(content) and not ((ROOT / content).is_file() or (path.parent / content).is_file()):
            bad.append(f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, offset) + 1}: `{content}` does not exist")
    assert not bad, "\n".join(bad)


def test_the_checks_cover_the_docs_and_examples():
    names = {str(p.relative_to(ROOT)) for p in markdown_files()}
    assert {"README.md", "CHANGELOG.md", "docs/reference.md", "docs/search.md", "examples/README.md",
            "examples/datasets/README.md"} <= names


# ------------------------------------------------- the checker itself, on known text
def test_links_are_found_as_github_renders_them():
    text = ("See [the guide](docs/a.md#x) and ![pic](img/p.png \"title\").\n"
            "A link over [two\nlines](b.md). `[not](a-link.md)` in code.\n"
            "```\n[fenced](nope.md)\n```\n"
            "[ref]: ../c.md\n<img src=\"d.png\"> [web](https://example.org/x.md) [a](<e f.md>)\n")
    assert links(text) == [(1, "docs/a.md#x"), (1, "img/p.png"), (2, "b.md"), (7, "../c.md"),
                           (8, "d.png"), (8, "e f.md"), (8, "https://example.org/x.md")]


def test_slugs_follow_github():
    assert slug("v2: adaptive search") == "v2-adaptive-search"
    assert slug("v2: fan-out over named values, files between rules") == \
        "v2-fan-out-over-named-values-files-between-rules"
    assert slug("`dhflow emit`: `data()` from any language") == "dhflow-emit-data-from-any-language"
    assert slug("Files: the names `inputs:` gives") == "files-the-names-inputs-gives"
    assert slug("`sample:` and `search:` together") == "sample-and-search-together"


def test_a_broken_link_an_escape_and_a_missing_heading_are_reported():
    readme = ROOT / "README.md"
    assert problem(readme, "docs/reference.md") is None
    assert problem(readme, "docs/reference.md#v2-adaptive-search") is None
    assert problem(readme, "https://example.org/nowhere.md") is None
    assert "no such file" in problem(readme, "docs/LANGUAGE.md")
    assert "outside the repository" in problem(readme, "../shared/LANGUAGE.md")
    assert "outside the repository" in problem(ROOT / "docs" / "search.md", "../../x.md")
    assert "no heading" in problem(readme, "docs/reference.md#no-such-section")
    assert "no heading" in problem(ROOT / "docs" / "reference.md", "#no-such-section")
