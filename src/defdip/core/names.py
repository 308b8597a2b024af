"""The one rule for matching a variable's name: case, spacing and underscores forgiven.

``"Mutual Trust"``, ``"mutual  trust"`` and ``"mutual_trust"`` (PySD's Python name) are one
variable. Every lookup of a user-typed or file-given name goes through :func:`canonical`.
"""
from __future__ import annotations


def canonical(name: str) -> str:
    """The name folded for matching: lower case, underscores as spaces, runs of spaces as one."""
    return " ".join(name.replace("_", " ").split()).lower()
