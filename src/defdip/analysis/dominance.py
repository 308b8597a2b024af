"""Loop dominance (Loops That Matter) for one run or an ensemble, as labelled data.

:func:`dominance` runs a scenario (or the scenario behind a result) through the ensemble
engine, one run or one per row of a sample table, and scores every loop at every saved
time with the formulas of :mod:`defdip.analysis.ltm`. A single run is an ensemble of one:
both go through :func:`score_runs`.

The link scores come from the engine itself: its generated module has, beside the time
loop, a compiled kernel (:meth:`defdip.engines.ensemble.EnsembleModel.link_scores`) that
takes the saved values, makes the one extra Euler step to ``t + dt`` and every ceteris-paribus
re-evaluation with the engine's own expressions, for every run and saved time. Loop scores,
relative scores and dominant sets follow in one compiled pass per (run, time) cell
(:func:`defdip.analysis.ltm.score_loops`). Everything that depends only on the model file
(the engine, the graph, the loop set and its layout) is built once per file content.
:func:`reference_link_scores` is the same computation with the numpy equation functions,
kept as the reference the kernel is tested against.

Loops: every simple cycle of the graph when there are at most
:data:`defdip.analysis.ltm.MAX_EXHAUSTIVE`, else those found by the strongest-path
search; the model's documented loops (``.About``: R1, B1, ...) are always included and
reported by name, the others by their variables.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from defdip.analysis import ltm
from defdip.analysis.structure import named_loops, per_element, resolve_chain
from defdip.core.errors import InputError, Unsupported
from defdip.core.model import check_model_path, file_hash
from defdip.core.scenario import Scenario, scenario_from_model
from defdip.engines.ensemble import EnsembleModel, Timing
from defdip.engines.ensemble_build import equation_functions

LOOP_CHOICES = "named, all or a number of loops"
STATEFUL = ("smooth", "delay", "delayn")  # engine kinds with hidden internal stocks
MEMORY_BUDGET = 128e6  # [bytes] per (loops x runs x times) array; larger ensembles go in batches


@dataclass(frozen=True)
class LoopSet:
    """The loops that are scored, fixed before any run is scored.

    Attributes
    ----------
    ids : tuple of str
        ``"R1 reciprocity"`` for a documented loop, else its variables
        (``"A -> B -> A"``).
    nodes : tuple of tuple of str
        Each loop's variables in order, canonical (starting at the alphabetically first).
    named : tuple of str
        The documented label, or ``""``.
    partition : numpy.ndarray
        Cycle partition of each loop.
    discovery : str
        ``"exhaustive"`` (every simple cycle) or ``"strongest-path"``.
    unmatched : dict
        Documented loops the structure does not close: label -> reason.
    plan : LoopPlan or None
        The loops laid out for :func:`defdip.analysis.ltm.score_loops`, on the engine's
        link columns (None for a subset kept for reporting).
    """

    ids: tuple[str, ...]
    nodes: tuple[tuple[str, ...], ...]
    named: tuple[str, ...]
    partition: np.ndarray
    discovery: str
    unmatched: dict
    plan: ltm.LoopPlan | None = field(default=None, repr=False, compare=False)

    def edges(self) -> list[tuple[str, str]]:
        """Every link on some loop, once."""
        return list(dict.fromkeys(e for nodes in self.nodes for e in ltm.loop_edges(nodes)))


@dataclass(frozen=True)
class Dominance:
    """Loop scores of one run or an ensemble.

    Attributes
    ----------
    scenario : Scenario
    time : numpy.ndarray (T,)
        Saved times [model time units]; the score at t is over ``[t, t + dt]``.
    runs : numpy.ndarray (N,)
        Run labels (the sample table's index; ``[0]`` for one run).
    loops : LoopSet
    loop_score, relative_score : numpy.ndarray (L, N, T)
        [dimensionless]; NaN at the last saved time.
    dominant : numpy.ndarray (L, N, T) of bool
        Member of its partition's dominant loop set.
    link_score : dict
        ``(source, target) -> (N, T)`` for every link of the graph (one run) or of the
        loops (an ensemble).
    """

    scenario: Scenario
    time: np.ndarray
    runs: np.ndarray
    loops: LoopSet
    loop_score: np.ndarray
    relative_score: np.ndarray
    dominant: np.ndarray
    link_score: dict

    def polarity(self, run: int = 0) -> list[str]:
        """``"R"``, ``"B"`` (sign of the loop score at most active times) or ``"?"`` (never active)."""
        out = []
        for score in self.loop_score[:, run]:
            pos, neg = int(np.sum(score > 0)), int(np.sum(score < 0))
            out.append("?" if pos == neg == 0 else "R" if pos >= neg else "B")
        return out

    def mean_abs_relative(self, run: int | None = None) -> np.ndarray:
        """Each loop's mean |relative score| over the saved times of one run (all runs: ``None``).

        NaN for a loop never scored.
        """
        rel = np.abs(self.relative_score if run is None else self.relative_score[:, run:run + 1])
        rel = rel.reshape(len(rel), -1)
        if rel.shape[1] == 0:
            return np.full(len(rel), np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a loop never scored is all NaN
            return np.nanmean(rel, axis=1)

    def loop_table(self, run: int = 0) -> pd.DataFrame:
        """One row per loop: id, named, polarity, partition, length, variables, mean |relative score|,
        share dominant."""
        return pd.DataFrame({
            "loop": self.loops.ids, "named": self.loops.named, "polarity": self.polarity(run),
            "partition": self.loops.partition, "length": [len(n) for n in self.loops.nodes],
            "variables": [" -> ".join(n + n[:1]) for n in self.loops.nodes],
            "mean_abs_relative": self.mean_abs_relative(run),
            "share_dominant": self.dominant[:, run].mean(axis=1)})

    def by_element(self, window: tuple[float, float], run: int = 0) -> pd.DataFrame:
        """The named loops of a subscripted model side by side, element by element, in a window.

        One row per named loop and element (``R5 institutional deepening[DPRK]`` is loop ``R5
        institutional deepening``, element ``DPRK``; ``R6 need[DPRK,artillery]`` is element
        ``DPRK``, variant ``artillery``): its mean |relative score|, mean loop score and share of
        saved times in the dominant set over ``window`` [start, end] [model time]. This is how two
        elements of one structure are told apart by their loops: the same loop's weight in each.
        Loops named without an element are left out.
        """
        inside = (self.time >= window[0]) & (self.time <= window[1])
        rows = []
        for i, name in enumerate(self.loops.ids):
            if not self.loops.named[i] or not name.endswith("]") or "[" not in name:
                continue
            loop, _, elements = name[:-1].rpartition("[")
            element, _, variant = elements.partition(",")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # never scored in the window: NaN
                rows.append({"loop": loop, "element": element, "variant": variant,
                             "start": window[0], "end": window[1],
                             "mean_abs_relative": float(np.nanmean(np.abs(self.relative_score[i, run, inside]))),
                             "mean_loop_score": float(np.nanmean(self.loop_score[i, run, inside])),
                             "share_dominant": float(self.dominant[i, run, inside].mean())})
        return pd.DataFrame(rows, columns=["loop", "element", "variant", "start", "end", "mean_abs_relative",
                                           "mean_loop_score", "share_dominant"])

    def table(self, run: int = 0, selected=None) -> pd.DataFrame:
        """``time, loop, polarity, partition, loop_score, relative_score, dominant`` (long form) for one run."""
        keep = np.arange(len(self.loops.ids)) if selected is None else np.asarray(selected, int)
        polarity = np.asarray(self.polarity(run), dtype=object)
        T = len(self.time)
        return pd.DataFrame({
            "time": np.tile(self.time, len(keep)),
            "loop": np.repeat(np.asarray(self.loops.ids, dtype=object)[keep], T),
            "polarity": np.repeat(polarity[keep], T),
            "partition": np.repeat(self.loops.partition[keep], T),
            "loop_score": self.loop_score[keep, run].ravel(),
            "relative_score": self.relative_score[keep, run].ravel(),
            "dominant": self.dominant[keep, run].ravel()})

    def periods(self, run: int = 0) -> pd.DataFrame:
        """``partition, start, end, loops`` (``"; "``-joined ids) of the dominant loop sets of one run."""
        found = ltm.periods(self.time, self.dominant[:, run], self.loops.ids, self.loops.partition)
        return pd.DataFrame([{"partition": p.partition, "start": p.start, "end": p.end, "loops": "; ".join(p.loops)}
                             for p in found], columns=["partition", "start", "end", "loops"])

    def links(self, run: int = 0) -> pd.DataFrame:
        """Link scores of one run: index time, one column per link ``"source -> target"``."""
        return pd.DataFrame({f"{u} -> {v}": s[run] for (u, v), s in self.link_score.items()},
                            index=pd.Index(self.time, name="time"))


def select_loops(result: Dominance, choice) -> np.ndarray:
    """Indices of the loops ``--loops`` reports.

    ``"named"``: the documented loops and every loop that is ever in a dominant set;
    ``"all"``: every loop; a number K: the documented loops and the K loops with the
    largest mean |relative score|.
    """
    choice = parse_loop_choice(choice)
    named = np.array([bool(n) for n in result.loops.named])
    if choice == "all":
        return np.arange(len(named))
    if choice == "named":
        return np.flatnonzero(named | result.dominant.any(axis=(1, 2)))
    strength = np.nan_to_num(result.mean_abs_relative(), nan=0.0)
    top = np.argsort(-strength, kind="stable")[:choice]
    return np.flatnonzero(named | np.isin(np.arange(len(named)), top))


def parse_loop_choice(value):
    """``--loops``: ``"named"``, ``"all"`` or a positive whole number."""
    if isinstance(value, (int, np.integer)) and value >= 1:
        return int(value)
    text = str(value).strip().lower()
    if text in ("named", "all"):
        return text
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise InputError(f"--loops: {value!r} is not allowed; give {LOOP_CHOICES} (at least 1)")


# --------------------------------------------------------------------------
# The entry point


@dataclass(frozen=True)
class Scoring:
    """What scoring needs of a model file, built once per file content (:func:`scoring`).

    Attributes
    ----------
    model : EnsembleModel
    graph : networkx.DiGraph
        The score graph (:func:`defdip.analysis.ltm.score_graph`).
    edges : tuple of (str, str)
        The graph's links, in the graph's order.
    column : dict
        Link -> its column in the engine's link scores (:attr:`Program.links`).
    """

    model: EnsembleModel
    graph: nx.DiGraph
    edges: tuple
    column: dict

    def link_dict(self, scores: np.ndarray) -> dict:
        """``(source, target) -> (N, T)`` views of the engine's ``(N, T, links)`` scores, in graph order."""
        columns = list(np.moveaxis(scores, 2, 0))  # one view per link, made in C
        return {e: columns[self.column[e]] for e in self.edges}


def dominance(source, samples: pd.DataFrame | None = None, max_loops: int = ltm.MAX_EXHAUSTIVE,
              keep=None) -> Dominance:
    """Loops That Matter for one run, or for one run per row of ``samples``.

    Parameters
    ----------
    source : Scenario, RunResult, or path of a ``.mdl`` file
        What to run (a result is re-run from its scenario on the ensemble engine, which
        gives PySD's numbers).
    samples : pandas.DataFrame, optional
        One row per run, one column per constant; the index labels the runs.
    max_loops : int
        Enumerate every simple cycle up to this many; beyond, use the strongest-path search.
    keep : sequence of int, optional
        With ``samples``: the loops (indices into the loop set) whose scores are kept.

    Returns
    -------
    Dominance

    Raises
    ------
    InputError
        For a model the ensemble engine cannot run, or one with SMOOTH or DELAY (whose
        internal stocks would need composite link scores).
    """
    scenario = as_scenario(source)
    path = check_model_path(Path(scenario.model))
    digest = file_hash(path)  # read once: the engine, graph, cycles and loop set are cached by it
    model = scoring(path, digest)
    if _cycles(path, digest, max_loops) is not None:  # the same loops for every run of this file: built once
        loopset = _exhaustive_loopset(path, digest, max_loops)
    else:  # the loop set is fixed on the first run (the scenario itself when no samples are given)
        first = None if samples is None else samples.iloc[:1]
        _, scores = score_runs(model, scenario, first)
        cycles = ltm.strongest_loops(model.graph, model.link_dict(scores))
        loopset = build_loopset(model, cycles, scenario.model, "strongest-path")
    if samples is None:
        return one_run(scenario, model, loopset)
    return ensemble(scenario, model, samples, loopset, keep)


def one_run(scenario: Scenario, model: Scoring, loopset: LoopSet) -> Dominance:
    """Every link's and every loop's scores of the scenario itself."""
    time, scores = score_runs(model, scenario, None)
    every = np.arange(len(loopset.ids))
    loop_scores, relative, flags = ltm.score_loops(cells(scores), loopset.plan, every)
    shape = (len(every), 1, len(time))
    return Dominance(scenario, time, np.arange(1), loopset, loop_scores.reshape(shape), relative.reshape(shape),
                     flags.reshape(shape), model.link_dict(scores))


def ensemble(scenario: Scenario, model: Scoring, samples: pd.DataFrame, loopset: LoopSet, keep=None) -> Dominance:
    """Score an ensemble in batches of runs small enough for (runs x times x links) arrays.

    Every loop is scored (the relative scores need them all), but only the loops ``keep``
    (indices; default all) are kept, and link scores are not: for 10,000 runs of a model
    with thousands of loops they would not fit in memory.
    """
    keep = np.arange(len(loopset.ids)) if keep is None else np.asarray(keep, int)
    parts = []
    for rows in batches(scenario, model, samples):
        time, scores = score_runs(model, scenario, rows, loopset.plan.used)  # the links on some loop
        shape = (len(keep), len(rows), len(time))
        parts.append(tuple(a.reshape(shape) for a in ltm.score_loops(cells(scores), loopset.plan, keep)))
    kept = LoopSet(tuple(loopset.ids[i] for i in keep), tuple(loopset.nodes[i] for i in keep),
                   tuple(loopset.named[i] for i in keep), loopset.partition[keep], loopset.discovery,
                   loopset.unmatched)
    scores, relative, flags = (np.concatenate([p[k] for p in parts], axis=1) for k in range(3))
    return Dominance(scenario, time, samples.index.to_numpy(), kept, scores, relative, flags, {})


def cells(scores: np.ndarray) -> np.ndarray:
    """``(N, T, links)`` link scores as ``(N * T, links)``: one row per (run, time) cell (a view)."""
    runs, times, links = scores.shape
    return scores.reshape(runs * times, links)


def batches(scenario: Scenario, model: Scoring, samples: pd.DataFrame):
    """``samples`` in batches whose saved values and link scores fit :data:`MEMORY_BUDGET`."""
    steps = round((scenario.time.end - scenario.time.start) / scenario.time.saveper) + 1
    width = len(model.column) + len(model.model.program.score_names)
    batch = max(1, int(MEMORY_BUDGET // (8 * max(width, 1) * steps)))
    for start in range(0, len(samples), batch):
        yield samples.iloc[start:start + batch]


def as_scenario(source) -> Scenario:
    if isinstance(source, Scenario):
        return source
    scenario = getattr(source, "scenario", None)
    if isinstance(scenario, Scenario):
        return scenario
    return scenario_from_model(check_model_path(Path(source)))


@lru_cache(maxsize=8)
def scoring(path: Path, digest: str) -> Scoring:
    """The engine, score graph and link columns of a model file (cached per content; callers only read them).

    Raises
    ------
    InputError
        For a model with SMOOTH or DELAY, or whose equations draw random numbers.
    """
    model = EnsembleModel.load(path, digest)
    program = model.program
    check_supported(path, program)
    if program.score_refusal:
        raise Unsupported(program.score_refusal)
    kinds = {name: kind for name, kind in zip(program.names, program.kinds) if kind in ("auxiliary", "stock")}
    graph = ltm.score_graph(kinds, program.links)
    return Scoring(model, graph, tuple(graph.edges), {e: i for i, e in enumerate(program.links)})


@lru_cache(maxsize=8)
def _equations(path: Path, digest: str) -> dict:
    return equation_functions(path)


def model_equations(path) -> dict:
    """The model's equations as numpy functions (cached per file content in this process)."""
    path = check_model_path(Path(path))
    return _equations(path, file_hash(path))


@lru_cache(maxsize=8)
def _cycles(path: Path, digest: str, limit: int):
    return ltm.enumerate_loops(scoring(path, digest).graph, limit)


def check_supported(path, program) -> None:
    """Refuse models whose SMOOTH or DELAY would hide stocks from the scores."""
    for name, kind in zip(program.names, program.kinds):
        if kind in STATEFUL:
            raise InputError(f"{path}: {name!r} is a {kind.upper()}; dominance needs the composite link "
                             "scores of its internal stocks, which defdip does not compute yet; write the "
                             "stocks out as INTEG to analyse it")


# --------------------------------------------------------------------------
# Loops and names


@lru_cache(maxsize=8)
def _exhaustive_loopset(path: Path, digest: str, limit: int) -> LoopSet:
    return build_loopset(scoring(path, digest), _cycles(path, digest, limit), path, "exhaustive")


def build_loopset(model: Scoring, cycles, model_path, discovery: str) -> LoopSet:
    """The scored loops: the cycles found plus the documented loops, with ids, partitions and their layout."""
    graph = model.graph
    named, unmatched = documented_cycles(graph, model_path)
    cycles = list(dict.fromkeys([*cycles, *named]))
    partition_of = ltm.cycle_partitions(graph)
    ids, labels, parts = [], [], []
    for nodes in cycles:
        label = named.get(nodes, "")
        labels.append(label)
        ids.append(label or " -> ".join(nodes + nodes[:1]))
        parts.append(next(partition_of[n] for n in nodes if n in partition_of))
    partition = np.asarray(parts, int)
    return LoopSet(tuple(ids), tuple(cycles), tuple(labels), partition, discovery, unmatched,
                   ltm.loop_plan(model.column, cycles, partition))


def documented_cycles(graph: nx.DiGraph, model_path) -> tuple[dict, dict]:
    """Documented loop -> its cycle in ``graph`` (closed along shortest paths between the named variables).

    Returns ``({cycle: label}, {label: reason})``, the second for loops that do not close
    into a simple cycle in any of their elements' combinations.
    """
    found, unmatched = {}, {}
    documented = {lab: ch for label, chain in named_loops(Path(model_path)).items()
                  for lab, ch in per_element(graph, label, chain).items()}
    for label, chain in documented.items():
        chain = [element[0] for element in resolve_chain(graph, chain)]
        walk = []
        for here, there in zip(chain, chain[1:] + chain[:1]):
            if here not in graph or there not in graph or not nx.has_path(graph, here, there):
                unmatched[label] = f"no path from {here!r} to {there!r}"
                break
            walk += nx.shortest_path(graph, here, there)[:-1]
        else:
            if len(set(walk)) != len(walk):
                unmatched[label] = "the documented variables do not close into a simple loop"
            else:
                found[ltm.canonical_cycle(walk)] = label
    # a combination of elements that does not exist (Russia's arms channel is read by another
    # path than its other channels) is no missing loop: only loops none of whose variants close
    closed = {_documented_base(label) for label in found.values()}
    return found, {label: why for label, why in unmatched.items() if _documented_base(label) not in closed}


def _documented_base(label: str) -> str:
    """``"R6 need[DPRK,artillery]"`` -> ``"R6 need"``."""
    return label.split("[", 1)[0]


# --------------------------------------------------------------------------
# Runs


def score_runs(model: Scoring, scenario: Scenario, rows: pd.DataFrame | None, want=None):
    """Every link's score (the engine's compiled kernel) for the scenario or for each of ``rows``.

    Returns
    -------
    time : ndarray (T,)
    scores : ndarray (N, T, links)
        Columns as ``model.column``; NaN at the last saved time and for links not in ``want``.
    """
    t = scenario.time
    constants, series, size = run_inputs(scenario, rows)
    return model.model.link_scores(Timing(t.start, t.end, t.dt, t.saveper), constants, series, size, want)


def run_inputs(scenario: Scenario, rows: pd.DataFrame | None) -> tuple[dict, dict, int]:
    """The engine's ``constants``, ``series`` and ``size`` for the scenario, or one run per row of ``rows``."""
    constants = dict(scenario.constants)
    series = dict(scenario.series)
    size = 1
    if rows is not None:
        size = len(rows)
        for name in rows.columns:
            constants[name] = rows[name].to_numpy(float)
            series.pop(name, None)  # a sampled constant replaces its series, as in simulate_batch
    return constants, {k: tuple(zip(*pts)) for k, pts in series.items()}, size


def reference_link_scores(scenario: Scenario, rows: pd.DataFrame | None, edges) -> tuple[np.ndarray, dict]:
    """The link scores of ``edges`` with the numpy equation functions, one pass per edge.

    The reference the compiled kernel is tested against (same steps, numpy arithmetic):
    -> ``(time (T,), {(source, target): (N, T)})``, NaN at the last saved time.
    """
    model = EnsembleModel.load(scenario.model)
    equations = model_equations(scenario.model)
    time, now, later = states(model, equations, scenario, rows)
    links = ltm.link_scores(equations, edges, now, later)
    outside = time + scenario.time.dt > scenario.time.end + scenario.time.dt * 1e-6
    for edge, score in links.items():
        links[edge] = np.broadcast_to(score, np.broadcast_shapes(score.shape, (1, len(time)))).copy()
        links[edge][:, outside] = np.nan  # the interval leaves the run
    return time, links


def states(model: EnsembleModel, equations: dict, scenario: Scenario, rows: pd.DataFrame | None):
    """Every equation input at the saved times and one step later, for a batch of runs (numpy).

    Returns ``(time (T,), now, later)``; ``now`` and ``later`` map names to arrays that
    broadcast to ``(N, T)``.
    """
    program = model.program
    constants, series, size = run_inputs(scenario, rows)
    t = scenario.time
    dynamic = [n for n, k in zip(program.names, program.kinds) if k not in ("constant", "control")]
    time, values = model.run(Timing(t.start, t.end, t.dt, t.saveper), constants, series, dynamic, size)
    clock = engine_clock(t.start, t.end, t.dt, time)
    now = {name: values[name] for name in dynamic}
    for name, default in zip(program.constants, program.defaults):
        value = constants.get(name, default)
        now[name] = np.asarray(value, float).reshape(-1, 1) if np.ndim(value) else float(value)
    for name in program.controls.values():
        now[name] = {"INITIAL TIME": t.start, "FINAL TIME": t.end, "TIME STEP": t.dt,
                     "SAVEPER": t.saveper}[name]
    now["Time"] = clock
    later_inputs = {"Time": clock + t.dt}
    for name, (xs, ys) in series.items():
        now[name] = np.interp(clock, np.asarray(xs, float), np.asarray(ys, float))
        later_inputs[name] = np.interp(clock + t.dt, np.asarray(xs, float), np.asarray(ys, float))
    order = ltm.evaluation_order(equations)
    later = ltm.step_ahead(equations, order, now, later_inputs, t.dt)
    return time, now, later


def engine_clock(start: float, end: float, dt: float, saved: np.ndarray) -> np.ndarray:
    """The engine's own time values at the saved steps (it advances by repeated addition)."""
    clock, t = [], start
    steps = math.floor((end - start) / dt + 0.5) + 1
    for _ in range(steps):
        clock.append(t)
        t = t + dt
    clock = np.asarray(clock)
    index = np.rint((np.asarray(saved, float) - start) / dt).astype(int)
    return clock[np.clip(index, 0, len(clock) - 1)]
