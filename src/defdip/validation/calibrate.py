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

import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm import tqdm

from defdip.core.case import CUMULATIVE_RI, FIT_YEARS, HOLD_END, RI_FLOW
from defdip.core.errors import InputError
from defdip.core.model import model_info
from defdip.engines.simulate import simulate, simulate_batch
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
    time = frame.index.to_numpy(float)
    return batch_residuals(time, frame[CUMULATIVE_RI].to_numpy(float)[None], frame[RI_FLOW].to_numpy(float)[None],
                           observed, hold_end, hold_rate)[0]


def batch_residuals(time, cumulative, flow, observed: pd.Series, hold_end: float, hold_rate: float) -> np.ndarray:
    """:func:`residuals` of many runs at once: ``cumulative`` and ``flow`` are (runs, time)."""
    fit = observed[observed.index.isin(FIT_YEARS)]
    got = np.cumsum(annual_values(time, cumulative, list(fit.index)), axis=1)
    want = np.cumsum(fit.to_numpy(float))
    hold = (flow[:, np.asarray(time) < hold_end].mean(axis=1) - hold_rate) / HOLD_SCALE
    return np.column_stack([(got - want) / (20 + 0.1 * want), hold])


def hold_rate(path=None) -> float:
    """Mean SIPRI Russia->Iran TIV of :data:`PRE_2010_YEARS` [Million/Year] (``data/series.csv``)."""
    return float(sipri_series(path, PRE_2010_YEARS).mean())


class _Objective:
    """Residuals of many parameter vectors at once, one batch per call; counts runs.

    ``runner`` turns parameter vectors into runs (time, cumulative, flow); by default it
    simulates them at once, a :class:`_LockStep` gathers them with other fits' first.
    """

    def __init__(self, scenario, names, observed, engine, hold=None, runner=None, progress=None):
        self.scenario, self.names, self.observed, self.engine = scenario, list(names), observed, engine
        self.progress = progress  # called with each batch's run count (the command's bar)
        info = model_info(scenario.model)
        self.hold_end = float(scenario.constants.get(HOLD_END, info.resolve(HOLD_END).value))
        self.hold_rate = hold_rate() if hold is None else float(hold)
        self.runner = runner or self.simulate
        self.runs = 0
        self._last = None  # (x, residuals) of the last single evaluation: the Jacobian's base point

    def with_observed(self, observed: pd.Series, runner=None) -> "_Objective":
        """The same objective against another record (a bootstrap replicate), with its own run count."""
        return _Objective(self.scenario, self.names, observed, self.engine, self.hold_rate, runner, self.progress)

    def simulate(self, X: np.ndarray):
        """The runs of parameter vectors ``X`` (rows): time, cumulative and flow (runs, time)."""
        ds = simulate_batch(self.scenario, pd.DataFrame(X, columns=self.names), outputs=list(OUTPUTS),
                            engine=self.engine)
        return np.asarray(ds["time"], float), ds[CUMULATIVE_RI].values, ds[RI_FLOW].values

    def batch(self, X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(X)
        time, cumulative, flow = self.runner(X)
        self.runs += len(X)
        if self.progress is not None:
            self.progress(len(X))
        R = batch_residuals(time, cumulative, flow, self.observed, self.hold_end, self.hold_rate)
        if len(X) == 1:
            self._last = (X[0].copy(), R[0])
        return R

    def jacobian(self, x, low, high):
        """Forward differences (backward at the upper bound), all in one batch.

        least_squares asks for the Jacobian where it has just evaluated the residuals: that
        run is reused, not repeated (one run in n + 1 saved)."""
        step = 1e-3 * (high - low)
        steps = np.where(x + step <= high, step, -step)
        X = x + np.diag(steps)
        if self._last is not None and np.array_equal(self._last[0], x):
            base = self._last[1]
            R = self.batch(X)
        else:
            R = self.batch(np.vstack([x, X]))
            base, R = R[0], R[1:]
        return (R - base).T / steps


class _LockStep:
    """Runs what concurrent fits ask for as one batch, once every fit still running has asked.

    The bootstrap's refits are independent least-squares fits asking for 1 or n runs at a
    time; one after another they give the engine batches too small to share out over its
    threads, and pay each call's fixed cost 30 times over. In lock step each round of the
    fits is one call. A run's numbers do not depend on the batch it is in, so the fits
    take the same steps as alone.
    """

    def __init__(self, simulate, fits: int):
        self._simulate, self._active = simulate, fits
        self._cond = threading.Condition()
        self._asked, self._answers = {}, {}

    def runner(self, fit):
        """The runner of fit ``fit`` (any hashable key)."""
        return lambda X: self._run(fit, X)

    def finished(self) -> None:
        """A fit is done (or failed): the others no longer wait for it."""
        with self._cond:
            self._active -= 1
            self._flush()

    def _run(self, fit, X):
        with self._cond:
            self._asked[fit] = X
            self._flush()
            while fit not in self._answers:
                self._cond.wait()
            answer = self._answers.pop(fit)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def _flush(self) -> None:
        if not self._asked or len(self._asked) < self._active:
            return
        asked, self._asked = self._asked, {}
        try:
            time, cumulative, flow = self._simulate(np.vstack(list(asked.values())))
            ends = np.cumsum([len(X) for X in asked.values()])
            for fit, lo, hi in zip(asked, np.r_[0, ends[:-1]], ends):
                self._answers[fit] = (time, cumulative[lo:hi], flow[lo:hi])
        except Exception as exc:  # every fit of the round hears of it, none waits for ever
            self._answers.update({fit: exc for fit in asked})
        self._cond.notify_all()


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


def _fit_local(obj: _Objective, x0, low, high, max_nfev=None):
    from scipy.optimize import least_squares

    sol = least_squares(lambda x: obj.batch(x)[0], x0, jac=lambda x: obj.jacobian(x, low, high),
                        bounds=(low, high), x_scale=(high - low) / 10, max_nfev=max_nfev)
    return sol.x


def _fit_global(obj: _Objective, low, high, seed: int, maxiter: int):
    from scipy.optimize import differential_evolution

    def cost(X):  # vectorised: X is (parameters, population)
        return (obj.batch(X.T) ** 2).sum(axis=1)

    sol = differential_evolution(cost, list(zip(low, high)), seed=seed, maxiter=maxiter, popsize=POPSIZE,
                                 vectorized=True, updating="deferred", polish=False, tol=1e-6)
    return sol.x


POPSIZE = 8  # differential evolution's population per fitted constant


def run_budget(parameters: int, method: str, bootstrap: int, max_nfev: int, generations: int) -> int:
    """The most model runs :func:`calibrate` does, to say before it starts.

    Each least-squares fit evaluates the residuals at most ``max_nfev`` times, one run each,
    and the Jacobian at most as often, ``parameters`` runs each (its base point reused);
    there are ``1 + bootstrap`` fits. ``global`` first runs ``generations + 1`` populations
    of ``POPSIZE * parameters``. Two runs give the fit statistics before and after, one the
    bootstrap's fitted record.
    """
    fits = (1 + bootstrap) * max_nfev * (1 + parameters)
    search = POPSIZE * parameters * (generations + 1) if method == "global" else 0
    return search + fits + 2 + (1 if bootstrap > 0 else 0)


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
    # a count of model runs on stderr when it is a terminal (tqdm's disable=None): the default takes a minute
    with tqdm(desc="calibrate", unit="run", file=sys.stderr, disable=None, leave=False) as bar:
        obj = _Objective(scenario, names, observed, engine or default_engine(), hold, progress=bar.update)
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
    # the records are drawn first, in order, so the intervals do not depend on how the fits interleave
    records = [pd.Series(np.maximum(0.0, sim + rng.choice(errors, size=len(errors), replace=True)), index=years)
               for _ in range(n)]
    lock = _LockStep(obj.simulate, n)
    replicates = [obj.with_observed(record, lock.runner(i)) for i, record in enumerate(records)]

    def refit(replicate):
        try:
            return _fit_local(replicate, fitted, low, high, max_nfev=max_nfev)
        finally:
            lock.finished()

    with ThreadPoolExecutor(max_workers=n) as pool:
        draws = list(pool.map(refit, replicates))
    obj.runs += sum(r.runs for r in replicates)
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
