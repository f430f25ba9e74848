"""CHANGELOG.md follows Keep a Changelog, and the package's version is one of its sections."""

import re
from pathlib import Path

import layca_core

TEXT = (Path(__file__).resolve().parents[1] / "CHANGELOG.md").read_text()
KINDS = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def test_unreleased_comes_first_and_the_code_version_is_a_section():
    versions = re.findall(r"^## \[([^\]]+)\]", TEXT, re.M)
    assert versions[0] == "Unreleased"
    assert layca_core.__version__ in versions[1:], f"add a ## [{layca_core.__version__}] section"


def test_changes_are_grouped_by_kind():
    assert set(re.findall(r"^### (.*)$", TEXT, re.M)) <= KINDS
    assert not re.findall(r"^## (?!\[)", TEXT, re.M), "version sections are written ## [VERSION]"
