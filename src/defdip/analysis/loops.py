"""The model's feedback loops and their polarity, determined from its equations.

The causal graph comes from PySD's dependency records
(:func:`defdip.analysis.structure.causal_graph`). The sign of each link ``u -> v`` is the
sign of the partial derivative of v's equation with respect to u, taken along a
run: the model is stepped with PySD's own stepper and, at each sample time,
v's translated equation is evaluated with all its inputs frozen at their
current values except u, which is moved up and down a little (a central
difference). For a stock the equation is its net flow (the stateful object's
``ddt``), so a rate into a stock comes out positive and a rate out of it
negative; links through SMOOTH or DELAY states are signed the same way, through
the state.

Loops are the simple cycles of the graph without constants (up to a length
bound); a loop's polarity is the product of its links' signs (R positive,
B negative).
"""
from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
from tqdm import tqdm

from defdip.analysis.structure import causal_graph, named_loops, resolve_chain
from defdip.core.errors import InputError
from defdip.core.model import load_model

SAMPLES = 101            # sample times along the run, evenly spaced
MAX_LENGTH = 16          # default bound on loop length [links]; R1 of the shipped model has 15
_REL_STEP = 1e-6         # perturbation relative to the variable's scale
_SIGN_TOL = 1e-9         # |derivative| * scale below this share of the target's scale counts as zero
MIXED = "\u00b1"
MINUS = "\u2212"


@dataclass(frozen=True)
class LinkEffects:
    """Partial derivatives of every link along a run.

    Attributes
    ----------
    graph : networkx.DiGraph
        The causal graph the links belong to.
    times : numpy.ndarray
        Sample times [model time units].
    derivative : dict
        ``(u, v) -> array`` of dv/du at each sample time [units of v per unit of
        u; for a stock v, units of its net flow per unit of u].
    values : pandas.DataFrame
        Each graph variable's value at the sample times (index = time).
    """

    graph: nx.DiGraph
    times: np.ndarray
    derivative: dict
    values: pd.DataFrame

    def scale(self, name: str) -> float:
        """Typical magnitude of a variable: its largest |value| along the run (1 when always 0)."""
        top = float(np.nanmax(np.abs(self.values[name].to_numpy(float)))) if name in self.values else 0.0
        return top if top > 0 else 1.0

    def signs(self, u: str, v: str) -> np.ndarray:
        """-1, 0 or +1 at each sample time."""
        d = self.derivative[(u, v)]
        small = _SIGN_TOL * self.scale(v) / self.scale(u)
        return np.where(np.abs(d) <= small, 0, np.sign(d)).astype(int)

    def polarity(self, u: str, v: str) -> str:
        """``"+"``, ``"−"``, ``"±"`` (both signs occur) or ``"0"`` (never active along the run)."""
        s = self.signs(u, v)
        pos, neg = bool((s > 0).any()), bool((s < 0).any())
        return MIXED if pos and neg else "+" if pos else MINUS if neg else "0"

    def dominant_sign(self, u: str, v: str) -> int:
        """The sign the link has at most of the sample times where it is active (0 when never)."""
        s = self.signs(u, v)
        pos, neg = int((s > 0).sum()), int((s < 0).sum())
        return 0 if pos == neg == 0 else (1 if pos >= neg else -1)

    def weight(self, u: str, v: str) -> float:
        """Strength of a link: mean |dv/du| along the run, normalised by the variables' scales.

        ``mean_t |dv/du(t)| * scale(u) / scale(v)`` is an elasticity taken at the
        variables' typical magnitudes rather than their current values, so it
        stays finite where a variable is 0. For a stock, dv/du is the change of
        its net flow, so the weight is the change of the stock over one time
        unit relative to its scale.
        """
        return float(np.mean(np.abs(self.derivative[(u, v)])) * self.scale(u) / self.scale(v))

    def table(self) -> pd.DataFrame:
        """One row per link: source, target, link kind, polarity, active shares, weight."""
        rows = []
        for u, v, data in self.graph.edges(data=True):
            s = self.signs(u, v)
            rows.append(dict(source=u, target=v, link=data.get("link", "info"), polarity=self.polarity(u, v),
                             share_positive=float((s > 0).mean()), share_negative=float((s < 0).mean()),
                             weight=self.weight(u, v)))
        return pd.DataFrame(rows)


@dataclass(frozen=True)
class Loop:
    """One feedback loop.

    Attributes
    ----------
    nodes : tuple of str
        The variables in order; the last links back to the first.
    polarity : str
        ``"R"`` reinforcing, ``"B"`` balancing, or ``"?"`` when a link is never
        active along the run (see :func:`loop_of`).
    mixed : bool
        A link changes sign along the run, so the loop's polarity may too.
    active_share : float
        Share of sample times at which every link is active.
    named : str or None
        The documented loop (``"R1 reciprocity"``, ...) this cycle realises, if any.
    """

    nodes: tuple[str, ...]
    polarity: str
    mixed: bool
    active_share: float
    named: str | None = None

    @property
    def length(self) -> int:
        return len(self.nodes)


# --------------------------------------------------------------------------
# Link derivatives along a run


def link_effects(model_path: Path, params: dict | None = None, graph: nx.DiGraph | None = None,
                 samples: int = SAMPLES, final_time: float | None = None,
                 time_step: float | None = None) -> LinkEffects:
    """Partial derivative of every link of the causal graph at sample times along a run.

    Parameters
    ----------
    model_path : Path
        The ``.mdl`` file.
    params : dict, optional
        Constant overrides (Vensim names -> values), e.g. ``Scenario.params()``.
    graph : networkx.DiGraph, optional
        Links to evaluate (default: :func:`causal_graph` without constants).
        Constants included in it are perturbed like any other input.
    samples : int
        Number of sample times, evenly spaced from the first time step to the
        final time and snapped to time steps.
    final_time, time_step : float, optional
        Override the model's control settings [model time units].

    Returns
    -------
    LinkEffects
    """
    from pysd.py_backend.output import ModelOutput


    graph = causal_graph(model_path) if graph is None else graph
    model = load_model(model_path)
    py = dict(zip(model.doc["Real Name"], model.doc["Py Name"]))
    module = model.components._components
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.set_stepper(ModelOutput(), params=params or {}, return_columns=[next(iter(graph), "Time")]
                          if graph else None, final_time=final_time, time_step=time_step)
    t0, t1, dt = model.time(), model.time.final_time(), model.time.time_step()
    # From the first step on, not at the initial time: until the first step PySD may hold a
    # stateful's state as integers (SMOOTH of an integer initial value), which would
    # truncate the perturbation.
    last = int(round((t1 - t0) / dt))
    steps = np.unique(np.rint(np.linspace(min(1, last), last, max(samples, 1))).astype(int))
    plan = _plan(graph, py, model.dependencies)
    derivative = {edge: np.zeros(len(steps)) for edge in graph.edges}
    values = {name: np.zeros(len(steps)) for name in graph}
    done = 0
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for i, step in enumerate(steps):
            if step > done:
                model.step(int(step - done))
                done = step
            for name in graph:
                values[name][i] = _number(getattr(module, py[name])())
            for target, routes in plan.items():
                for edge, value in _target_derivatives(module, target, routes, py).items():
                    derivative[edge][i] = value
    times = t0 + steps * dt
    frame = pd.DataFrame(values, index=pd.Index(times, name="time"))
    return LinkEffects(graph, times, derivative, frame)


def _plan(graph: nx.DiGraph, py: dict, deps: dict) -> dict:
    """For each target, how each incoming link reaches it: directly or through a hidden state."""
    plan = {}
    for target in graph:
        own = deps.get(py[target]) or {}
        routes = []
        for source in graph.predecessors(target):
            ps = py[source]
            if ps in own:
                routes.append(((source, target), None, ps))
            for hidden, inner in own.items():
                if hidden.startswith("_") and isinstance(deps.get(hidden), dict) and ps in deps[hidden].get("step", {}):
                    routes.append(((source, target), hidden, ps))
        if routes:
            frozen = [d for d in own if d != "time"]
            plan[target] = (frozen, routes, deps)
    return plan


def _target_derivatives(module, target: str, plan, py: dict) -> dict:
    """dv/du for each link into ``target`` at the model's current state."""
    frozen, routes, deps = plan
    out = {}
    equation = _raw(getattr(module, py[target]))
    for edge, hidden, source in routes:
        if hidden is None:
            value = _partial(module, equation, frozen, source)
        else:
            state = getattr(module, hidden)
            step_deps = [d for d in deps[hidden].get("step", {}) if d != "time"]
            through = _partial(module, equation, frozen, hidden)
            value = through * _partial(module, lambda s=state: np.sum(s.ddt()), step_deps, source)
        out[edge] = out.get(edge, 0.0) + value
    return out


def _partial(module, func, frozen: list[str], source: str) -> float:
    """Central difference of ``func()`` in ``source`` with the other inputs frozen."""
    current = {name: getattr(module, name) for name in frozen if hasattr(module, name)}
    if source not in current:
        return 0.0
    base = {name: getattr(module, name)() if callable(obj) else obj for name, obj in current.items()
            if not _is_lookup(obj)}
    x = _number(base[source])
    h = _REL_STEP * max(abs(x), 1e-3)
    try:
        for name, value in base.items():
            setattr(module, name, _const(value))
        setattr(module, source, _const(x + h))
        up = _number(func())
        setattr(module, source, _const(x - h))
        down = _number(func())
    finally:
        for name, obj in current.items():
            setattr(module, name, obj)
    slope = (up - down) / (2 * h)
    return slope if np.isfinite(slope) else 0.0


def _is_lookup(obj) -> bool:
    # Lookups are called with an argument; freezing them as values would break the call.
    return getattr(obj, "type", None) == "Lookup" or type(obj).__name__.endswith("Lookups")


def _raw(func):
    """The translated equation behind PySD's cache wrappers."""
    while hasattr(func, "__wrapped__"):
        func = func.__wrapped__
    return func


def _const(value):
    return lambda *args: value


def _number(x) -> float:
    try:
        return float(np.sum(np.asarray(x, dtype=float)))
    except (TypeError, ValueError):
        return float("nan")


# --------------------------------------------------------------------------
# Loops


def find_loops(effects: LinkEffects, max_length: int = MAX_LENGTH) -> list[Loop]:
    """Every simple cycle of the graph up to ``max_length`` links, with its polarity.

    Loops are listed shortest first, then by name, each starting at its
    alphabetically first variable, so the list is the same on every call.
    """
    graph = effects.graph
    loops = []
    # a count on stderr when it is a terminal (tqdm's disable=None): long bounds take tens of seconds
    with tqdm(desc="loops found", unit="loop", file=sys.stderr, disable=None, leave=False) as bar:
        for cycle in nx.simple_cycles(graph, length_bound=max_length):
            start = cycle.index(min(cycle))
            nodes = tuple(cycle[start:] + cycle[:start])
            loops.append(loop_of(effects, nodes))
            bar.update()
    return sorted(loops, key=lambda lp: (lp.length, lp.nodes))


def loop_of(effects: LinkEffects, nodes, named: str | None = None) -> Loop:
    """The :class:`Loop` through ``nodes`` (a closed walk; the last node links to the first).

    The polarity is read at the sample times when every link of the loop is
    active (its derivative not zero): the sign of the product of the link signs
    at most of those times. A loop never active as a whole along the run gets
    the product of its links' dominant signs, or ``"?"`` when one of its links
    is never active at all.
    """
    edges = list(zip(nodes, tuple(nodes[1:]) + tuple(nodes[:1])))
    signs = np.array([effects.signs(u, v) for u, v in edges]).reshape(len(edges), -1)
    active = np.all(signs != 0, axis=0)
    product = np.prod(signs, axis=0)
    if active.any():
        pos, neg = int((product[active] > 0).sum()), int((product[active] < 0).sum())
        polarity = "R" if pos >= neg else "B"
        mixed = pos > 0 and neg > 0
    else:
        dominant = int(np.prod([effects.dominant_sign(u, v) for u, v in edges]))
        polarity = "R" if dominant > 0 else "B" if dominant < 0 else "?"
        mixed = False
    mixed = mixed or any(effects.polarity(u, v) == MIXED for u, v in edges)
    return Loop(tuple(nodes), polarity, mixed, float(active.mean()), named)


@dataclass(frozen=True)
class NamedLoopCheck:
    """A documented loop as found in the structure.

    Attributes
    ----------
    label : str
        ``"R1 reciprocity"``.
    documented : str
        ``"R"`` or ``"B"`` from the label.
    loop : Loop or None
        The closed walk through the documented variables (shortest routes
        between consecutive ones), or None when a link is missing.
    missing : list
        Consecutive documented variables with no path between them.
    """

    label: str
    documented: str
    loop: Loop | None
    missing: list

    @property
    def matches(self) -> bool:
        return self.loop is not None and self.loop.polarity == self.documented


def check_named_loops(effects: LinkEffects, model_path: Path) -> list[NamedLoopCheck]:
    """The model's documented loops (``.About``) found in the structure, with their computed polarity."""
    graph = effects.graph
    out = []
    for label, chain in named_loops(model_path).items():
        documented = label[:1].upper()
        elements = resolve_chain(graph, chain)
        nodes, missing = _walk(graph, [element[0] for element in elements])
        loop = loop_of(effects, tuple(nodes), named=label) if not missing else None
        out.append(NamedLoopCheck(label, documented, loop, missing))
    return out


def _walk(graph: nx.DiGraph, chain: list[str]) -> tuple[list[str], list]:
    """Closed walk through ``chain`` along shortest paths; pairs with no path are returned as missing."""
    nodes, missing = [], []
    for here, there in zip(chain, chain[1:] + chain[:1]):
        if here not in graph or there not in graph or not nx.has_path(graph, here, there):
            missing.append((here, there))
            continue
        nodes += nx.shortest_path(graph, here, there)[:-1]
    return nodes, missing


def mark_named(loops: list[Loop], checks: list[NamedLoopCheck]) -> list[Loop]:
    """The loops with ``named`` set on those that are a documented loop's walk."""
    by_cycle = {}
    for check in checks:
        if check.loop is not None:
            by_cycle[_cycle_key(check.loop.nodes)] = check.label
    return [Loop(lp.nodes, lp.polarity, lp.mixed, lp.active_share, by_cycle.get(_cycle_key(lp.nodes)))
            for lp in loops]


def _cycle_key(nodes) -> tuple:
    start = nodes.index(min(nodes))
    return tuple(nodes[start:]) + tuple(nodes[:start])


def loops_table(loops: list[Loop]) -> pd.DataFrame:
    """``loop, polarity, mixed, active_share, length, named, variables`` per loop."""
    return pd.DataFrame([dict(loop=f"L{i}", polarity=lp.polarity, mixed=lp.mixed,
                              active_share=round(lp.active_share, 3), length=lp.length, named=lp.named or "",
                              variables=" -> ".join(lp.nodes + lp.nodes[:1]))
                         for i, lp in enumerate(loops, start=1)],
                        columns=["loop", "polarity", "mixed", "active_share", "length", "named", "variables"])


def check_max_length(value: int) -> int:
    """Validate ``--max-length``."""
    if value < 1:
        raise InputError(f"--max-length: {value} is not allowed; give a number of links of at least 1")
    return value
