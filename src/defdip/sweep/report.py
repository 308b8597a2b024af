"""What is computed from a sweep's chunk files: percentiles, outcomes, indices, headline.

The analysis stage of :mod:`defdip.io.sweep_folder`. :func:`percentiles` streams quantiles over runs
one time block at a time; :func:`collect_outcomes` builds the experiments table chunk by
chunk; :func:`indices` and :func:`ranking` give the sensitivity of each outcome;
:func:`headline` the content of ``summary.json``. Nothing here runs a model or draws.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from defdip.analysis.outcomes import evaluate, for_indices, persistence_of
from defdip.analysis.sensitivity import ANALYSES
from defdip.core.case import PERSISTENCE, PHASE
from defdip.core.model import model_info
from defdip.core.scenario import Scenario
from defdip.sweep.plan import SweepPlan
from defdip.sweep.store import open_chunk

QUANTILES = (0.0, 0.025, 0.05, 0.125, 0.25, 0.5, 0.75, 0.875, 0.95, 0.975, 1.0)
# Percentile bands drawn in the fan charts: coverage -> (lower, upper) quantile.
BANDS = {100: (0.0, 1.0), 95: (0.025, 0.975), 75: (0.125, 0.875), 50: (0.25, 0.75)}
BLOCK_VALUES = 2_000_000  # values of one variable held at once while streaming (16 MB)
STRATEGIC_SHARE = "share of runs in the strategic phase"


def percentiles(paths, outputs, runs: int):
    """Quantiles over runs at every time, reading the chunk files one time block at a time.

    A block holds all runs for ``BLOCK_VALUES / runs`` times, so memory does not grow
    with the number of runs. Also the share of runs in phase 3 at each time when the
    phase is stored.

    Returns
    -------
    xarray.Dataset
        One variable per output with dims ``(quantile, time)``, quantiles
        :data:`QUANTILES` (0 and 1 are min and max).
    """
    import xarray as xr

    files = [open_chunk(p) for p in paths]
    try:
        time = np.asarray(files[0]["time"].values, float)
        step = max(1, BLOCK_VALUES // max(runs, 1))
        out = {name: np.empty((len(QUANTILES), len(time))) for name in outputs}
        share = np.empty(len(time))
        for t0 in range(0, len(time), step):
            for name in outputs:
                block = np.concatenate([f[name][:, t0:t0 + step].values for f in files], axis=0)
                out[name][:, t0:t0 + step] = np.quantile(block, QUANTILES, axis=0)
                if name == PHASE:
                    share[t0:t0 + step] = np.mean(np.rint(block) == 3, axis=0)
    finally:
        for f in files:
            f.close()
    data = {name: (("quantile", "time"), values) for name, values in out.items()}
    if PHASE in outputs:
        data[STRATEGIC_SHARE] = (("time",), share)
    return xr.Dataset(data, coords={"quantile": list(QUANTILES), "time": time})


def collect_outcomes(plan: SweepPlan, paths) -> pd.DataFrame:
    """The experiments table: run, parameters, then one column per outcome (chunk by chunk)."""

    needs = sorted({o.needs for o in plan.outcomes})
    final = plan.scenario.time.end
    default = default_persistence(plan.scenario)
    parts = []
    for path, (start, stop) in zip(paths, plan.chunks()):
        with open_chunk(path) as ds:
            time = np.asarray(ds["time"].values, float)
            data = {name: np.asarray(ds[name].values, float) for name in needs}
        rows = plan.table.iloc[start:stop]
        values = evaluate(plan.outcomes, time, data, persistence_of(rows, default), final)
        parts.append(pd.DataFrame(values, index=rows.index))
    outcomes = pd.concat(parts) if parts else pd.DataFrame(index=plan.table.index)
    return plan.table.join(outcomes)


def default_persistence(scenario: Scenario) -> float | None:
    """The persistence a run has when the sweep does not vary it: the scenario's, else the model's."""
    if PERSISTENCE in scenario.constants:
        return float(scenario.constants[PERSISTENCE])
    var = model_info(scenario.model).variables.get(PERSISTENCE)
    return var.value if var is not None else None


def indices(plan: SweepPlan, experiments: pd.DataFrame, time) -> pd.DataFrame | None:
    """Sensitivity indices of every outcome (sobol, morris, oat), tidy; ``None`` for mc/lhs."""

    analyse = ANALYSES.get(plan.method)
    if analyse is None:
        return None
    X = plan.table.to_numpy(float) if plan.unit is None else plan.unit
    persistence = persistence_of(plan.table, default_persistence(plan.scenario))
    frames = []
    for outcome in plan.outcomes:
        Y = for_indices(outcome, experiments[outcome.spec].to_numpy(float), time, persistence,
                        plan.scenario.time.end)
        args = (plan.problem, X, Y) if plan.method == "oat" else (plan.problem, X, Y, plan.seed)
        frame = analyse(*args)
        frame.insert(0, "outcome", outcome.spec)
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    table.insert(1, "method", plan.method)
    return table


def ranking(plan: SweepPlan, experiments: pd.DataFrame, table: pd.DataFrame | None, outcome: str) -> list:
    """The constants ordered by influence on ``outcome``, most influential first.

    By ``ST`` (sobol), ``mu_star`` (morris), ``|swing|`` (oat), else by the absolute
    Spearman rank correlation between constant and outcome (mc, lhs).
    """
    key = {"sobol": "ST", "morris": "mu_star", "oat": "swing"}.get(plan.method)
    if table is not None and key:
        rows = table[(table["outcome"] == outcome) & (table["index"] == key)]
        score = rows.set_index("parameter")["value"].abs()
        label = f"|{key}|" if key == "swing" else key
    else:
        from scipy.stats import spearmanr

        y = experiments[outcome].to_numpy(float)
        score = pd.Series({n: abs(spearmanr(experiments[n], y, nan_policy="omit")[0])
                           if np.nanstd(y) > 0 else np.nan for n in plan.problem.names})
        label = "|spearman rho|"
    score = score.dropna().sort_values(ascending=False, kind="stable")
    return [{"constant": n, label: round(float(v), 6)} for n, v in score.head(5).items()]


def headline(plan: SweepPlan, experiments: pd.DataFrame, table) -> dict:
    """``summary.json`` content: the sweep, its problem and its headline results."""
    summary = {"scenario": plan.scenario.name, "method": plan.method, "samples": plan.samples,
               "runs": plan.runs, "seed": plan.seed, "engine": plan.engine,
               "problem": {"source": plan.problem.source, "constants": plan.problem.record()},
               "outcomes": {}, "top_constants": {}}
    final = plan.scenario.time.end
    for outcome in plan.outcomes:
        y = experiments[outcome.spec].to_numpy(float)
        stats = {"mean": _num(np.nanmean(y)) if np.any(~np.isnan(y)) else None, "missing": int(np.isnan(y).sum())}
        for q, label in ((0.05, "p5"), (0.5, "median"), (0.95, "p95")):
            stats[label] = _num(np.nanquantile(y, q)) if np.any(~np.isnan(y)) else None
        summary["outcomes"][outcome.spec] = stats
        summary["top_constants"][outcome.spec] = ranking(plan, experiments, table, outcome.spec)
    transition = [o for o in plan.outcomes if o.kind == "transition"]
    if transition:
        y = experiments[transition[0].spec].to_numpy(float)
        # No transition counts as later than any year, so the quantiles stay over all runs.
        filled = np.where(np.isnan(y), np.inf, y)
        with np.errstate(invalid="ignore"):  # inf - inf where both neighbours have none
            summary["transition_year"] = {
                "median": _num(np.quantile(filled, 0.5)), "p5": _num(np.quantile(filled, 0.05)),
                "p95": _num(np.quantile(filled, 0.95)), "share_without_transition": _num(np.mean(np.isnan(y))),
                "note": f"null: no transition by {final:g} in at least that share of runs"}
        for year in (2025, 2030, 2035):
            summary[f"p_strategic_by_{year}"] = _num(np.mean(y <= year + 1e-9))
    return summary


def _num(x) -> float | None:
    x = float(x)
    return round(x, 10) if np.isfinite(x) else None

