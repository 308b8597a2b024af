"""Run a validated scenario through an engine and return labelled results.

Each run loads a fresh model object (PySD keeps ``run(params=...)`` values on the
object), so no run can change the next one.
"""
from __future__ import annotations

import time as _time
import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from defdip.core.case import KEY_INDICATORS
from defdip.core.arrays import PYSD_INSTEAD, split_flat_name
from defdip.core.errors import InputError, Unsupported
from defdip.core.model import ModelInfo, load_model, model_info
from defdip.core.scenario import Scenario

ENGINES = ("pysd", "ensemble")
# The engine for many runs at once (sweeps, checks, calibration): the vectorised one.
DEFAULT_BATCH_ENGINE = "ensemble"


@dataclass(frozen=True)
class RunResult:
    """One simulated scenario.

    Attributes
    ----------
    scenario : Scenario
        What was run.
    trajectories : pandas.DataFrame
        Index ``time`` [model time units], one column per variable (Vensim names),
        every saved step. A subscripted variable has one column per element, named as
        PySD flattens it: ``Stock A[Entry 1,Column 1]``.
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
    engine : {"pysd", "ensemble"}
        ``pysd`` runs PySD; ``ensemble`` the vectorised engine (same numbers).

    Returns
    -------
    RunResult
    """
    check_engine(engine)
    started = _time.perf_counter()
    trajectories = _run_pysd(scenario) if engine == "pysd" else _run_ensemble_single(scenario)
    return RunResult(scenario, trajectories, engine, _time.perf_counter() - started)


def _run_pysd(scenario: Scenario) -> pd.DataFrame:
    info = model_info(scenario.model)
    # A lookup is a function of its argument, not a value at a time: PySD cannot return it
    # as a column (KeyError in its output handler), so it is left out like PySD's defaults do.
    columns = _columns(scenario)
    model = load_model(scenario.model)
    t = scenario.time
    kwargs = {"params": _pysd_params(model, scenario, info), "return_columns": columns, "final_time": t.end,
              "time_step": t.dt, "saveper": t.saveper}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PySD's own deprecation chatter
        if t.start != info.control("INITIAL TIME"):
            # A later (or earlier) start is a new INITIAL TIME, as in Vensim and the compiled
            # engine: stocks start at their initial expressions evaluated at that time. PySD's
            # initial_condition=(time, {}) would keep the values computed for the file's own
            # INITIAL TIME, so set the parameters, move the clock, initialise, then run on.
            model.set_components(kwargs.pop("params"))
            model.time.set_control_vars(initial_time=t.start)
            model.initialize()
            kwargs["initial_condition"] = "current"
        frame = model.run(**kwargs)  # flattened by PySD: one column per subscript element
    frame.index.name = "time"
    return frame


def _pysd_params(model, scenario: Scenario, info: ModelInfo) -> dict:
    """:meth:`Scenario.params` as PySD takes them: elements of a subscripted constant
    (``growth rate[Iran]``) set in a copy of the variable's whole array, a ``DataArray``, or a
    ``Series`` of them over time when one of its elements is a time series."""
    params, arrays = {}, {}
    for name, value in scenario.params().items():
        base, subscripts = split_flat_name(name)
        if subscripts and base in info.variables and info.variables[base].elements:
            arrays.setdefault(base, {})[subscripts] = value
        else:
            params[name] = value
    for base, values in arrays.items():
        params[base] = _array_param(model, base, values, scenario.time, params.get(base))
    return params


def _array_param(model, base: str, values: dict, t, whole=None):
    """One subscripted constant with some elements set: a ``DataArray``, or a ``Series`` of them
    at every time any element's series has a point (each element linear in between, as a
    scalar series is, and flat beyond its ends)."""
    default = model[base].copy().astype(float)  # an array written as whole numbers is int
    dims = list(default.dims)
    if isinstance(whole, (int, float)):  # the whole array set too: its elements set here win
        default[...] = float(whole)
    series = {k: v for k, v in values.items() if isinstance(v, pd.Series)}

    def at(time=None):
        array = default.copy()
        for subscripts, value in values.items():
            if isinstance(value, pd.Series):
                value = float(np.interp(time, value.index.to_numpy(float), value.to_numpy(float)))
            array.loc[dict(zip(dims, subscripts))] = value
        return array

    if not series:
        return at()
    # xarray interpolates between the given times only: the run's ends are added as points
    times = sorted({float(x) for v in series.values() for x in v.index} | {t.start - 1.0, t.end + 1.0})
    # unnamed: PySD concatenates the arrays along the index and interpolates on "concat_dim"
    return pd.Series([at(x) for x in times], index=pd.Index(times, dtype=float))


def check_engine(engine: str | None) -> str:
    """The engine to use: ``engine``, or :data:`DEFAULT_BATCH_ENGINE` when ``None``.

    Raises
    ------
    InputError
        For a name not in :data:`ENGINES`.
    """
    if engine is None:
        return DEFAULT_BATCH_ENGINE
    if engine not in ENGINES:
        raise InputError(f"--engine: unknown engine {engine!r}; allowed: {', '.join(ENGINES)}")
    return engine


def frames_by_run(ds, variables) -> list[pd.DataFrame]:
    """The runs of a :func:`simulate_batch` dataset as one trajectory frame each (index ``time``)."""
    time = pd.Index(np.asarray(ds["time"], float), name="time")
    values = {v: np.asarray(ds[v].values, float) for v in variables}
    return [pd.DataFrame({v: values[v][i] for v in variables}, index=time) for i in range(ds.sizes["run"])]


def _columns(scenario: Scenario) -> list[str]:
    info = model_info(scenario.model)
    return [v.name for v in info.variables.values() if v.kind not in ("control", "lookup")]


def check_ensemble_supports(info: ModelInfo, instead: str = "--engine pysd runs it") -> None:
    """Refuse, before anything runs, a model the ensemble engine cannot compile.

    The engine compiles PySD's abstract model (a subscripted one element by element); what it
    does not implement it refuses by name. Compiling is cached per file content, so the run
    that follows reuses it.

    Parameters
    ----------
    info : ModelInfo
    instead : str
        What the message offers instead (a command that has no ``--engine`` says another thing).

    Raises
    ------
    Unsupported
        Naming the variable and the construct; ``--engine pysd`` runs them.
    """
    from defdip.engines.ensemble import EnsembleModel

    try:
        EnsembleModel.load(info.path, info.sha256)
    except Unsupported as exc:
        message = str(exc)
        if message.endswith(PYSD_INSTEAD) and instead != PYSD_INSTEAD:
            message = message[: -len(PYSD_INSTEAD)] + instead
        raise Unsupported(message) from None


def _ensemble_run(scenario: Scenario, constants: dict, outputs, size: int | None = None, seed: int = 0,
                  members=None):
    # Imported here, not at the top: the compiled engine brings numba (~0.3 s), which a PySD run
    # (``defdip run``'s default) never needs.
    from defdip.engines.ensemble import EnsembleModel, Timing

    model = EnsembleModel.load(scenario.model)
    t = scenario.time
    series = {name: tuple(zip(*points)) for name, points in scenario.series.items()}
    return model.run(Timing(t.start, t.end, t.dt, t.saveper), constants, series, outputs, size, seed, members)


def _run_ensemble_single(scenario: Scenario) -> pd.DataFrame:
    info = model_info(scenario.model)
    columns = [c for name in _columns(scenario) for c in info.variables[name].columns]
    time, values = _ensemble_run(scenario, dict(scenario.constants), columns)
    frame = pd.DataFrame({name: values[name][0] for name in columns}, index=pd.Index(time, name="time"))
    return frame


def to_dataset(result: RunResult):
    """The trajectories as an :class:`xarray.Dataset` with a ``time`` coordinate."""
    import xarray as xr

    ds = xr.Dataset.from_dataframe(result.trajectories)
    ds.attrs.update(scenario=result.scenario.name, engine=result.engine)
    return ds


def simulate_batch(scenario: Scenario, samples: pd.DataFrame, outputs=None, engine: str = "pysd",
                   seed: int = 0):
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
    engine : {"pysd", "ensemble"}
        ``pysd`` runs PySD once per row on a fresh model; ``ensemble`` runs all rows at
        once with the compiled engine.
    seed : int, optional
        Seed of the model's RANDOM functions (ensemble engine; PySD's are unseeded). With an
        integer index, each row's numbers depend only on the seed and its index.

    Returns
    -------
    xarray.Dataset
        One data variable per output with dimensions ``(run, time)``.
    """
    import xarray as xr

    check_engine(engine)
    outputs = _batch_outputs(scenario, outputs)
    if engine == "ensemble":
        return _batch_ensemble(scenario, samples, outputs, seed)
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


def _batch_ensemble(scenario: Scenario, samples: pd.DataFrame, outputs, seed: int = 0):
    import xarray as xr

    info = model_info(scenario.model)
    constants = dict(scenario.constants)
    for name in samples.columns:
        var = info.resolve(name, where="sample")
        if var.kind != "constant":
            raise InputError(f"sample: {var.name!r} is a {var.kind}, not a constant; only constants can vary")
        values = samples[name].to_numpy(float)
        _check_range(var, values)
        constants[var.name] = values
    # a sampled constant replaces a time series given for it, as --set does
    scenario = replace(scenario, series={k: v for k, v in scenario.series.items() if k not in constants})
    # a run's global number keys its random numbers, so a chunk of a sweep draws what the whole would
    index = samples.index.to_numpy()
    members = index if np.issubdtype(index.dtype, np.integer) else None
    time, values = _ensemble_run(scenario, constants, outputs, size=len(samples), seed=seed, members=members)
    data = {name: (("run", "time"), np.broadcast_to(values[name], (len(samples), len(time))))
            for name in outputs}
    return xr.Dataset(data, coords={"run": samples.index.to_numpy(), "time": time})


def _check_range(var, values) -> None:
    low = -np.inf if var.low is None else var.low
    high = np.inf if var.high is None else var.high
    bad = (values < low) | (values > high) | ~np.isfinite(values)
    if bad.any():
        raise InputError(f"sample: {var.name}: {values[bad][0]!r} is outside its declared range "
                         f"[{var.low}, {var.high}]")


def _batch_outputs(scenario: Scenario, outputs) -> tuple[str, ...]:
    """The output columns: each name's elements when it is subscripted (``Stock A[Entry 1]``)."""
    names = tuple(outputs or scenario.outputs or KEY_INDICATORS)
    info = model_info(scenario.model)
    return tuple(c for name in names for c in info.resolve(name, where="outputs").columns)
