"""The verdict under its definitions: does "strategic by 2030" survive another reading of "strategic"?

The strategic phase is defined by constants of the model (``core.case``): the strategic
threshold on Strategic Commitment, how the grounds of commitment aggregate
(``index aggregation``: weighted arithmetic mean, geometric mean, minimum), whether
Reciprocity needs a volume floor, and how long phase 3 must hold (``transition
persistence``, read by the analysis). Each :class:`Definition` changes one of them from
the scenario's own value, as a scenario override, and :func:`evaluate_definitions` re-runs
the scenario once (or a sweep's whole sample) under it and reports the transition year and
P(strategic by 2030 / 2035). No definition is a code path: each is a scenario change.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from defdip.analysis.outcomes import persistence_of
from defdip.analysis.phases import TOLERANCE, transition_years
from defdip.core.case import (
    AGGREGATIONS,
    FLOORS,
    INDEX_AGGREGATION,
    PERSISTENCE,
    PERSISTENCES,
    PHASE,
    RECIPROCITY_FLOOR,
    STRATEGIC_THRESHOLD,
    VERDICT_YEARS,
)
from defdip.core.errors import InputError
from defdip.core.limits import excess
from defdip.core.model import model_info
from defdip.core.scenario import Scenario
from defdip.engines.simulate import simulate_batch

FAMILIES = (STRATEGIC_THRESHOLD, INDEX_AGGREGATION, PERSISTENCE, RECIPROCITY_FLOOR)
DEFAULT_THRESHOLD_STEP = 0.01  # [Dmnl] grid of the strategic threshold over its declared range
COLUMNS = ("family", "definition", "constant", "value", "reference", "runs", "transition_year",
           "transition_p5", "transition_p95", "share_without_transition",
           *(f"p_strategic_by_{y}" for y in VERDICT_YEARS), "element")
REQUIRED = (STRATEGIC_THRESHOLD, PERSISTENCE)  # families every model must have; the others where it has them


@dataclass(frozen=True)
class Definition:
    """One definition of the strategic phase: one constant set to one value.

    Attributes
    ----------
    family : str
        The constant's name, which names the family of definitions it belongs to.
    label : str
        How a reader names it ("0.70", "weighted geometric mean", "2 years", "no volume floor").
    constant : str
        The model constant it sets (the family).
    value : float
        Its value [the constant's units].
    reference : bool
        Whether it is the scenario's own definition.
    """

    family: str
    label: str
    constant: str
    value: float
    reference: bool


def scenario_value(scenario: Scenario, name: str) -> float:
    """A constant's value in the scenario: its own setting, else the model file's."""
    if name in scenario.constants:
        return float(scenario.constants[name])
    value = model_info(scenario.model).resolve(name).value
    if value is None:
        raise InputError(f"{scenario.model}: {name!r} has no single value to compare definitions against")
    return float(value)


def threshold_grid(scenario: Scenario, step: float = DEFAULT_THRESHOLD_STEP) -> np.ndarray:
    """The strategic threshold over its declared range, every ``step``, plus the scenario's own value."""
    var = model_info(scenario.model).resolve(STRATEGIC_THRESHOLD)
    if var.low is None or var.high is None:
        raise InputError(f"{scenario.model}: {var.name!r} declares no range to vary it over")
    if not 0 < step <= var.high - var.low:
        raise InputError(f"--threshold-step: {step:g} must be above 0 and at most the range's width "
                         f"({var.high - var.low:g})")
    count = int(np.floor((var.high - var.low) / step + TOLERANCE)) + 1
    too_many = excess(count, "THRESHOLDS", f"thresholds ({var.low:g} to {var.high:g} every {step:g})",
                      "give a larger step")
    if too_many:
        raise InputError(f"--threshold-step: {step:g} would compare {too_many}")
    grid = np.round(var.low + step * np.arange(count), 10)
    return np.unique(np.append(grid, scenario_value(scenario, var.name)))


def definitions(scenario: Scenario, threshold_step: float = DEFAULT_THRESHOLD_STEP,
                sampled=()) -> list[Definition]:
    """Every definition compared: each family's values, the scenario's own marked as reference.

    ``sampled`` names constants a sweep samples: no fixed value of theirs is the sweep's own
    definition, so none is marked as reference.

    Raises
    ------
    InputError
        If the scenario's model lacks one of the definition constants.
    """
    info = model_info(scenario.model)
    missing = [name for name in REQUIRED if name not in info.variables]
    if missing:
        raise InputError(f"{scenario.model}: no constant {missing[0]!r}; `defdip robustness` varies "
                         f"{', '.join(FAMILIES)} (the first two at least)")
    present = [name for name in FAMILIES if name in info.variables]
    own = {name: np.nan if name in sampled else scenario_value(scenario, name) for name in present}
    out = [Definition(STRATEGIC_THRESHOLD, f"{v:.2f}", STRATEGIC_THRESHOLD, float(v),
                      bool(np.isclose(v, own[STRATEGIC_THRESHOLD])))
           for v in threshold_grid(scenario, threshold_step)]
    if INDEX_AGGREGATION in own:
        out += [Definition(INDEX_AGGREGATION, label, INDEX_AGGREGATION, v, _same_aggregation(v, own[INDEX_AGGREGATION]))
                for v, label in AGGREGATIONS.items()]
    persistences = sorted(set(PERSISTENCES) | ({own[PERSISTENCE]} if np.isfinite(own[PERSISTENCE])
                                               else set()))
    out += [Definition(PERSISTENCE, f"{v:g} years", PERSISTENCE, float(v), bool(np.isclose(v, own[PERSISTENCE])))
            for v in persistences]
    if RECIPROCITY_FLOOR not in own:
        return out
    floors = dict(FLOORS)
    if np.isfinite(own[RECIPROCITY_FLOOR]):
        floors.setdefault(own[RECIPROCITY_FLOOR], f"volume floor {own[RECIPROCITY_FLOOR]:g}")
    out += [Definition(RECIPROCITY_FLOOR, label, RECIPROCITY_FLOOR, v, bool(np.isclose(v, own[RECIPROCITY_FLOOR])))
            for v, label in sorted(floors.items())]
    return out


def _same_aggregation(value: float, own: float) -> bool:
    """The model reads the switch rounded (below 1.5 is 1, below 2.5 is 2)."""
    if not np.isfinite(own):
        return False
    return int(np.clip(np.floor(value + 0.5), 1, 3)) == int(np.clip(np.floor(own + 0.5), 1, 3))


def evaluate_definitions(scenario: Scenario, definitions_, samples: pd.DataFrame | None = None,
                         engine: str = "ensemble") -> pd.DataFrame:
    """The verdict under every definition.

    Parameters
    ----------
    scenario : Scenario
    definitions_ : sequence of Definition
    samples : pandas.DataFrame, optional
        A sweep's sample table (one row per run, one column per constant): every
        definition re-runs all of it. A sampled column for the definition's own constant
        is replaced by the definition's value. Without it, the scenario runs once per
        definition.
    engine : {"ensemble", "pysd"}

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`: per definition (and per element of a subscripted phase,
        one row each, named in ``element``) the transition year (the run's, or the
        median over runs with "no transition" counted as later than any year; NaN when
        there is none), its 5th and 95th percentiles, the share of runs without a
        transition, and P(strategic by each of :data:`VERDICT_YEARS`) [share of runs].
    """
    import sys

    from tqdm import tqdm

    table = pd.DataFrame(index=pd.RangeIndex(1, name="run")) if samples is None else samples
    phases = phase_columns(scenario)
    rows = []
    # a bar on stderr when it is a terminal (tqdm's disable=None): a sweep's definitions take minutes
    for definition in tqdm(definitions_, desc="robustness", unit="definition", file=sys.stderr, disable=None):
        changed = scenario.with_overrides({definition.constant: definition.value}, where="robustness")
        runs = table.drop(columns=[definition.constant], errors="ignore")
        ds = simulate_batch(changed, runs, list(phases), engine)
        time = np.asarray(ds["time"].values, float)
        persistence = persistence_of(runs, scenario_value(changed, PERSISTENCE))
        for column, element in phases.items():
            years = transition_years(time, np.asarray(ds[column].values, float), persistence, changed.time.end)
            rows.append({"family": definition.family, "definition": definition.label,
                         "constant": definition.constant, "value": definition.value,
                         "reference": definition.reference, "runs": len(runs), **verdict(years),
                         "element": element})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def phase_columns(scenario: Scenario) -> dict[str, str]:
    """The phase variable's columns -> element ("" for a scalar phase; "DPRK" for ``Partnership Phase[DPRK]``)."""
    var = model_info(scenario.model).variables[PHASE]
    return {c: c[len(PHASE) + 1:-1] if c != PHASE else "" for c in var.columns}


def verdict(years: np.ndarray) -> dict:
    """Transition-year statistics and P(strategic by year) of runs' transition years (NaN: none)."""
    years = np.asarray(years, float)
    filled = np.where(np.isnan(years), np.inf, years)  # no transition: later than any year
    with np.errstate(invalid="ignore"):
        # as the sweep summary: linear between neighbours, inf (none) beyond the last transition
        p5, median, p95 = (float(np.quantile(filled, q)) for q in (0.05, 0.5, 0.95))
    out = {"transition_year": _finite(median), "transition_p5": _finite(p5), "transition_p95": _finite(p95),
           "share_without_transition": float(np.mean(np.isnan(years)))}
    for year in VERDICT_YEARS:
        out[f"p_strategic_by_{year}"] = float(np.mean(filled <= year + TOLERANCE))
    return out


def _finite(x: float) -> float:
    return x if np.isfinite(x) else np.nan
