"""Sphinx configuration of the deepalloc documentation (``make docs``).

The API pages are generated from the package at every build (``_ext/apigen.py``), the
configuration tables from ``deepalloc.config.SUITE_SCHEMA`` (``_ext/configschema.py``),
and the gallery runs the scripts of ``examples/`` in small settings (``gallery/``), so
nothing here can drift from the code.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# The checkout's package and examples come first, before any installed deepalloc, here
# and in the processes the examples start (Ray workers do not inherit sys.path).
sys.path[:0] = [str(ROOT), str(DOCS / "_ext")]
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
os.environ.setdefault("MPLBACKEND", "Agg")

import deepalloc  # noqa: E402

project = "deepalloc"
author = "the deepalloc developers"
copyright = "the deepalloc developers"
release = deepalloc.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "apigen",
    "aliases",
    "configschema",
]

exclude_patterns = ["_build", "gallery", "**/*.ipynb", "**/*.py.md5", "**/*.codeobj.json"]
templates_path: list[str] = []
nitpicky = True
default_role = "code"

# autodoc and numpydoc: the docstrings are numpydoc, with types in the signatures.
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_inherit_docstrings = False
autosummary_generate = False
add_module_names = False
python_maximum_signature_line_length = 88
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = True


# sphinx-gallery: every wrapper in gallery/ runs an example's main() in a small setting.
sphinx_gallery_conf = {
    "examples_dirs": "gallery",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "abort_on_example_error": True,
    "run_stale_examples": True,  # every build runs them (an example's code may change)
    "download_all_examples": False,
    "remove_config_comments": True,
    "reset_modules": ("matplotlib",),
    "image_scrapers": ("matplotlib", "gallery_figures.scrape"),
    "within_subsection_order": "FileNameSortKey",
    "capture_repr": ("_repr_html_", "__repr__"),
    "min_reported_time": 1,
    "show_signature": False,
}

html_theme = "pydata_sphinx_theme"
html_title = f"deepalloc {release}"
html_theme_options = {
    "navigation_depth": 2,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "navbar_end": ["theme-switcher"],
}
html_static_path: list[str] = []
html_show_sourcelink = False
