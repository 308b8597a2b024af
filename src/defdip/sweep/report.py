"""What is computed from a sweep's chunk files: percentiles, outcomes, indices, headline.

The analysis stage of :mod:`defdip.io.sweep_folder`. :func:`percentiles` streams quantiles over runs
one time block at a time; :func:`collect_outcomes` computes the outcomes chunk by chunk and
streams the experiments table to ``outcomes.csv``; :func:`indices` and :func:`ranking` give the
sensitivity of each outcome; :func:`headline` the content of ``summary.json``. Memory stays flat
as the runs grow: nothing holds more than a time block of trajectories, one chunk file open, and
one number per run and outcome. Nothing here runs a model or draws.
"""
from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pandas as pd

from defdip.analysis.outcomes import evaluate, for_indices, persistence_of
from defdip.analysis.sensitivity import ANALYSES
from defdip.core.case import PERSISTENCE, PHASE, STRATEGIC
from defdip.core.errors import DefdipError
from defdip.core.model import model_info
from defdip.core.scenario import Scenario
from defdip.sweep.plan import SweepPlan
from defdip.sweep.store import open_chunk

QUANTILES = (0.0, 0.025, 0.05, 0.125, 0.25, 0.5, 0.75, 0.875, 0.95, 0.975, 1.0)
# Percentile bands drawn in the fan charts: coverage -> (lower, upper) quantile.
BANDS = {100: (0.0, 1.0), 95: (0.025, 0.975), 75: (0.125, 0.875), 50: (0.25, 0.75)}
# Values held at once while streaming the percentiles, all stored outputs together (32 MB):
# a time block of every run of every output. Larger blocks mean fewer passes over the chunk
# files (each pass opens every file once): 200,000 runs of 8 outputs take 51 passes, ~10 s;
# twice the block saves ~4 s for 40 MB more. The memory does not depend on the number of runs.
BLOCK_VALUES = 4_000_000
STRATEGIC_SHARE = "share of runs in the strategic phase"


def percentiles(paths, outputs, runs: int):
    """Quantiles over runs at every time, reading the chunk files one time block at a time.

    A block holds all runs of every output for ``BLOCK_VALUES / (runs x outputs)`` saved
    times, and each pass opens one chunk file at a time, so memory depends neither on the
    number of runs nor on the number of chunk files. Also the share of runs in phase 3 at
    each time when the phase is stored.

    Parameters
    ----------
    paths : sequence of path
        The chunk files, in run order.
    outputs : sequence of str
        Stored variables to summarise.
    runs : int
        Runs in all chunk files together.

    Returns
    -------
    xarray.Dataset
        One variable per output with dims ``(quantile, time)``, quantiles
        :data:`QUANTILES` (0 and 1 are min and max).
    """
    import xarray as xr

    outputs = list(outputs)
    with open_chunk(paths[0]) as first:
        time = np.asarray(first["time"].values, float)
    step = max(1, BLOCK_VALUES // max(runs * len(outputs), 1))
    out = {name: np.empty((len(QUANTILES), len(time))) for name in outputs}
    share = np.empty(len(time))
    for t0 in range(0, len(time), step):
        t1 = min(t0 + step, len(time))
        block = time_block(paths, outputs, runs, t0, t1)
        for name in outputs:
            out[name][:, t0:t1] = np.quantile(block[name], QUANTILES, axis=0)
            if name == PHASE:
                share[t0:t1] = np.mean(np.rint(block[name]) == STRATEGIC, axis=0)
        del block  # freed before the next block is allocated
    data = {name: (("quantile", "time"), values) for name, values in out.items()}
    if PHASE in outputs:
        data[STRATEGIC_SHARE] = (("time",), share)
    return xr.Dataset(data, coords={"quantile": list(QUANTILES), "time": time})


def time_block(paths, outputs, runs: int, t0: int, t1: int) -> dict[str, np.ndarray]:
    """Every run of every output at saved times ``t0:t1``, read one chunk file at a time.

    Returns
    -------
    dict
        Output name -> array ``(runs, t1 - t0)``, rows in run order.

    Raises
    ------
    DefdipError
        If the chunk files hold another number of runs than ``runs``.
    """
    block = {name: np.empty((runs, t1 - t0)) for name in outputs}
    row = 0
    for path in paths:
        part = _read_times(path, outputs, t0, t1)
        size = len(next(iter(part.values())))
        if row + size > runs:
            raise DefdipError(f"{path}: the chunk files hold more than the sweep's {runs} runs")
        for name in outputs:
            block[name][row:row + size] = part[name]
        row += size
    if row != runs:
        raise DefdipError(f"{Path(paths[0]).parent}: the chunk files hold {row} runs, the sweep has {runs}")
    return block


def _read_times(path, outputs, t0: int, t1: int) -> dict[str, np.ndarray]:
    """Saved times ``t0:t1`` of every run of ``outputs`` in one chunk file.

    Read with h5py rather than :func:`defdip.sweep.store.open_chunk`: xarray (through
    h5netcdf) takes ~25 ms to open a chunk file, h5py ~0.1 ms, and :func:`percentiles` opens
    every file once per time block. A chunk file is netCDF-4, i.e. HDF5 with one dataset
    ``(run, time)`` per variable; a float64 variable without ``scale_factor``/``add_offset``
    and with a NaN (or no) ``_FillValue`` holds exactly the values xarray decodes. Anything
    else is left to xarray.
    """
    import h5py  # loads HDF5 (~0.1 s); only a sweep's report reads with it

    with h5py.File(path, "r") as f:
        raw = [f.get(name) for name in outputs]
        if all(_plain(var) for var in raw):
            return {name: var[:, t0:t1] for name, var in zip(outputs, raw)}
    with open_chunk(path) as ds:
        part = ds[list(outputs)].isel(time=slice(t0, t1))
        return {name: part[name].values for name in outputs}


def _plain(var) -> bool:
    """Whether an HDF5 dataset is stored as the float64 values themselves (no CF encoding)."""
    if var is None or getattr(var, "ndim", 0) != 2 or var.dtype != np.float64:
        return False
    if {"scale_factor", "add_offset"} & set(var.attrs):
        return False
    fill = var.attrs.get("_FillValue")
    return fill is None or bool(np.all(np.isnan(fill)))


def collect_outcomes(plan: SweepPlan, paths, csv_path=None) -> pd.DataFrame:
    """Every outcome of every run, chunk by chunk; ``outcomes.csv`` written on the way.

    Only the outcome values of all runs are held (runs x outcomes floats); the table of
    parameters and outcomes goes to ``csv_path`` one chunk at a time, the same bytes as
    one ``to_csv`` of the whole table.

    Parameters
    ----------
    plan : SweepPlan
    paths : sequence of path
        The chunk files, in the order of ``plan.chunks()``.
    csv_path : path, optional
        Where to write the experiments table: ``run``, the parameters, then one column per
        outcome (``%.17g``; NaN as an empty cell).

    Returns
    -------
    pandas.DataFrame
        Index ``run`` (as ``plan.table``), one float column per outcome spec, in the order
        of ``plan.outcomes``. The parameters stay in ``plan.table``.
    """
    needs = sorted({o.needs for o in plan.outcomes})
    specs = [o.spec for o in plan.outcomes]
    final = plan.scenario.time.end
    default = default_persistence(plan.scenario)
    values = np.full((plan.runs, len(specs)), np.nan)
    with ExitStack() as stack:
        handle = None if csv_path is None else stack.enter_context(open(csv_path, "w", newline="", encoding="utf-8"))
        for path, (start, stop) in zip(paths, plan.chunks()):
            with open_chunk(path) as ds:
                time = np.asarray(ds["time"].values, float)
                data = {name: np.asarray(ds[name].values, float) for name in needs}
            rows = plan.table.iloc[start:stop]
            found = evaluate(plan.outcomes, time, data, persistence_of(rows, default), final)
            for j, spec in enumerate(specs):
                values[start:stop, j] = found[spec]
            if handle is not None:
                part = rows.join(pd.DataFrame(values[start:stop], index=rows.index, columns=specs))
                part.to_csv(handle, header=start == 0, index_label="run", float_format="%.17g")
    return pd.DataFrame(values, index=plan.table.index, columns=specs, copy=False)


def default_persistence(scenario: Scenario) -> float | None:
    """The persistence a run has when the sweep does not vary it: the scenario's, else the model's."""
    if PERSISTENCE in scenario.constants:
        return float(scenario.constants[PERSISTENCE])
    var = model_info(scenario.model).variables.get(PERSISTENCE)
    return var.value if var is not None else None


def indices(plan: SweepPlan, experiments: pd.DataFrame, time) -> pd.DataFrame | None:
    """Sensitivity indices of every outcome (sobol, morris, oat), tidy; ``None`` for mc/lhs.

    ``experiments`` holds a column per outcome spec (:func:`collect_outcomes`).
    """
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
    Spearman rank correlation between constant (``plan.table``) and outcome (``experiments``,
    a column per outcome spec) for mc and lhs.
    """
    key = {"sobol": "ST", "morris": "mu_star", "oat": "swing"}.get(plan.method)
    if table is not None and key:
        rows = table[(table["outcome"] == outcome) & (table["index"] == key)]
        score = rows.set_index("parameter")["value"].abs()
        label = f"|{key}|" if key == "swing" else key
    else:
        from scipy.stats import spearmanr

        y = experiments[outcome].to_numpy(float)
        finite = y[np.isfinite(y)]
        varies = finite.size > 1 and finite.std() > 0  # an outcome that never happens ranks nothing
        score = pd.Series({n: abs(spearmanr(plan.table[n], y, nan_policy="omit")[0])
                           if varies else np.nan for n in plan.problem.names})
        label = "|spearman rho|"
    # a constant with no effect is not "influential": all zeros rank nothing
    score = score[score > 0].sort_values(ascending=False, kind="stable")
    return [{"constant": n, label: round(float(v), 6)} for n, v in score.head(5).items()]


def index_notes(table: pd.DataFrame | None) -> dict[str, str]:
    """Per outcome whose indices say nothing, why (:func:`defdip.analysis.sensitivity.variation_note`)."""
    if table is None:
        return {}
    notes = table.drop_duplicates("outcome").set_index("outcome")["note"].fillna("")
    return {str(k): str(v) for k, v in notes.items() if v}


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
    if notes := index_notes(table):
        summary["indices_not_informative"] = notes
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

