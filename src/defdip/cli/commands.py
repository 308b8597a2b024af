"""Sub-commands beyond ``run``/``scenarios``/``describe``, one module each.

Each module defines ``register(subparsers)``, which adds its parser and sets
``handler`` (a function ``args -> exit status``) with ``set_defaults``. Modules import
the library lazily inside their handler, so building the parser stays cheap.
"""
from __future__ import annotations

import argparse

MODULES = ("sweep", "compare", "micmac", "validate", "discover", "robustness", "dominance", "explore")


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    """Accept ``--debug`` after the sub-command too (it is also accepted before it)."""
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
