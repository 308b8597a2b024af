"""Outcomes of a sweep: one number per run, computed for all runs at once.

An outcome is named by a short spec:

``NAME@YEAR``
    a variable's value at a year, linear between saved times
    (``"Strategic Partnership Index@2030"``);
``transition year``
    the first time the strategic phase (3) begins and then holds for the run's
    ``transition persistence`` (:func:`defdip.analysis.phases.transition_years`);
    NaN in the tables when it never does;
``years in phase K``
    years the run spends in phase K (1, 2 or 3) [Year];
``strategic by YEAR``
    1 when the transition year is at or before YEAR, else 0; its mean over runs is the
    probability of reaching the strategic phase by that year.

In a model whose phase variable is subscripted (one phase per partner), the three verdict
outcomes name an element, as a variable's value does: ``transition year[DPRK]``,
``strategic by 2030[Iran]``, ``years in phase 3[Iran]``; they read ``Partnership Phase[DPRK]``.

Arrays are ``(runs, times)``: the functions are numpy over the run axis, so 200,000
runs cost no Python loop.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from defdip.analysis.phases import (
    TOLERANCE,
    transition_years,
    values_at,
    years_in_phase,
)
from defdip.core.case import DEFAULT_OUTCOMES, DEFAULT_PERSISTENCE, PERSISTENCE, PHASE
from defdip.core.errors import InputError

KINDS = ("value", "transition", "phase_years", "strategic_by")
_SPEC_HELP = ("NAME@YEAR, 'transition year', 'years in phase K' (K = 1, 2, 3) or "
              "'strategic by YEAR'")


@dataclass(frozen=True)
class Outcome:
    """One outcome of a sweep.

    Attributes
    ----------
    spec : str
        Its name in tables and figures, as given (variable names made exact).
    kind : str
        One of :data:`KINDS`.
    variable : str or None
        The variable read (``value``); the phase variable for the others.
    year : float or None
        The year of ``value`` and ``strategic_by`` [Year].
    phase : int or None
        The phase of ``phase_years``.
    """

    spec: str
    kind: str
    variable: str | None = None
    year: float | None = None
    phase: int | None = None
    element: str | None = None

    @property
    def needs(self) -> str:
        """The variable (column) this outcome is computed from."""
        if self.kind == "value":
            return self.variable
        return f"{PHASE}[{self.element}]" if self.element else PHASE


def parse_outcome(text: str, info) -> Outcome:
    """Parse an outcome spec; variable names are resolved against the model ``info``.

    Raises
    ------
    InputError
        For a spec of none of the forms, an unknown variable or a non-numeric year.
    """
    where = f"--outcome {text!r}"
    spec = " ".join(text.split())
    verdict, element = _verdict_element(spec, info, where)
    if verdict is not None:
        return verdict if element is None else Outcome(
            f"{verdict.spec}[{element}]", verdict.kind, year=verdict.year, phase=verdict.phase,
            element=element)
    name, at, year_text = spec.rpartition("@")
    if not at or not name.strip():
        raise InputError(f"{where}: not an outcome; allowed: {_SPEC_HELP}")
    var = info.resolve(name.strip(), where=where)
    if var.kind == "lookup":
        raise InputError(f"{where}: {var.name!r} is a lookup, not a variable with values over time")
    if len(var.columns) > 1:
        raise InputError(f"{where}: {var.name!r} is subscripted; name one element: "
                         f"{', '.join(var.columns[:4])}{', ...' if len(var.columns) > 4 else ''}")
    year = _year(year_text, where)
    return Outcome(f"{var.name}@{year:g}", "value", variable=var.name, year=year)


def _verdict(spec: str, where: str) -> Outcome | None:
    """A verdict outcome (transition, years in a phase, strategic by a year), else ``None``."""
    lowered = spec.lower()
    if lowered == "transition year":
        return Outcome("transition year", "transition")
    match = re.fullmatch(r"years in phase ([123])", lowered)
    if match:
        return Outcome(f"years in phase {match[1]}", "phase_years", phase=int(match[1]))
    match = re.fullmatch(r"strategic by ([^\[\]]+)", lowered)
    if match:
        year = _year(match[1], where)
        return Outcome(f"strategic by {year:g}", "strategic_by", year=year)
    return None


def _verdict_element(spec: str, info, where: str) -> tuple[Outcome | None, str | None]:
    """A verdict outcome and the element of the phase it reads (``None`` for a scalar phase).

    The element must be one of the phase variable's; a subscripted phase needs one.
    """
    match = re.fullmatch(r"(.*?)\s*\[([^\[\]]+)\]", spec)
    verdict = _verdict(match[1] if match else spec, where)
    if verdict is None:
        return None, None
    phase = info.variables.get(PHASE)
    columns = phase.columns if phase is not None else (PHASE,)
    subscripted = len(columns) > 1
    if match is None:
        if subscripted:
            raise InputError(f"{where}: {PHASE!r} is subscripted; name one element: "
                             + ", ".join(f"'{verdict.spec}[{c[len(PHASE) + 1:-1]}]'" for c in columns[:4]))
        return verdict, None
    if not subscripted:
        raise InputError(f"{where}: {PHASE!r} is not subscripted; allowed: {verdict.spec!r}")
    element = match[2].strip()
    if f"{PHASE}[{element}]" not in columns:
        raise InputError(f"{where}: {element!r} is not an element of {PHASE!r}; allowed: "
                         + ", ".join(c[len(PHASE) + 1:-1] for c in columns))
    return verdict, element


def _year(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError(f"{where}: year {text.strip()!r} is not a number") from None


def parse_outcomes(specs, info, horizon: tuple[float, float] | None = None) -> tuple[Outcome, ...]:
    """Parse several specs (default :data:`DEFAULT_OUTCOMES` where the model has the variables).

    Parameters
    ----------
    horizon : (float, float), optional
        The runs' start and end [Year]: a given spec's year must lie within them.

    Raises
    ------
    InputError
        As :func:`parse_outcome`; for a spec given twice, or a year outside ``horizon``.
    """
    if specs:
        outcomes = [parse_outcome(s, info) for s in specs]
        for outcome, text in zip(outcomes, specs):
            _check_year(outcome, text, horizon)
    else:
        outcomes = [parse_outcome(s, info) for s in default_outcomes(info)]
    names = [o.spec for o in outcomes]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(f"--outcome: {repeated[0]!r} is given twice")
    return tuple(outcomes)


def _check_year(outcome: Outcome, text: str, horizon: tuple[float, float] | None) -> None:
    if horizon is None or outcome.year is None:
        return
    start, end = horizon
    if not start <= outcome.year <= end:
        raise InputError(f"--outcome {text!r}: {outcome.year:g} is outside the runs' years; allowed: "
                         f"{start:g} to {end:g} (the scenario's time: start and end)")


def default_outcomes(info) -> list[str]:
    """:data:`DEFAULT_OUTCOMES` the model can give, once per element of a subscripted variable."""
    out = []
    for spec in DEFAULT_OUTCOMES:
        name, at, year = spec.rpartition("@")
        var = info.variables.get(name if at else PHASE)
        if var is None:
            continue
        for column in var.columns:
            element = column[len(var.name):]  # "[DPRK]", or "" for a scalar
            out.append(f"{column}@{year}" if at else spec + element)
    return out


def sentinel(time: np.ndarray, persistence=DEFAULT_PERSISTENCE, final_time: float | None = None):
    """The transition year used for sensitivity indices when a run has none [Year].

    ``final time + persistence``: later than any transition the run could show, so
    "no transition" ranks as the latest possible one rather than dropping the run
    (SALib needs every run). The tables keep NaN.
    """
    end = np.asarray(time, float)[-1] if final_time is None else final_time
    return end + np.asarray(persistence, float)


def evaluate(outcomes, time: np.ndarray, data: Mapping[str, np.ndarray], persistence=DEFAULT_PERSISTENCE,
             final_time: float | None = None) -> dict[str, np.ndarray]:
    """Every outcome for every run.

    Parameters
    ----------
    outcomes : sequence of Outcome
    time : array (times,) [Year]
    data : mapping
        Variable name -> array (runs, times); must hold each outcome's ``needs``.
    persistence : float or array (runs,) [Year]
        Transition persistence per run (from the samples when swept).
    final_time : float, optional [Year]

    Returns
    -------
    dict
        Outcome spec -> array (runs,); NaN for a run with no transition.
    """
    out = {}
    transitions: dict[str, np.ndarray] = {}
    for outcome in outcomes:
        if outcome.kind == "value":
            out[outcome.spec] = values_at(time, data[outcome.variable], outcome.year)
            continue
        phase = data[outcome.needs]
        if outcome.kind == "phase_years":
            out[outcome.spec] = years_in_phase(time, phase, outcome.phase, final_time)
            continue
        if outcome.needs not in transitions:
            transitions[outcome.needs] = transition_years(time, phase, persistence, final_time)
        transition = transitions[outcome.needs]
        if outcome.kind == "transition":
            out[outcome.spec] = transition
        else:
            out[outcome.spec] = np.where(transition <= outcome.year + TOLERANCE, 1.0, 0.0)
    return out


def for_indices(outcome: Outcome, values: np.ndarray, time, persistence=DEFAULT_PERSISTENCE,
                final_time: float | None = None) -> np.ndarray:
    """Outcome values ready for SALib: the transition year's NaN replaced by :func:`sentinel`."""
    values = np.asarray(values, float)
    if outcome.kind != "transition":
        return values
    fill = np.broadcast_to(sentinel(time, persistence, final_time), values.shape)
    return np.where(np.isnan(values), fill, values)


def persistence_of(samples, scenario_value: float | None) -> np.ndarray | float:
    """Transition persistence per run: the sampled column when swept, else the scenario's value."""
    if PERSISTENCE in samples:
        return samples[PERSISTENCE].to_numpy(float)
    return DEFAULT_PERSISTENCE if scenario_value is None else float(scenario_value)
