"""Limits on work a command refuses to start: how many time steps, thresholds... and how to allow more.

Each limit has a default and an environment variable, ``DEFDIP_MAX_<NAME>``, that raises (or
lowers) it; the variable is read when the check is made, never at import.
"""
from __future__ import annotations

import os

from defdip.core.errors import InputError

DEFAULTS = {
    "STEPS": 200_000,  # time steps of one run: 125 times the shipped scenarios (1,600), well under a GB
    "THRESHOLDS": 10_000,  # strategic thresholds `robustness` compares (the default step gives 41)
}


def allowed(name: str) -> int:
    """The limit ``name`` (a key of :data:`DEFAULTS`): ``DEFDIP_MAX_<NAME>`` when set, else the default.

    Raises
    ------
    InputError
        If the variable is set to something other than a positive whole number.
    """
    variable = f"DEFDIP_MAX_{name}"
    text = os.environ.get(variable)
    if text is None:
        return DEFAULTS[name]
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise InputError(f"{variable}={text!r}: must be a positive whole number")
    return value


def excess(count: int, name: str, what: str, remedy: str) -> str | None:
    """Why ``count`` ``what`` is too many, what to do instead (``remedy``) and how to allow it anyway;
    ``None`` within the limit."""
    limit = allowed(name)
    if count <= limit:
        return None
    return (f"{count:,} {what}; at most {limit:,} are allowed: {remedy}, or set DEFDIP_MAX_{name}={count} "
            "in the environment to allow it")
