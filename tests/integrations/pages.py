"""Run the Python blocks of a ``docs/integrations/`` page as written, as the LoRA and checkpointing tests run theirs."""

import re
from pathlib import Path

PAGES = Path(__file__).resolve().parents[2] / "docs" / "integrations"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def code(page: str, *headings: str) -> str:
    """The Python blocks of ``page`` under the ``## `` headings named (in that order), or all of them."""
    text = (PAGES / page).read_text()
    if not headings:
        return "\n".join(BLOCK.findall(text))
    sections = {part.split("\n", 1)[0].strip(): part for part in text.split("\n## ")[1:]}
    return "\n".join(block for heading in headings for block in BLOCK.findall(sections[heading]))


def run(page: str, *headings: str) -> dict:
    """Execute those blocks in one fresh namespace (as one script) and return it."""
    namespace: dict = {"__name__": "__page__"}
    exec(compile(code(page, *headings), str(PAGES / page), "exec"), namespace)
    return namespace
