"""Reality checks: declarative statements about the model's behaviour, and their verdicts.

A checks file (``models/iran_russia.checks.yaml``) lists checks. Each names a *condition* (a scenario,
constants set on it, time-varying test inputs) and *predicates* over time windows on
variables ("with ``war start year`` = 2100, Arms Transfers Iran to Russia stays below 0.05
through 2035"). Parsing validates everything before anything runs; the predicates are
pure functions of trajectories; :func:`run_checks` simulates each distinct condition once,
grouping conditions that differ only in constants into one :func:`simulate_batch` call.

Reading and validating the checks file (its format is described there) lives in
:mod:`defdip.validation.checks_file`; :func:`load_checks` is importable from here too.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from defdip.core.scenario import load_scenario
from defdip.engines.simulate import frames_by_run, simulate_batch
from defdip.validation.checks_file import (
    Check,
    Condition,
    Predicate,
    load_checks,  # noqa: F401  (README's Python API: defdip.validation.checks.load_checks)
)

EPS = 1e-9  # [Year] slack on window edges, which fall on saved times


@dataclass(frozen=True)
class PredicateResult:
    """A predicate's verdict and the number behind it."""

    predicate: Predicate
    passed: bool
    observed: float | None
    detail: str


@dataclass(frozen=True)
class CheckResult:
    """A check's verdict: it passes when every predicate does."""

    check: Check
    results: tuple[PredicateResult, ...]
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(r.passed for r in self.results)


# --- evaluating: pure functions of trajectories ------------------------------------------------

def window(series: pd.Series, start: float | None, end: float | None) -> pd.Series:
    """The part of a time-indexed series with ``start <= time <= end`` [Year]."""
    t = series.index.to_numpy(float)
    keep = np.ones(len(t), bool)
    if start is not None:
        keep &= t >= start - EPS
    if end is not None:
        keep &= t <= end + EPS
    return series[keep]


def _stat(values: pd.Series, statistic: str) -> float:
    return float({"mean": values.mean, "min": values.min, "max": values.max,
                  "final": lambda: values.iloc[-1]}[statistic]())


def evaluate(pred: Predicate, frame: pd.DataFrame, reference: pd.DataFrame | None = None) -> PredicateResult:
    """Judge one predicate on trajectories.

    Parameters
    ----------
    pred : Predicate
    frame : pandas.DataFrame
        Index time [Year], a column named ``pred.variable``.
    reference : pandas.DataFrame, optional
        The reference condition's trajectories (``compare_to`` only).

    Returns
    -------
    PredicateResult
    """
    x = window(frame[pred.variable].astype(float), pred.start, pred.by if pred.kind == "reaches" else pred.end)
    if x.empty:
        return PredicateResult(pred, False, None, "no saved time inside the window")
    if not np.all(np.isfinite(x.to_numpy())):
        return PredicateResult(pred, False, None, "NaN or infinite values in the window")
    return _EVALUATORS[pred.kind](pred, x, reference)


def _greater(pred, x, _):
    low = float(x.min())
    return PredicateResult(pred, low > pred.value, low, f"min {low:.4g} (at {x.idxmin():g})")


def _less(pred, x, _):
    high = float(x.max())
    return PredicateResult(pred, high < pred.value, high, f"max {high:.4g} (at {x.idxmax():g})")


def _within(pred, x, _):
    low, high = float(x.min()), float(x.max())
    ok = pred.low <= low and high <= pred.high
    return PredicateResult(pred, ok, low if low < pred.low else high, f"range [{low:.4g}, {high:.4g}]")


def _monotone(pred, x, _):
    steps = np.diff(x.to_numpy(float))
    if pred.direction == "decreasing":
        steps = -steps
    worst = float(steps.min()) if steps.size else 0.0
    sign = 1 if pred.direction == "increasing" else -1
    where = x.index[int(np.argmin(steps)) + 1] if steps.size else x.index[0]
    return PredicateResult(pred, worst >= -pred.tolerance, sign * worst,
                           f"worst step {sign * worst:.4g} (at {where:g})")


def _reaches(pred, x, _):
    values = x.to_numpy(float)
    hit = values >= pred.value if pred.direction == "up" else values <= pred.value
    if hit.any():
        when = float(x.index[int(np.argmax(hit))])
        return PredicateResult(pred, True, when, f"reached at {when:g}")
    best = float(values.max() if pred.direction == "up" else values.min())
    return PredicateResult(pred, False, best, f"not reached by {pred.by:g}; closest {best:.4g}")


def _compare(pred, x, reference):
    if reference is None:
        return PredicateResult(pred, False, None, "no reference run")
    y = window(reference[pred.variable].astype(float), pred.start, pred.end)
    if pred.statistic == "all":
        diff = x.to_numpy() - y.to_numpy()
        gap = float(diff.min() if pred.relation == "greater" else (-diff).min())
        return PredicateResult(pred, gap > pred.margin, gap, f"smallest gap {gap:.4g}")
    a, b = _stat(x, pred.statistic), _stat(y, pred.statistic)
    gap = a - b if pred.relation == "greater" else b - a
    return PredicateResult(pred, gap > pred.margin, a, f"{a:.4g} vs {b:.4g} in reference")


_EVALUATORS = {"greater_than": _greater, "less_than": _less, "within": _within,
               "monotone": _monotone, "reaches": _reaches, "compare_to": _compare}


# --- running -----------------------------------------------------------------------------------

def conditions_of(checks) -> list[Condition]:
    """Every distinct condition the checks need, their references included, in first-use order."""
    seen: dict[Condition, None] = {}
    for check in checks:
        seen.setdefault(check.condition)
        for pred in check.expect:
            if pred.reference is not None:
                seen.setdefault(pred.reference)
    return list(seen)


def simulate_conditions(conditions, scenario, variables, engine: str = "pysd") -> dict:
    """Trajectories for each condition, one :func:`simulate_batch` per base scenario and inputs.

    Conditions that share a scenario, test inputs and the *names* of the constants they set
    differ only in values, so they become rows of one samples table.

    Returns
    -------
    dict
        Condition -> DataFrame (index time [Year], one column per variable).
    """

    groups: dict[tuple, list[Condition]] = {}
    for cond in conditions:
        groups.setdefault((cond.scenario, cond.series, tuple(k for k, _ in cond.sets)), []).append(cond)
    out = {}
    for (path, series, names), members in groups.items():
        base = scenario if path is None else load_scenario(path)
        if series:
            base = dataclasses.replace(base, constants={k: v for k, v in base.constants.items()
                                                        if k not in dict(series)},
                                       series={**base.series, **dict(series)})
        samples = pd.DataFrame([dict(c.sets) for c in members], columns=list(names),
                               index=pd.RangeIndex(len(members), name="run"))
        ds = simulate_batch(base, samples, outputs=list(variables), engine=engine)
        out.update(zip(members, frames_by_run(ds, list(variables))))
    return out


def run_checks(checks, scenario, engine: str = "pysd") -> list[CheckResult]:
    """Simulate what the checks need and judge every predicate.

    Parameters
    ----------
    checks : sequence of Check
    scenario : Scenario
        Used by conditions that name no scenario file.
    engine : str
        Passed to :func:`defdip.engines.simulate.simulate_batch`.
    """
    variables = sorted({p.variable for c in checks for p in c.expect})
    runs = simulate_conditions(conditions_of(checks), scenario, variables, engine)
    results = []
    for check in checks:
        frame = runs[check.condition]
        verdicts = tuple(evaluate(p, frame, runs.get(p.reference)) for p in check.expect)
        results.append(CheckResult(check, verdicts))
    return results
