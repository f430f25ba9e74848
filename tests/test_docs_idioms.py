"""Every test that docs/idioms.md names as proof exists, so the table cannot point at nothing."""

import ast
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CITATION = re.compile(r"`([\w/]*test_\w+\.py)?::(test_\w+)`")


def citations() -> list[tuple[str, str]]:
    """(path, test name) of every cited test: a bare file is in the directory of the last full path,
    a bare ``::test`` in the last file."""
    with open(os.path.join(ROOT, "docs", "idioms.md")) as page:
        text = page.read()
    found, directory, path = [], "tests", None
    for cited, name in CITATION.findall(text):
        if cited:
            path = cited if "/" in cited else f"{directory}/{cited}"
            directory = os.path.dirname(path)
        found.append((path, name))
    return found


def test_every_test_the_idioms_page_cites_exists():
    cited = citations()
    assert len(cited) >= 15
    for path, name in cited:
        with open(os.path.join(ROOT, path)) as source:
            tree = ast.parse(source.read())
        assert name in {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}, f"{path}::{name} is cited"
