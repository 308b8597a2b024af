"""Scenario files: read the YAML, merge ``extends``, validate against the model.

The second stage of the pipeline. A scenario file is parsed into a frozen
:class:`Scenario` whose every name is the model's exact Vensim name and whose every
value has been checked against the model's declared ranges, so a bad file is
refused before anything runs. :meth:`Scenario.params` is what PySD's
``run(params=...)`` takes.

Reading the YAML and checking each value (strict loader, ``extends`` chain,
section parsers, value checks) is :mod:`defdip.core.scenario_file`; this module holds
the validated objects and the loaders that build them from it.

Error messages name the file, the key path (``constants.war end year``,
``time.dt``, ``uncertainties.escalation rate.low``) and what is allowed.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from defdip.core.case import KEY_INDICATORS
from defdip.core.errors import InputError
from defdip.core.model import ModelInfo, model_info
from defdip.core.names import canonical
from defdip.core.resources import missing_scenario, scenario_path
from defdip.core.scenario_file import (
    TIME_CONTROLS,
    TIME_KEYS,
    bounded,
    constant,
    merge,
    model_of,
    parse_layer,
    read_chain,
    time_problem,
    uncertainty_problem,
)

DEFAULT_OUTPUTS = KEY_INDICATORS


@dataclass(frozen=True)
class TimeSettings:
    """The simulated horizon and steps [model time units, years for the project model]."""

    start: float
    end: float
    dt: float
    saveper: float

    def __post_init__(self):
        problem = time_problem(self.start, self.end, self.dt, self.saveper)
        if problem:
            raise InputError(f"time.{problem[0]}: {problem[1]}")

    @property
    def saved_steps(self) -> int:
        """How many times a run saves, both ends included."""
        return int(round((self.end - self.start) / self.saveper)) + 1

    def saved_times(self):
        """The times a run saves [model time units], known before it runs."""
        return np.linspace(self.start, self.end, self.saved_steps)


@dataclass(frozen=True)
class Uncertainty:
    """A constant's distribution when a sweep samples it.

    Attributes
    ----------
    name : str
        The constant's Vensim name.
    dist : str
        ``"uniform"``, ``"triangular"`` or ``"loguniform"``.
    low, high : float
        Bounds [the constant's units].
    mode : float or None
        Most likely value; triangular only.
    """

    name: str
    dist: str
    low: float
    high: float
    mode: float | None = None

    def __post_init__(self):
        problem = uncertainty_problem(self.dist, self.low, self.high, self.mode)
        if problem:
            raise InputError(f"uncertainties.{self.name}.{problem[0]}: {problem[1]}")

    def ppf(self, q) -> np.ndarray:
        """Map probabilities in [0, 1] to values (the inverse cumulative distribution).

        Parameters
        ----------
        q : array_like
            Unit-interval samples, e.g. from a Latin hypercube.

        Returns
        -------
        numpy.ndarray
            Values of the constant, same shape as ``q``.
        """
        q = np.asarray(q, dtype=float)
        if np.any((q < 0) | (q > 1)) or np.any(np.isnan(q)):
            raise ValueError("ppf needs probabilities within [0, 1]")
        low, high, width = self.low, self.high, self.high - self.low
        if width == 0:
            return np.full_like(q, low)
        if self.dist == "uniform":
            return low + q * width
        if self.dist == "loguniform":
            return np.exp(np.log(low) + q * (np.log(high) - np.log(low)))
        split = (self.mode - low) / width
        rising = low + np.sqrt(q * width * (self.mode - low))
        falling = high - np.sqrt((1 - q) * width * (high - self.mode))
        return np.where(q < split, rising, falling)


@dataclass(frozen=True)
class Scenario:
    """A fully validated scenario; names are the model's exact Vensim names.

    Attributes
    ----------
    name, description : str
        Label (used for the result folder) and a sentence for humans.
    source : Path or None
        The scenario file, ``None`` when built from a bare model.
    model : Path
        The Vensim ``.mdl`` file.
    time : TimeSettings
        Horizon and steps.
    constants : Mapping[str, float]
        Constants set to a number.
    series : Mapping[str, tuple of (year, value)]
        Constants made time-varying, linear between points, flat beyond the ends.
    uncertainties : Mapping[str, Uncertainty]
        What a sweep samples when told nothing else.
    outputs : tuple of str
        Variables to report; empty means the caller's choice.
    """

    name: str
    description: str
    source: Path | None
    model: Path
    time: TimeSettings
    constants: Mapping[str, float]
    series: Mapping[str, tuple[tuple[float, float], ...]]
    uncertainties: Mapping[str, Uncertainty]
    outputs: tuple[str, ...]

    def __post_init__(self):
        series = {k: tuple((float(t), float(v)) for t, v in pts) for k, pts in self.series.items()}
        object.__setattr__(self, "constants", MappingProxyType(dict(self.constants)))
        object.__setattr__(self, "series", MappingProxyType(series))
        object.__setattr__(self, "uncertainties", MappingProxyType(dict(self.uncertainties)))
        object.__setattr__(self, "outputs", tuple(self.outputs))

    def __reduce__(self):
        """Pickled through the constructor (the read-only mappings do not pickle), so a scenario
        can go to another process: a Dask worker, the explorer's background process."""
        state = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("constants", "series", "uncertainties"):
            state[name] = dict(state[name])
        return (_rebuild_scenario, (state,))

    def with_overrides(self, sets: Mapping[str, float], where: str = "--set") -> Scenario:
        """A copy with some constants set, checked like a file's ``constants``.

        A constant given here replaces any ``series`` for the same constant.

        Raises
        ------
        InputError
            For an unknown or non-constant name, a non-number or a value out of range;
            the message starts with ``where`` and the name.
        """
        info = model_info(self.model)
        constants, series = dict(self.constants), dict(self.series)
        for name, value in sets.items():
            key = f"{where} {name}"
            var = constant(info, name, key)
            constants[var.name] = bounded(var, value, key)
            series.pop(var.name, None)
        return replace(self, constants=constants, series=series)

    def params(self) -> dict[str, Any]:
        """What PySD's ``run(params=...)`` takes: floats, and a Series per time-varying input.

        PySD interpolates a Series with ``numpy.interp`` on its index, which holds the
        first and last values flat outside the index, so the series is not padded.
        """
        import pandas as pd

        out: dict[str, Any] = dict(self.constants)
        for name, points in self.series.items():
            years, values = zip(*points)
            out[name] = pd.Series(values, index=pd.Index(years, dtype=float, name="time"),
                                  dtype=float, name=name)
        return out


def _rebuild_scenario(state: dict) -> Scenario:
    return Scenario(**state)


def scenario_from_model(model_path) -> Scenario:
    """A scenario that runs a model as its file says: its own time settings, nothing set.

    Parameters
    ----------
    model_path : str or Path
        A Vensim ``.mdl`` file.
    """
    info = model_info(Path(model_path))
    return Scenario(name=Path(model_path).stem, description="", source=None, model=info.path,
                    time=_time_settings({}, info, str(info.path)), constants={}, series={},
                    uncertainties={}, outputs=())


def load_scenario(path) -> Scenario:
    """Read, merge and validate a scenario file.

    Parameters
    ----------
    path : str or Path
        A YAML scenario file (the format: the README's "Scenario files"; read by :mod:`defdip.core.scenario_file`),
        or a shipped scenario's name (``"baseline"``, ``"partners_baseline"``), as the command line takes it.

    Raises
    ------
    InputError
        For anything the file gets wrong; nothing is checked later.
    """
    path = scenario_path(path)
    if not Path(path).exists():
        raise InputError(missing_scenario(path))
    chain = read_chain(Path(path), ())
    file, raw = chain[-1]
    info = model_of(chain)
    layers = [parse_layer(f, r, info) for f, r in chain]
    merged = merge(layers)
    outputs = merged.get("outputs")
    if outputs is None:
        outputs = tuple(n for n in DEFAULT_OUTPUTS if n in info.variables)
    return Scenario(
        name=raw.get("name", file.stem), description=merged.get("description", ""),
        source=file.resolve(), model=info.path, time=_time_settings(merged["time"], info, str(file)),
        constants=merged["constants"], series=merged["series"],
        uncertainties={name: Uncertainty(**fields)
                       for name, fields in merged["uncertainties"].items()},
        outputs=outputs)


def _time_settings(given: Mapping[str, float], info: ModelInfo, file: str) -> TimeSettings:
    """Time settings from the scenario, the rest from the model's control constants."""
    values = {key: given.get(key) for key in TIME_KEYS}
    for key, control in TIME_CONTROLS.items():
        if values[key] is None:
            values[key] = info.control(control)
    # A model that saves every step (SAVEPER = TIME STEP) keeps doing so when dt changes.
    follows_dt = canonical(info.resolve("SAVEPER").equation) == "time step"
    if "saveper" not in given and "dt" in given and follows_dt:
        values["saveper"] = values["dt"]
    problem = time_problem(**values)
    if problem:
        raise InputError(f"{file}: time.{problem[0]}: {problem[1]}")
    return TimeSettings(**values)


def scenario_record(scenario) -> dict:
    """The resolved scenario as plain data for the manifest."""
    return {
        "name": scenario.name,
        "description": scenario.description,
        "source": str(scenario.source) if scenario.source else None,
        "model": str(scenario.model),
        "time": asdict(scenario.time),
        "constants": dict(scenario.constants),
        "series": {k: [list(p) for p in v] for k, v in scenario.series.items()},
        "uncertainties": {k: asdict(u) for k, u in scenario.uncertainties.items()},
        "outputs": list(scenario.outputs),
    }
