"""Trend analysis, as the article did it: fit, choose, extrapolate.

Linear, exponential and logistic trends are fitted by least squares
(:func:`scipy.optimize.curve_fit`) to a yearly series, the form is chosen by
the small-sample Akaike criterion AICc, and the chosen trend is extrapolated
with a 95 % prediction band from the delta method (parameter covariance from
the fit plus the residual variance). Pure functions over arrays; the series
file is read by :func:`load_series` and the figure lives in
:mod:`defdip.figures.trends`.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from defdip.core.case import COUNTERPARTS, RECORD_WINDOW, TREND_INDICATORS, TREND_SERIES
from defdip.core.errors import InputError
from defdip.core.resources import SERIES_FILE

FORMS = ("linear", "exponential", "logistic")
HORIZON = 2035
LEVEL = 0.95


def _linear(t, a, b):
    return a + b * t


def _exponential(t, a, b):
    return a * np.exp(b * t)


def _logistic(t, k, r, m):
    return k / (1 + np.exp(-r * (t - m)))


_FUNCS = {"linear": _linear, "exponential": _exponential, "logistic": _logistic}
PARAMS = {"linear": ("a", "b"), "exponential": ("a", "b"), "logistic": ("K", "r", "t_mid")}


@dataclass(frozen=True)
class TrendFit:
    """One fitted trend.

    Attributes
    ----------
    form : str
        ``"linear"`` (a + b t), ``"exponential"`` (a exp(b t)) or ``"logistic"``
        (K / (1 + exp(-r (t - t_mid)))); t is years since ``t0``.
    params : tuple of float
    cov : numpy.ndarray
        Parameter covariance from the fit.
    t0 : float
        Origin of t [year].
    n : int
        Number of points.
    rss : float
        Residual sum of squares [series units squared].
    aicc : float
        Small-sample AIC; ``inf`` when n is too small for the form.
    """

    form: str
    params: tuple
    cov: np.ndarray
    t0: float
    n: int
    rss: float
    aicc: float

    @property
    def k(self) -> int:
        return len(self.params)

    def __call__(self, years) -> np.ndarray:
        return _FUNCS[self.form](np.asarray(years, float) - self.t0, *self.params)


def aicc(rss: float, n: int, k: int) -> float:
    """Akaike's criterion with the small-sample correction, for least squares with Gaussian errors.

    ``n ln(RSS/n) + 2k + 2k(k+1)/(n-k-1)``, with k counting the trend's
    parameters; ``inf`` when ``n - k - 1 <= 0``. A perfect fit (RSS 0) is
    floored at a tiny RSS so the criterion stays finite.
    """
    if n - k - 1 <= 0:
        return float("inf")
    rss = max(rss, 1e-12 * n)
    return float(n * np.log(rss / n) + 2 * k + 2 * k * (k + 1) / (n - k - 1))


def fit_trend(years, values, form: str) -> TrendFit | None:
    """Least-squares fit of one form; None when the fit does not converge."""
    from scipy.optimize import curve_fit

    t_abs, y = np.asarray(years, float), np.asarray(values, float)
    t0 = float(t_abs[0])
    t = t_abs - t0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            params, cov = curve_fit(_FUNCS[form], t, y, p0=_start(form, t, y), maxfev=20000,
                                    **_bounds(form, t))
    except (RuntimeError, ValueError):
        return None
    rss = float(np.sum((y - _FUNCS[form](t, *params)) ** 2))
    return TrendFit(form, tuple(float(p) for p in params), np.asarray(cov, float), t0, len(y), rss,
                    aicc(rss, len(y), len(params)))


def _start(form: str, t, y):
    slope, intercept = np.polyfit(t, y, 1) if len(t) > 1 else (0.0, y[0])
    if form == "linear":
        return intercept, slope
    if form == "exponential":
        positive = y > 0
        if positive.sum() >= 2:
            b, log_a = np.polyfit(t[positive], np.log(y[positive]), 1)
            return np.exp(log_a), b
        return max(np.mean(y), 1e-6), 0.0
    top = float(np.max(np.abs(y))) or 1.0
    return top * 1.1, (1.0 if slope >= 0 else -1.0), float(np.median(t))


def _bounds(form: str, t) -> dict:
    if form != "logistic":
        return {}
    span = float(t[-1] - t[0]) or 1.0
    # The midpoint may lie outside the data, but not absurdly far; the ceiling is positive.
    return {"bounds": ([0.0, -20.0, t[0] - 3 * span], [np.inf, 20.0, t[-1] + 3 * span])}


def fit_all(years, values, forms=FORMS) -> list[TrendFit]:
    """Every form that fits, best AICc first."""
    fits = [f for f in (fit_trend(years, values, form) for form in forms) if f is not None]
    return sorted(fits, key=lambda f: f.aicc)


def predict(fit: TrendFit, years, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Trend and its prediction band at ``years``.

    The variance of the trend at t is ``g' C g`` (delta method; g the gradient
    of the trend in its parameters, by central differences, C their covariance),
    plus the residual variance ``RSS / (n - k)`` for a new observation; the band
    is the Student-t quantile times its square root.

    Returns
    -------
    mean, low, high : numpy.ndarray
    """
    from scipy.stats import t as student

    years = np.asarray(years, float)
    mean = fit(years)
    dof = max(fit.n - fit.k, 1)
    sigma2 = fit.rss / dof
    grad = np.empty((len(years), fit.k))
    for i, p in enumerate(fit.params):
        h = 1e-6 * max(abs(p), 1e-3)
        up, down = list(fit.params), list(fit.params)
        up[i] += h
        down[i] -= h
        grad[:, i] = (_FUNCS[fit.form](years - fit.t0, *up) - _FUNCS[fit.form](years - fit.t0, *down)) / (2 * h)
    cov = np.where(np.isfinite(fit.cov), fit.cov, 0.0)
    var = np.einsum("ij,jk,ik->i", grad, cov, grad) + sigma2
    half = student.ppf(0.5 + level / 2, dof) * np.sqrt(np.maximum(var, 0))
    return mean, mean - half, mean + half


# --------------------------------------------------------------------------
# Data


def load_series(path: Path = SERIES_FILE) -> pd.DataFrame:
    """The numeric yearly series of a ``series.csv`` (columns ``series, year, value, unit, source, notes``).

    Rows without a number (ranges, "NOT FOUND") are dropped.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: series file not found")
    frame = pd.read_csv(path, dtype={"value": str})
    missing = {"series", "year", "value", "unit", "source"} - set(frame.columns)
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    return frame.dropna(subset=["value"]).reset_index(drop=True)


def series_points(frame: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Years and values of one series, sorted by year."""
    rows = frame[frame["series"] == name].sort_values("year")
    if rows.empty:
        raise InputError(f"series {name!r} not found; available: {', '.join(sorted(frame['series'].unique()))}")
    return rows["year"].to_numpy(float), rows["value"].to_numpy(float)


def yearly(trajectories: pd.DataFrame, name: str, years=RECORD_WINDOW) -> tuple[np.ndarray, np.ndarray]:
    """A simulated variable at whole years within ``years`` (inclusive)."""
    index = trajectories.index.to_numpy(float)
    wanted = np.arange(years[0], years[1] + 1, dtype=float)
    keep = np.isin(np.round(index, 6), wanted)
    return index[keep], trajectories[name].to_numpy(float)[keep]


def trend_rows(label: str, kind: str, years, values, horizon: float = HORIZON) -> list[dict]:
    """One row per form fitted to a series: parameters, AICc, Akaike weight, chosen, value at the horizon."""
    fits = fit_all(years, values)
    finite = [f.aicc for f in fits if np.isfinite(f.aicc)]
    best = min(finite) if finite else np.inf
    weights = {f.form: (np.exp(-(f.aicc - best) / 2) if np.isfinite(f.aicc) else 0.0) for f in fits}
    total = sum(weights.values()) or 1.0
    rows = []
    for rank, fit in enumerate(fits):
        mean, low, high = predict(fit, [horizon])
        rows.append({"series": label, "kind": kind, "form": fit.form, "chosen": rank == 0,
                     "n": fit.n, "first_year": float(years[0]), "last_year": float(years[-1]),
                     "params": "; ".join(f"{p}={v:.4g}" for p, v in zip(PARAMS[fit.form], fit.params)),
                     "rss": fit.rss, "aicc": fit.aicc, "akaike_weight": weights[fit.form] / total,
                     f"value_{int(horizon)}": float(mean[0]), "low_95": float(low[0]), "high_95": float(high[0])})
    return rows


# --------------------------------------------------------------------------
# The whole analysis



@dataclass(frozen=True)
class TrendAnalysis:
    """Fits to the historical series and to the model's indicators.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per series and form (:func:`trend_rows`).
    panels : list of dict
        What :func:`defdip.figures.trends.figure_trends` draws: per series the
        points, the chosen fit and the simulated baseline.
    """

    table: pd.DataFrame
    panels: list


def analyse(series: pd.DataFrame, trajectories: pd.DataFrame, units: dict | None = None,
            historical=TREND_SERIES, indicators=TREND_INDICATORS) -> TrendAnalysis:
    """Fit, choose and extrapolate every historical series and model indicator.

    Parameters
    ----------
    series : pandas.DataFrame
        From :func:`load_series`.
    trajectories : pandas.DataFrame
        A baseline run (index time [year], columns Vensim names).
    units : dict, optional
        Vensim name -> units, for the axis labels.
    """
    units = units or {}
    rows, panels = [], []
    time = trajectories.index.to_numpy(float)
    for name in historical:
        years, values = series_points(series, name)
        unit = str(series.loc[series["series"] == name, "unit"].iloc[0])
        rows += trend_rows(name, "historical", years, values)
        fits = fit_all(years, values)
        twin = COUNTERPARTS.get(name)
        simulated = (time, trajectories[twin].to_numpy(float)) if twin in trajectories else None
        title = name + (f" (model: {twin})" if simulated is not None else "")
        panels.append(dict(title=title, years=years, values=values, fit=fits[0] if fits else None, unit=unit,
                           simulated=simulated, points_label="historical data"))
    for name in indicators:
        years, values = yearly(trajectories, name)
        rows += trend_rows(name, "model", years, values)
        fits = fit_all(years, values)
        panels.append(dict(title=f"{name} (model)", years=years, values=values, fit=fits[0] if fits else None,
                           unit=units.get(name, ""), simulated=(time, trajectories[name].to_numpy(float)),
                           points_label="simulated, fitted years"))
    return TrendAnalysis(pd.DataFrame(rows), panels)


def trends_summary(analysis: TrendAnalysis, trajectories: pd.DataFrame) -> dict:
    """``summary.json`` of ``defdip trends``: the chosen form per series and trend vs simulation in 2035."""
    chosen = analysis.table[analysis.table["chosen"]]
    out = {}
    horizon = f"value_{HORIZON}"
    for row in chosen.itertuples(index=False):
        row = row._asdict()
        name = row["series"]
        twin = COUNTERPARTS.get(name, name if row["kind"] == "model" else None)
        simulated = None
        if twin in trajectories:
            sim = trajectories[twin]
            simulated = float(np.interp(HORIZON, sim.index.to_numpy(float), sim.to_numpy(float)))
        out[name] = {"kind": row["kind"], "form": row["form"], "akaike_weight": round(float(row["akaike_weight"]), 3),
                     "trend_2035": row[horizon], "band_2035": [row["low_95"], row["high_95"]],
                     "simulated_2035": simulated,
                     "simulation_inside_band": None if simulated is None else
                     bool(row["low_95"] <= simulated <= row["high_95"])}
    return {"fit_years_model": list(RECORD_WINDOW), "horizon": HORIZON, "level": LEVEL, "series": out}
