"""Evaluating a sweep's chunks: in this process, in local worker processes, or on a Dask cluster.

Each chunk is handed to a worker as plain values (file paths, arrays, names; never a live
model object), evaluated by the same function from the same rows wherever it runs, and
written to the chunk store, so a sweep gives the same bytes here, on workers or on Dask.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from defdip.core.errors import DefdipError, InputError
from defdip.core.scenario import (
    Scenario,
    load_scenario,
    scenario_from_model,
    scenario_record,
)
from defdip.engines.simulate import simulate_batch
from defdip.sweep.dominance import chunk_dominance
from defdip.sweep.plan import SweepPlan
from defdip.sweep.store import (
    RESULTS_DIR,
    chunk_fault,
    chunk_path,
    table_hash,
    write_chunk,
)


def chunk_task(plan: SweepPlan, start: int, stop: int) -> dict:
    """A chunk as plain values (file paths, arrays, names) that a worker process or Dask can take."""
    rows = plan.table.iloc[start:stop]
    scenario = plan.scenario
    return {"scenario_file": str(scenario.source) if scenario.source else None,
            "model_file": str(scenario.model), "scenario_record": json.dumps(scenario_record(scenario), default=str),
            "values": rows.to_numpy(np.float64), "columns": list(rows.columns),
            "runs": rows.index.to_numpy(np.int64), "outputs": list(plan.outputs), "engine": plan.engine,
            "dominance": plan.dominance, "seed": plan.seed}


def evaluate_chunk(task: dict) -> dict:
    """Run one chunk from plain values (in any process) -> ``{"time", "data", "runs"}`` arrays."""
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
    # The sweep's seed also keys the model's RANDOM streams, per run number: the same sweep gives the
    # same bits however it is chunked or spread over workers.
    ds = simulate_batch(scenario, frame, task["outputs"], task["engine"], seed=task["seed"])
    data = {name: np.asarray(ds[name].values, np.float64) for name in task["outputs"]}
    if task.get("dominance"):
        data.update(chunk_dominance(scenario, frame))
    return {"time": np.asarray(ds["time"].values, float), "runs": task["runs"], "data": data}


SCHEDULER_TIMEOUT = 5.0  # [s] to open a connection to a Dask scheduler before a sweep starts


def check_scheduler(address: str, timeout: float = SCHEDULER_TIMEOUT) -> None:
    """Refuse, before anything is written, a Dask scheduler address that is malformed or does not answer.

    Raises
    ------
    InputError
        Naming the address, what is wrong and what an address looks like.
    """
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        if scheme in ("tcp", "tls"):
            parse_host_port(location)
    except (ValueError, TypeError) as exc:
        raise InputError(f"--scheduler {address!r}: not a Dask scheduler address ({exc}); give one such "
                         "as tcp://127.0.0.1:8786") from None
    connect(address, timeout).close()


def connect(address: str, timeout: float):
    """A ``distributed.Client`` of the scheduler at ``address``, connected within ``timeout`` [s].

    Raises
    ------
    InputError
        If nothing there answers as a Dask scheduler in time.
    """
    from distributed import Client

    try:
        return Client(address, timeout=f"{timeout}s")
    except (OSError, TimeoutError, ValueError, MemoryError) as exc:  # MemoryError: a server that is not Dask
        raise InputError(f"--scheduler {address}: no Dask scheduler answers there ({type(exc).__name__}: "
                         f"{str(exc)[:120]}); start one (dask scheduler) or give the address it prints") from None


def _executor(workers: int, scheduler: str | None):
    """``(results, close)`` for local workers or a Dask cluster; ``None`` for in-process.

    ``results(tasks)`` yields ``(index, result)`` for each task as it finishes.
    """
    if scheduler:
        client = connect(scheduler, 20.0)
        return (lambda tasks: _dask_results(client, tasks), client.close)
    if workers > 1:
        from defdip.core.processes import WorkerPool

        # spawn: a clean interpreter per worker; no model object or lock is inherited.
        pool = WorkerPool(workers, evaluate_chunk)
        return pool.map_unordered, pool.close
    return None


def _dask_results(client, tasks):
    from distributed import as_completed

    futures = {client.submit(evaluate_chunk, task, pure=False): index for index, task in enumerate(tasks)}
    for future in as_completed(list(futures)):
        yield futures[future], future.result()


def run_chunks(plan: SweepPlan, folder: Path, workers: int = 1, scheduler: str | None = None,
               progress: bool | None = None) -> list[Path]:
    """Evaluate the chunks that are not yet on disk; return every chunk file in order."""
    from tqdm import tqdm

    (folder / RESULTS_DIR).mkdir(parents=True, exist_ok=True)
    todo, paths, done_runs = pending_chunks(plan, folder)
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
        results, close = executor
        numbers = list(todo)
        try:
            tasks = [chunk_task(plan, *todo[number][:2]) for number in numbers]
            for index, result in results(tasks):
                start, stop, digest = todo[numbers[index]]
                _store(paths[numbers[index]], result, attrs, start, stop, digest, bar)
        finally:
            close()
    return paths


def pending_chunks(plan: SweepPlan, folder: Path) -> tuple[dict, list[Path], int]:
    """Which chunks a (resumed) sweep must still compute: ``(todo, paths, runs already done)``.

    ``todo`` maps a chunk's number to ``(start, stop, sample hash)``. A chunk file on disk is kept only
    if :func:`defdip.sweep.store.chunk_fault` finds nothing wrong; the others are recomputed, and one
    line on stderr says which and why. Chunk files beyond the plan's (another ``--chunk-size``) are
    removed, so the folder holds each run once.
    """
    todo, paths, done_runs, faults = {}, [], 0, []
    for number, (start, stop) in enumerate(plan.chunks()):
        path = chunk_path(folder, number)
        paths.append(path)
        digest = table_hash(plan.table.iloc[start:stop])
        fault = chunk_fault(path, digest, start, stop, plan.outputs) if path.is_file() else "missing"
        if fault is None:
            done_runs += stop - start
            continue
        todo[number] = (start, stop, digest)
        if fault != "missing":
            faults.append(f"{path.name} ({fault})")
    for stray in sorted(set((folder / RESULTS_DIR).glob("chunk-*.nc")) - set(paths)):
        stray.unlink()
    if faults:
        shown = ", ".join(faults[:3]) + (f" and {len(faults) - 3} more" if len(faults) > 3 else "")
        print(f"defdip: {folder / RESULTS_DIR}: recomputing {len(faults)} chunk file(s) that failed their "
              f"check: {shown}", file=sys.stderr)
    return todo, paths, done_runs


def _store(path, result, attrs, start, stop, digest, bar) -> None:
    write_chunk(path, result, {**attrs, "run_start": start, "run_stop": stop, "sample_sha256": digest})
    bar.update(stop - start)


