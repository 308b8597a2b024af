"""Fit constants to the historical record, with intervals, and write a calibrated scenario.

Targets (as in ``scripts/calibrate_history.py``, which set the model's "Calibrated" constants):
the annual SIPRI Russia->Iran TIV 2010-2021, the article's cumulative 481 for 2010-2024, at
most 40 delivered over 2022-2024 (no SIPRI value; Yak-130 trainers only), and phase timing
(two-sided tactics begin in 2022-2023). Each target is a scaled residual; the fit minimises
their sum of squares within the constants' declared ranges, with
:func:`scipy.optimize.least_squares` (``local``) or :func:`scipy.optimize.differential_evolution`
followed by a local polish (``global``). Every evaluation of many parameter vectors (a
Jacobian, a population) is one :func:`defdip.engines.simulate.simulate_batch` call, so the
vectorised ensemble engine makes it fast. Intervals come from a seeded residual bootstrap.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from defdip.analysis.phases import phase_changes
from defdip.core.case import (
    CUMULATIVE_RI,
    CUMULATIVE_TARGET,
    CUMULATIVE_YEARS,
    PHASE,
    SIPRI_YEARS,
)
from defdip.core.errors import InputError
from defdip.core.model import model_info
from defdip.engines.simulate import frames_by_run, simulate, simulate_batch
from defdip.validation.validate import (
    annual_values,
    default_engine,
    history_fit,
    sipri_series,
)

METHODS = ("local", "global")
RECENT_YEARS = (2022, 2023, 2024)
RECENT_CAP = 40.0  # [Million] most the record allows delivered 2022-2024 (script's target)
PHASE_WINDOW = (2022.0, 2024.0)  # [Year] two-sided tactics begin in 2022-2023
PHASE_SCALE = 0.25  # [Year] one saved step of lateness costs one residual unit
CUMULATIVE_SCALE = 24.0  # [Million] 5% of 481
OUTPUTS = (CUMULATIVE_RI, PHASE)


@dataclass(frozen=True)
class Calibration:
    """A finished fit.

    Attributes
    ----------
    names : tuple of str
        The fitted constants.
    start, fitted : numpy.ndarray
        Values before and after [each constant's units].
    low, high : numpy.ndarray
        The bounds searched.
    interval : numpy.ndarray
        ``(n, 2)`` bootstrap percentile interval (2.5 %, 97.5 %) per constant.
    before, after : dict
        Fit statistics (:func:`defdip.validation.validate.history_fit` plus ``cost``) at start and fit.
    method : str
    evaluations : int
        Model runs spent.
    bootstrap : int
        Bootstrap refits.
    seed : int
    """

    names: tuple[str, ...]
    start: np.ndarray
    fitted: np.ndarray
    low: np.ndarray
    high: np.ndarray
    interval: np.ndarray
    before: dict
    after: dict
    method: str
    evaluations: int
    bootstrap: int
    seed: int


def residuals(frame: pd.DataFrame, observed: pd.Series, cumulative_target: float = CUMULATIVE_TARGET) -> np.ndarray:
    """Scaled misfit of one run to the targets (zero is a perfect fit).

    Annual SIPRI terms are scaled by ``20 + 0.1 * observed`` [Million/Year], as in the
    historical script: small years count with an absolute tolerance, the 2016 spike relatively.
    """
    time, cum = frame.index.to_numpy(float), frame[CUMULATIVE_RI].to_numpy(float)
    annual = annual_values(time, cum, list(observed.index))
    obs = observed.to_numpy(float)
    rows = list((annual - obs) / (20 + 0.1 * obs))
    total = float(np.diff(np.interp(CUMULATIVE_YEARS, time, cum))[0])
    rows.append((total - cumulative_target) / CUMULATIVE_SCALE)
    recent = annual_values(time, cum, list(RECENT_YEARS)).sum()
    rows.append(max(0.0, recent - RECENT_CAP) / 10.0)
    rows.append(phase_lateness(frame) / PHASE_SCALE)
    return np.asarray(rows)


def phase_lateness(frame: pd.DataFrame) -> float:
    """Years by which the first move to two-sided tactics falls outside 2022-2023 [Year]."""
    ups = [c["year"] for c in phase_changes(frame.index, frame[PHASE]) if c["to"] >= 2]
    if not ups:
        return float(frame.index[-1] - PHASE_WINDOW[1])
    return max(0.0, PHASE_WINDOW[0] - ups[0], ups[0] - PHASE_WINDOW[1])


class _Objective:
    """Residuals of many parameter vectors at once, one batch per call; counts runs."""

    def __init__(self, scenario, names, observed, engine, cumulative_target=CUMULATIVE_TARGET):
        self.scenario, self.names, self.observed, self.engine = scenario, list(names), observed, engine
        self.cumulative_target = cumulative_target
        self.runs = 0

    def batch(self, X: np.ndarray) -> np.ndarray:

        X = np.atleast_2d(X)
        samples = pd.DataFrame(X, columns=self.names)
        ds = simulate_batch(self.scenario, samples, outputs=list(OUTPUTS), engine=self.engine)
        self.runs += len(X)
        return np.asarray([residuals(frame, self.observed, self.cumulative_target)
                           for frame in frames_by_run(ds, OUTPUTS)])

    def jacobian(self, x, low, high, offset=0.0):
        """Forward differences (backward at the upper bound), all in one batch."""
        step = 1e-3 * (high - low)
        steps = np.where(x + step <= high, step, -step)
        X = np.vstack([x] + [x + np.eye(len(x))[i] * steps[i] for i in range(len(x))])
        R = self.batch(X) + offset
        return (R[1:] - R[0]).T / steps


def parameters(scenario, names=None):
    """Names, start values and bounds of the constants to fit.

    Default: the scenario's ``uncertainties``; bounds are the uncertainty's range (else the
    constant's declared range), start values the scenario's (or the model's) values.

    Raises
    ------
    InputError
        Unknown names, non-constants, or a constant with no range to search.
    """
    info = model_info(scenario.model)
    names = list(names or scenario.uncertainties)
    if not names:
        raise InputError(f"{scenario.source}: uncertainties: none declared; name constants with --params")
    resolved, low, high, start = [], [], [], []
    for name in names:
        var = info.resolve(name, where="--params")
        if var.kind != "constant":
            raise InputError(f"--params: {var.name!r} is a {var.kind}, not a constant")
        unc = scenario.uncertainties.get(var.name)
        lo, hi = (unc.low, unc.high) if unc else (var.low, var.high)
        if lo is None or hi is None or lo >= hi:
            raise InputError(f"--params: {var.name!r} has no declared range [low, high] to search")
        value = scenario.constants.get(var.name, var.value)
        resolved.append(var.name)
        low.append(lo)
        high.append(hi)
        start.append(min(max(value, lo), hi))
    return tuple(resolved), np.array(start, float), np.array(low, float), np.array(high, float)


def _fit_local(obj: _Objective, x0, low, high, offset=0.0, max_nfev=None):
    from scipy.optimize import least_squares

    sol = least_squares(lambda x: obj.batch(x)[0] + offset, x0,
                        jac=lambda x: obj.jacobian(x, low, high, offset),
                        bounds=(low, high), x_scale=(high - low) / 10, max_nfev=max_nfev)
    return sol.x


def _fit_global(obj: _Objective, low, high, seed: int, maxiter: int):
    from scipy.optimize import differential_evolution

    def cost(X):  # vectorised: X is (parameters, population)
        return (obj.batch(X.T) ** 2).sum(axis=1)

    sol = differential_evolution(cost, list(zip(low, high)), seed=seed, maxiter=maxiter, popsize=8,
                                 vectorized=True, updating="deferred", polish=False, tol=1e-6)
    return sol.x


def calibrate(scenario, names=None, method: str = "local", seed: int = 0, engine: str | None = None,
              bootstrap: int = 30, max_nfev: int = 60, global_iterations: int = 30,
              observed: pd.Series | None = None, cumulative_target: float = CUMULATIVE_TARGET) -> Calibration:
    """Fit constants to the record and bootstrap their intervals.

    Parameters
    ----------
    scenario : Scenario
        What to calibrate; its other constants stay as they are.
    names : sequence of str, optional
        Constants to fit (default: the scenario's ``uncertainties``).
    method : {"local", "global"}
        Bounded least squares from the current values, or differential evolution then
        least squares.
    seed : int
        Seeds the global search and the bootstrap.
    engine : str, optional
        Simulation engine (default :func:`defdip.validation.validate.default_engine`).
    bootstrap : int
        Residual-bootstrap refits for the intervals (0: no intervals).
    max_nfev : int
        Iterations allowed to each least-squares fit.
    global_iterations : int
        Generations of differential evolution.
    observed : pandas.Series, optional
        Annual Russia->Iran values by year (default: SIPRI 2010-2021 from ``data/series.csv``).
    cumulative_target : float
        Russia->Iran total for 2010-2024 [Million] (default: the article's 481).
    """
    if method not in METHODS:
        raise InputError(f"--method: {method!r} is not allowed; allowed: {', '.join(METHODS)}")
    observed = sipri_series() if observed is None else observed
    names, x0, low, high = parameters(scenario, names)
    obj = _Objective(scenario, names, observed, engine or default_engine(), cumulative_target)
    start = _fit_global(obj, low, high, seed, global_iterations) if method == "global" else x0
    fitted = _fit_local(obj, start, low, high, max_nfev=max_nfev)
    interval = _bootstrap(obj, fitted, low, high, observed, bootstrap, seed, max_nfev)
    return Calibration(names, x0, fitted, low, high, interval, _statistics(obj, x0, observed),
                       _statistics(obj, fitted, observed), method, obj.runs, bootstrap, seed)


def _bootstrap(obj, fitted, low, high, observed, n: int, seed: int, max_nfev: int) -> np.ndarray:
    """Percentile intervals from refits to resampled annual residuals.

    Synthetic records are the fit plus annual residuals drawn with replacement, which in
    residual space is an offset ``e* - e``; the cumulative, recent and phase terms keep theirs.
    """
    if n <= 0:
        return np.full((len(fitted), 2), np.nan)
    rng = np.random.default_rng(seed)
    fit_res = obj.batch(fitted)[0]
    k = len(observed)
    draws = []
    for _ in range(n):
        resampled = fit_res.copy()
        resampled[:k] = rng.choice(fit_res[:k], size=k, replace=True)
        draws.append(_fit_local(obj, fitted, low, high, offset=resampled - fit_res, max_nfev=max_nfev))
    return np.percentile(np.asarray(draws), [2.5, 97.5], axis=0).T


def _statistics(obj: _Objective, x, observed) -> dict:

    run = simulate(obj.scenario.with_overrides(dict(zip(obj.names, x)), where="calibration"), obj.engine)
    stats = history_fit(run.trajectories, observed)
    stats["cost"] = float((residuals(run.trajectories, observed, obj.cumulative_target) ** 2).sum())
    stats["phase_lateness"] = phase_lateness(run.trajectories)
    return stats


def calibrated_scenario(cal: Calibration, scenario, folder) -> dict:
    """The YAML content of a scenario that ``extends`` the input with the fitted constants.

    Parameters
    ----------
    folder : Path
        Where the file will live once written (``extends`` is relative to it).
    """
    import os

    parent = os.path.relpath(scenario.source, folder) if scenario.source else None
    years = f"{SIPRI_YEARS[0]}-{SIPRI_YEARS[-1]}"
    description = (f"{scenario.name} with {', '.join(cal.names)} fitted by `defdip calibrate` "
                   f"({cal.method}: {'differential evolution then ' if cal.method == 'global' else ''}"
                   f"bounded least squares, seed {cal.seed}) to SIPRI Russia->Iran TIV {years}, the "
                   f"cumulative {CUMULATIVE_TARGET:g} for 2010-2024, at most {RECENT_CAP:g} over 2022-2024 "
                   f"and two-sided tactics from 2022-2023. Cost {cal.before['cost']:.3g} -> "
                   f"{cal.after['cost']:.3g}; 95% residual-bootstrap intervals in calibration.json.")
    out = {"name": f"{scenario.name}_calibrated", "description": description}
    if parent:
        out["extends"] = parent
    else:
        out["model"] = os.path.relpath(scenario.model, folder)
    out["constants"] = {n: float(f"{v:.6g}") for n, v in zip(cal.names, cal.fitted)}
    return out


def report(cal: Calibration) -> dict:
    """``calibration.json`` content: values, bounds, intervals, fit before and after."""
    params = {n: {"start": float(s), "fitted": float(f), "low": float(lo), "high": float(hi),
                  "interval_95": [float(a), float(b)]}
              for n, s, f, lo, hi, (a, b) in zip(cal.names, cal.start, cal.fitted, cal.low, cal.high,
                                                 cal.interval)}
    return {"method": cal.method, "seed": cal.seed, "evaluations": cal.evaluations,
            "bootstrap": cal.bootstrap, "parameters": params, "before": cal.before, "after": cal.after}
