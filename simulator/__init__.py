"""Crosstalk: a mechanistic simulator of ER / RTK / PI3K-Akt-mTOR crosstalk.

The public verbs live here; see README.md and docs/.
"""
__version__ = "0.1.0"
