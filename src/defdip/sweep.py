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

This module plans and orchestrates; the chunk files on disk are handled by
:mod:`defdip.sweep_store`, and what is computed from them by :mod:`defdip.sweep_report`.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time as _time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from defdip.analysis import KEY_INDICATORS
from defdip.errors import DefdipError, InputError
from defdip.model import file_hash, model_info
from defdip.outcomes import Outcome, parse_outcomes
from defdip.output import replace_folder, scenario_record, write_json
from defdip.sampling import DEFAULT_SAMPLES, Problem, build_problem, check_samples, oat_sample, unit_sample
from defdip.scenario import Scenario
from defdip.simulate import ENGINES, simulate_batch
from defdip.sweep_report import collect_outcomes, headline, indices, percentiles
from defdip.sweep_store import RESULTS_DIR, chunk_is_done, chunk_path, netcdf_engine, table_hash, write_chunk
from defdip.sweep_store import open_results  # noqa: F401 - documented API: defdip.sweep.open_results

DEFAULT_ENGINE = "ensemble" if "ensemble" in ENGINES else "pysd"
# Runs per chunk file: large enough that the ensemble engine's per-call overhead
# vanishes, small enough that a chunk of 8 outputs x 101 times stays ~30 MB in memory.
DEFAULT_CHUNK = {"ensemble": 5000, "pysd": 50}
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
    replace_folder(partial, final)  # the --force check was made before the sweep began
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
