"""README.md and examples/README.md say what the committed results give: their generated sections are checked."""

import re
import shutil
from pathlib import Path

import pytest

from examples import claims, documents, report, studies, tables

pytest.importorskip("scipy")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sections():
    return documents.sections(ROOT)


def test_every_generated_section_matches_the_committed_results(sections):
    assert report.stale(ROOT, sections) == [], "run python -m examples.report and commit the documents"


def test_a_number_changed_by_hand_is_caught(sections, tmp_path):
    for document in report.DOCUMENTS:
        (tmp_path / document).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / document, tmp_path / document)
    text = (tmp_path / "examples/README.md").read_text()
    start = text.index("<!-- generated:claims -->")
    digit = next(i for i in range(start + 30, len(text)) if text[i].isdigit() and text[i - 1] == ".")
    (tmp_path / "examples/README.md").write_text(text[:digit] + str((int(text[digit]) + 1) % 10) + text[digit + 1 :])
    assert report.stale(tmp_path, sections) == ["examples/README.md: claims"]


def test_examples_readme_opens_with_the_claims_and_the_readme_shows_the_demo():
    examples_readme = (ROOT / "examples/README.md").read_text()
    first = report.SECTION.search(examples_readme)
    headings = [m.start() for m in re.finditer("\n## ", examples_readme)]
    assert first.group(2) == "claims" and headings[0] < first.start() < headings[1]  # in the first section
    assert "| C1: " in first.group(3) and "| C5: " in first.group(3) and "n = " in first.group(3)
    readme_sections = {m.group(2) for m in report.SECTION.finditer((ROOT / "README.md").read_text())}
    assert readme_sections == {"demo", "verdicts"}


def test_the_default_task_is_the_budget_the_rule_picks(sections):
    epochs = studies.get(documents.STUDY).task.epochs
    assert f"The rule picks **{epochs} epochs**" in sections["budget"]
    assert len(tables.SEPARATIONS) == 4


def test_rewrite_replaces_only_marked_sections_and_names_unknown_ones():
    text = "keep\n<!-- generated:a -->\nold\n<!-- /generated:a -->\nkeep too\n"
    assert report.rewrite(text, {"a": "new\n"}) == "keep\n<!-- generated:a -->\nnew\n<!-- /generated:a -->\nkeep too\n"
    with pytest.raises(KeyError, match="no generator for the section"):
        report.rewrite(text, {"b": ""})


def test_the_demo_table_shows_the_study_interval_of_each_method(sections):
    from examples import demo

    header, beside = documents.demo_intervals(ROOT)
    assert set(beside) == {method.name for method in demo.methods()}
    assert all(re.fullmatch(r"\[\d+\.\d, \d+\.\d\]", interval) for interval in beside.values())
    assert header in sections["demo"] and all(f"| {interval} |" in sections["demo"] for interval in beside.values())


def test_the_readme_verdict_table_names_every_claim_of_both_studies_once(sections):
    def ids(text: str) -> list[str]:
        return re.findall(r"(?:\| |<br>)([CL]\d+b?): ", text)

    expected = ids(sections["claims"]) + ids(sections["lm-claims"])
    assert len(expected) >= 10 and sorted(ids(sections["verdicts"])) == sorted(expected)
    rows = [line for line in sections["verdicts"].splitlines() if line.startswith("| **")]
    shown = [row.split("**")[1] for row in rows]
    known = [claims.REPRODUCED, claims.INCONCLUSIVE, claims.CONTRADICTED]
    assert len(shown) == len(set(shown)), "one row per verdict"
    assert [v for v in shown if v in known] == [v for v in known if v in shown], "reproduced first, contradicted last"
