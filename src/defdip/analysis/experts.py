"""Experts vs model: the impact matrix checked against the model's causal structure.

Three questions, each a pure function over the matrix, a mapping of matrix
variables to model variables, and the model's graph with link strengths from a
run (:func:`defdip.analysis.loops.link_effects`):

1. :func:`path_checks` - for every cell the experts scored above 0, is there a
   causal path in the model between the mapped variables, how long, and does it
   need to pass through another matrix variable (then the model says the
   influence is indirect, which MICMAC's powers already count)?
2. :func:`model_matrix` - the model's own direct-influence matrix over the matrix
   variables: the strength of the strongest path from one group of model
   variables to another that passes through no other group, scored 0-3 by
   terciles so it reads like the experts' matrix. Cells where it is strong and
   the experts wrote 0 are listed by :func:`compare_cells`.
3. :func:`compare_rankings` - MICMAC on both matrices and rank correlations
   (Spearman, Kendall) of influence and dependence, direct and indirect.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from defdip.analysis.loops import link_effects
from defdip.analysis.micmac import ImpactMatrix, micmac
from defdip.analysis.structure import causal_graph
from defdip.core.errors import InputError
from defdip.core.model import unknown_name_message

STRONG = 3  # model score (tercile) that counts as a strong pathway


@dataclass(frozen=True)
class Mapping:
    """Matrix variable -> the model variables (Vensim names) that stand for it."""

    groups: dict
    source: Path | None = None

    def nodes(self, name: str) -> tuple[str, ...]:
        return self.groups[name]

    @property
    def model_variables(self) -> set[str]:
        return {n for group in self.groups.values() for n in group}


def read_mapping(path: Path, matrix: ImpactMatrix, info) -> Mapping:
    """Read a YAML mapping ``matrix variable: [model variable, ...]`` and validate it.

    Parameters
    ----------
    path : Path
        The YAML file.
    matrix : ImpactMatrix
        Every one of its variables must be mapped, and nothing else.
    info : defdip.core.model.ModelInfo
        The model whose variable names the mapping uses.

    Raises
    ------
    InputError
        Naming the file and the key that is missing, unknown or wrong.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: mapping file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping 'matrix variable: [model variable, ...]'")
    groups = {}
    for key, value in data.items():
        if key not in matrix.names:
            raise InputError(unknown_name_message(str(key), matrix.names, where=f"{path}: matrix variable")
                             .replace("`defdip describe` lists the model's variables",
                                      "the keys are the matrix's variable names"))
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise InputError(f"{path}: {key}: expected one model variable name or a list of them")
        groups[key] = tuple(info.resolve(v, where=f"{path}: {key}").name for v in values)
    missing = [n for n in matrix.names if n not in groups]
    if missing:
        raise InputError(f"{path}: no model variables given for matrix variable(s) {', '.join(map(repr, missing))}")
    return Mapping({n: groups[n] for n in matrix.names}, path)


def model_graph(model_path: Path, mapping: Mapping) -> nx.DiGraph:
    """The causal graph without constants, plus the constants the mapping names."""

    full = causal_graph(model_path, include_constants=True)
    keep = [n for n, kind in full.nodes(data="kind") if kind != "constant" or n in mapping.model_variables]
    return full.subgraph(keep).copy()


# --------------------------------------------------------------------------
# 1. Paths behind the experts' cells


def path_checks(matrix: ImpactMatrix, mapping: Mapping, graph: nx.DiGraph) -> pd.DataFrame:
    """For every ordered pair of matrix variables: the shortest model path between their model variables.

    Returns
    -------
    pandas.DataFrame
        ``from, to, expert_score, path_length`` (links, NaN when there is no
        path), ``direct_path_length`` (avoiding the model variables of every
        other matrix variable; NaN when every path passes through one),
        ``path`` (the shortest path, as names joined by " -> ").
    """
    rows = []
    for i, a in enumerate(matrix.names):
        for j, b in enumerate(matrix.names):
            score = matrix.values[i, j]
            if i == j:
                continue
            path = _shortest(graph, mapping.nodes(a), mapping.nodes(b))
            blocked = _others(mapping, a, b)
            direct = _shortest(graph.subgraph(n for n in graph if n not in blocked), mapping.nodes(a),
                               mapping.nodes(b))
            rows.append({"from": a, "to": b, "expert_score": int(score),
                         "path_length": len(path) - 1 if path else np.nan,
                         "direct_path_length": len(direct) - 1 if direct else np.nan,
                         "path": " -> ".join(path) if path else ""})
    return pd.DataFrame(rows, columns=["from", "to", "expert_score", "path_length", "direct_path_length", "path"])


def _others(mapping: Mapping, a: str, b: str) -> set[str]:
    own = set(mapping.nodes(a)) | set(mapping.nodes(b))
    return {n for name, group in mapping.groups.items() if name not in (a, b) for n in group} - own


def _shortest(graph: nx.DiGraph, sources, targets) -> list[str] | None:
    best = None
    for s in sources:
        if s not in graph:
            continue
        lengths = nx.single_source_shortest_path_length(graph, s)
        reach = [t for t in targets if t in lengths and t != s]
        if not reach:
            continue
        t = min(reach, key=lambda x: (lengths[x], x))
        if best is None or lengths[t] < len(best) - 1:
            best = nx.shortest_path(graph, s, t)
    return best


# --------------------------------------------------------------------------
# 2. The model's own matrix


def model_matrix(matrix: ImpactMatrix, mapping: Mapping, graph: nx.DiGraph, weight) -> tuple[ImpactMatrix,
                                                                                               ImpactMatrix]:
    """The model's direct-influence matrix over the matrix variables.

    Parameters
    ----------
    matrix : ImpactMatrix
        Gives the variables and their order.
    mapping : Mapping
        Matrix variable -> model variables.
    graph : networkx.DiGraph
        The model's causal graph.
    weight : callable
        ``weight(u, v)`` -> strength of the link u -> v (e.g. :meth:`LinkEffects.weight`).

    Returns
    -------
    strength : ImpactMatrix
        Strength of the strongest path from a's model variables to b's that
        passes through no other matrix variable's model variables; a path is as
        strong as its weakest link (the widest path). 0 where no such path.
    scored : ImpactMatrix
        ``strength`` on the experts' 0-3 scale: the non-zero strengths split
        into terciles (1 weakest third, 3 strongest third).
    """
    names = matrix.names
    strength = np.zeros((len(names), len(names)))
    weights = {(u, v): float(weight(u, v)) for u, v in graph.edges}
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if i != j:
                strength[i, j] = _widest(graph, weights, mapping.nodes(a), set(mapping.nodes(b)),
                                         _others(mapping, a, b))
    return ImpactMatrix(names, strength), ImpactMatrix(names, tercile_scores(strength))


def _widest(graph, weights, sources, targets: set, blocked: set) -> float:
    """Largest bottleneck strength of a path from any source to any target, avoiding ``blocked``."""
    best = {s: np.inf for s in sources if s in graph and s not in targets}
    heap = [(-np.inf, s) for s in best]
    found = 0.0
    while heap:
        negative, u = heapq.heappop(heap)
        width = -negative
        if width < best.get(u, 0.0):
            continue
        if u in targets:
            found = max(found, width)
            continue
        for v in graph.successors(u):
            if v in blocked:
                continue
            w = min(width, weights[(u, v)])
            if w > best.get(v, 0.0):
                best[v] = w
                heapq.heappush(heap, (-w, v))
    return float(found) if np.isfinite(found) else 0.0


def tercile_scores(strength: np.ndarray) -> np.ndarray:
    """0 where ``strength`` is 0, else 1, 2 or 3 by the tercile of the non-zero values."""
    strength = np.asarray(strength, float)
    scores = np.zeros(strength.shape, dtype=int)
    positive = strength > 0
    if positive.any():
        low, high = np.quantile(strength[positive], [1 / 3, 2 / 3])
        scores[positive] = 1 + (strength[positive] > low).astype(int) + (strength[positive] > high).astype(int)
    return scores


def compare_cells(matrix: ImpactMatrix, strength: ImpactMatrix, scored: ImpactMatrix,
                  paths: pd.DataFrame) -> pd.DataFrame:
    """Every ordered pair with the experts' score, the model's score and what their difference says.

    ``finding`` is one of: ``agree`` (both 0 or both > 0 with scores at most one
    apart), ``weaker in model`` / ``stronger in model`` (both > 0, two or more
    apart), ``no path in model`` (scored > 0, no causal path at all),
    ``only indirect in model`` (scored > 0, every path passes through another
    matrix variable), ``strong model pathway scored 0`` (model score 3, experts 0),
    ``model pathway scored 0`` (model score 1-2, experts 0).
    """
    lookup = paths.set_index(["from", "to"]) if len(paths) else None
    rows = []
    for i, a in enumerate(matrix.names):
        for j, b in enumerate(matrix.names):
            if i == j:
                continue
            e, m = int(matrix.values[i, j]), int(scored.values[i, j])
            length = direct = np.nan
            route = ""
            if lookup is not None and (a, b) in lookup.index:
                length, direct, route = lookup.loc[(a, b), ["path_length", "direct_path_length", "path"]]
            rows.append({"from": a, "to": b, "expert_score": e, "model_score": m,
                         "model_strength": float(strength.values[i, j]), "path_length": length,
                         "direct_path_length": direct, "finding": _finding(e, m, length, direct), "path": route})
    return pd.DataFrame(rows)


def _finding(expert: int, model: int, length, direct) -> str:
    if expert > 0:
        if pd.isna(length):
            return "no path in model"
        if pd.isna(direct):
            return "only indirect in model"
        if model - expert >= 2:
            return "stronger in model"
        if expert - model >= 2:
            return "weaker in model"
        return "agree"
    if model >= STRONG:
        return "strong model pathway scored 0"
    if model > 0:
        return "model pathway scored 0"
    return "agree"


# --------------------------------------------------------------------------
# 3. Rankings


@dataclass(frozen=True)
class RankComparison:
    """MICMAC on the experts' and the model's matrices, and how their rankings agree.

    Attributes
    ----------
    experts, model : defdip.analysis.micmac.MicmacResult
    correlations : pandas.DataFrame
        ``measure, spearman, spearman_p, kendall, kendall_p`` for direct and
        indirect influence and dependence.
    ranks : pandas.DataFrame
        Per variable: influence ranks and classes in both.
    """

    experts: object
    model: object
    correlations: pd.DataFrame
    ranks: pd.DataFrame


def compare_rankings(matrix: ImpactMatrix, model_scored: ImpactMatrix, max_power: int = 40) -> RankComparison:
    """Run MICMAC on both matrices and correlate their influence and dependence.

    The cap on the power is higher than the command's default: a derived matrix
    can hold near ties that take twenty or more powers to settle.
    """
    from scipy.stats import kendalltau, spearmanr

    ex, mo = micmac(matrix, max_power), micmac(model_scored, max_power)
    rows = []
    for measure in ("direct_influence", "indirect_influence", "direct_dependence", "indirect_dependence"):
        x, y = ex.table[measure].to_numpy(float), mo.table[measure].to_numpy(float)
        rho, rho_p = spearmanr(x, y)
        tau, tau_p = kendalltau(x, y)
        rows.append({"measure": measure, "spearman": float(rho), "spearman_p": float(rho_p),
                     "kendall": float(tau), "kendall_p": float(tau_p)})
    ranks = pd.DataFrame({
        "variable": list(matrix.names),
        "experts_direct_rank": ex.table["direct_rank"].to_numpy(),
        "model_direct_rank": mo.table["direct_rank"].to_numpy(),
        "experts_indirect_rank": ex.table["indirect_rank"].to_numpy(),
        "model_indirect_rank": mo.table["indirect_rank"].to_numpy(),
        "experts_class": ex.table["class"].to_numpy(),
        "model_class": mo.table["class"].to_numpy(),
    })
    return RankComparison(ex, mo, pd.DataFrame(rows), ranks)


# --------------------------------------------------------------------------
# The whole check, and its report


@dataclass(frozen=True)
class ExpertsReport:
    """Everything :func:`experts_vs_model` finds.

    Attributes
    ----------
    cells : pandas.DataFrame
        From :func:`compare_cells`.
    strength, scored : ImpactMatrix
        The model's own matrix (path strengths, and on the 0-3 scale).
    rankings : RankComparison
    model_path : Path
    """

    cells: pd.DataFrame
    strength: ImpactMatrix
    scored: ImpactMatrix
    rankings: RankComparison
    model_path: Path


def experts_vs_model(matrix: ImpactMatrix, mapping: Mapping, model_path: Path,
                     params: dict | None = None) -> ExpertsReport:
    """Check an impact matrix against a model: paths, the model's own matrix, rankings.

    Link strengths come from one run of the model (its own constants, or
    ``params``) through :func:`defdip.analysis.loops.link_effects`.
    """

    graph = model_graph(model_path, mapping)
    effects = link_effects(model_path, params=params, graph=graph)
    paths = path_checks(matrix, mapping, graph)
    strength, scored = model_matrix(matrix, mapping, graph, effects.weight)
    cells = compare_cells(matrix, strength, scored, paths)
    return ExpertsReport(cells, strength, scored, compare_rankings(matrix, scored), Path(model_path))


def report_markdown(report: ExpertsReport) -> str:
    """The experts-vs-model report as Markdown."""
    cells, rc = report.cells, report.rankings
    scored = cells[cells["expert_score"] > 0]
    counts = scored["finding"].value_counts()
    lines = [f"# Experts vs model: the impact matrix against `{report.model_path.name}`", "",
             f"{len(scored)} cells scored above 0 by the experts: "
             + ", ".join(f"{counts.get(k, 0)} {k}" for k in
                         ("agree", "weaker in model", "stronger in model", "only indirect in model",
                          "no path in model")) + ".", ""]
    lines += _section("Scored cells with no causal path in the model", scored[scored["finding"] == "no path in model"],
                      ["from", "to", "expert_score"])
    lines += _section("Scored cells the model routes only through another matrix variable",
                      scored[scored["finding"] == "only indirect in model"],
                      ["from", "to", "expert_score", "path_length", "path"])
    lines += _section("Scored cells whose strength differs by two or more",
                      scored[scored["finding"].isin(["weaker in model", "stronger in model"])],
                      ["from", "to", "expert_score", "model_score", "model_strength", "path"])
    zero = cells[cells["expert_score"] == 0]
    lines += _section("Model pathways the experts scored 0",
                      zero[zero["model_score"] > 0].sort_values("model_strength", ascending=False),
                      ["from", "to", "model_score", "model_strength", "finding", "path"])
    lines += ["## Do the experts and the model agree on what drives the system?", "",
              "MICMAC on the experts' matrix and on the model's own matrix (path strengths from the baseline "
              "run, scored 0-3 by terciles). Rank correlations over the variables:", "",
              _markdown_table(rc.correlations.round(3)), "",
              f"Power k at which the rankings stopped changing: experts {_k(rc.experts)}, model {_k(rc.model)}.",
              "",
              _markdown_table(rc.ranks), ""]
    return "\n".join(lines)


def _k(result) -> str:
    return str(result.k) if result.stable else f"not stable by {result.max_power}"


def _section(title: str, frame: pd.DataFrame, columns: list[str]) -> list[str]:
    body = _markdown_table(frame[columns]) if len(frame) else "None."
    return [f"## {title} ({len(frame)})", "", body, ""]


def _markdown_table(frame: pd.DataFrame) -> str:
    def cell(x):
        if isinstance(x, float):
            return "" if np.isnan(x) else f"{x:.3g}"
        return str(x).replace("|", "\\|")
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    rows = ["| " + " | ".join(cell(x) for x in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *rows])
