"""Sphinx configuration for the npgd documentation."""

project = "npgd"
author = "npgd developers"
copyright = "2026, npgd developers"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]
napoleon_numpy_docstring = True
napoleon_google_docstring = False
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_typehints = "description"
autodoc_mock_imports = ["cupy", "cupyx"]
nitpicky = False
html_theme = "alabaster"
exclude_patterns = ["_build", "_generated"]
