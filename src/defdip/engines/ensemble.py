"""The ensemble engine: run N parameter sets of a Vensim model at once.

Every variable is a numpy array over the ensemble (or a plain number where no
member differs). The equations come from PySD's abstract model, compiled once by
:mod:`defdip.engines.ensemble_build` and cached next to PySD's translation; the time loop
below copies PySD's (``pysd.py_backend.model.Model._integrate``): Euler steps with
time advanced by repeated addition, values saved at the steps PySD saves, with
PySD's own test for "is this a saving time".
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from defdip.core.errors import InputError
from defdip.core.model import _check_model_path, cache_dir, file_hash
from defdip.engines import ensemble_build
from defdip.engines.ensemble_build import (
    SMALL_VENSIM,
    Program,
    Unsupported,
    compile_model,
)

RPREC = 1e-5       # pysd.py_backend.components.Time.rprec


class _Set:
    """A new value for a state slot (rather than a derivative to integrate)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def _pulse(t, dt, start, width):
    width = 0.5 * dt if width is None else width
    return np.where((start - SMALL_VENSIM <= t) & (t < start + width), 1.0, 0.0)


def _pulse_train(t, start, repeat, width, end):
    single = (start - SMALL_VENSIM <= t) & (t < start + width)
    with np.errstate(all="ignore"):
        train = (start <= t) & (t < end) & (np.mod(t - start + SMALL_VENSIM, repeat) < width)
    return np.where(np.equal(repeat, 0), single, train) * 1.0


def _ramp(t, slope, start, finish):
    final = t if finish is None else np.minimum(finish, t)
    return (t + SMALL_VENSIM > start) * slope * (final - start)


def _xidz(numerator, denominator, x):
    small = np.abs(denominator) < SMALL_VENSIM
    return np.where(small, x, numerator / np.where(small, 1.0, denominator))


def _make_lookup(xs, ys, mode):
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)

    def lookup(x):
        x = np.asarray(x, float)
        if mode == "hold_backward":
            return ys[np.clip(np.searchsorted(xs, x, side="right") - 1, 0, len(xs) - 1)]
        out = np.interp(x, xs, ys)
        if mode == "extrapolate" and len(xs) > 1:
            low = ys[0] + (ys[1] - ys[0]) / (xs[1] - xs[0]) * (x - xs[0])
            high = ys[-1] + (ys[-1] - ys[-2]) / (xs[-1] - xs[-2]) * (x - xs[-1])
            out = np.where(x < xs[0], low, np.where(x > xs[-1], high, out))
        return out
    return lookup


def _check_delay_order(order, dt, delay_time, name):
    if order * dt > np.min(delay_time):
        raise Unsupported(f"{name!r}: delay time shorter than order x TIME STEP in some member; PySD lowers "
                          "the order per run, which an ensemble cannot share; --engine pysd runs it")


_RUNTIME = {"np": np, "_Set": _Set, "_pulse": _pulse, "_pulse_train": _pulse_train, "_ramp": _ramp,
            "_xidz": _xidz, "_make_lookup": _make_lookup, "_check_delay_order": _check_delay_order}


@dataclass(frozen=True)
class Timing:
    """Horizon of a run [model time units]."""

    start: float
    end: float
    dt: float
    saveper: float


class EnsembleModel:
    """A compiled model that runs many parameter sets at once.

    Use :meth:`load`; then :meth:`run` as often as needed (no state is kept between runs).
    """

    def __init__(self, program: Program, path: Path):
        self.program, self.path = program, path
        namespace = dict(_RUNTIME)
        exec(compile(program.source, f"<ensemble {path.name}>", "exec"), namespace)  # our own generated code
        self._initialise, self._evaluate = namespace["initialise"], namespace["evaluate"]
        self._index = {name: i for i, name in enumerate(program.names)}
        self._const_index = {name: i for i, name in enumerate(program.constants)}

    @classmethod
    def load(cls, path) -> "EnsembleModel":
        """Compile (once per file content; cached) and load a Vensim model."""
        path = _check_model_path(Path(path))
        return _load(path, file_hash(path))

    def run(self, timing: Timing, constants: dict | None = None, series: dict | None = None,
            outputs=None, size: int | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Simulate every member.

        Parameters
        ----------
        timing : Timing
            Horizon and steps, shared by all members.
        constants : dict, optional
            Vensim name -> number (all members) or 1-D array (one value per member).
        series : dict, optional
            Vensim name of a constant -> ``(years, values)``, linear in between and flat
            beyond the ends (``numpy.interp``, as PySD does for a Series).
        outputs : sequence of str, optional
            Variables to return (default: all).
        size : int, optional
            Number of members when no constant is an array (default 1).

        Returns
        -------
        time : ndarray, shape (T,)
            Saved times, rounded as PySD rounds its index.
        values : dict
            Name -> array of shape ``(N, T)``.
        """
        C, n = self._constants(constants or {}, size)
        series = {self._const_index[self._name(k)]: (np.asarray(x, float), np.asarray(y, float))
                  for k, (x, y) in (series or {}).items()}
        names = list(outputs) if outputs is not None else list(self.program.names)
        picks = [self._index[self._name(name)] for name in names]
        controls = {"INITIAL TIME": timing.start, "FINAL TIME": timing.end, "TIME STEP": timing.dt,
                    "SAVEPER": timing.saveper}
        with np.errstate(all="ignore"):
            times, saved = self._integrate(timing, C, series, controls, picks, n)
        return times, {name: saved[i] for i, name in enumerate(names)}

    def _integrate(self, timing: Timing, C: list, series: dict, controls: dict, picks: list[int], n: int):
        dt, t = timing.dt, timing.start
        prec = dt * RPREC
        rows = int(round((timing.end - timing.start) / timing.saveper)) + 2
        saved = np.empty((len(picks), n, rows))
        times = []
        S = self._initialise(t, self._at(C, series, t), controls)
        while True:
            running = t + prec < timing.end
            returning = _in_return(t, timing.start, timing.saveper, prec)
            if not (running or returning):
                break
            D, V = self._evaluate(t, S, self._at(C, series, t), controls)
            if returning:
                for j, i in enumerate(picks):
                    saved[j, :, len(times)] = V[i]
                times.append(t)
            if not running:
                break
            S = [d.value if isinstance(d, _Set) else s + d * dt for s, d in zip(S, D)]
            t = t + dt
        decimals = -int(np.log10(dt * RPREC))
        return np.round(np.array(times), decimals), saved[:, :, :len(times)]

    @staticmethod
    def _at(C: list, series: dict, t: float) -> tuple:
        if not series:
            return C
        now = list(C)
        for i, (x, y) in series.items():
            now[i] = float(np.interp(t, x, y))
        return tuple(now)

    def _constants(self, given: dict, size: int | None) -> tuple[tuple, int]:
        values = list(self.program.defaults)
        n = size
        for name, value in given.items():
            name = self._name(name)
            i = self._const_index[name]
            arr = np.asarray(value, float)
            if name in self.program.structural and np.any(arr != self.program.defaults[i]):
                raise Unsupported(f"{self.path}: {name!r} sets a delay or smooth order, which the ensemble "
                                  "engine compiles in and cannot change; --engine pysd runs it")
            if arr.ndim == 0:
                values[i] = float(arr)
                continue
            if n is not None and len(arr) != n:
                raise InputError(f"constant {name!r}: {len(arr)} values for {n} ensemble members")
            n = len(arr)
            values[i] = arr
        return tuple(values), n or 1

    def _name(self, name: str) -> str:
        if name in self._index or name in self._const_index:
            return name
        folded = {k.lower().replace("_", " "): k for k in (*self._index, *self._const_index)}
        key = " ".join(name.lower().replace("_", " ").split())
        if key in folded:
            return folded[key]
        raise InputError(f"{self.path}: {name!r} is not a variable of the model (ensemble engine)")


def _in_return(t: float, start: float, saveper: float, prec: float) -> bool:
    """PySD's test for a saving time (``Time.in_return`` without return timestamps)."""
    delay = t - start
    return delay % saveper < prec or -delay % saveper < prec


@lru_cache(maxsize=8)
def _load(path: Path, digest: str) -> EnsembleModel:
    return EnsembleModel(_cached_program(path, digest), path)


def _cached_program(path: Path, digest: str) -> Program:
    # keyed by the compiler's own source too, so a changed compiler never runs a stale program
    compiler = file_hash(Path(ensemble_build.__file__))[:16]
    cached = cache_dir() / f"{digest}.ensemble-{compiler}.json"
    if cached.is_file():
        raw = json.loads(cached.read_text(encoding="utf-8"))
        return Program(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})
    program = compile_model(path)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_name(cached.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(program.__dict__), encoding="utf-8")
    os.replace(tmp, cached)
    return program


def saved_steps(timing: Timing) -> int:
    """How many rows a run saves (for sizing output arrays)."""
    return int(math.floor((timing.end - timing.start) / timing.saveper + 1e-9)) + 1
