"""Scenario files, read and checked: the reading half of the scenario stage.

Reads a YAML scenario file with a strict loader (duplicate keys refused), follows
its ``extends`` chain, parses each file's sections with every name resolved against
the model and every value checked against the model's declared ranges, and merges
the layers. Everything here works on plain dicts and floats; :mod:`defdip.core.scenario`
builds the frozen :class:`~defdip.core.scenario.Scenario` from the result, so imports
point one way: ``defdip.core.scenario`` -> ``defdip.core.scenario_file``.

Error messages name the file, the key path (``constants.war end year``,
``time.dt``, ``uncertainties.escalation rate.low``) and what is allowed.
"""
from __future__ import annotations

import difflib
import math
import re
from pathlib import Path
from typing import Any, Mapping

from defdip.core.arrays import split_flat_name
from defdip.core.errors import InputError
from defdip.core.limits import excess
from defdip.core.resources import MODELS_DIR
from defdip.core.model import (
    DEFAULT_MODEL,
    ModelInfo,
    Variable,
    model_info,
    unknown_name_message,
)
from defdip.core.strict_yaml import describe, read_mapping

TOP_KEYS = ("name", "description", "extends", "model", "time", "constants", "series",
            "uncertainties", "outputs")
TIME_CONTROLS = {"start": "INITIAL TIME", "end": "FINAL TIME", "dt": "TIME STEP",
                 "saveper": "SAVEPER"}
TIME_KEYS = tuple(TIME_CONTROLS)
UNCERTAINTY_KEYS = ("dist", "low", "high", "mode")
DISTRIBUTIONS = ("uniform", "triangular", "loguniform")
REL_TOL = 1e-9  # relative tolerance on "is a whole number of steps"


# --- consistency checks (also run by the dataclasses in defdip.core.scenario) ----------------------

def time_problem(start: float, end: float, dt: float, saveper: float) -> tuple[str, str] | None:
    """The first inconsistency among the time settings as ``(key, message)``, else ``None``."""
    if end <= start:
        return "end", f"end ({end:g}) must be after start ({start:g})"
    if dt <= 0:
        return "dt", f"dt must be positive, got {dt:g}"
    if not _is_whole((end - start) / dt, at_least=1):
        return "dt", (f"dt ({dt:g}) must divide the horizon end - start ({end - start:g}) "
                      "a whole number of times")
    if not _is_whole(saveper / dt, at_least=1):
        return "saveper", f"saveper ({saveper:g}) must be a positive whole multiple of dt ({dt:g})"
    too_many = excess(round((end - start) / dt), "STEPS", f"time steps ((end - start) / dt = ({end:g} - {start:g}) "
                      f"/ {dt:g})", "raise dt or shorten the horizon")
    if too_many:
        return "dt", f"a run would take {too_many}"
    return None


def _is_whole(quotient: float, at_least: int) -> bool:
    nearest = round(quotient)
    return nearest >= at_least and abs(quotient - nearest) <= REL_TOL * abs(quotient)


def uncertainty_problem(dist: str, low: float, high: float,
                         mode: float | None) -> tuple[str, str] | None:
    """The first inconsistency in an uncertainty as ``(key, message)``, else ``None``."""
    if dist not in DISTRIBUTIONS:
        return "dist", f"unknown distribution {dist!r}; allowed: {', '.join(DISTRIBUTIONS)}"
    if low > high:
        return "low", f"low ({low:g}) must not exceed high ({high:g})"
    if dist == "triangular" and mode is None:
        return "mode", "a triangular distribution needs a mode"
    if dist != "triangular" and mode is not None:
        return "mode", f"mode is only used by the triangular distribution, not {dist}"
    if mode is not None and not low <= mode <= high:
        return "mode", f"mode ({mode:g}) must lie within [low, high] = [{low:g}, {high:g}]"
    if dist == "loguniform" and low <= 0:
        return "low", f"a loguniform distribution needs low > 0, got {low:g}"
    return None


# --- reading files ----------------------------------------------------------------------------

def _read_yaml(file: Path) -> dict:
    return read_mapping(file, "scenario file", TOP_KEYS)


def read_chain(file: Path, seen: tuple[Path, ...]) -> list[tuple[Path, dict]]:
    """The file and its ``extends`` ancestors, oldest ancestor first."""
    raw = _read_yaml(file)
    _check_keys(raw, TOP_KEYS, f"{file}: ")
    if "extends" not in raw:
        return [(file, raw)]
    parent = file.parent / _string(raw["extends"], f"{file}: extends")
    chain = seen + (file.resolve(),)
    resolved = _resolve(parent, f"{file}: extends")
    if resolved in chain:
        names = " -> ".join(p.name for p in chain + (resolved,))
        raise InputError(f"{file}: extends: cycle in extends: {names}")
    if not parent.is_file():
        raise InputError(f"{file}: extends: file not found: {parent}")
    return read_chain(parent, chain) + [(file, raw)]


def _resolve(path: Path, where: str) -> Path:
    """``path`` with every symbolic link followed; a loop of links is refused."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):  # Python 3.11-3.12: RuntimeError; 3.13: OSError ELOOP
        raise InputError(f"{where}: {path} is a loop of symbolic links; point it at a scenario file") from None


def model_of(chain: list[tuple[Path, dict]]) -> ModelInfo:
    """The model named by the last file in the chain that names one, else the project model.

    A model is a path relative to the scenario file, or the bare name of a shipped model
    (``model: russia_partners.mdl``), so a copied scenario still finds it.
    """
    for file, raw in reversed(chain):
        if "model" in raw:
            where = f"{file}: model"
            path = _model_path(file, _string(raw["model"], where), where)
            try:
                return model_info(path)
            except InputError as exc:
                raise InputError(f"{where}: {exc}") from None
    return model_info(DEFAULT_MODEL)


def _model_path(file: Path, text: str, where: str) -> Path:
    path = file.parent / text
    if path.is_file():
        return path
    if Path(text).name == text and (MODELS_DIR / text).is_file():
        return MODELS_DIR / text
    shipped = ", ".join(sorted(p.name for p in MODELS_DIR.glob("*.mdl")))
    raise InputError(f"{where}: model file not found: {path}; allowed: a path relative to the "
                     f"scenario file or a shipped model ({shipped})")


# --- one file ---------------------------------------------------------------------------------

def parse_layer(file: Path, raw: dict, info: ModelInfo) -> dict:
    """One file's settings, checked and with names resolved; only the keys it gives."""
    at = f"{file}: "
    layer: dict[str, Any] = {}
    for key in ("name", "description"):
        if key in raw:
            layer[key] = _string(raw[key], at + key)
    if "name" in layer:
        _check_name(layer["name"], at + "name")
    layer["time"] = {k: number(v, f"{at}time.{k}")
                     for k, v in _section(raw, "time", at, TIME_KEYS).items()}
    layer["constants"] = _constants(_section(raw, "constants", at), info, at + "constants.")
    layer["series"] = _all_series(_section(raw, "series", at), info, at + "series.")
    layer["uncertainties"] = _uncertainties(_section(raw, "uncertainties", at), info,
                                            at + "uncertainties.")
    _refuse_overlap(layer, at)
    if "outputs" in raw:
        layer["outputs"] = _outputs(raw["outputs"], info, at + "outputs")
    return layer


def _section(raw: dict, key: str, at: str, allowed: tuple[str, ...] | None = None) -> dict:
    value = raw.get(key)
    if value is None:  # an empty section, as in ``constants:`` with nothing under it
        return {}
    if not isinstance(value, dict):
        raise InputError(f"{at}{key}: expected a mapping, got {describe(value)}")
    for name in value:
        if not isinstance(name, str):
            raise InputError(f"{at}{key}.{name}: keys must be strings, got {describe(name)}")
    if allowed is not None:
        _check_keys(value, allowed, f"{at}{key}.")
    return value


def _constants(section: dict, info: ModelInfo, at: str) -> dict[str, float]:
    out = {}
    for name, value in section.items():
        var = constant(info, name, at + name)
        out[_once(out, var, at + name)] = bounded(var, value, at + name)
    return out


def _all_series(section: dict, info: ModelInfo, at: str) -> dict[str, tuple]:
    out = {}
    for name, points in section.items():
        var = constant(info, name, at + name)
        out[_once(out, var, at + name)] = series_points(var, points, at + name)
    return out


def series_points(var: Variable, points: Any, where: str) -> tuple[tuple[float, float], ...]:
    """``[[year, value], ...]`` checked: years strictly increasing, every value within ``var``'s range."""
    if not isinstance(points, list) or not points:
        raise InputError(f"{where}: expected a list of [year, value] pairs with at least one "
                         f"pair, got {describe(points)}")
    out = []
    for i, pair in enumerate(points):
        at = f"{where}[{i}]"
        if not isinstance(pair, list) or len(pair) != 2:
            raise InputError(f"{at}: expected a [year, value] pair, got {describe(pair)}")
        year = number(pair[0], at + " year")
        if out and year <= out[-1][0]:
            raise InputError(f"{at}: years must be strictly increasing; {year:g} follows "
                             f"{out[-1][0]:g}")
        out.append((year, bounded(var, pair[1], at + " value")))
    return tuple(out)


def _uncertainties(section: dict, info: ModelInfo, at: str) -> dict[str, dict[str, Any]]:
    out = {}
    for name, spec in section.items():
        where = at + name
        var = constant(info, name, where)
        if not isinstance(spec, dict):
            raise InputError(f"{where}: expected a mapping with keys among "
                             f"{', '.join(UNCERTAINTY_KEYS)}, got {describe(spec)}")
        _check_keys(spec, UNCERTAINTY_KEYS, where + ".")
        out[_once(out, var, where)] = _uncertainty(var, spec, where)
    return out


def _uncertainty(var: Variable, spec: dict, where: str) -> dict[str, Any]:
    """The checked fields of an uncertainty, as keyword arguments for ``Uncertainty``."""
    for key in ("dist", "low", "high"):
        if key not in spec:
            raise InputError(f"{where}: missing key {key!r}; needs dist, low and high "
                             "(and mode for triangular)")
    dist = _string(spec["dist"], where + ".dist")
    low = bounded(var, spec["low"], where + ".low")
    high = bounded(var, spec["high"], where + ".high")
    mode = number(spec["mode"], where + ".mode") if "mode" in spec else None
    problem = uncertainty_problem(dist, low, high, mode)
    if problem:
        raise InputError(f"{where}.{problem[0]}: {problem[1]}")
    return {"name": var.name, "dist": dist, "low": low, "high": high, "mode": mode}


def _outputs(value: Any, info: ModelInfo, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{where}: expected a list of variable names, got {describe(value)}")
    names: list[str] = []
    for item in value:
        name = info.resolve(item, where=f"{where}.{item}").name
        if name in names:
            raise InputError(f"{where}.{item}: {name!r} is listed twice")
        names.append(name)
    return tuple(names)


def _refuse_overlap(layer: dict, at: str) -> None:
    both = sorted(set(layer["constants"]) & set(layer["series"]))
    if both:
        raise InputError(f"{at}series.{both[0]}: {both[0]!r} is also under constants; "
                         "set it one way only")


# --- values and names -------------------------------------------------------------------------

def constant(info: ModelInfo, name: str, where: str) -> Variable:
    """The model constant called ``name`` (case and spacing forgiven)."""
    try:
        var = info.resolve(name)
    except InputError as exc:
        if split_flat_name(name)[1]:  # an element: the variable's own message names its elements
            raise InputError(f"{where}: {exc}") from None
        raise InputError(unknown_name_message(name, info.constants, where)) from None
    if var.kind != "constant":
        hint = "; set it under time" if var.kind == "control" else ""
        article = "an" if var.kind[0] in "aeiou" else "a"
        raise InputError(f"{where}: {var.name!r} is {article} {var.kind}; only constants can be set{hint}")
    return var


def _once(seen: Mapping[str, Any], var: Variable, where: str) -> str:
    if var.name in seen:
        raise InputError(f"{where}: {var.name!r} is given twice (names ignore case and spacing)")
    return var.name


def number(value: Any, where: str) -> float:
    """``value`` as a float, refused unless a finite number (a bool is not a number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{where}: expected a number, got {describe(value)}")
    if not math.isfinite(value):
        raise InputError(f"{where}: expected a finite number, got {value}")
    return float(value)


def bounded(var: Variable, value: Any, where: str) -> float:
    """``value`` as a float, refused outside the constant's declared range."""
    x = number(value, where)
    if (var.low is not None and x < var.low) or (var.high is not None and x > var.high):
        low, high = ("?" if b is None else f"{b:g}" for b in (var.low, var.high))
        raise InputError(f"{where}: {x:g} is outside the declared range of {var.name!r}; "
                         f"allowed: [{low}, {high}]")
    return x


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise InputError(f"{where}: expected a string, got {describe(value)}")
    return value


def _check_name(name: str, where: str) -> None:
    # The name becomes a folder under the results directory.
    if not name.strip() or name.strip(".") == "" or re.search(r"[/\\]", name):
        raise InputError(f"{where}: {name!r} cannot name a folder; use letters, digits, "
                         "spaces, '_', '-' or '.' and no slashes")


def _check_keys(mapping: dict, allowed: tuple[str, ...], at: str) -> None:
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(f"{at}{key}: unknown key{hint} (allowed: {', '.join(allowed)})")


# --- merging ----------------------------------------------------------------------------------

def merge(layers: list[dict]) -> dict:
    """Later layers over earlier ones: key by key inside sections, whole for the rest.

    The file's own ``name`` is not inherited; the caller takes it from the file itself.
    """
    out: dict[str, Any] = {"time": {}, "constants": {}, "series": {}, "uncertainties": {}}
    for layer in layers:
        out["time"].update(layer["time"])
        out["uncertainties"].update(layer["uncertainties"])
        # A constant set as a number in a child replaces a parent's series for it, and back.
        for key, other in (("constants", "series"), ("series", "constants")):
            for name, value in layer[key].items():
                out[other].pop(name, None)
                out[key][name] = value
        for key in ("description", "outputs"):
            if key in layer:
                out[key] = layer[key]
    return out
