"""Fit constants to the historical record, with intervals, and write a calibrated scenario.

Targets: the running total of SIPRI Russia->Iran TIV at each year end of the fitted years
(:data:`defdip.core.case.FIT_YEARS`, 2010-2018), so that no single year dominates and a spike
delivered a few months early or late costs little; and the hold of the 2007 contract before
UNSCR 1929 (Russia->Iran deliveries before the resolution at the 2008-2009 SIPRI rate). The
held-out years (2019-2021) and everything after 2022 are not fitted; ``defdip validate``
reports them out of sample. The article's 481 is not a target: its unit and window cannot be
traced (data/README.md). Each target is a scaled residual; the fit minimises their sum of squares
within the constants' declared ranges, with :func:`scipy.optimize.least_squares` (``local``) or
:func:`scipy.optimize.differential_evolution` followed by a local polish (``global``). Every
evaluation of many parameter vectors (a Jacobian, a population) is one
:func:`defdip.engines.simulate.simulate_batch` call. Intervals come from a seeded residual
bootstrap of the annual values.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from defdip.core.case import CUMULATIVE_RI, FIT_YEARS, HOLD_END, RI_FLOW
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
PRE_2010_YEARS = (2008, 2009)  # SIPRI years before the run: the rate the 2010 hold keeps
HOLD_SCALE = 5.0  # [Million/Year] a hold-rate error of this size costs one residual unit
OUTPUTS = (CUMULATIVE_RI, RI_FLOW)


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


def residuals(frame: pd.DataFrame, observed: pd.Series, hold_end: float, hold_rate: float) -> np.ndarray:
    """Scaled misfit of one run to the targets (zero is a perfect fit).

    The year-end running totals of the fitted years are scaled by ``20 + 0.1 * observed
    total`` [Million]: small totals count with an absolute tolerance, large ones relatively.
    The hold term compares the mean delivery rate before ``hold_end`` with ``hold_rate``.
    """
    fit = observed[observed.index.isin(FIT_YEARS)]
    time, cum = frame.index.to_numpy(float), frame[CUMULATIVE_RI].to_numpy(float)
    annual = annual_values(time, cum, list(fit.index))
    got, want = np.cumsum(annual), np.cumsum(fit.to_numpy(float))
    rows = list((got - want) / (20 + 0.1 * want))
    flow = frame[RI_FLOW]
    before = flow[flow.index < hold_end]
    rows.append((float(before.mean()) - hold_rate) / HOLD_SCALE)
    return np.asarray(rows)


def hold_rate(path=None) -> float:
    """Mean SIPRI Russia->Iran TIV of :data:`PRE_2010_YEARS` [Million/Year] (``data/series.csv``)."""
    return float(sipri_series(path, PRE_2010_YEARS).mean())


class _Objective:
    """Residuals of many parameter vectors at once, one batch per call; counts runs."""

    def __init__(self, scenario, names, observed, engine, hold=None):
        self.scenario, self.names, self.observed, self.engine = scenario, list(names), observed, engine
        info = model_info(scenario.model)
        self.hold_end = float(scenario.constants.get(HOLD_END, info.resolve(HOLD_END).value))
        self.hold_rate = hold_rate() if hold is None else float(hold)
        self.runs = 0

    def with_observed(self, observed: pd.Series) -> "_Objective":
        """The same objective against another record (a bootstrap replicate), with its own run count."""
        return _Objective(self.scenario, self.names, observed, self.engine, self.hold_rate)

    def batch(self, X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(X)
        samples = pd.DataFrame(X, columns=self.names)
        ds = simulate_batch(self.scenario, samples, outputs=list(OUTPUTS), engine=self.engine)
        self.runs += len(X)
        return np.asarray([residuals(frame, self.observed, self.hold_end, self.hold_rate)
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
              observed: pd.Series | None = None, hold: float | None = None) -> Calibration:
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
        Annual Russia->Iran values by year (default: SIPRI 2010-2021 from ``data/series.csv``;
        only :data:`~defdip.core.case.FIT_YEARS` are fitted).
    hold : float, optional
        Delivery rate the run must keep before UNSCR 1929 [Million/Year] (default
        :func:`hold_rate`, the SIPRI 2008-2009 mean).
    """
    if method not in METHODS:
        raise InputError(f"--method: {method!r} is not allowed; allowed: {', '.join(METHODS)}")
    observed = sipri_series() if observed is None else observed
    names, x0, low, high = parameters(scenario, names)
    obj = _Objective(scenario, names, observed, engine or default_engine(), hold)
    start = _fit_global(obj, low, high, seed, global_iterations) if method == "global" else x0
    fitted = _fit_local(obj, start, low, high, max_nfev=max_nfev)
    interval = _bootstrap(obj, fitted, low, high, observed, bootstrap, seed, max_nfev)
    return Calibration(names, x0, fitted, low, high, interval, _statistics(obj, x0, observed),
                       _statistics(obj, fitted, observed), method, obj.runs, bootstrap, seed)


def _bootstrap(obj, fitted, low, high, observed, n: int, seed: int, max_nfev: int) -> np.ndarray:
    """Percentile intervals from refits to resampled records.

    Each synthetic record is the fitted run's annual values plus the fitted years' annual
    residuals drawn with replacement (Efron & Tibshirani 1993, residual bootstrap).
    """
    if n <= 0:
        return np.full((len(fitted), 2), np.nan)
    rng = np.random.default_rng(seed)
    run = simulate(obj.scenario.with_overrides(dict(zip(obj.names, fitted)), where="calibration"), obj.engine)
    frame = run.trajectories
    years = [y for y in observed.index if y in FIT_YEARS]
    sim = annual_values(frame.index.to_numpy(float), frame[CUMULATIVE_RI].to_numpy(float), years)
    errors = observed.loc[years].to_numpy(float) - sim
    draws = []
    for _ in range(n):
        record = pd.Series(np.maximum(0.0, sim + rng.choice(errors, size=len(errors), replace=True)), index=years)
        replicate = obj.with_observed(record)
        draws.append(_fit_local(replicate, fitted, low, high, max_nfev=max_nfev))
        obj.runs += replicate.runs
    return np.percentile(np.asarray(draws), [2.5, 97.5], axis=0).T


def _statistics(obj: _Objective, x, observed) -> dict:
    run = simulate(obj.scenario.with_overrides(dict(zip(obj.names, x)), where="calibration"), obj.engine)
    stats = history_fit(run.trajectories, observed)
    stats["cost"] = float((residuals(run.trajectories, observed, obj.hold_end, obj.hold_rate) ** 2).sum())
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
    years = f"{FIT_YEARS[0]}-{FIT_YEARS[-1]}"
    description = (f"{scenario.name} with {', '.join(cal.names)} fitted by `defdip calibrate` "
                   f"({cal.method}: {'differential evolution then ' if cal.method == 'global' else ''}"
                   f"bounded least squares, seed {cal.seed}) to the year-end running totals of SIPRI "
                   f"Russia->Iran TIV {years} and the hold of the 2007 contract before UNSCR 1929. Cost "
                   f"{cal.before['cost']:.3g} -> {cal.after['cost']:.3g}; 95% residual-bootstrap intervals "
                   f"in calibration.json.")
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
