"""Reading a checks file: the parsing and validation stage of the reality checks.

Turns ``models/iran_russia.checks.yaml`` into frozen :class:`Check` objects (a :class:`Condition` and
the :class:`Predicate` objects that must hold under it), validating every key, number, choice
and variable name before anything runs; also which named loops and external drivers the
checks cover. Nothing here simulates or judges: :mod:`defdip.validation.checks` evaluates the
predicates and runs the checks.

File format::

    checks:
      - name: no war, no Iranian arms for Russia
        covers: [R1, war]
        condition: {set: {war start year: 2100}}        # also scenario: FILE, series: {...}
        expect:
          - {type: less_than, variable: Arms Transfers Iran to Russia, value: 0.05, to: 2035}

Predicate types and their keys (``from``/``to`` default to the run's start/end [Year]):
``greater_than``/``less_than`` ``value``; ``within`` ``value: [low, high]``; ``monotone``
``direction: increasing|decreasing`` (``tolerance``); ``reaches`` ``value``, ``by``
(``direction: up|down``); ``compare_to`` ``condition``, ``relation: greater|less``
(``statistic: mean|final|min|max|all``, ``margin``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from defdip.analysis.structure import named_loops
from defdip.core.case import DRIVERS
from defdip.core.errors import InputError
from defdip.core.model import DEFAULT_MODEL, model_info, unknown_name_message
from defdip.core.scenario_file import bounded, constant, number, series_points
from defdip.core.strict_yaml import read_mapping
from defdip.core.resources import SCENARIO_DIR

TOP_KEYS = ("checks",)
CHECK_KEYS = ("name", "description", "covers", "condition", "expect")
CONDITION_KEYS = ("scenario", "set", "series")
COMMON_KEYS = ("type", "variable", "from", "to")
PREDICATE_KEYS = {  # type -> (required keys, optional keys)
    "greater_than": (("value",), ()),
    "less_than": (("value",), ()),
    "within": (("value",), ()),
    "monotone": (("direction",), ("tolerance",)),
    "reaches": (("value", "by"), ("direction",)),
    "compare_to": (("condition", "relation"), ("statistic", "margin")),
}
DIRECTIONS = {"monotone": ("increasing", "decreasing"), "reaches": ("up", "down")}
RELATIONS = ("greater", "less")
STATISTICS = ("mean", "final", "min", "max", "all")


@dataclass(frozen=True)
class Condition:
    """What to simulate: a scenario (``None``: the one validated), constants, test inputs.

    Attributes
    ----------
    scenario : Path or None
        Scenario file.
    sets : tuple of (name, value)
        Constants set on it, sorted by name.
    series : tuple of (name, ((year, value), ...))
        Constants made time-varying, sorted by name.
    """

    scenario: Path | None = None
    sets: tuple = ()
    series: tuple = ()

    def label(self) -> str:
        """Short human description, e.g. ``no_war + war end year=2025``."""
        parts = [self.scenario.stem if self.scenario else "scenario"]
        parts += [f"{k}={v:g}" for k, v in self.sets]
        parts += [f"{k}=series" for k, _ in self.series]
        return " + ".join(parts)


@dataclass(frozen=True)
class Predicate:
    """One statement on one variable over ``[start, end]`` [Year] (``None``: run's edge)."""

    kind: str
    variable: str
    start: float | None = None
    end: float | None = None
    value: float | None = None
    low: float | None = None
    high: float | None = None
    direction: str | None = None
    by: float | None = None
    tolerance: float = 1e-9
    reference: Condition | None = None
    relation: str | None = None
    statistic: str = "mean"
    margin: float = 0.0

    def describe(self) -> str:
        """The predicate in words."""
        window = f"[{_year(self.start)}, {_year(self.end, 'end')}]"
        if self.kind in ("greater_than", "less_than"):
            return f"{self.variable} {self.kind.replace('_', ' ')} {self.value:g} over {window}"
        if self.kind == "within":
            return f"{self.variable} within [{self.low:g}, {self.high:g}] over {window}"
        if self.kind == "monotone":
            return f"{self.variable} {self.direction} over {window}"
        if self.kind == "reaches":
            word = "rises to" if self.direction == "up" else "falls to"
            return f"{self.variable} {word} {self.value:g} between {_year(self.start)} and {self.by:g}"
        return (f"{self.variable} {self.statistic} over {window} {self.relation} than in "
                f"{self.reference.label()}" + (f" by {self.margin:g}" if self.margin else ""))


@dataclass(frozen=True)
class Check:
    """A named reality check: a condition and what must hold under it."""

    name: str
    description: str
    covers: tuple[str, ...]
    condition: Condition
    expect: tuple[Predicate, ...]


def _year(x, edge="start"):
    return edge if x is None else f"{x:g}"


# --- reading the file --------------------------------------------------------------------------

def load_checks(path, model: Path = DEFAULT_MODEL) -> tuple[Check, ...]:
    """Read and validate a checks file.

    Parameters
    ----------
    path : str or Path
        The YAML file.
    model : Path
        The model whose variable names the checks use.

    Raises
    ------
    InputError
        Naming the file, the check and the key, with "did you mean" for names.
    """
    path = Path(path)
    raw = read_mapping(path, "checks file", TOP_KEYS)
    _keys(raw, TOP_KEYS, f"{path}: ")
    items = raw.get("checks")
    if not isinstance(items, list) or not items:
        raise InputError(f"{path}: checks: must be a non-empty list of checks")
    info = model_info(model)
    parser = _Parser(path, info, _known_covers(model))
    checks = tuple(parser.check(item, i) for i, item in enumerate(items))
    names = [c.name for c in checks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(f"{path}: checks: duplicate check name(s): {', '.join(duplicates)}")
    return checks


def _known_covers(model: Path) -> tuple[str, ...]:
    """The model's named loops and the external drivers it has (one of a driver's constants)."""
    info = model_info(model)
    has = {name.lower() for name in info.variables}
    drivers = tuple(d for d, constants in DRIVERS.items() if any(c.lower() in has for c in constants))
    return tuple(label.split()[0] for label in named_loops(model)) + drivers


def coverage(checks, model: Path = DEFAULT_MODEL) -> dict[str, list[str]]:
    """Each loop code and driver -> the names of the checks that cover it (empty: uncovered)."""
    return {c: [k.name for k in checks if c in k.covers] for c in _known_covers(model)}


class _Parser:
    """Turns the raw YAML of one file into frozen objects, naming the spot of every error."""

    def __init__(self, path: Path, info, covers: tuple[str, ...]):
        self.path, self.info, self.covers = path, info, covers

    def check(self, item: Any, i: int) -> Check:
        at = f"{self.path}: checks[{i}]"
        if not isinstance(item, dict):
            raise InputError(f"{at}: must be a mapping with keys among {', '.join(CHECK_KEYS)}")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise InputError(f"{at}: name: required, a non-empty string")
        at = f"{self.path}: check {name!r}"
        _keys(item, CHECK_KEYS, at + ": ")
        covers = item.get("covers", [])
        if not isinstance(covers, list) or not all(isinstance(c, str) for c in covers):
            raise InputError(f"{at}: covers: must be a list of loop codes or drivers")
        for c in covers:
            if c not in self.covers:
                hint = unknown_name_message(c, self.covers).split(";", 1)[-1]
                hint = f";{hint}" if "did you mean" in hint else ""
                raise InputError(f"{at}: covers: unknown loop or driver {c!r}; allowed: "
                                 f"{', '.join(self.covers)}{hint}")
        expect = item.get("expect")
        if not isinstance(expect, list) or not expect:
            raise InputError(f"{at}: expect: required, a non-empty list of predicates")
        description = item.get("description", "")
        if not isinstance(description, str):
            raise InputError(f"{at}: description: must be a string")
        return Check(name, " ".join(description.split()), tuple(covers),
                     self.condition(item.get("condition") or {}, f"{at}: condition"),
                     tuple(self.predicate(p, f"{at}: expect[{j}]") for j, p in enumerate(expect)))

    def condition(self, raw: Any, at: str) -> Condition:
        if not isinstance(raw, dict):
            raise InputError(f"{at}: must be a mapping with keys among {', '.join(CONDITION_KEYS)}")
        _keys(raw, CONDITION_KEYS, at + ".")
        scenario = None
        if raw.get("scenario") is not None:
            if not isinstance(raw["scenario"], str):
                raise InputError(f"{at}.scenario: must be a path relative to {self.path.name}")
            scenario = _scenario_file(self.path.parent, raw["scenario"])
            if not scenario.is_file():
                raise InputError(f"{at}.scenario: scenario file not found: {scenario}")
        sets = raw.get("set") or {}
        series = raw.get("series") or {}
        for key, section in (("set", sets), ("series", series)):
            if not isinstance(section, dict):
                raise InputError(f"{at}.{key}: must be a mapping of constant names")
        # The same value rules as a scenario file: constants only, within their declared ranges.
        sets = {var.name: bounded(var, v, f"{at}.set.{k}")
                for k, v in sets.items() for var in [constant(self.info, str(k), f"{at}.set")]}
        series = {var.name: series_points(var, v, f"{at}.series.{k}")
                  for k, v in series.items() for var in [constant(self.info, str(k), f"{at}.series")]}
        return Condition(scenario, tuple(sorted(sets.items())), tuple(sorted(series.items())))

    def predicate(self, raw: Any, at: str) -> Predicate:
        if not isinstance(raw, dict):
            raise InputError(f"{at}: must be a mapping with keys type, variable, from, to, ...")
        kind = raw.get("type")
        if kind not in PREDICATE_KEYS:
            hint = unknown_name_message(str(kind), PREDICATE_KEYS, "").split(";", 1)[-1]
            raise InputError(f"{at}.type: unknown predicate type {kind!r}; allowed: "
                             f"{', '.join(PREDICATE_KEYS)}" + (f";{hint}" if "did you mean" in hint else ""))
        required, optional = PREDICATE_KEYS[kind]
        _keys(raw, COMMON_KEYS + required + optional, f"{at}.")
        for key in ("variable",) + required:
            if key not in raw:
                raise InputError(f"{at}.{key}: required for type {kind}")
        var = self.info.resolve(str(raw["variable"]), where=f"{at}.variable")
        if var.kind in ("lookup", "control"):
            raise InputError(f"{at}.variable: {var.name!r} is a {var.kind}; checks need a variable with values in time")
        fields = dict(kind=kind, variable=var.name,
                      start=number(raw["from"], f"{at}.from") if "from" in raw else None,
                      end=number(raw["to"], f"{at}.to") if "to" in raw else None)
        if fields["start"] is not None and fields["end"] is not None and fields["start"] > fields["end"]:
            raise InputError(f"{at}: from ({fields['start']:g}) is after to ({fields['end']:g})")
        return Predicate(**fields, **self.specifics(kind, raw, at))

    def specifics(self, kind: str, raw: dict, at: str) -> dict:
        if kind in ("greater_than", "less_than"):
            return {"value": number(raw["value"], f"{at}.value")}
        if kind == "within":
            pair = raw["value"]
            if not (isinstance(pair, list) and len(pair) == 2):
                raise InputError(f"{at}.value: within needs [low, high]")
            low, high = (number(v, f"{at}.value") for v in pair)
            if low > high:
                raise InputError(f"{at}.value: low {low:g} is above high {high:g}")
            return {"low": low, "high": high}
        if kind == "monotone":
            return {"direction": _choice(raw["direction"], DIRECTIONS[kind], f"{at}.direction"),
                    "tolerance": number(raw.get("tolerance", 1e-9), f"{at}.tolerance")}
        if kind == "reaches":
            return {"value": number(raw["value"], f"{at}.value"), "by": number(raw["by"], f"{at}.by"),
                    "direction": _choice(raw.get("direction", "up"), DIRECTIONS[kind], f"{at}.direction")}
        return {"reference": self.condition(raw["condition"] or {}, f"{at}.condition"),
                "relation": _choice(raw["relation"], RELATIONS, f"{at}.relation"),
                "statistic": _choice(raw.get("statistic", "mean"), STATISTICS, f"{at}.statistic"),
                "margin": number(raw.get("margin", 0.0), f"{at}.margin")}


def _keys(raw: dict, allowed, at: str) -> None:
    for key in raw:
        if key not in allowed:
            close = unknown_name_message(str(key), allowed, "").split(";", 1)[-1]
            hint = f";{close}" if "did you mean" in close else ""
            raise InputError(f"{at}{key}: unknown key; allowed: {', '.join(allowed)}{hint}")



def _choice(value: Any, allowed, where: str) -> str:
    if value not in allowed:
        raise InputError(f"{where}: {value!r} is not allowed; allowed: {', '.join(allowed)}")
    return value


def _scenario_file(folder: Path, raw: str) -> Path:
    """A condition's scenario, relative to the checks file; a copy of the shipped checks moved
    elsewhere names ``../scenarios/NAME.yaml`` and means the shipped scenario of that name."""
    path = (folder / raw).resolve()
    shipped = SCENARIO_DIR / Path(raw).name
    if not path.is_file() and Path(raw).parent.name == "scenarios" and shipped.is_file():
        return shipped
    return path
