"""Render every Mermaid diagram of docs/design.md to the SVG file named under it.

Why pictures beside the Mermaid source: the source is what a reviewer reads in a diff, and what
GitHub draws; a reader with anything else (a plain Markdown viewer, a printed copy, an editor)
sees only code, so each diagram is also committed as an SVG and linked right under its block.

The rule the document follows (and ``tests/test_design_doc.py`` checks): the first line that is
not blank after a block's closing fence holds a link to ``design/<name>.svg``; that is where the
block is rendered. Each SVG carries, in an XML comment just inside its root element, the SHA-256
of the Mermaid source it was drawn from, so a test can tell a diagram whose source changed from
its picture without rendering anything (rendering needs Chromium and Node).

Usage::

    make diagrams                                   # installs mermaid-cli first, if need be
    .venv/bin/python scripts/render_diagrams.py      # render the pictures that are out of date
    .venv/bin/python scripts/render_diagrams.py --all    # render every one again
    .venv/bin/python scripts/render_diagrams.py --check  # only say which are out of date

Rendering uses mermaid-cli (``mmdc``, npm, pinned in ``scripts/mermaid/package.json``; install it
with ``PUPPETEER_SKIP_DOWNLOAD=1 npm ci --prefix scripts/mermaid``) driving Debian's chromium
(``scripts/mermaid/puppeteer.json``), with the look in ``scripts/mermaid/config.json``: the
classic theme and plain SVG text, so the files hold no embedded fonts and open in any viewer.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "design.md"
TOOLS = ROOT / "scripts" / "mermaid"
MMDC = TOOLS / "node_modules" / ".bin" / "mmdc"

FENCE_OPEN = "```mermaid"
FENCE_CLOSE = "```"
#: The link under a block: ``(design/01-architecture.svg)``, relative to the document.
PICTURE_LINK = re.compile(r"\((design/[\w.-]+\.svg)\)")
#: What a rendered SVG records of its source (inside its root element).
SOURCE_MARK = (
    "<!-- rendered by scripts/render_diagrams.py from docs/design.md; mermaid sha256: {} -->"
)
RECORDED = re.compile(
    r"<!-- rendered by scripts/render_diagrams\.py .*?mermaid sha256: ([0-9a-f]{64}) -->"
)


@dataclass(frozen=True)
class Diagram:
    """One ```mermaid block of the document and the picture it is rendered to."""

    #: 1-based line of the opening fence, for messages.
    line: int
    source: str
    #: Relative to the document, as the link writes it (``design/….svg``); ``None``: no link.
    picture: str | None

    @property
    def sha256(self) -> str:
        return source_sha256(self.source)

    def path(self, doc: Path = DOC) -> Path | None:
        return None if self.picture is None else doc.parent / self.picture


def source_sha256(source: str) -> str:
    """The hash recorded in a picture: of the block's lines, each ending in a newline."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def diagrams(text: str) -> list[Diagram]:
    """Every Mermaid block of ``text``, in order, with the picture linked under it."""
    lines = text.splitlines()
    found: list[Diagram] = []
    index = 0
    while index < len(lines):
        if lines[index].strip() != FENCE_OPEN:
            index += 1
            continue
        start = index
        index += 1
        body: list[str] = []
        while index < len(lines) and lines[index].strip() != FENCE_CLOSE:
            body.append(lines[index])
            index += 1
        index += 1  # past the closing fence
        after = index
        while after < len(lines) and not lines[after].strip():
            after += 1
        link = PICTURE_LINK.search(lines[after]) if after < len(lines) else None
        source = "".join(line + "\n" for line in body)
        found.append(Diagram(start + 1, source, link.group(1) if link else None))
    return found


def recorded_sha256(svg: str) -> str | None:
    """The source hash an SVG was rendered from, or ``None`` if it records none."""
    match = RECORDED.search(svg)
    return match.group(1) if match else None


def stale(diagram: Diagram, doc: Path = DOC) -> bool:
    """Whether the diagram's picture is missing or was rendered from another source."""
    path = diagram.path(doc)
    if path is None or not path.exists():
        return True
    return recorded_sha256(path.read_text(encoding="utf-8")) != diagram.sha256


def mark(svg: str, sha256: str) -> str:
    """The SVG with the record of its source just inside the root element."""
    root_end = svg.index(">", svg.index("<svg")) + 1
    return svg[:root_end] + SOURCE_MARK.format(sha256) + svg[root_end:]


def render(diagram: Diagram, doc: Path = DOC) -> Path:
    """Render one diagram with mermaid-cli and write its picture, marked with its source."""
    path = diagram.path(doc)
    if path is None:
        raise SystemExit(
            f"{doc.name}:{diagram.line}: no link to design/<name>.svg under this Mermaid block"
        )
    mmdc = Path(os.environ.get("MMDC", str(MMDC)))
    if not mmdc.exists():
        raise SystemExit(
            f"mermaid-cli is not installed ({mmdc}): run "
            "PUPPETEER_SKIP_DOWNLOAD=1 npm ci --prefix scripts/mermaid (or make diagrams)"
        )
    browser = json.loads((TOOLS / "puppeteer.json").read_text(encoding="utf-8"))["executablePath"]
    if not Path(browser).exists():
        raise SystemExit(f"no browser at {browser}: install Debian's chromium (make browser)")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        given = Path(scratch) / "diagram.mmd"
        drawn = Path(scratch) / "diagram.svg"
        given.write_text(diagram.source, encoding="utf-8")
        subprocess.run(
            [
                str(mmdc),
                "--puppeteerConfigFile",
                str(TOOLS / "puppeteer.json"),
                "--configFile",
                str(TOOLS / "config.json"),
                "--backgroundColor",
                "white",
                "--quiet",
                "--input",
                str(given),
                "--output",
                str(drawn),
            ],
            check=True,
        )
        svg = drawn.read_text(encoding="utf-8")
    path.write_text(mark(svg, diagram.sha256), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--all", action="store_true", help="render every diagram again")
    parser.add_argument(
        "--check", action="store_true", help="render nothing; exit 1 if a picture is out of date"
    )
    parser.add_argument("--doc", type=Path, default=DOC, help="the document (default: %(default)s)")
    args = parser.parse_args(argv)
    doc: Path = args.doc
    found = diagrams(doc.read_text(encoding="utf-8"))
    out_of_date = [d for d in found if args.all or stale(d, doc)]
    if args.check:
        for diagram in out_of_date:
            print(f"{doc.name}:{diagram.line}: {diagram.picture or 'no picture'} is out of date")
        return 1 if out_of_date else 0
    for diagram in out_of_date:
        print(f"{doc.name}:{diagram.line}: rendering {diagram.picture}", flush=True)
        render(diagram, doc)
    print(f"{len(found)} diagrams, {len(out_of_date)} rendered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
