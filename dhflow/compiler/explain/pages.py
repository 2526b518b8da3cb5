"""Read the Markdown pages shipped in this package (codes.md, keys.md) into sections."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources

from dhflow.compiler.diagnostics import CODES

_SECTION = re.compile(r"^## (.+)$", re.M)
_EXAMPLE = re.compile(r"```dhflow\n(.*?)```", re.S)


@functools.lru_cache(maxsize=None)
def _sections(name: str) -> dict[str, str]:
    text = (resources.files(__package__) / name).read_text(encoding="utf-8")
    parts = _SECTION.split(text)
    # parts: preamble, title1, body1, title2, body2, ...
    return {title.strip(): body.strip() for title, body in zip(parts[1::2], parts[2::2])}


@dataclass(frozen=True)
class CodePage:
    """The page of one diagnostic code."""

    code: str
    title: str
    body: str  # Markdown: meaning, an example, the fix

    @property
    def example(self) -> str | None:
        """The example file that triggers the code (None when it cannot be shown as a file)."""
        m = _EXAMPLE.search(self.body)
        return m.group(1) if m else None

    def markdown(self) -> str:
        return f"**{self.code}: {self.title}**\n\n{self.body}"

    def text(self) -> str:
        """The page for a terminal: the Markdown without its code fences."""
        out, fenced = [], False
        for line in self.body.splitlines():
            if line.startswith("```"):
                fenced = not fenced
                continue
            out.append(f"    {line}" if fenced and line else line)
        body = "\n".join(out)
        return f"{self.code}: {self.title}\n\n{body.rstrip()}\n"


def code_page(code: str) -> CodePage | None:
    """The page of a diagnostic code (any case), or None for an unknown code."""
    code = code.strip().upper()
    if code not in CODES:
        return None
    return CodePage(code, CODES[code], _sections("codes.md").get(code, CODES[code]))


def explain_code(code: str) -> str | None:
    """The text `dhflow explain CODE` prints."""
    page = code_page(code)
    return page.text() if page else None


def words() -> dict[str, str]:
    """Every documented word: `block rule`, `nodes in rule`, `function ceil` ... -> Markdown."""
    return dict(_sections("keys.md"))


def word_doc(kind: str, name: str, block: str | None = None) -> str | None:
    """The documentation of a word: kind is block, key, function, sampler, domain or objective."""
    docs = _sections("keys.md")
    if kind == "key":
        return docs.get(f"{name} in {block}")
    return docs.get(f"{kind} {name}")
