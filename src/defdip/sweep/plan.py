"""A sweep's plan: what it varies, how, what it stores, decided and validated before it runs.

:func:`plan_sweep` turns a scenario and the command's arguments into a :class:`SweepPlan`
(problem, sample table, outputs, outcomes); :func:`identity` is what makes two commands the
same sweep, so an interrupted one can be resumed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from defdip.analysis.outcomes import Outcome, parse_outcomes
from defdip.analysis.sensitivity import ANALYSES
from defdip.core.case import KEY_INDICATORS
from defdip.core.errors import InputError
from defdip.core.model import file_hash, model_info
from defdip.core.scenario import Scenario, scenario_record
from defdip.engines.simulate import DEFAULT_BATCH_ENGINE, check_engine
from defdip.sweep.sampling import (
    DEFAULT_SAMPLES,
    Problem,
    build_problem,
    check_design,
    check_samples,
    check_seed,
    oat_sample,
    unit_sample,
)
from defdip.sweep.store import table_hash

DEFAULT_ENGINE = DEFAULT_BATCH_ENGINE
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
        The unit-hypercube design behind ``table``, kept for the index analyses (``None`` for oat,
        mc and lhs, which have none).
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
    dominance: bool = False  # score every run's loops (sweep --dominance)

    @property
    def runs(self) -> int:
        return len(self.table)

    def chunks(self) -> list[tuple[int, int]]:
        """``(start, stop)`` run positions of each chunk."""
        return [(s, min(s + self.chunk_size, self.runs)) for s in range(0, self.runs, self.chunk_size)]


def plan_sweep(scenario: Scenario, method: str, samples: int | None = None, seed: int = 0, vary=None,
               outputs=(), outcomes=(), engine: str | None = None, chunk_size: int | None = None,
               dominance: bool = False) -> SweepPlan:
    """Validate a sweep's arguments and draw its sample table.

    Parameters
    ----------
    scenario : Scenario
    method : {"oat", "mc", "lhs", "sobol", "morris"}
    samples : int, optional
        Default :data:`defdip.sweep.sampling.DEFAULT_SAMPLES` for the method.
    seed : int
    vary : dict, optional
        Constant -> (low, high) from ``--vary``.
    outputs : sequence of str
        Variables to store beyond the scenario's outputs.
    outcomes : sequence of str
        Outcome specs (default :data:`defdip.analysis.outcomes.DEFAULT_OUTCOMES`).
    engine : str, optional
        Default :data:`DEFAULT_ENGINE`.
    chunk_size : int, optional
        Runs per chunk file (default :data:`DEFAULT_CHUNK` for the engine).

    Raises
    ------
    InputError
        For anything invalid, before a single run.
    """
    engine = check_engine(engine)
    samples = DEFAULT_SAMPLES.get(method, 1) if samples is None else int(samples)
    check_samples(method, samples)
    check_seed(seed)
    chunk_size = DEFAULT_CHUNK.get(engine, 1000) if chunk_size is None else int(chunk_size)
    if chunk_size < 1:
        raise InputError(f"--chunk-size: must be at least 1, got {chunk_size}")
    problem = build_problem(scenario, vary)
    check_design(method, samples, len(problem.names))
    info = model_info(scenario.model)
    parsed = parse_outcomes(outcomes, info, (scenario.time.start, scenario.time.end))
    wanted = tuple(scenario.outputs or (k for k in KEY_INDICATORS if k in info.variables))
    names = [info.resolve(n, where=f"--outputs {n}") for n in wanted + tuple(outputs or ())]
    for var in names:
        if var.kind in ("lookup", "control"):
            raise InputError(f"--outputs {var.name}: a {var.kind} has no values over time to store")
    # a subscripted output is stored element by element, under the names of its columns
    stored = tuple(dict.fromkeys([c for v in names for c in v.columns] + [o.needs for o in parsed]))
    if method == "oat":
        table, unit = oat_sample(problem, samples), None
    else:
        unit = unit_sample(problem, method, samples, seed)
        table = problem.scale(unit)
        if method not in ANALYSES:  # only an index analysis reads the unit sample: mc and lhs drop it,
            unit = None  # which is a third of a 200,000-run sweep's memory
    return SweepPlan(scenario, method, samples, seed, problem, table, unit, stored, parsed, engine,
                     chunk_size, sweep_folder_name(scenario.name, method, seed), dominance)


def sweep_folder_name(scenario: str, method: str, seed: int) -> str:
    """``baseline-sobol``; with a seed other than the default 0, ``baseline-sobol-seed1``, so that two
    sweeps that differ by their seed never share a folder (``oat`` draws nothing: no seed)."""
    return f"{scenario}-{method}" if seed == 0 or method == "oat" else f"{scenario}-{method}-seed{seed}"


# --- identity of a sweep, for resuming -------------------------------------------------------

def identity(plan: SweepPlan) -> dict:
    """What makes two sweep commands the same sweep (workers and scheduler do not)."""
    record = {"scenario": scenario_record(plan.scenario), "model_sha256": file_hash(plan.scenario.model),
              "method": plan.method, "samples": plan.samples, "seed": plan.seed,
              "problem": plan.problem.record(), "outputs": list(plan.outputs), "engine": plan.engine,
              "runs": plan.runs, "samples_sha256": table_hash(plan.table)}
    if plan.dominance:  # only when set, so earlier sweeps keep their identity
        record["dominance"] = True
    return json.loads(json.dumps(record, default=str))  # as it reads back from the file


def differences(old: dict, new: dict) -> list[str]:
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


