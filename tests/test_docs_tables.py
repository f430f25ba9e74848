"""The Markdown pages of ``docs/`` render whole: every table has rows of its header's width, and no page repeats
the lines of its opening paragraph (a stray copy left by an edit)."""

import re
from pathlib import Path

import pytest

PAGES = sorted((Path(__file__).parent.parent / "docs").glob("*.md"))
SEPARATOR = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$")


def cells(line):
    """A table row's cells: split at the pipes outside code spans, ignoring escaped ones."""
    outside_code = re.sub(r"`[^`]*`", lambda m: "x" * len(m.group()), line.replace(r"\|", "xx"))
    bounds = [i for i, c in enumerate(outside_code) if c == "|"]
    parts = [line[a + 1 : b] for a, b in zip([-1, *bounds], [*bounds, len(line)])]
    if line.lstrip().startswith("|"):
        parts = parts[1:]
    if line.rstrip().endswith("|"):
        parts = parts[:-1]
    return [p.strip() for p in parts]


def tables(text):
    """Each table of a Markdown page as ``(line number, header, rows)``, outside fenced code."""
    lines, found, fenced = text.splitlines(), [], False
    for i, line in enumerate(lines):
        fenced ^= line.lstrip().startswith("```")
        if fenced or i + 1 >= len(lines) or "|" not in line or not SEPARATOR.match(lines[i + 1].strip()):
            continue
        rows = []
        for row in lines[i + 2 :]:
            if not row.strip().startswith("|"):
                break
            rows.append(cells(row))
        found.append((i + 1, cells(line), rows))
    return found


def opening_lines(text):
    """The lines of a page's first paragraph after its title."""
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    start = next(i for i, line in enumerate(lines) if line.strip())
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return [line for line in lines[start:end] if len(line.strip()) > 20]


def test_the_parser_sees_rows_and_cells():
    text = "# T\n\nintro\n\n| a | b |\n|---|---|\n| `x | y` | z |\n| 1 | 2 |\n\ntext\n"
    assert tables(text) == [(5, ["a", "b"], [["`x | y`", "z"], ["1", "2"]])]
    assert tables("| a | b |\n|---|---|\ntext\n") == [(1, ["a", "b"], [])]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_table_has_rows_of_its_headers_width(page):
    for line, header, rows in tables(page.read_text()):
        assert rows, f"{page.name}:{line}: the table has no rows"
        for row in rows:
            assert len(row) == len(header), f"{page.name}:{line}: a row of {len(row)} cells under {len(header)}: {row}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_page_repeats_its_opening_lines(page):
    text = page.read_text()
    repeated = [line for line in opening_lines(text) if text.count(line) > 1]
    assert not repeated, f"{page.name} repeats its opening lines: {repeated}"
