"""Loops That Matter: link, loop and relative loop scores, dominant loops, over arrays of runs.

Pure functions over numpy arrays; nothing here runs a model. The formulas are the corrected
ones of Schoenberg, Hayward & Eberlein (System Dynamics Review 39(2), 2023; first published
by Schoenberg, Eberlein & Hayward 2020):

* link score of ``x -> z`` for ``z = f(x, y, ...)``:
  ``|Δx z / Δz| * sign(Δx z / Δx)``, 0 when ``Δz = 0`` or ``Δx = 0``, where
  ``Δx z = f(x(t+dt), y(t), ...) - z(t)`` is the change of z due to x alone;
* a stock's links are scored on its net flow (the paper's option (b): every stock's flows
  aggregated into one net flow, whose link to the stock scores 1), so ``flow -> stock``
  reads ``|Δflow / Δnet flow|`` with the sign of the flow in the net flow (+1 in, -1 out):
  the 2023 aggregation-invariant form;
* loop score: the product of the loop's link scores; relative loop score: the loop score
  over the sum of the absolute loop scores of the loops in its cycle partition (the stocks
  connected by feedback);
* the dominant loop set at a time: the smallest set of same-polarity loops of a partition
  whose relative scores add up to at least one half (the polarity whose set explains more).

Time labelling: the score at saved time ``t`` is computed over ``[t, t + dt]``, the
convention of Stella; pysimlin labels the same interval ``t + dt`` (its score at ``t``
describes ``[t - dt, t]``). The forward interval is what a saved trajectory determines
exactly: ``t + dt`` is one Euler step from the saved state. The last saved time has no
interval inside the run and scores NaN.

Arrays are shaped ``(..., T)``: any leading run axes, time last.
"""
from __future__ import annotations

import graphlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import networkx as nx
import numpy as np
from numba import njit

HALF = 0.5                 # share of the change a dominant loop set explains
MAX_EXHAUSTIVE = 20_000    # more simple cycles than this: strongest-path search instead
EXPANSION_BUDGET = 20_000  # strongest-path search: node expansions per (stock, time), shared by the nodes


# --------------------------------------------------------------------------
# The structure


def score_graph(equations: dict) -> nx.DiGraph:
    """The causal graph the scores live on: an edge ``x -> z`` for each input x of z's equation.

    Parameters
    ----------
    equations : dict
        Vensim name -> ``Equation`` (``name, kind, inputs, fn``) from
        :func:`defdip.engines.ensemble_build.equation_functions`; a stock's equation is its
        net flow.

    Returns
    -------
    networkx.DiGraph
        Nodes are the variables with an equation (attribute ``kind``: ``"stock"`` or
        ``"auxiliary"``); inputs without one (constants, ``Time``, SMOOTH/DELAY/INITIAL
        states) are left out, since they start no feedback.
    """
    graph = nx.DiGraph()
    for name, eq in equations.items():
        graph.add_node(name, kind=eq.kind)
    for name, eq in equations.items():
        for source in eq.inputs:
            if source in equations:
                graph.add_edge(source, name)
    return graph


def cycle_partitions(graph: nx.DiGraph) -> dict[str, int]:
    """Stock -> partition number: stocks that reach each other through the graph share one.

    Partitions are numbered by their alphabetically first stock, so the numbering is the
    same on every call.
    """
    stocks = sorted(n for n, kind in graph.nodes(data="kind") if kind == "stock")
    reach = nx.DiGraph()
    reach.add_nodes_from(stocks)
    for stock in stocks:
        for other in nx.descendants(graph, stock) & set(stocks):
            reach.add_edge(stock, other)
    components = sorted((sorted(c) for c in nx.strongly_connected_components(reach)), key=lambda c: c[0])
    return {stock: i for i, component in enumerate(components) for stock in component}


def canonical_cycle(nodes) -> tuple[str, ...]:
    """A cycle rotated to start at its alphabetically first variable (one key per cycle)."""
    nodes = tuple(nodes)
    start = nodes.index(min(nodes))
    return nodes[start:] + nodes[:start]


def enumerate_loops(graph: nx.DiGraph, limit: int = MAX_EXHAUSTIVE) -> list[tuple[str, ...]] | None:
    """Every simple cycle through a stock, canonical and sorted; None when there are more than ``limit``."""
    stocks = {n for n, kind in graph.nodes(data="kind") if kind == "stock"}
    loops = []
    for cycle in nx.simple_cycles(graph):
        if stocks.isdisjoint(cycle):
            continue  # a cycle of auxiliaries alone is a simultaneous equation, which the engine refuses
        loops.append(canonical_cycle(cycle))
        if len(loops) > limit:
            return None
    return sorted(loops, key=lambda c: (len(c), c))


def strongest_loops(graph: nx.DiGraph, scores: dict, budget: int = EXPANSION_BUDGET) -> list[tuple[str, ...]]:
    """Loops found by the strongest-path search (Eberlein & Schoenberg 2020), at each time.

    At each time and from each stock, a depth-first search follows the links in order of
    decreasing |link score|, skipping links that score 0 there (a loop through one scores
    0: it does not matter at that time) and staying inside the stock's strongly connected
    component of the non-zero links. Instead of the paper's best-score pruning, which
    misses loops when scores tie or exceed 1, each node may be expanded at most
    ``budget / component size`` times per search (as pysimlin does); where that bound does
    not bind the search is exhaustive.

    Parameters
    ----------
    graph : networkx.DiGraph
    scores : dict
        ``(source, target) -> array (..., T)`` link scores; leading axes are reduced by
        their largest |score|.
    budget : int
        Node expansions per (stock, time).

    Returns
    -------
    list of tuple
        Canonical cycles, sorted by length then name.
    """
    stocks = sorted(n for n, kind in graph.nodes(data="kind") if kind == "stock")
    edges = list(scores)
    strength = np.stack([_time_profile(scores[e]) for e in edges]) if edges else np.zeros((0, 0))
    found: set[tuple[str, ...]] = set()
    for k in range(strength.shape[1] if edges else 0):
        active = nx.DiGraph()
        for (u, v), s in zip(edges, strength[:, k]):
            if np.isfinite(s) and s > 0:
                active.add_edge(u, v, weight=s)
        component = {n: i for i, c in enumerate(nx.strongly_connected_components(active)) for n in c}
        for stock in stocks:
            if stock in active:
                found |= _search(active, stock, component, budget)
    return sorted(found, key=lambda c: (len(c), c))


def _time_profile(score: np.ndarray) -> np.ndarray:
    a = np.abs(np.asarray(score, float))
    a = np.where(np.isfinite(a), a, 0.0)
    return a.reshape(-1, a.shape[-1]).max(axis=0)


def _search(active: nx.DiGraph, target: str, component: dict, budget: int) -> set:
    members = [n for n in active if component[n] == component[target]]
    cap = max(1, budget // max(len(members), 1))
    order = {n: sorted((v for v in active.successors(n) if component[v] == component[target]),
                       key=lambda v: -active.edges[n, v]["weight"]) for n in members}
    expansions = dict.fromkeys(members, 0)
    found, path, on_path = set(), [target], {target}

    def visit(node):
        # recursion depth is bounded by the component size (a simple path)
        expansions[node] += 1
        for nxt in order[node]:
            if nxt == target:
                found.add(canonical_cycle(path))
            elif nxt not in on_path and expansions[nxt] < cap:
                path.append(nxt)
                on_path.add(nxt)
                visit(nxt)
                on_path.discard(nxt)
                path.pop()

    visit(target)
    return found


# --------------------------------------------------------------------------
# One step ahead


def evaluation_order(equations: dict) -> list[str]:
    """The auxiliaries in an order in which each one's inputs come first."""
    sorter = graphlib.TopologicalSorter()
    for name, eq in equations.items():
        if eq.kind != "stock":
            sorter.add(name, *[i for i in eq.inputs if i in equations and equations[i].kind != "stock"])
    return list(sorter.static_order())


def step_ahead(equations: dict, order: list[str], now: dict, later_inputs: dict, dt: float) -> dict:
    """Every variable one Euler step after the values ``now`` [the engine's own arithmetic].

    Parameters
    ----------
    equations : dict
        As for :func:`score_graph`.
    order : list of str
        From :func:`evaluation_order`.
    now : dict
        Name -> array (..., T): every equation input at the saved times.
    later_inputs : dict
        Inputs whose value at ``t + dt`` is known otherwise (``Time``, time series); all
        other inputs without an equation keep their value.
    dt : float
        The time step [model time units].

    Returns
    -------
    dict
        Name -> array (..., T) at ``t + dt``.
    """
    later = dict(now)
    later.update(later_inputs)
    for name, eq in equations.items():
        if eq.kind == "stock":
            later[name] = now[name] + net_flow(eq, now) * dt  # as the engine: s + d * dt
    for name in order:
        eq = equations[name]
        later[name] = eq.fn(*(later[i] for i in eq.inputs))
    return later


def net_flow(eq, values: dict) -> np.ndarray:
    """A stock's net flow (or any equation's value) from the values of its inputs."""
    return eq.fn(*(values[i] for i in eq.inputs))


# --------------------------------------------------------------------------
# Scores


def link_scores(equations: dict, edges, now: dict, later: dict) -> dict:
    """Link score of each edge over ``[t, t + dt]`` at every saved time.

    Parameters
    ----------
    equations : dict
    edges : iterable of (source, target)
    now, later : dict
        Name -> array (..., T) at t and at t + dt.

    Returns
    -------
    dict
        ``(source, target) -> array (..., T)`` [dimensionless].
    """
    out = {}
    target_values: dict = {}
    for source, target in edges:
        eq = equations[target]
        if target not in target_values:
            if eq.kind == "stock":  # scored on its net flow
                target_values[target] = (net_flow(eq, now), net_flow(eq, later))
            else:
                target_values[target] = (now[target], later[target])
        z0, z1 = target_values[target]
        partial = eq.fn(*(later[i] if i == source else now[i] for i in eq.inputs))
        out[(source, target)] = link_score(partial - z0, z1 - z0, later[source] - now[source])
    return out


def link_score(partial_change, change, source_change) -> np.ndarray:
    """``|Δx z / Δz| * sign(Δx z / Δx)``, 0 where ``Δz`` or ``Δx`` is 0."""
    with np.errstate(all="ignore"):
        score = np.abs(partial_change / change) * np.sign(partial_change / source_change)
    inactive = (change == 0) | (source_change == 0)
    return np.where(inactive, 0.0, score)


def loop_edges(nodes) -> list[tuple[str, str]]:
    """The links of a loop, the last closing it."""
    nodes = tuple(nodes)
    return list(zip(nodes, nodes[1:] + nodes[:1]))


def loop_scores(scores: dict, loops) -> np.ndarray:
    """Product of each loop's link scores -> array (L, ..., T).

    A loop with a link that scores 0 wherever it is defined scores 0 too (NaN where that
    link is NaN); it is not multiplied out. The product is taken for all loops at once, one
    link position at a time (loops padded with a link scoring 1), so the cost is a few numpy
    operations over (L, ..., T) arrays however many loops there are.
    """
    edges = tuple(scores)
    table = link_table(edges, tuple(tuple(nodes) for nodes in loops))
    width = table.shape[1]
    stacked = np.stack([np.asarray(scores[e], float) for e in edges])
    stacked = np.concatenate([stacked, np.ones((1,) + stacked.shape[1:])])  # the padding link
    product = stacked[table[:, 0]].copy()
    for k in range(1, width):
        product *= stacked[table[:, k]]
    dead = ~np.any(np.nan_to_num(stacked, nan=0.0).reshape(len(stacked), -1), axis=1)
    dead[-1] = False
    first_dead = np.where(dead[table], np.arange(width), width).min(axis=1)
    idle = first_dead < width
    product[idle] = stacked[table[idle, first_dead[idle]]] * 0.0
    return product


@lru_cache(maxsize=16)
def link_table(edges: tuple, loops: tuple) -> np.ndarray:
    """Loops as rows of link indices into ``edges``, padded with ``len(edges)`` (a link scoring 1)."""
    index = {e: i for i, e in enumerate(edges)}
    links = [[index[e] for e in loop_edges(nodes)] for nodes in loops]
    table = np.full((len(links), max(map(len, links))), len(edges), np.int64)
    for i, row in enumerate(links):
        table[i, :len(row)] = row
    table.flags.writeable = False
    return table


def relative_scores(loop_score: np.ndarray, partition: np.ndarray) -> np.ndarray:
    """Each loop's score over the sum of |scores| of the loops in its partition (0 where that sum is 0).

    Parameters
    ----------
    loop_score : ndarray (L, ..., T)
    partition : ndarray (L,)
        Partition number of each loop.
    """
    flat, groups, count = _flatten(loop_score, partition)
    return _relative_kernel(flat, groups, count).reshape(loop_score.shape)


def dominant(relative: np.ndarray, partition: np.ndarray, threshold: float = HALF) -> np.ndarray:
    """Whether each loop belongs to its partition's dominant loop set -> bool array (L, ..., T).

    In each partition and at each time the loops of each polarity (the sign of the relative
    score then) are taken by decreasing |relative score| until they explain ``threshold``
    of the change; the polarity whose set explains more wins (reinforcing on a tie). This
    is pysimlin's greedy rule. Ties in |relative score| go to the loop listed first.
    """
    flat, groups, count = _flatten(relative, partition)
    return _dominant_kernel(flat, groups, count, threshold).reshape(relative.shape)


def _flatten(values: np.ndarray, partition: np.ndarray):
    """``values`` as (L, everything else), and the partitions numbered 0..P-1."""
    values = np.ascontiguousarray(values, dtype=float)
    _, groups = np.unique(np.asarray(partition), return_inverse=True)
    return values.reshape(len(values), -1), groups.astype(np.int64), int(groups.max(initial=-1)) + 1


# The two kernels are compiled with numba: per partition, time and run they visit only the
# loops that score there (a handful of a model's thousands), which whole-array numpy cannot do.
@njit(cache=True)
def _relative_kernel(scores, groups, count):
    loops, cells = scores.shape
    totals = np.zeros((count, cells))
    for i in range(loops):
        for m in range(cells):
            v = scores[i, m]
            if not np.isnan(v):
                totals[groups[i], m] += abs(v)
    out = np.zeros_like(scores)
    for i in range(loops):
        for m in range(cells):
            v, total = scores[i, m], totals[groups[i], m]
            out[i, m] = np.nan if np.isnan(v) else (v / total if total > 0 else 0.0)
    return out


@njit(cache=True)
def _dominant_kernel(relative, groups, count, threshold):
    loops, cells = relative.shape
    out = np.zeros((loops, cells), np.bool_)
    members = [np.flatnonzero(groups == g) for g in range(count)]
    for g in range(count):
        mine = members[g]
        for m in range(cells):
            chosen = [np.zeros(0, np.int64), np.zeros(0, np.int64)]
            explained = np.zeros(2)
            for s in range(2):
                sign = 1.0 if s == 0 else -1.0
                picked = []
                shares = []
                for i in mine:
                    v = relative[i, m]
                    if not np.isnan(v) and v != 0.0 and np.sign(v) == sign:
                        picked.append(i)
                        shares.append(abs(v))
                if len(picked) == 0:
                    continue
                share = np.array(shares)
                order = np.argsort(-share, kind="mergesort")  # stable: ties to the loop listed first
                before = 0.0
                taken = []
                for k in order:
                    if before >= threshold:
                        break
                    taken.append(picked[k])
                    before += share[k]
                chosen[s] = np.array(taken, np.int64)
                explained[s] = before
            winner = -1
            if explained[0] >= explained[1] and explained[0] > 0:
                winner = 0
            elif explained[1] > 0:
                winner = 1
            if winner >= 0:
                for i in chosen[winner]:
                    out[i, m] = True
    return out


def score_loops(scores: dict, loops, partition: np.ndarray, keep: np.ndarray, threshold: float = HALF):
    """Loop scores, relative scores and dominant flags of the loops ``keep``, without ever holding
    every loop's scores: -> three arrays (len(keep), ..., T).

    The same numbers as :func:`loop_scores`, :func:`relative_scores` and :func:`dominant` (every
    loop still enters the partition totals and the ranking), computed one (run, time) cell at a
    time in a compiled kernel, so an ensemble of thousands of runs of a model with thousands of
    loops needs memory only for the loops kept. A product stops at its first link that is NaN
    (the loop is NaN) or 0 (the loop is 0), which is where most loops of a large model are. The
    cells are split over threads (the kernel releases the GIL), as the engine splits its members.
    """
    edges = tuple(scores)
    table = link_table(edges, tuple(tuple(nodes) for nodes in loops))
    first = np.asarray(scores[edges[0]])
    # (cells, links): a cell's link scores side by side in memory, as the kernel reads them
    stacked = np.empty((first.size, len(edges) + 1))
    for i, e in enumerate(edges):
        stacked[:, i] = np.asarray(scores[e], float).ravel()
    stacked[:, -1] = 1.0
    _, groups = np.unique(np.asarray(partition), return_inverse=True)
    groups = groups.astype(np.int64)
    order = np.argsort(groups, kind="stable")  # the loops of each partition, in listed order
    offsets = np.searchsorted(groups[order], np.arange(groups.max(initial=-1) + 2))
    keep = np.asarray(keep, np.int64)
    cells = first.size
    out = (np.zeros((len(keep), cells)), np.zeros((len(keep), cells)), np.zeros((len(keep), cells), bool))
    bounds = np.linspace(0, cells, max(1, min(os.cpu_count() or 1, cells // 64)) + 1).astype(np.int64)

    def block(lo, hi):
        _cell_kernel(stacked, table, groups, order, offsets, keep, threshold, lo, hi, *out)

    if len(bounds) == 2:
        block(0, cells)
    else:
        with ThreadPoolExecutor(len(bounds) - 1) as pool:
            list(pool.map(lambda b: block(*b), zip(bounds[:-1], bounds[1:])))
    return tuple(a.reshape((len(keep),) + first.shape) for a in out)


@njit(cache=True, nogil=True)
def _cell_kernel(links, table, groups, order, offsets, keep, threshold, lo, hi, kept_score, kept_relative,
                 kept_flag):
    loops, width = table.shape
    count = len(offsets) - 1
    score = np.empty(loops)
    totals = np.empty(count)
    flag = np.zeros(loops, np.bool_)
    picked = np.empty(loops, np.int64)
    share = np.empty(loops)
    chosen = np.empty((2, loops), np.int64)
    n_chosen = np.zeros(2, np.int64)
    explained = np.zeros(2)
    for m in range(lo, hi):
        totals[:] = 0.0
        for i in range(loops):
            product = 1.0
            for k in range(width):
                v = links[m, table[i, k]]
                if np.isnan(v):
                    product = np.nan
                    break
                if v == 0.0:
                    product = 0.0
                    break
                product *= v
            score[i] = product
            if not np.isnan(product):
                totals[groups[i]] += abs(product)
        flag[:] = False
        for g in range(count):
            total = totals[g]
            if total <= 0:
                continue
            for s in range(2):
                sign = 1.0 if s == 0 else -1.0
                n = 0
                for q in range(offsets[g], offsets[g + 1]):
                    i = order[q]
                    v = score[i]
                    if not np.isnan(v) and v != 0.0 and np.sign(v) == sign:
                        picked[n] = i
                        share[n] = abs(v) / total
                        n += 1
                n_chosen[s] = 0
                explained[s] = 0.0
                if n == 0:
                    continue
                ranks = np.argsort(-share[:n], kind="mergesort")  # stable: ties to the loop listed first
                before = 0.0
                for k in ranks:
                    if before >= threshold:
                        break
                    chosen[s, n_chosen[s]] = picked[k]
                    n_chosen[s] += 1
                    before += share[k]
                explained[s] = before
            winner = 0 if (explained[0] >= explained[1] and explained[0] > 0) else (1 if explained[1] > 0 else -1)
            if winner >= 0:
                for c in range(n_chosen[winner]):
                    flag[chosen[winner, c]] = True
        for j in range(len(keep)):
            i = keep[j]
            v, total = score[i], totals[groups[i]]
            kept_score[j, m] = v
            kept_relative[j, m] = np.nan if np.isnan(v) else (v / total if total > 0 else 0.0)
            kept_flag[j, m] = flag[i]


@dataclass(frozen=True)
class Period:
    """A stretch of saved times with one dominant loop set in one partition."""

    partition: int
    start: float
    end: float
    loops: tuple[str, ...]


def periods(times: np.ndarray, flags: np.ndarray, ids, partition: np.ndarray) -> list[Period]:
    """Consecutive saved times with the same dominant set, per partition (one run).

    Parameters
    ----------
    times : ndarray (T,)
    flags : ndarray (L, T)
        From :func:`dominant` for one run.
    ids : sequence of str
        Loop identifiers, in the order of ``flags``.
    partition : ndarray (L,)
    """
    out = []
    ids = np.asarray(list(ids), dtype=object)
    for p in np.unique(partition):
        mine = partition == p
        sets = [tuple(sorted(ids[mine][flags[mine, k]])) for k in range(len(times))]
        start = 0
        for k in range(1, len(times) + 1):
            if k == len(times) or sets[k] != sets[start]:
                if sets[start]:
                    out.append(Period(int(p), float(times[start]), float(times[k - 1]), sets[start]))
                start = k
    return out
