"""Sensitivity indices from a sample and its outcomes: SALib's analyse step.

One function per method, all ``(problem, X, Y) -> tidy DataFrame`` with columns
``index, parameter, parameter_2, value, conf, note``:

- :func:`sobol_indices` -- first-order ``S1``, total ``ST`` and second-order ``S2``
  (``parameter_2`` names the partner) with bootstrap confidence half-widths;
- :func:`morris_indices` -- ``mu``, ``mu_star`` (with its bootstrap confidence half-width)
  and ``sigma`` of the elementary effects, per unit of each constant's full range
  (the design is on the unit hypercube);
- :func:`oat_swings` -- the outcome with each constant at its low and high end and the
  ``swing`` between them (the tornado's bars).

``X`` is the unit-hypercube design for sobol and morris, the value table for oat; ``Y``
one outcome per run in the same order. Fixed ``seed`` -> identical confidence intervals.

``note`` is empty when the outcome varies enough for the method, else it says why it does
not (:func:`variation_note`); Sobol' indices are then NaN: a share of a variance that is
zero, or that rests on a handful of runs, is not a number to read.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

COLUMNS = ("index", "parameter", "parameter_2", "value", "conf", "note")
CONF_LEVEL = 0.95
MORRIS_LEVELS = 4  # grid levels of the Morris design; the analysis must use the sample's
RESAMPLES = 100
# Sobol' indices need at least this share of runs away from the outcome's most common value.
# With fewer, the variance the indices divide is carried by a few runs and the estimators
# return noise outside [0, 1] (ST 1.44 when one run in 28,672 differs).
MIN_VARYING_SHARE = 0.01


def _tidy(rows, note: str = "") -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(COLUMNS[:-1]))
    frame["note"] = note
    return frame


def variation_note(Y, method: str) -> str:
    """Why ``method``'s indices of outcome ``Y`` say nothing, or ``""`` when they do.

    Every method: no run has a value, or every run has the same one (no constant moves it).
    Sobol' also: fewer than :data:`MIN_VARYING_SHARE` of the runs differ from the most
    common value.
    """
    finite = Y[np.isfinite(Y)]
    if finite.size == 0:
        return "not defined: no run has a value"
    values, counts = np.unique(finite, return_counts=True)
    mode = values[np.argmax(counts)]
    if len(values) == 1:
        return f"does not vary: {mode:.6g} in every run"
    differ = finite.size - int(counts.max())
    if method == "sobol" and differ < MIN_VARYING_SHARE * len(Y):
        return (f"not defined: {differ:,} of {len(Y):,} runs differ from {mode:.6g}; variance shares "
                f"need at least {MIN_VARYING_SHARE:.0%} of the runs")
    return ""


def sobol_indices(problem, X, Y, seed: int = 0, conf_level: float = CONF_LEVEL) -> pd.DataFrame:
    """Sobol' indices of a Saltelli design (``calc_second_order=True``).

    Parameters
    ----------
    problem : defdip.sweep.sampling.Problem
    X : array (runs, constants)
        The design (unused by the estimator, checked for its size).
    Y : array (runs,)
        One outcome per run, in design order.
    seed : int
        Seeds the bootstrap of the confidence intervals.

    Returns
    -------
    pandas.DataFrame
        Rows ``S1``/``ST`` per constant and ``S2`` per pair; ``conf`` is the half-width
        of the ``conf_level`` interval.
    """
    from SALib.analyze import sobol

    names = problem.names
    Y = _outcome(X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a constant outcome has no variance
        # SALib warns (UserWarning) for the same case; its indices are then NaN, reported as such
        warnings.filterwarnings("ignore", message="Constant values encountered", category=UserWarning)
        res = sobol.analyze(problem.salib(), Y, calc_second_order=True, num_resamples=RESAMPLES,
                            conf_level=conf_level, seed=seed)
    rows = []
    for key in ("S1", "ST"):
        rows += [(key, n, "", float(res[key][i]), float(res[f"{key}_conf"][i])) for i, n in enumerate(names)]
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            rows.append(("S2", names[i], names[j], float(res["S2"][i, j]), float(res["S2_conf"][i, j])))
    frame = _tidy(rows, variation_note(Y, "sobol"))
    if frame["note"].iloc[0]:
        frame[["value", "conf"]] = np.nan
    return frame


def morris_indices(problem, X, Y, seed: int = 0, conf_level: float = CONF_LEVEL) -> pd.DataFrame:
    """Morris elementary-effects screening.

    Parameters
    ----------
    problem : defdip.sweep.sampling.Problem
    X : array (runs, constants)
        The unit-hypercube Morris design (``N (D + 1)`` rows).
    Y : array (runs,)
    seed : int
        Seeds the bootstrap of ``mu_star``'s confidence interval.

    Returns
    -------
    pandas.DataFrame
        Rows ``mu``, ``mu_star`` and ``sigma`` per constant [outcome units per full range];
        ``conf`` is set for ``mu_star`` (SALib gives no interval for the others).
    """
    from SALib.analyze import morris


    Y = _outcome(X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = morris.analyze(problem.salib(), np.asarray(X, float), Y, num_resamples=RESAMPLES,
                             conf_level=conf_level, num_levels=MORRIS_LEVELS, seed=seed)
    # SALib masks the statistics of a constant whose steps were all undefined: NaN here.
    mu, mu_star, conf, sigma = (np.ma.filled(np.ma.asarray(res[k], float), np.nan)
                                for k in ("mu", "mu_star", "mu_star_conf", "sigma"))
    rows = []
    for i, name in enumerate(problem.names):
        rows.append(("mu", name, "", float(mu[i]), np.nan))
        rows.append(("mu_star", name, "", float(mu_star[i]), float(conf[i])))
        rows.append(("sigma", name, "", float(sigma[i]), np.nan))
    return _tidy(rows, variation_note(Y, "morris"))


def oat_swings(problem, X, Y) -> pd.DataFrame:
    """One-at-a-time swings from :func:`defdip.sweep.sampling.oat_sample`'s layout.

    Parameters
    ----------
    problem : defdip.sweep.sampling.Problem
    X : array (runs, constants)
        The oat value table: run 0 the scenario, then ``levels`` runs per constant, low to high.
    Y : array (runs,)

    Returns
    -------
    pandas.DataFrame
        Per constant: ``base`` (run 0), ``low`` and ``high`` (the outcome with the constant at
        its low and high end), ``swing`` = high - low and ``range`` = max - min over its levels.
    """
    Y = _outcome(X, Y)
    count = len(problem.names)
    levels, extra = divmod(len(Y) - 1, count)
    if extra or levels < 2:
        raise ValueError(f"an oat design of {count} constants has 1 + {count} x levels runs, got {len(Y)}")
    rows = []
    for i, name in enumerate(problem.names):
        ys = Y[1 + i * levels: 1 + (i + 1) * levels]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN levels
            spread = float(np.nanmax(ys) - np.nanmin(ys)) if not np.all(np.isnan(ys)) else np.nan
        rows += [("base", name, "", float(Y[0]), np.nan), ("low", name, "", float(ys[0]), np.nan),
                 ("high", name, "", float(ys[-1]), np.nan),
                 ("swing", name, "", float(ys[-1] - ys[0]), np.nan), ("range", name, "", spread, np.nan)]
    return _tidy(rows, variation_note(Y, "oat"))


ANALYSES = {"sobol": sobol_indices, "morris": morris_indices, "oat": oat_swings}


def _outcome(X, Y) -> np.ndarray:
    Y = np.asarray(Y, dtype=float).ravel()
    if len(Y) != len(X):
        raise ValueError(f"one outcome per run is needed: {len(X)} runs, {len(Y)} outcomes")
    return Y
