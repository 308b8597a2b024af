"""The sweep orchestrator: sample, evaluate in chunks, stream to disk, resume, summarise.

A sweep is planned (:func:`plan_sweep`: problem, sample table, outputs, outcomes), then
run by :func:`run_sweep`, which works in ``OUT/<scenario>-<method>.partial/``:

1. ``sweep.json`` (what the command asked for) and ``samples.csv`` are written first;
2. the runs are cut into chunks; each chunk is evaluated with
   :func:`defdip.simulate.simulate_batch` -- here, in ``workers`` local processes, or on
   a Dask cluster -- and written as ``results/chunk-NNNNN.nc`` (temporary name, then
   renamed, so a killed sweep never leaves a corrupt chunk). Each chunk stores the
   SHA-256 of its sample rows; a rerun of the same command keeps the chunks that match
   and runs only the others;
3. percentiles (streamed over time blocks, so memory stays flat as runs grow), outcomes,
   indices, figures, ``summary.json`` and ``manifest.json`` are computed from the chunk
   files, and the folder is renamed to ``OUT/<scenario>-<method>``.

Every chunk is computed by the same function from the same rows, so a sweep gives the
same bytes whether run here, on workers or on Dask, interrupted or not.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time as _time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from defdip.analysis import KEY_INDICATORS, PERSISTENCE, PHASE
from defdip.errors import DefdipError, InputError
from defdip.model import file_hash, model_info
from defdip.outcomes import Outcome, parse_outcomes
from defdip.output import scenario_record, write_json
from defdip.sampling import DEFAULT_SAMPLES, Problem, build_problem, check_samples, oat_sample, unit_sample
from defdip.scenario import Scenario
from defdip.simulate import ENGINES, simulate_batch

DEFAULT_ENGINE = "ensemble" if "ensemble" in ENGINES else "pysd"
# Runs per chunk file: large enough that the ensemble engine's per-call overhead
# vanishes, small enough that a chunk of 8 outputs x 101 times stays ~30 MB in memory.
DEFAULT_CHUNK = {"ensemble": 5000, "pysd": 50}
RESULTS_DIR = "results"
IDENTITY_FILE = "sweep.json"


@dataclass(frozen=True, eq=False)
class SweepPlan:
    """Everything a sweep will do, decided and validated before anything runs.

    Attributes
    ----------
    scenario : Scenario
    method : str
    samples : int
        The ``--samples`` argument (its meaning depends on the method).
    seed : int
    problem : Problem
    table : pandas.DataFrame
        The sample table: index ``run``, one column per uncertain constant.
    unit : numpy.ndarray or None
        The unit-hypercube design behind ``table`` (``None`` for oat).
    outputs : tuple of str
        Variables stored per run (the scenario's, ``--outputs``, and what outcomes need).
    outcomes : tuple of Outcome
    engine : str
    chunk_size : int
    """

    scenario: Scenario
    method: str
    samples: int
    seed: int
    problem: Problem
    table: pd.DataFrame
    unit: np.ndarray | None
    outputs: tuple[str, ...]
    outcomes: tuple[Outcome, ...]
    engine: str
    chunk_size: int
    folder_name: str = field(default="")

    @property
    def runs(self) -> int:
        return len(self.table)

    def chunks(self) -> list[tuple[int, int]]:
        """``(start, stop)`` run positions of each chunk."""
        return [(s, min(s + self.chunk_size, self.runs)) for s in range(0, self.runs, self.chunk_size)]


def plan_sweep(scenario: Scenario, method: str, samples: int | None = None, seed: int = 0, vary=None,
               outputs=(), outcomes=(), engine: str | None = None, chunk_size: int | None = None) -> SweepPlan:
    """Validate a sweep's arguments and draw its sample table.

    Parameters
    ----------
    scenario : Scenario
    method : {"oat", "mc", "lhs", "sobol", "morris"}
    samples : int, optional
        Default :data:`defdip.sampling.DEFAULT_SAMPLES` for the method.
    seed : int
    vary : dict, optional
        Constant -> (low, high) from ``--vary``.
    outputs : sequence of str
        Variables to store beyond the scenario's outputs.
    outcomes : sequence of str
        Outcome specs (default :data:`defdip.outcomes.DEFAULT_OUTCOMES`).
    engine : str, optional
        Default :data:`DEFAULT_ENGINE`.
    chunk_size : int, optional
        Runs per chunk file (default :data:`DEFAULT_CHUNK` for the engine).

    Raises
    ------
    InputError
        For anything invalid, before a single run.
    """
    engine = engine or DEFAULT_ENGINE
    if engine not in ENGINES:
        raise InputError(f"--engine: unknown engine {engine!r}; allowed: {', '.join(ENGINES)}")
    samples = DEFAULT_SAMPLES.get(method, 1) if samples is None else int(samples)
    check_samples(method, samples)
    chunk_size = DEFAULT_CHUNK.get(engine, 1000) if chunk_size is None else int(chunk_size)
    if chunk_size < 1:
        raise InputError(f"--chunk-size: must be at least 1, got {chunk_size}")
    problem = build_problem(scenario, vary)
    info = model_info(scenario.model)
    parsed = parse_outcomes(outcomes, info)
    wanted = tuple(scenario.outputs or (k for k in KEY_INDICATORS if k in info.variables))
    names = [info.resolve(n, where=f"--outputs {n}") for n in wanted + tuple(outputs or ())]
    for var in names:
        if var.kind in ("lookup", "control"):
            raise InputError(f"--outputs {var.name}: a {var.kind} has no values over time to store")
    stored = tuple(dict.fromkeys([v.name for v in names] + [o.needs for o in parsed]))
    if method == "oat":
        table, unit = oat_sample(problem, samples), None
    else:
        unit = unit_sample(problem, method, samples, seed)
        table = problem.scale(unit)
    return SweepPlan(scenario, method, samples, seed, problem, table, unit, stored, parsed, engine,
                     chunk_size, f"{scenario.name}-{method}")


# --- identity of a sweep, for resuming -------------------------------------------------------

def table_hash(table: pd.DataFrame) -> str:
    """SHA-256 of sample rows: run ids, column names and the exact float bytes."""
    digest = hashlib.sha256()
    digest.update(json.dumps(list(table.columns)).encode())
    digest.update(np.ascontiguousarray(table.index.to_numpy(np.int64)).tobytes())
    digest.update(np.ascontiguousarray(table.to_numpy(np.float64)).tobytes())
    return digest.hexdigest()


def identity(plan: SweepPlan) -> dict:
    """What makes two sweep commands the same sweep (workers and scheduler do not)."""
    record = {"scenario": scenario_record(plan.scenario), "model_sha256": file_hash(plan.scenario.model),
              "method": plan.method, "samples": plan.samples, "seed": plan.seed,
              "problem": plan.problem.record(), "outputs": list(plan.outputs), "engine": plan.engine,
              "runs": plan.runs, "samples_sha256": table_hash(plan.table)}
    return json.loads(json.dumps(record, default=str))  # as it reads back from the file


def _differences(old: dict, new: dict) -> list[str]:
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


# --- evaluating chunks -----------------------------------------------------------------------

def chunk_task(plan: SweepPlan, start: int, stop: int) -> dict:
    """A chunk as plain values (file paths, arrays, names) that a worker process or Dask can take."""
    rows = plan.table.iloc[start:stop]
    scenario = plan.scenario
    return {"scenario_file": str(scenario.source) if scenario.source else None,
            "model_file": str(scenario.model), "scenario_record": json.dumps(scenario_record(scenario), default=str),
            "values": rows.to_numpy(np.float64), "columns": list(rows.columns),
            "runs": rows.index.to_numpy(np.int64), "outputs": list(plan.outputs), "engine": plan.engine}


def evaluate_chunk(task: dict) -> dict:
    """Run one chunk from plain values (in any process) -> ``{"time", "data", "runs"}`` arrays."""
    from defdip.scenario import load_scenario, scenario_from_model

    if task["scenario_file"]:
        scenario = load_scenario(task["scenario_file"])
    else:
        scenario = scenario_from_model(task["model_file"])
    if json.dumps(scenario_record(scenario), default=str) != task["scenario_record"]:
        raise DefdipError(f"{task['scenario_file'] or task['model_file']}: the scenario changed on disk "
                          "since the sweep started; rerun it")
    return _evaluate(scenario, task)


def _evaluate(scenario: Scenario, task: dict) -> dict:
    frame = pd.DataFrame(task["values"], columns=task["columns"], index=pd.Index(task["runs"], name="run"))
    ds = simulate_batch(scenario, frame, task["outputs"], task["engine"])
    return {"time": np.asarray(ds["time"].values, float), "runs": task["runs"],
            "data": {name: np.asarray(ds[name].values, np.float64) for name in task["outputs"]}}


def netcdf_engine() -> str:
    """xarray's netCDF backend: h5netcdf (needs h5py), else netCDF4, whichever is installed."""
    import importlib.util

    if importlib.util.find_spec("h5py") is not None:
        return "h5netcdf"
    if importlib.util.find_spec("netCDF4") is not None:
        return "netcdf4"
    raise DefdipError("writing sweep results needs h5py (for h5netcdf) or netCDF4; pip install h5py")


def open_chunk(path: Path):
    """A chunk file as a lazy Dataset: slices are read from disk only when asked for."""
    import xarray as xr

    return xr.open_dataset(path, engine=netcdf_engine(), cache=False)


def chunk_path(folder: Path, number: int) -> Path:
    return folder / RESULTS_DIR / f"chunk-{number:05d}.nc"


def write_chunk(path: Path, result: dict, attrs: dict) -> None:
    """Write one chunk as netCDF (h5netcdf), under a temporary name renamed into place."""
    import xarray as xr

    data = {name: (("run", "time"), values) for name, values in result["data"].items()}
    ds = xr.Dataset(data, coords={"run": result["runs"], "time": result["time"]}, attrs=attrs)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    ds.to_netcdf(tmp, engine=netcdf_engine())
    os.replace(tmp, path)


def chunk_is_done(path: Path, expected_hash: str, outputs) -> bool:
    """Whether a chunk file exists, reads, and was computed from the expected sample rows."""
    if not path.is_file():
        return False
    try:
        with open_chunk(path) as ds:
            return ds.attrs.get("sample_sha256") == expected_hash and all(n in ds for n in outputs)
    except Exception:  # unreadable: a chunk from a crashed writer; it is recomputed
        return False


def _executor(workers: int, scheduler: str | None):
    """``(submit, as_completed, close)`` for local workers or a Dask cluster; ``None`` for in-process."""
    if scheduler:
        from distributed import Client, as_completed

        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise InputError(f"--scheduler {scheduler}: cannot connect to a Dask scheduler: {exc}") from None
        return (lambda task: client.submit(evaluate_chunk, task, pure=False),
                lambda futures: as_completed(futures), client.close)
    if workers > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # spawn: a clean interpreter per worker; no model object or lock is inherited.
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        return (lambda task: pool.submit(evaluate_chunk, task), as_completed,
                lambda: pool.shutdown(cancel_futures=True))
    return None


def run_chunks(plan: SweepPlan, folder: Path, workers: int = 1, scheduler: str | None = None,
               progress: bool | None = None) -> list[Path]:
    """Evaluate the chunks that are not yet on disk; return every chunk file in order."""
    from tqdm import tqdm

    (folder / RESULTS_DIR).mkdir(parents=True, exist_ok=True)
    todo, paths, done_runs = {}, [], 0
    for number, (start, stop) in enumerate(plan.chunks()):
        path = chunk_path(folder, number)
        paths.append(path)
        digest = table_hash(plan.table.iloc[start:stop])
        if chunk_is_done(path, digest, plan.outputs):
            done_runs += stop - start
        else:
            todo[number] = (start, stop, digest)
    attrs = {"scenario": plan.scenario.name, "method": plan.method, "engine": plan.engine}
    bar = tqdm(total=plan.runs, initial=done_runs, unit="run", desc=f"sweep {plan.folder_name}",
               file=sys.stderr, disable=None if progress is None else not progress, smoothing=0.05)
    with bar:
        executor = _executor(workers, scheduler) if todo else None
        if executor is None:
            for number, (start, stop, digest) in todo.items():
                result = _evaluate(plan.scenario, chunk_task(plan, start, stop))
                _store(paths[number], result, attrs, start, stop, digest, bar)
            return paths
        submit, completed, close = executor
        try:
            futures = {submit(chunk_task(plan, start, stop)): number for number, (start, stop, _) in todo.items()}
            for future in completed(list(futures)):
                number = futures[future]
                start, stop, digest = todo[number]
                _store(paths[number], future.result(), attrs, start, stop, digest, bar)
        finally:
            close()
    return paths


def _store(path, result, attrs, start, stop, digest, bar) -> None:
    write_chunk(path, result, {**attrs, "run_start": start, "run_stop": stop, "sample_sha256": digest})
    bar.update(stop - start)


def open_results(folder) -> "xarray.Dataset":  # noqa: F821 - lazy import
    """All runs of a finished (or partial) sweep folder as one lazy Dataset (dims run x time)."""
    import xarray as xr

    files = sorted((Path(folder) / RESULTS_DIR).glob("chunk-*.nc"))
    if not files:
        raise InputError(f"{folder}: no {RESULTS_DIR}/chunk-*.nc files; is it a sweep folder?")
    return xr.open_mfdataset(files, engine=netcdf_engine(), combine="nested", concat_dim="run")


# --- the whole sweep -------------------------------------------------------------------------

def prepare_folder(plan: SweepPlan, out_dir: Path, force: bool) -> tuple[Path, Path]:
    """Check the final folder and the partial one; returns ``(final, partial)``.

    Raises
    ------
    InputError
        If the final folder exists without ``force``, or a partial folder holds a sweep
        started by a different command (``force`` discards it).
    """
    final = Path(out_dir) / plan.folder_name
    partial = final.with_name(final.name + ".partial")
    if final.exists() and not force:
        raise InputError(f"{final}: results already exist; use --force to overwrite or -o to choose another folder")
    mine = identity(plan)
    if partial.exists():
        try:
            theirs = json.loads((partial / IDENTITY_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            theirs = {}
        if theirs != mine:
            if not force:
                what = ", ".join(_differences(theirs, mine)) or "unreadable sweep.json"
                raise InputError(f"{partial}: holds an unfinished sweep from a different command (differs in: "
                                 f"{what}); rerun that command to resume it, or delete the folder (or add "
                                 "--force) to start this one afresh")
            shutil.rmtree(partial)
    if not partial.exists():
        partial.mkdir(parents=True)
        write_json(partial / IDENTITY_FILE, mine)
    samples = partial / "samples.csv"
    if not samples.is_file():
        tmp = partial / ".samples.csv.tmp"
        plan.table.to_csv(tmp, index_label="run", float_format="%.17g")
        os.replace(tmp, samples)
    return final, partial


def run_sweep(plan: SweepPlan, out_dir, force: bool = False, workers: int = 1, scheduler: str | None = None,
              progress: bool | None = None, command_line=None, figures: bool = True) -> Path:
    """Run a planned sweep to ``OUT_DIR/<scenario>-<method>``, resuming an interrupted one.

    Parameters
    ----------
    plan : SweepPlan
    out_dir : path
        Parent of the result folder.
    force : bool
        Replace an existing result folder; discard a partial one from another command.
    workers : int
        Local processes evaluating chunks (1: this process).
    scheduler : str, optional
        Address of a running Dask scheduler; chunks become Dask tasks.
    progress : bool, optional
        Progress bar on stderr (default: when stderr is a terminal).
    figures : bool
        Draw the figures.

    Returns
    -------
    Path
        The finished result folder.
    """
    if workers < 1:
        raise InputError(f"--workers: must be at least 1, got {workers}")
    started = _time.perf_counter()
    final, partial = prepare_folder(plan, out_dir, force)
    paths = run_chunks(plan, partial, workers, scheduler, progress)
    elapsed = _time.perf_counter() - started
    write_report(plan, partial, paths, figures)
    write_json(partial / "manifest.json", _manifest(plan, workers, scheduler, command_line, elapsed,
                                                  _time.perf_counter() - started))
    _promote(partial, final)
    return final


def _manifest(plan, workers, scheduler, command_line, sim_time, wall_time) -> dict:
    from defdip.output import versions

    return {"scenario": scenario_record(plan.scenario), "model_file": str(plan.scenario.model),
            "model_sha256": file_hash(plan.scenario.model), "versions": versions(), "engine": plan.engine,
            "method": plan.method, "samples": plan.samples, "seed": plan.seed, "runs": plan.runs,
            "chunk_size": plan.chunk_size, "chunks": len(plan.chunks()), "workers": workers,
            "scheduler": scheduler, "results": f"{RESULTS_DIR}/chunk-*.nc (dims run x time)",
            "samples_sha256": table_hash(plan.table), "command_line": list(command_line or []),
            "simulation_wall_time_s": round(sim_time, 3), "wall_time_s": round(wall_time, 3)}


def _promote(partial: Path, final: Path) -> None:
    """Rename the finished partial folder into place, replacing an old result (``--force`` checked)."""
    if not final.exists():
        os.replace(partial, final)
        return
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    os.replace(final, old)
    os.replace(partial, final)
    shutil.rmtree(old, ignore_errors=True)


# --- what is computed from the chunk files ---------------------------------------------------

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
    from defdip.outcomes import evaluate, persistence_of

    needs = sorted({o.needs for o in plan.outcomes})
    final = plan.scenario.time.end
    default = _persistence(plan.scenario)
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


def _persistence(scenario: Scenario) -> float | None:
    if PERSISTENCE in scenario.constants:
        return float(scenario.constants[PERSISTENCE])
    var = model_info(scenario.model).variables.get(PERSISTENCE)
    return var.value if var is not None else None


def indices(plan: SweepPlan, experiments: pd.DataFrame, time) -> pd.DataFrame | None:
    """Sensitivity indices of every outcome (sobol, morris, oat), tidy; ``None`` for mc/lhs."""
    from defdip.outcomes import for_indices, persistence_of
    from defdip.sensitivity import ANALYSES

    analyse = ANALYSES.get(plan.method)
    if analyse is None:
        return None
    X = plan.table.to_numpy(float) if plan.unit is None else plan.unit
    persistence = persistence_of(plan.table, _persistence(plan.scenario))
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


def write_report(plan: SweepPlan, folder: Path, paths, figures: bool = True) -> dict:
    """Write percentiles.nc, outcomes.csv, indices.csv, summary.json and the figures into ``folder``."""
    from defdip.simulate import simulate

    stats = percentiles(paths, plan.outputs, plan.runs)
    stats.to_netcdf(folder / "percentiles.nc", engine=netcdf_engine())
    experiments = collect_outcomes(plan, paths)
    experiments.to_csv(folder / "outcomes.csv", index_label="run", float_format="%.17g")
    table = indices(plan, experiments, stats["time"].to_numpy())
    if table is not None:
        table.to_csv(folder / "indices.csv", index=False, float_format="%.17g")
    summary = headline(plan, experiments, table)
    write_json(folder / "summary.json", summary)
    if figures:
        from defdip.sweep_figures import write_figures

        run = simulate(plan.scenario, plan.engine)  # the deterministic scenario, overlaid
        write_figures(folder, plan, stats, experiments, table, run.trajectories)
    return summary
