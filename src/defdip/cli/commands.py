"""Sub-commands beyond ``run``/``scenarios``/``describe``, one module each.

Each module defines ``register(subparsers)``, which adds its parser and sets
``handler`` (a function ``args -> exit status``) with ``set_defaults``. Modules import
the library lazily inside their handler, so building the parser stays cheap.
"""
from __future__ import annotations

import argparse

MODULES = ("sweep", "compare", "micmac", "validate", "discover", "robustness", "dominance", "explore")
# The engine of the commands that run many runs (engines.simulate.check_engine): no fallback,
# a model the compiled engine cannot take is refused before anything runs.
BATCH_ENGINE_HELP = ("ensemble (the compiled engine; the default) or pysd; a model the ensemble engine "
                     "cannot compile is refused, naming the construct, and --engine pysd runs it")


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    """Accept ``--debug`` after the sub-command too (it is also accepted before it)."""
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def scenarios_from(command: str, paths, model) -> list:
    """The scenarios a command runs: ``--model FILE`` (its own settings), else the scenario files,
    else the shipped baseline. One rule for every command that takes SCENARIO ... or --model.

    Raises
    ------
    InputError
        When both are given, or a file is invalid.
    """
    from defdip.core.errors import InputError
    from defdip.core.resources import BASELINE
    from defdip.core.scenario import load_scenario, scenario_from_model

    if model and paths:
        raise InputError(f"{command}: give scenario files or --model FILE, not both")
    if model:
        return [scenario_from_model(model)]
    return [load_scenario(p) for p in (paths or [BASELINE])]
