"""The ensemble engine: run N parameter sets of a Vensim model at once, compiled to native code.

The equations come from PySD's abstract model, compiled once by
:mod:`defdip.engines.ensemble_build` into one Python function holding the whole time loop,
which numba turns into native code. Both are cached on disk, keyed by the model's hash and
the generator's own source (and numba's version): the program as JSON, the generated module
as a ``.py`` file whose compiled code numba caches beside it. The time loop is PySD's
(``pysd.py_backend.model.Model._integrate``): Euler steps with time advanced by repeated
addition, values saved at the steps PySD saves, with PySD's own test for "is this a saving
time"; the schedule of steps is computed here, once per horizon, with those same operations.
Members are split over threads (the compiled code releases the GIL); each member's numbers
depend only on its parameters and, for RANDOM functions, on (seed, member index), never on
the batch it runs in. The same generated module holds the model's Loops That Matter kernel
(:meth:`EnsembleModel.link_scores`), which scores every causal link from the saved values.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import version
from itertools import pairwise
from pathlib import Path

import numpy as np

from defdip.core import arrays
from defdip.core.arrays import split_flat_name
from defdip.core.errors import InputError
from defdip.core.model import cache_dir, check_model_path, file_hash
from defdip.core.names import canonical
from defdip.engines import ensemble_build, ensemble_runtime
from defdip.engines.ensemble_build import (
    CONTROL_ORDER,
    Program,
    Unsupported,
    compile_model,
)
from defdip.engines.ensemble_runtime import member_keys

RPREC = 1e-5       # pysd.py_backend.components.Time.rprec
THREAD_MIN = 64    # members below which one thread runs them all (threads cost ~0.1 ms to start)
CPUS = os.cpu_count() or 1
COMPILING = "compiling model (first run only) ..."
COMPILING_SCORES = "compiling the loop-score kernel (first run only, a few seconds) ..."


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

    def __init__(self, program: Program, path: Path, simulate, link_scores=None, scores_cached: bool = True):
        self.program, self.path, self._simulate, self._link_scores = program, path, simulate, link_scores
        self._scores_cached = scores_cached  # False: the first scoring compiles the kernel (said once)
        self._index = {name: i for i, name in enumerate(program.names)}
        self._const_index = {name: i for i, name in enumerate(program.constants)}
        self._score_picks = np.array([self._index[name] for name in program.score_names], np.int64)
        self._score_index = {name: i for i, name in enumerate(program.score_names)}
        self._arrays: dict[str, list[str]] = {}  # a subscripted variable's canonical name -> its elements
        for name in program.names:
            base, elements = split_flat_name(name)
            if elements:
                self._arrays.setdefault(canonical(base), []).append(name)

    @classmethod
    def load(cls, path, digest: str | None = None) -> EnsembleModel:
        """Compile (once per file content; cached) and load a Vensim model.

        ``digest``: the file's :func:`~defdip.core.model.file_hash` when the caller has it
        (saves reading the file again).
        """
        path = check_model_path(Path(path))
        return _load(path, digest or file_hash(path))

    def run(self, timing: Timing, constants: dict | None = None, series: dict | None = None,
            outputs=None, size: int | None = None, seed: int = 0,
            members=None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
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
        seed : int, optional
            Seed of the RANDOM functions (default 0).
        members : array of int, optional
            Each member's global index (default ``0 .. N-1``): with the seed, the only input
            of a member's random numbers, so a member draws the same numbers in any batch.

        Returns
        -------
        time : ndarray, shape (T,)
            Saved times, rounded as PySD rounds its index.
        values : dict
            Name -> array of shape ``(N, T)``.
        """
        names = ([c for name in outputs for c in self.columns(name)] if outputs is not None
                 else list(self.program.names))
        picks = np.array([self._index[self._name(name)] for name in names], np.int64)
        saved, out = self._execute(timing, constants, series, picks, size, seed, members)
        return saved, {self._label(name): out[:, j, :] for j, name in enumerate(names)}

    def link_scores(self, timing: Timing, constants: dict | None = None, series: dict | None = None,
                    size: int | None = None, want=None) -> tuple[np.ndarray, np.ndarray]:
        """Run every member, then score every causal link at every saved time (Loops That Matter).

        The compiled ``link_scores`` kernel of the generated module (see
        :meth:`defdip.engines.ensemble_build._Generator._scoring`) scores the links
        :attr:`Program.links` over ``[t, t + dt]`` from the saved values; the last saved
        time, whose interval leaves the run, scores NaN.

        Parameters
        ----------
        timing, constants, series, size
            As for :meth:`run` (no random numbers: a model that draws them has no scores).
        want : array of bool, optional
            Which of :attr:`Program.links` to score (default all); the others are NaN.

        Returns
        -------
        time : ndarray (T,)
            Saved times, as :meth:`run` returns them.
        scores : ndarray (N, T, links)
            [dimensionless]; a cell's scores side by side, as the loop kernels read them.

        Raises
        ------
        Unsupported
            When the model has no kernel (:attr:`Program.score_refusal`).
        """
        if self._link_scores is None:
            raise Unsupported(self.program.score_refusal or f"{self.path}: no link score kernel")
        saved, values = self._execute(timing, constants, series, self._score_picks, size, 0, None)
        times, rows, _ = schedule(timing)
        clock = times[rows >= 0]  # the engine's own time at each saved step
        ser_idx, ser_val = self._later_series(series or {}, clock + timing.dt)
        inside = ~(saved + timing.dt > timing.end + timing.dt * 1e-6)
        links = self.program.links
        want = np.ones(len(links), np.bool_) if want is None else np.asarray(want, np.bool_)
        out = np.empty((len(values), len(saved), len(links)))
        args = (clock, ser_idx, ser_val, inside, want, float(timing.dt))
        if not self._scores_cached:
            print(COMPILING_SCORES, file=sys.stderr, flush=True)
            self._scores_cached = True
        with no_loop_vectorizer():
            self._split(lambda lo, hi: self._link_scores(values[lo:hi], *args, out[lo:hi]), len(values))
        return saved, out

    def _execute(self, timing, constants, series, picks, size, seed, members) -> tuple[np.ndarray, np.ndarray]:
        """Run every member -> ``(saved times (T,), values (N, picks, T))``."""
        C, n = self._constants(constants or {}, size)
        times, rows, saved = schedule(timing)
        ser_idx, ser_val = self._series(series or {}, times)
        keys = member_keys(np.uint64(seed % 2**64), self._members(members, n))
        controls = np.array([{"INITIAL TIME": timing.start, "FINAL TIME": timing.end, "TIME STEP": timing.dt,
                              "SAVEPER": timing.saveper}[name] for name in CONTROL_ORDER])
        out = np.empty((n, len(picks), len(saved)))
        status = np.zeros(n, np.int64)
        args = (ser_idx, ser_val, times, rows, controls, picks)
        with no_loop_vectorizer():
            self._split(lambda lo, hi: self._simulate(C[lo:hi], keys[lo:hi], *args, out[lo:hi], status[lo:hi]), n)
        if status.any():
            name = self.program.checks[int(status.max()) - 1]
            raise Unsupported(f"{self.path}: {name!r}: delay time shorter than order x TIME STEP in some "
                              "member; PySD lowers the order per run, which an ensemble cannot share; "
                              "--engine pysd runs it")
        return saved, out

    @staticmethod
    def _split(task, n: int) -> None:
        """``task(lo, hi)`` over the members in chunks, on threads (the compiled code releases the GIL)."""
        parts = _chunks(n)
        if len(parts) == 1:
            task(0, n)
        else:
            with ThreadPoolExecutor(len(parts)) as pool:
                list(pool.map(lambda part: task(*part), parts))

    def _later_series(self, series: dict, later: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The time series the link scores read, at ``t + dt`` of each saved time (``numpy.interp``)."""
        idx, val = [], []
        for name, (x, y) in series.items():
            name = self._name(name)
            if name in self._score_index:
                idx.append(self._score_index[name])
                val.append(np.interp(later, np.asarray(x, float), np.asarray(y, float)))
        return np.array(idx, np.int64), np.array(val).reshape(len(idx), len(later))

    def _series(self, series: dict, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The constants given as time series and their value at every step (``numpy.interp``)."""
        idx = [self._const_index[self._name(k)] for k in series]
        val = np.empty((len(idx), len(times)))
        for j, (x, y) in enumerate(series.values()):
            val[j] = np.interp(times, np.asarray(x, float), np.asarray(y, float))
        return np.array(idx, np.int64), val

    @staticmethod
    def _members(members, n: int) -> np.ndarray:
        if members is None:
            return np.arange(n, dtype=np.int64)
        members = np.asarray(members, np.int64)
        if members.shape != (n,):
            raise InputError(f"members: {members.shape[0] if members.ndim else 1} indices for {n} ensemble members")
        return members

    def _constants(self, given: dict, size: int | None) -> tuple[np.ndarray, int]:
        values = list(self.program.defaults)
        n = size
        for name, value in self._per_element(given):
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
        n = n or 1
        C = np.empty((n, len(values)))
        for i, value in enumerate(values):
            C[:, i] = value
        return C, n

    def _per_element(self, given: dict):
        """``(element name, value)`` pairs: a subscripted constant's name sets each of its elements."""
        def whole(name):
            return name not in self._const_index and canonical(name) in self._arrays

        for name, value in given.items():  # a whole array first, so that its elements set after win
            if whole(name):
                for element in self._arrays[canonical(name)]:
                    yield element, value
        for name, value in given.items():
            if not whole(name):
                yield self._name(name), value

    def _label(self, name: str) -> str:
        """An output's name as PySD writes it: an array of one element under the variable's own name."""
        base, elements = split_flat_name(name)
        return base if elements and len(self._arrays[canonical(base)]) == 1 else name

    def columns(self, name: str) -> list[str]:
        """The output columns of a variable: its elements when subscripted, else its own name."""
        if name not in self._index and canonical(name) in self._arrays:
            return list(self._arrays[canonical(name)])
        return [self._name(name)]

    def _name(self, name: str) -> str:
        if name in self._index or name in self._const_index:
            return name
        folded = {canonical(k): k for k in (*self._index, *self._const_index)}
        key = canonical(name)
        if key in folded:
            return folded[key]
        raise InputError(f"{self.path}: {name!r} is not a variable of the model (ensemble engine)")


@contextmanager
def no_loop_vectorizer():
    """Compile the generated code without LLVM's loop vectorizer (numba reads the setting each
    time it optimises a module, so this holds for what compiles inside, nothing else).

    The generated time loop is one long body of scalar equations; the vectorizer finds nothing to
    vectorise in it and its cost grows faster than the body: a model of 720 array elements compiled
    in 77 s with it and 18 s without, and the project model runs as fast (benchmarks/bench_arrays.py).
    """
    from numba.core import config

    before = config.LOOP_VECTORIZE
    config.LOOP_VECTORIZE = False
    try:
        yield
    finally:
        config.LOOP_VECTORIZE = before


def _in_return(t: float, start: float, saveper: float, prec: float) -> bool:
    """PySD's test for a saving time (``Time.in_return`` without return timestamps)."""
    delay = t - start
    return delay % saveper < prec or -delay % saveper < prec


@lru_cache(maxsize=32)
def schedule(timing: Timing) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The steps of a run, as PySD's loop takes them.

    Returns
    -------
    times : ndarray
        Every evaluated time (``t = t + dt`` repeated, as PySD does) [time units].
    rows : ndarray of int
        For each step, its row in the output, or -1 when it is not saved.
    saved : ndarray
        The saved times, rounded as PySD rounds its index.
    """
    dt, t = timing.dt, timing.start
    prec = dt * RPREC
    times, rows, saved = [], [], []
    while True:
        running = t + prec < timing.end
        returning = _in_return(t, timing.start, timing.saveper, prec)
        if not (running or returning):
            break
        times.append(t)
        rows.append(len(saved) if returning else -1)
        if returning:
            saved.append(t)
        if not running:
            break
        t = t + dt
    decimals = -int(np.log10(dt * RPREC))
    return np.array(times), np.array(rows, np.int64), np.round(np.array(saved), decimals)


def _chunks(n: int) -> list[tuple[int, int]]:
    workers = max(1, min(CPUS, n // THREAD_MIN))
    return list(pairwise(n * w // workers for w in range(workers + 1)))


@lru_cache(maxsize=8)
def _load(path: Path, digest: str) -> EnsembleModel:
    program, module_path = _cached_program(path, digest)
    module = _compiled(module_path)
    return EnsembleModel(program, path, module.simulate, getattr(module, "link_scores", None),
                         _kernel_cached(module_path, "link_scores"))


def generator_hash() -> str:
    """Hash of what turns a model into native code: the generator, its helpers, the flattening of
    arrays, numba's version."""
    import hashlib

    sources = [Path(m.__file__).read_bytes() for m in (ensemble_build, ensemble_runtime, arrays)]
    return hashlib.sha256(b"\0".join([*sources, version("numba").encode()])).hexdigest()[:16]


def _cached_program(path: Path, digest: str) -> tuple[Program, Path]:
    # keyed by the generator's own source too, so a changed generator never runs a stale program
    stem = f"ensemble_{digest[:16]}_{generator_hash()}"
    cached, module = cache_dir() / f"{stem}.json", cache_dir() / f"{stem}.py"
    if cached.is_file() and module.is_file():
        raw = json.loads(cached.read_text(encoding="utf-8"))
        raw["links"] = [tuple(link) for link in raw.get("links", ())]
        return Program(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}), module
    program = compile_model(path)
    cached.parent.mkdir(parents=True, exist_ok=True)
    _write(module, program.source)  # the module first: the JSON's presence means both are whole
    _write(cached, json.dumps(program.__dict__))
    return program, module


def _write(target: Path, text: str) -> None:
    tmp = target.with_name(target.name + f".{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)


def _compiled(module_path: Path):
    """The generated module (``simulate``, ``link_scores``), compiled (numba caches the native code beside it)."""
    spec = importlib.util.spec_from_file_location(module_path.stem, module_path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_path.stem] = module  # numba's cached code finds its module by name
    spec.loader.exec_module(module)
    if not _kernel_cached(module_path, "simulate"):
        print(COMPILING, file=sys.stderr, flush=True)
    return module


def _kernel_cached(module_path: Path, kernel: str) -> bool:
    """Whether numba has the generated module's ``kernel`` compiled on disk (its index file)."""
    return any((module_path.parent / "__pycache__").glob(f"{module_path.stem}.{kernel}-*.nbi"))
