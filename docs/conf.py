"""Sphinx configuration: the Markdown pages (MyST) and the API reference from the docstrings (``bash scripts/docs.sh``)."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "adapters")]
os.environ.setdefault("KERAS_BACKEND", "jax")

import layca_core  # noqa: E402

project = "layca"
author = "layca developers"
copyright = "2026, layca developers"  # noqa: A001 (the name Sphinx reads)
release = version = layca_core.__version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon"]
root_doc = "index"
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
html_theme = "alabaster"
