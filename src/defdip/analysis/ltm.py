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

Where the work is done: the link scores of every run and saved time are computed by a kernel
that the engine's generator writes for each model (the model's own expressions; see
:meth:`defdip.engines.ensemble.EnsembleModel.link_scores`), with this module's formula
(:func:`defdip.engines.ensemble_runtime.link_score`); :func:`step_ahead` and
:func:`link_scores` are the same steps in numpy, kept as its reference. Loop scores,
relative scores and dominant sets are one compiled pass per (run, time) cell
(:func:`score_loops`). Both are hand-written compiled code because no library computes
Loops That Matter over an ensemble of runs.
"""
from __future__ import annotations

import graphlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise

import networkx as nx
import numpy as np
from numba import njit

from defdip.engines.ensemble_runtime import link_score as runtime_link_score

CPUS = os.cpu_count() or 1  # threads for the per-cell loop kernel
HALF = 0.5                 # share of the change a dominant loop set explains
MAX_EXHAUSTIVE = 20_000    # more simple cycles than this: strongest-path search instead
EXPANSION_BUDGET = 20_000  # strongest-path search: node expansions per (stock, time), shared by the nodes
SHORT = 32                 # loop kernel: lists up to this long are sorted by insertion (no allocation)
BLOCK_WORK = 5_000_000     # loop kernel: (cells x loops) below which one thread does it all (threads start slowly)


# --------------------------------------------------------------------------
# The structure


def score_graph(kinds: dict, links) -> nx.DiGraph:
    """The causal graph the scores live on: an edge ``x -> z`` for each input x of z's equation.

    Parameters
    ----------
    kinds : dict
        Name -> ``"stock"`` or ``"auxiliary"`` of every variable with an equation (a
        stock's equation is its net flow), in model order.
    links : iterable of (source, target)
        Each input with an equation of each equation, as the compiled engine lists them
        (:attr:`defdip.engines.ensemble_build.Program.links`); inputs without one
        (constants, ``Time``, SMOOTH/DELAY/INITIAL states) are left out, since they start no
        feedback.

    Returns
    -------
    networkx.DiGraph
        Nodes carry the attribute ``kind``.
    """
    graph = nx.DiGraph()
    for name, kind in kinds.items():
        graph.add_node(name, kind=kind)
    graph.add_edges_from(links)
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
# One step ahead, and the link scores, with numpy: the reference of the compiled kernel
# (``link_scores`` in the engine's generated module), which repeats these steps per cell


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
        Vensim name -> ``Equation`` (``name, kind, inputs, fn``) from
        :func:`defdip.engines.ensemble_build.equation_functions`; a stock's equation is its
        net flow.
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
    """Link score of each edge over ``[t, t + dt]`` at every saved time, with numpy.

    The reference the compiled kernel (``link_scores`` of the generated engine module,
    :meth:`defdip.engines.ensemble.EnsembleModel.link_scores`) is tested against: the
    same partial evaluations, one numpy pass per edge.

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
    """``|Δx z / Δz| * sign(Δx z / Δx)``, 0 where ``Δz`` or ``Δx`` is 0, element-wise.

    The one definition is :func:`defdip.engines.ensemble_runtime.link_score`, which the
    compiled ``link_scores`` kernel calls on numbers; this applies it to arrays.
    """
    with np.errstate(all="ignore"):
        return np.asarray(runtime_link_score(np.asarray(partial_change, float), np.asarray(change, float),
                                             np.asarray(source_change, float)))


def loop_edges(nodes) -> list[tuple[str, str]]:
    """The links of a loop, the last closing it."""
    nodes = tuple(nodes)
    return list(zip(nodes, nodes[1:] + nodes[:1]))


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


@dataclass(frozen=True)
class LoopPlan:
    """The loops of a loop set laid out for :func:`score_loops` (built once per loop set).

    The loops' link sequences form a prefix tree (a trie), stored in preorder: loops that
    start with the same links share those products, and a link that scores 0 or NaN
    settles every loop below it at once (most loops of a large model, at most times).

    Attributes
    ----------
    link, depth, skip : ndarray (nodes,) of int
        Each tree node's link (a column of the link scores), its depth (1 at the top) and
        the preorder index just past its subtree.
    ends, below : ndarray (nodes,) of int
        The loops ending at a node are ``leaf[ends[n]:below_start]``; the whole subtree's
        are ``leaf[ends[n]:below[n]]`` (loops numbered in preorder).
    leaf : ndarray (loops,) of int
        Loop index of each preorder leaf.
    table : ndarray (loops, width) of int
        Each loop's link columns in order, padded with -1.
    groups : ndarray (loops,) of int
        Partition of each loop, numbered 0..P-1.
    used : ndarray (links,) of bool
        The link columns on some loop (the only ones :func:`score_loops` reads).
    """

    link: np.ndarray
    depth: np.ndarray
    skip: np.ndarray
    ends: np.ndarray
    stop: np.ndarray
    below: np.ndarray
    leaf: np.ndarray
    table: np.ndarray
    groups: np.ndarray
    used: np.ndarray

    @property
    def count(self) -> int:
        """Number of partitions."""
        return int(self.groups.max(initial=-1)) + 1


def loop_plan(column: dict, loops, partition) -> LoopPlan:
    """The :class:`LoopPlan` of ``loops``, whose links are the columns ``column[(source, target)]``."""
    rows = [[column[e] for e in loop_edges(nodes)] for nodes in loops]
    tree: dict = {}
    for i, row in enumerate(rows):
        node = tree
        for c in row:
            node = node.setdefault(c, {})
        node.setdefault(None, []).append(i)  # None: the loops ending here
    link, depth, skip, ends, stop, below, leaf = [], [], [], [], [], [], []

    def visit(children: dict, level: int) -> None:
        # recursion depth is the longest loop's length
        for c, child in children.items():
            if c is None:
                continue
            n = len(link)
            link.append(c), depth.append(level), skip.append(0), below.append(0)
            ends.append(len(leaf))
            leaf.extend(child.get(None, []))
            stop.append(len(leaf))
            visit(child, level + 1)
            skip[n], below[n] = len(link), len(leaf)

    visit(tree, 1)
    table = np.full((len(rows), max(map(len, rows), default=0)), -1, np.int64)
    for i, row in enumerate(rows):
        table[i, :len(row)] = row
    _, groups = np.unique(np.asarray(partition), return_inverse=True)
    arrays = (np.asarray(a, np.int64) for a in (link, depth, skip, ends, stop, below, leaf))
    used = np.zeros(len(column), bool)
    used[table[table >= 0]] = True
    return LoopPlan(*arrays, table, groups.astype(np.int64).reshape(-1), used)


def score_loops(links: np.ndarray, plan: LoopPlan, keep, threshold: float = HALF):
    """Loop scores, relative scores and dominant flags of the loops ``keep``, without ever holding
    every loop's scores: -> three arrays (len(keep), cells).

    Parameters
    ----------
    links : ndarray (cells, links)
        Link scores, a (run, time) cell's side by side (the compiled ``link_scores`` layout).
    plan : LoopPlan
        From :func:`loop_plan`, columns into ``links``.
    keep : sequence of int
        The loops (indices) whose scores are returned; every loop still enters the partition
        totals and the ranking.
    threshold : float
        Share of the change a dominant loop set explains.

    Notes
    -----
    A loop's score is the product of its link scores, taken in the loop's order; it stops at
    the first link that is NaN (the loop is NaN) or 0 (the loop is 0), which is where most
    loops of a large model are. The relative score divides by the sum of |loop score| of the
    partition's loops (in loop order), and the dominant set is :func:`dominant`'s greedy rule.
    The cells are split over threads (the kernel releases the GIL), as the engine splits its
    members.
    """
    links = np.ascontiguousarray(links, dtype=float)
    keep = np.asarray(keep, np.int64)
    cells = len(links)
    if not len(plan.leaf):
        return np.zeros((len(keep), cells)), np.zeros((len(keep), cells)), np.zeros((len(keep), cells), bool)
    # one buffer for both float outputs: one large block, which the allocator reuses (and numpy
    # backs with huge pages) rather than faulting in 4 kB pages, a cost comparable to a small run
    values = np.empty((2, cells, len(keep)))
    out = (values[0], values[1], np.empty((cells, len(keep)), bool))
    full = np.array_equal(keep, np.arange(len(plan.leaf)))  # every loop, from the tree; else the kept ones' own
    blocks = max(1, min(CPUS, cells // 16, cells * len(plan.leaf) // BLOCK_WORK))
    bounds = [cells * b // blocks for b in range(blocks + 1)]

    def block(lo, hi):
        _cell_kernel(links, plan.link, plan.depth, plan.skip, plan.ends, plan.stop, plan.below, plan.leaf,
                     plan.table, plan.groups, plan.count, keep, full, threshold, lo, hi, *out)

    if len(bounds) == 2:
        block(0, cells)
    else:
        with ThreadPoolExecutor(len(bounds) - 1) as pool:
            list(pool.map(lambda b: block(*b), pairwise(bounds)))
    return tuple(a.T for a in out)  # a cell's loops side by side in memory, as the kernel writes them


@njit(cache=True, nogil=True)
def _cell_kernel(links, link, depth, skip, ends, stop, below, leaf, table, groups, count, keep, full, threshold,
                 lo, hi, kept_score, kept_relative, kept_flag):
    loops = len(leaf)
    score = np.zeros(loops)                # the active loops' scores, by loop
    nan_lo = np.empty(len(link), np.int64)  # the subtrees settled as NaN in this cell (preorder leaf ranges)
    nan_hi = np.empty(len(link), np.int64)
    product = np.ones(table.shape[1] + 1)  # the running product at each depth of the tree
    active = np.empty(loops, np.int64)     # the loops scoring neither 0 nor NaN in this cell
    members = np.empty(loops, np.int64)
    start = np.empty(count + 1, np.int64)
    totals = np.empty(count)
    flag = np.zeros(loops, np.bool_)
    picked = np.empty(loops, np.int64)
    share = np.empty(loops)
    ranks = np.empty(loops, np.int64)
    chosen = np.empty((2, loops), np.int64)
    n_chosen = np.zeros(2, np.int64)
    explained = np.zeros(2)
    for m in range(lo, hi):
        n_active = 0
        n_nan = 0
        n = 0
        while n < len(link):
            v = links[m, link[n]]
            if np.isnan(v) or v == 0.0:  # every loop below scores NaN or 0 here
                if np.isnan(v):
                    nan_lo[n_nan], nan_hi[n_nan] = ends[n], below[n]
                    n_nan += 1
                n = skip[n]
                continue
            p = product[depth[n] - 1] * v
            product[depth[n]] = p
            for k in range(ends[n], stop[n]):
                score[leaf[k]] = p
                active[n_active] = leaf[k]
                n_active += 1
            n += 1
        _sort(active, n_active)  # loop order: the order of the sums and of the ties
        # the active loops by partition, each in loop order
        start[:] = 0
        for a in range(n_active):
            start[groups[active[a]] + 1] += 1
        for g in range(count):
            start[g + 1] += start[g]
        totals[:] = 0.0
        for a in range(n_active):
            i = active[a]
            g = groups[i]
            members[start[g]] = i
            start[g] += 1
            totals[g] += abs(score[i])
        for g in range(count - 1, -1, -1):
            start[g + 1] = start[g]
        start[0] = 0
        for g in range(count):
            total = totals[g]
            if total <= 0:
                continue
            for s in range(2):
                sign = 1.0 if s == 0 else -1.0
                n_picked = 0
                for q in range(start[g], start[g + 1]):
                    i = members[q]
                    v = score[i]
                    if np.sign(v) == sign:
                        picked[n_picked] = i
                        share[n_picked] = abs(v) / total
                        n_picked += 1
                n_chosen[s] = 0
                explained[s] = 0.0
                if n_picked == 0:
                    continue
                _rank(share, ranks, n_picked)  # by decreasing share; ties to the loop listed first
                before = 0.0
                for q in range(n_picked):
                    if before >= threshold:
                        break
                    k = ranks[q]
                    chosen[s, n_chosen[s]] = picked[k]
                    n_chosen[s] += 1
                    before += share[k]
                explained[s] = before
            winner = 0 if (explained[0] >= explained[1] and explained[0] > 0) else (1 if explained[1] > 0 else -1)
            if winner >= 0:
                for c in range(n_chosen[winner]):
                    flag[chosen[winner, c]] = True
        if full:  # every loop kept, in order: 0 but for the NaN subtrees and the active loops
            kept_score[m, :] = 0.0
            kept_relative[m, :] = 0.0
            kept_flag[m, :] = False
            for q in range(n_nan):
                for k in range(nan_lo[q], nan_hi[q]):
                    kept_score[m, leaf[k]] = np.nan
                    kept_relative[m, leaf[k]] = np.nan
            for a in range(n_active):
                i = active[a]
                total = totals[groups[i]]
                kept_score[m, i] = score[i]
                kept_relative[m, i] = score[i] / total if total > 0 else 0.0
                kept_flag[m, i] = flag[i]
        else:  # a few loops kept: their own products
            for j in range(len(keep)):
                i = keep[j]
                v = 1.0
                for k in range(table.shape[1]):
                    if table[i, k] < 0:
                        break
                    w = links[m, table[i, k]]
                    if np.isnan(w):
                        v = np.nan
                        break
                    if w == 0.0:
                        v = 0.0
                        break
                    v *= w
                total = totals[groups[i]]
                kept_score[m, j] = v
                kept_relative[m, j] = np.nan if np.isnan(v) else (v / total if total > 0 else 0.0)
                kept_flag[m, j] = flag[i]
        for a in range(n_active):  # reset the flags set in this cell
            flag[active[a]] = False


@njit(cache=True, nogil=True)
def _sort(values, n):
    """``values[:n]`` sorted in place (distinct integers)."""
    if n > SHORT:
        values[:n] = np.sort(values[:n])
        return
    for a in range(1, n):
        v = values[a]
        b = a - 1
        while b >= 0 and values[b] > v:
            values[b + 1] = values[b]
            b -= 1
        values[b + 1] = v


@njit(cache=True, nogil=True)
def _rank(share, ranks, n):
    """``ranks[:n]``: the indices of ``share[:n]`` by decreasing value, ties in index order (a stable sort)."""
    if n > SHORT:
        ranks[:n] = np.argsort(-share[:n], kind="mergesort")
        return
    for a in range(n):
        b = a - 1
        while b >= 0 and share[ranks[b]] < share[a]:
            ranks[b + 1] = ranks[b]
            b -= 1
        ranks[b + 1] = a


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
