"""Experts vs model: paths, the model's own matrix, rankings, the mapping file, the shipped check."""
import networkx as nx
import numpy as np
import pytest
from conftest import ROOT

from defdip.analysis.experts import (
    Mapping,
    compare_cells,
    compare_rankings,
    experts_vs_model,
    model_matrix,
    path_checks,
    read_mapping,
    report_markdown,
    tercile_scores,
)
from defdip.analysis.micmac import ImpactMatrix, read_matrix
from defdip.core.errors import InputError
from defdip.core.model import DEFAULT_MODEL, model_info

MATRIX = ROOT / "models" / "impact_matrix.csv"
MAPPING = ROOT / "models" / "impact_matrix_mapping.yaml"


@pytest.fixture
def small():
    """Model: a -> x -> b -> c, a2 -> a; d isolated. Matrix variables A={a, a2}, B={b}, C={c}, D={d}."""
    graph = nx.DiGraph([("a", "x"), ("x", "b"), ("b", "c"), ("a2", "a")])
    graph.add_node("d")
    names = ("A", "B", "C", "D")
    #           A  B  C  D
    scores = [[0, 3, 2, 0],   # A -> B direct in the model, A -> C only through B
              [0, 0, 0, 0],
              [0, 0, 0, 1],   # C -> D: no path
              [0, 0, 0, 0]]
    matrix = ImpactMatrix(names, np.array(scores))
    mapping = Mapping({"A": ("a", "a2"), "B": ("b",), "C": ("c",), "D": ("d",)})
    return graph, matrix, mapping


def test_paths_behind_cells(small):
    graph, matrix, mapping = small
    paths = path_checks(matrix, mapping, graph).set_index(["from", "to"])
    assert paths.loc[("A", "B"), "path_length"] == 2
    assert paths.loc[("A", "B"), "path"] == "a -> x -> b"
    assert paths.loc[("A", "C"), "path_length"] == 3
    assert np.isnan(paths.loc[("A", "C"), "direct_path_length"])  # every path passes through B
    assert np.isnan(paths.loc[("C", "D"), "path_length"])


def test_findings(small):
    graph, matrix, mapping = small
    weights = {("a", "x"): 1.0, ("x", "b"): 0.2, ("b", "c"): 5.0, ("a2", "a"): 1.0}
    strength, scored = model_matrix(matrix, mapping, graph, lambda u, v: weights[(u, v)])
    assert strength.values[0, 1] == pytest.approx(0.2)  # the weakest link of a -> x -> b
    assert strength.values[1, 2] == pytest.approx(5.0)
    assert strength.values[0, 2] == 0  # through B: not a direct influence
    cells = compare_cells(matrix, strength, scored, path_checks(matrix, mapping, graph)).set_index(["from", "to"])
    assert cells.loc[("A", "C"), "finding"] == "only indirect in model"
    assert cells.loc[("C", "D"), "finding"] == "no path in model"
    assert cells.loc[("B", "C"), "finding"] == "strong model pathway scored 0"
    assert cells.loc[("A", "B"), "finding"] == "weaker in model"  # 3 vs the weakest tercile
    assert cells.loc[("D", "A"), "finding"] == "agree"


def test_tercile_scores():
    s = tercile_scores(np.array([[0, 1, 2], [3, 0, 4], [5, 6, 0]], float))
    assert s.tolist() == [[0, 1, 1], [2, 0, 2], [3, 3, 0]]


def test_rankings_of_identical_matrices_agree_perfectly():
    matrix = read_matrix(MATRIX)
    rc = compare_rankings(matrix, matrix)
    assert rc.correlations["spearman"].to_numpy() == pytest.approx(1.0)
    assert (rc.ranks["experts_class"] == rc.ranks["model_class"]).all()


def write(tmp_path, text):
    path = tmp_path / "mapping.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def info():
    return model_info(DEFAULT_MODEL)


def test_mapping_refusals(tmp_path, info):
    matrix = ImpactMatrix(("Trust", "Treaty"), np.zeros((2, 2)))
    with pytest.raises(InputError, match="did you mean 'Mutual Trust'"):
        read_mapping(write(tmp_path, "Trust: [Mutual Trus]\nTreaty: Institutionalisation\n"), matrix, info)
    with pytest.raises(InputError, match="no model variables given for matrix variable\\(s\\) 'Treaty'"):
        read_mapping(write(tmp_path, "Trust: Mutual Trust\n"), matrix, info)
    with pytest.raises(InputError, match="unknown variable 'Treatie'"):
        read_mapping(write(tmp_path, "Trust: Mutual Trust\nTreatie: Institutionalisation\n"), matrix, info)
    with pytest.raises(InputError, match="expected one model variable name or a list"):
        read_mapping(write(tmp_path, "Trust: Mutual Trust\nTreaty: []\n"), matrix, info)
    ok = read_mapping(write(tmp_path, "Trust: mutual  trust\nTreaty: [Institutionalisation]\n"), matrix, info)
    assert ok.groups == {"Trust": ("Mutual Trust",), "Treaty": ("Institutionalisation",)}


@pytest.fixture(scope="module")
def shipped(info):
    matrix = read_matrix(MATRIX)
    return matrix, experts_vs_model(matrix, read_mapping(MAPPING, matrix, info), DEFAULT_MODEL)


def test_shipped_check_runs_and_covers_every_pair(shipped):
    matrix, report = shipped
    n = len(matrix.names)
    assert len(report.cells) == n * (n - 1)
    assert set(report.cells["finding"]) <= {"agree", "weaker in model", "stronger in model", "no path in model",
                                            "only indirect in model", "strong model pathway scored 0",
                                            "model pathway scored 0"}
    assert np.isfinite(report.rankings.correlations[["spearman", "kendall"]].to_numpy()).all()
    text = report_markdown(report)
    assert "## Do the experts and the model agree on what drives the system?" in text


def test_shipped_structural_facts(shipped):
    """Facts of the model's structure the report must reflect."""
    _, report = shipped
    cells = report.cells.set_index(["from", "to"])
    # The JCPOA is driven by dated events only: nothing in the model moves it.
    assert cells.loc[("Sanctions on Iran", "JCPOA status"), "finding"] == "no path in model"
    # The war reaches Iran's supply only through Russian demand.
    assert cells.loc[("Ukraine war intensity", "Arms transfers Iran to Russia"), "finding"] == \
        "only indirect in model"
    # Sanctions gate Russian deliveries directly (B1).
    assert cells.loc[("Sanctions on Iran", "Arms transfers Russia to Iran"), "model_score"] > 0
