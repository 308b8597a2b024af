"""Run a validated scenario through an engine and return labelled results.

Each run loads a fresh model object (PySD keeps ``run(params=...)`` values on the
object), so no run can change the next one.
"""
from __future__ import annotations

import time as _time
import warnings
from dataclasses import dataclass

import pandas as pd

from defdip.errors import InputError
from defdip.model import load_model, model_info
from defdip.scenario import Scenario

ENGINES = ("pysd",)


@dataclass(frozen=True)
class RunResult:
    """One simulated scenario.

    Attributes
    ----------
    scenario : Scenario
        What was run.
    trajectories : pandas.DataFrame
        Index ``time`` [model time units], one column per variable (Vensim names),
        every saved step.
    engine : str
        Engine that produced it.
    wall_time : float
        Seconds spent loading and running [s].
    """

    scenario: Scenario
    trajectories: pd.DataFrame
    engine: str
    wall_time: float


def simulate(scenario: Scenario, engine: str = "pysd") -> RunResult:
    """Simulate a scenario.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario.
    engine : {"pysd"}
        Simulation engine.

    Returns
    -------
    RunResult
    """
    if engine not in ENGINES:
        raise InputError(f"--engine: unknown engine {engine!r}; allowed: {', '.join(ENGINES)}")
    started = _time.perf_counter()
    trajectories = _run_pysd(scenario)
    return RunResult(scenario, trajectories, engine, _time.perf_counter() - started)


def _run_pysd(scenario: Scenario) -> pd.DataFrame:
    info = model_info(scenario.model)
    # A lookup is a function of its argument, not a value at a time: PySD cannot return it
    # as a column (KeyError in its output handler), so it is left out like PySD's defaults do.
    columns = [v.name for v in info.variables.values() if v.kind not in ("control", "lookup")]
    model = load_model(scenario.model)
    t = scenario.time
    kwargs = dict(params=scenario.params(), return_columns=columns, final_time=t.end,
                  time_step=t.dt, saveper=t.saveper)
    if t.start != info.control("INITIAL TIME"):
        kwargs["initial_condition"] = (t.start, {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PySD's own deprecation chatter
        frame = model.run(**kwargs)
    frame.index.name = "time"
    return frame[[c for c in columns if c in frame.columns]]


def to_dataset(result: RunResult):
    """The trajectories as an :class:`xarray.Dataset` with a ``time`` coordinate."""
    import xarray as xr

    ds = xr.Dataset.from_dataframe(result.trajectories)
    ds.attrs.update(scenario=result.scenario.name, engine=result.engine)
    return ds
