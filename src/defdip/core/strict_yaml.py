"""Strict YAML: the one loader for every file a user writes (scenarios, checks).

Duplicate keys are refused (PyYAML keeps the last one silently), ``1e-3`` is a number as
in YAML 1.2, nothing is ever constructed from a tag (a ``SafeLoader``), and every error
names the file and the line.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from defdip.core.errors import InputError


class StrictLoader(yaml.SafeLoader):
    """``SafeLoader`` that refuses duplicate keys and reads ``1e-3`` as a number."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:  # unhashable: let SafeLoader report it
            break
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# YAML 1.1 reads 1e-3 (no dot) as a string; accept it as a number like YAML 1.2 does.
StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))


def read_mapping(file: Path, what: str, top_keys) -> dict:
    """The top-level mapping of the YAML file ``file``.

    Parameters
    ----------
    file : Path
    what : str
        What the file is, for messages (``"scenario file"``).
    top_keys : sequence of str
        The keys allowed at the top level, named when the top level is not a mapping.

    Raises
    ------
    InputError
        If the file is missing or unreadable, is not valid YAML, repeats a key, or its top level
        is not a mapping.
    """
    try:
        text = Path(file).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{file}: {what} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{file}: cannot read the {what}: {exc}") from None
    try:
        data = yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise InputError(f"{file}{line}: YAML syntax error: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{file}: YAML syntax error: {exc}") from None
    except RecursionError:
        raise InputError(f"{file}: nested too deeply to read (brackets or indentation hundreds of levels "
                         f"deep); a {what} needs a few levels") from None
    if not isinstance(data, dict):
        raise InputError(f"{file}: the top level must be a mapping with keys among "
                         f"{', '.join(top_keys)}; got {describe(data)}")
    return data


def describe(value: Any) -> str:
    """A value as messages show it: its type and (shortened) text."""
    if value is None:
        return "nothing"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"
