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


def simulate_batch(scenario: Scenario, samples: pd.DataFrame, outputs=None, engine: str = "pysd"):
    """Run a scenario once per row of ``samples`` and return the outputs labelled by run and time.

    Parameters
    ----------
    scenario : Scenario
        The validated scenario every run starts from.
    samples : pandas.DataFrame
        One row per run, one column per constant (Vensim names); each run is the
        scenario with those constants set. The index is used as the ``run`` coordinate.
    outputs : sequence of str, optional
        Variables to keep (default: the scenario's ``outputs``, else the key indicators).
    engine : {"pysd"}
        ``pysd`` runs PySD once per row on a fresh model.

    Returns
    -------
    xarray.Dataset
        One data variable per output with dimensions ``(run, time)``.
    """
    import numpy as np
    import xarray as xr

    if engine not in ENGINES:
        raise InputError(f"--engine: unknown engine {engine!r}; allowed: {', '.join(ENGINES)}")
    outputs = _batch_outputs(scenario, outputs)
    values = {name: [] for name in outputs}
    time = None
    for _, row in samples.iterrows():
        run = simulate(scenario.with_overrides(row.to_dict(), where="sample"), engine)
        time = run.trajectories.index.to_numpy(float)
        for name in outputs:
            values[name].append(run.trajectories[name].to_numpy(float))
    run_index = samples.index.to_numpy()
    data = {name: (("run", "time"), np.asarray(v).reshape(len(run_index), -1)) for name, v in values.items()}
    return xr.Dataset(data, coords={"run": run_index, "time": time if time is not None else []})


def _batch_outputs(scenario: Scenario, outputs) -> tuple[str, ...]:
    from defdip.analysis import KEY_INDICATORS

    names = tuple(outputs or scenario.outputs or KEY_INDICATORS)
    info = model_info(scenario.model)
    return tuple(info.resolve(name, where="outputs").name for name in names)
