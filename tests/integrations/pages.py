"""Run the Python blocks of a ``docs/integrations/`` page as written, as the LoRA and checkpointing tests run theirs."""

import re
from pathlib import Path

PAGES = Path(__file__).resolve().parents[2] / "docs" / "integrations"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
OUTPUT = re.compile(r"```text\n(.*?)```", re.S)


def section(page: str, heading: str) -> str:
    """The text of ``page`` under the ``## `` heading named."""
    parts = (PAGES / page).read_text().split("\n## ")[1:]
    return next(part for part in parts if part.split("\n", 1)[0].strip() == heading)


def code(page: str, *headings: str) -> str:
    """The Python blocks of ``page`` under the ``## `` headings named (in that order), or all of them."""
    if not headings:
        return "\n".join(BLOCK.findall((PAGES / page).read_text()))
    return "\n".join(block for heading in headings for block in BLOCK.findall(section(page, heading)))


def output(page: str, heading: str) -> str:
    """The first ``text`` block under the heading named: the output the page shows."""
    return OUTPUT.search(section(page, heading))[1]


def run(page: str, *headings: str) -> dict:
    """Execute those blocks in one fresh namespace (as one script) and return it."""
    namespace: dict = {"__name__": "__page__"}
    exec(compile(code(page, *headings), str(PAGES / page), "exec"), namespace)
    return namespace
