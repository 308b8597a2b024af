"""The causal structure of a Vensim model: its graph, its documented loops, a figure.

Pure functions first. :func:`causal_graph` reads who-uses-whom from PySD's
translation, :func:`named_loops` reads the feedback loops the modeller
documented in the model's ``.About`` group, :func:`check_loops` says which
links of those loops the structure lacks, and :func:`key_structure` reduces
the graph to the stocks and the loop variables. Plotting
(:func:`defdip.figures.structure.draw_structure`,
:func:`defdip.figures.structure.write_structure_figure`) only consumes their results.
"""
from __future__ import annotations

import itertools
import re
from pathlib import Path

import networkx as nx

from defdip.core.arrays import split_flat_name
from defdip.core.model import load_model, model_info
from defdip.core.names import canonical

KINDS = ("stock", "flow", "auxiliary", "constant")
POLARITY = {"R": "reinforcing", "B": "balancing"}

# A ModelInfo kind -> the kind a node gets; lookups and data are parameters
# of the structure, like constants. Control settings and Time are left out.
_NODE_KIND = {"stock": "stock", "auxiliary": "auxiliary", "constant": "constant",
              "lookup": "constant", "data": "constant"}
_LOOP_START = re.compile(r"^([RB]\d+)\s+([^:]+?)\s*:\s*(.*)$")
_ARROW = re.compile(r"->|\u2192")


# --------------------------------------------------------------------------
# The causal graph


def causal_graph(model_path: Path, include_constants: bool = False) -> nx.DiGraph:
    """Directed graph of who uses whom in a Vensim model.

    Parameters
    ----------
    model_path : Path
        The ``.mdl`` file.
    include_constants : bool
        Keep constants (and lookups, data) as nodes. Off by default: they
        start no feedback and crowd the structure.

    Returns
    -------
    networkx.DiGraph
        Nodes are Vensim names with attribute ``kind`` (``"stock"``, ``"flow"``,
        ``"auxiliary"`` or ``"constant"``). An edge ``u -> v`` means v's equation
        uses u; its attribute ``link`` is ``"flow"`` for a rate into its stock,
        ``"initial"`` for a constant setting a stock's initial value, else
        ``"info"``. Control settings (TIME STEP, ...) and ``Time`` are left out.
    """
    info = model_info(model_path)
    model = load_model(model_path)
    real = dict(zip(model.doc["Py Name"], model.doc["Real Name"]))
    deps = model.dependencies

    graph = nx.DiGraph()
    for py, name in real.items():
        var = info.variables.get(name)
        kind = _NODE_KIND.get(var.kind) if var is not None else None
        if kind == "auxiliary" and not deps.get(py):
            kind = "constant"  # an expression of numbers only, such as "-0.5" or "1/3"
        if kind is None or (kind == "constant" and not include_constants):
            continue
        graph.add_node(name, kind=kind)

    for py, name in real.items():
        if name not in graph:
            continue
        for dep, link in _direct_uses(py, deps):
            source = real.get(dep)
            if source is None or source not in graph or source == name:
                continue
            if link == "initial" and graph.nodes[source]["kind"] != "constant":
                # An auxiliary setting an initial value acts once, at the start:
                # an edge for it would make loops appear that never feed back.
                continue
            graph.add_edge(source, name, link=link)
            if link == "flow" and graph.nodes[source]["kind"] == "auxiliary":
                graph.nodes[source]["kind"] = "flow"
    return graph


def _direct_uses(py_name: str, deps: dict) -> list[tuple[str, str]]:
    """Variables ``py_name``'s equation uses, with the kind of link.

    PySD hides a stateful element (INTEG, SMOOTH, DELAY ...) behind an entry
    ``_<type>_<name>`` holding ``initial`` and ``step`` dependencies; those are
    opened here, recursively.
    """
    uses: list[tuple[str, str]] = []
    for dep in deps.get(py_name) or {}:
        inner = deps.get(dep)
        if dep.startswith("_") and isinstance(inner, dict) and "step" in inner:
            is_stock = dep.startswith("_integ_")
            uses += [(d, "flow" if is_stock else "info") for d in _open(inner["step"], deps)]
            uses += [(d, "initial") for d in _open(inner.get("initial") or {}, deps)]
        else:
            uses.append((dep, "info"))
    return uses


def _open(names: dict, deps: dict) -> list[str]:
    """Names in a dependency dict, hidden stateful entries replaced by their step dependencies."""
    out = []
    for dep in names:
        inner = deps.get(dep)
        if dep.startswith("_") and isinstance(inner, dict) and "step" in inner:
            out += _open(inner["step"], deps)
        else:
            out.append(dep)
    return out


# --------------------------------------------------------------------------
# Documented loops


def named_loops(model_path: Path) -> dict[str, list[str]]:
    """The feedback loops documented in a model's ``.About`` group.

    A loop is a line ``R1 reciprocity: A -> B -> ... -> A.`` (``R`` reinforcing,
    ``B`` balancing), possibly wrapped over several lines; it ends at a blank
    line, the next loop or the end of the group. The chain ends at the first
    ``.``, ``,`` or ``;`` after its last arrow, and parentheses are dropped.

    Parameters
    ----------
    model_path : Path
        The ``.mdl`` file.

    Returns
    -------
    dict
        ``"R1 reciprocity" -> ["A", "B", ...]`` in the order documented, the
        closing repetition of the first name dropped. Empty when the model has
        no ``.About`` group or documents no loops.
    """
    text = _about_text(Path(model_path).read_text(encoding="utf-8", errors="replace"))
    loops: dict[str, list[str]] = {}
    label = None
    for line in text.splitlines():
        line = line.strip().rstrip("\\").strip()
        start = _LOOP_START.match(line)
        if start:
            code, title, rest = start.groups()
            label = f"{code} {title}"
            loops[label] = [rest]
        elif label and line:
            loops[label].append(line)
        else:
            label = None
    return {label: _chain(" ".join(lines)) for label, lines in loops.items()}


def _about_text(raw: str) -> str:
    """Text of the ``.About`` group: after its header, up to the first ``|``."""
    header = re.search(r"^\*+\s*\n\s*\.About\s*\n\*+~", raw, flags=re.MULTILINE)
    if header is None:
        return ""
    body = raw[header.end():]
    return body.split("|", 1)[0]


def _chain(text: str) -> list[str]:
    text = re.sub(r"\([^)]*\)", " ", text)
    pieces = [" ".join(p.split()) for p in _ARROW.split(text)]
    pieces[-1] = re.split(r"[.,;]", pieces[-1], maxsplit=1)[0].strip()
    chain = [p for p in pieces if p]
    if len(chain) > 1 and canonical(chain[-1]) == canonical(chain[0]):
        chain.pop()
    return chain


def loop_polarity(label: str) -> str:
    """``"reinforcing"`` or ``"balancing"`` from a loop label's code (``"R1 ..."``)."""
    return POLARITY[label[:1].upper()]


def resolve_chain(graph: nx.DiGraph, chain: list[str]) -> list[list[str]]:
    """Graph nodes each element of a loop chain stands for.

    An element matches a node by name, forgiving case and spacing. One that
    names several variables joined by "and" ("A and B", two parallel links)
    stands for each of them. An element that matches nothing stays as written,
    so that the links through it are reported missing.
    """
    index = {canonical(n): n for n in graph}
    return [_split_names(element, index) or [element] for element in chain]


def per_element(graph: nx.DiGraph, label: str, chain: list[str]) -> dict[str, list[str]]:
    """A documented loop of a subscripted model, once per element it runs through.

    The convention, for a graph whose nodes are elements (``Trust[Iran]``): a chain element
    written with its subscripts (``Trust[Iran]``) stands for that element; one written without
    them (``Trust``) stands for every element, so the loop is read once per combination of
    elements of the subscripted variables it names, each element of a dimension the same
    throughout: ``"R5 institutional deepening[Iran]"``, ``"...[DPRK]"``; a loop that also runs
    through ``Supplies to Russia[partner, munition]`` is one loop per partner and munition,
    ``"R6 need[Iran,artillery]"`` (a scalar variable in the chain is shared). A chain of
    scalars only, or one with every element written, is the loop itself.

    Returns
    -------
    dict
        Label -> chain, one entry per combination of elements (or the loop itself).
    """
    bases: dict[str, dict[tuple, str]] = {}
    for node in graph:
        base, subscripts = split_flat_name(node)
        if subscripts:
            bases.setdefault(canonical(base), {})[subscripts] = node
    loose = list(dict.fromkeys(name for name in chain if canonical(name) in bases
                               and canonical(name) not in {canonical(n) for n in graph}))
    if not loose:
        return {label: chain}
    dimension = _dimensions(bases)
    out = {}
    for picked in _consistent(loose, [list(bases[canonical(n)].items()) for n in loose], dimension, {}):
        elements = list(dict.fromkeys(e for subscripts, _ in picked.values() for e in subscripts))
        out[f"{label}[{','.join(elements)}]"] = [picked[n][1] if n in picked else n for n in chain]
    return out


def _dimensions(bases: dict[str, dict[tuple, str]]) -> dict[str, int]:
    """Element -> its dimension, numbered: elements that share a position of some variable's
    subscripts belong together (found from the graph's names alone)."""
    parent: dict[str, str] = {}

    def root(e):
        while parent.setdefault(e, e) != e:
            e = parent[e]
        return e

    for tuples in bases.values():
        for position in zip(*tuples):
            first = root(position[0])  # a dimension of one element is a dimension too
            for e in position[1:]:
                parent[root(e)] = first
    roots = {}
    return {e: roots.setdefault(root(e), len(roots)) for e in list(parent)}


def _consistent(loose, options, dimension, chosen):
    """Every pick of one node per loose variable whose elements agree in each dimension."""
    if not loose:
        yield {}
        return
    for subscripts, node in options[0]:
        mine = {dimension[e]: e for e in subscripts}
        if any(chosen.get(d, e) != e for d, e in mine.items()):
            continue
        for rest in _consistent(loose[1:], options[1:], dimension, {**chosen, **mine}):
            yield {loose[0]: (subscripts, node), **rest}


def _split_names(text: str, index: dict[str, str]) -> list[str] | None:
    if canonical(text) in index:
        return [index[canonical(text)]]
    for match in re.finditer(r"\s+and\s+", text):
        head, tail = text[:match.start()], text[match.end():]
        if canonical(head) in index:
            rest = _split_names(tail, index)
            if rest:
                return [index[canonical(head)]] + rest
    return None


def check_loops(graph: nx.DiGraph, loops: dict[str, list[str]]) -> dict[str, list[tuple[str, str]]]:
    """Links of documented loops the structure does not have.

    Parameters
    ----------
    graph : networkx.DiGraph
        From :func:`causal_graph`.
    loops : dict
        From :func:`named_loops`.

    Returns
    -------
    dict
        For each loop, the consecutive pairs of its chain (the last wrapping
        round to the first) with no directed path from the first to the second
        in ``graph``. An empty list means the loop is in the structure. A name
        that matches no variable appears as written in every pair it is part of.
    """
    missing = {}
    for label, chain in loops.items():
        nodes = resolve_chain(graph, chain)
        gaps = []
        for here, there in zip(nodes, nodes[1:] + nodes[:1]):
            for u, v in itertools.product(here, there):
                if u not in graph or v not in graph or not nx.has_path(graph, u, v):
                    gaps.append((u, v))
        missing[label] = gaps
    return missing


# --------------------------------------------------------------------------
# The key structure: stocks and loop variables, the rest collapsed


def key_structure(graph: nx.DiGraph, loops: dict[str, list[str]], extra=()) -> nx.DiGraph:
    """The stocks, the variables on documented loops and ``extra``, linked through the rest.

    Parameters
    ----------
    graph : networkx.DiGraph
        From :func:`causal_graph`.
    loops : dict
        From :func:`named_loops`.
    extra : iterable of str
        Further variables to keep (indicators, say); names not in ``graph`` are skipped.

    Returns
    -------
    networkx.DiGraph
        Kept nodes with their ``kind``. An edge ``u -> v`` when ``graph`` has a
        path from u to v whose intermediate nodes are all dropped ones; its
        ``link`` is ``"flow"`` for a rate feeding its stock directly, else
        ``"info"``, and ``loops`` lists the codes of the loops whose documented
        links run along it (shortest route between consecutive loop variables).
    """
    index = {canonical(n): n for n in graph}
    keep = {n for n, kind in graph.nodes(data="kind") if kind == "stock"}
    keep |= {index[canonical(n)] for n in extra if canonical(n) in index}
    chains = {label: resolve_chain(graph, chain) for label, chain in loops.items()}
    for nodes in chains.values():
        keep |= {n for element in nodes for n in element if n in graph}

    key = nx.DiGraph()
    key.add_nodes_from((n, graph.nodes[n]) for n in sorted(keep))
    for u in sorted(keep):
        for v in _reachable_through(graph, u, keep):
            direct = graph.get_edge_data(u, v) or {}
            key.add_edge(u, v, link=direct.get("link", "info"), loops=[])

    for label, nodes in chains.items():
        code = label.split()[0]
        for here, there in zip(nodes, nodes[1:] + nodes[:1]):
            for u, v in itertools.product(here, there):
                if u in key and v in key and nx.has_path(key, u, v):
                    path = nx.shortest_path(key, u, v)
                    for a, b in zip(path, path[1:]):
                        if code not in key.edges[a, b]["loops"]:
                            key.edges[a, b]["loops"].append(code)
    return key


def _reachable_through(graph: nx.DiGraph, start: str, keep: set) -> list[str]:
    """Kept nodes reached from ``start`` along paths through dropped nodes only."""
    found, seen, stack = [], {start}, list(graph.successors(start))
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if node in keep:
            found.append(node)
        else:
            stack.extend(graph.successors(node))
    return sorted(found)
