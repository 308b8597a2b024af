"""MICMAC: hand-computed matrices, reordering, the stabilisation power, refusals, the command."""
import csv
import json

import numpy as np
import pytest
from conftest import ROOT

from defdip.analysis.micmac import (
    COLUMNS,
    ImpactMatrix,
    classify,
    micmac,
    rank_shifts,
    ranks,
    read_matrix,
    stabilise,
    strongest_links,
)
from defdip.cli.main import main
from defdip.core.errors import InputError

SHIPPED = ROOT / "models" / "impact_matrix.csv"


def write_matrix(path, names, rows, header=None):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header or ["variable", *names])
        for name, row in zip(names, rows):
            writer.writerow([name, *row])
    return path


def exact_k(values, max_power=20):
    """Independent check of the stabilisation power: exact integer powers, ranks by sorting."""
    def order(v):
        return [sorted(set(v), reverse=True).index(x) for x in v]  # dense ranks are enough to compare orders

    m = [[int(x) for x in row] for row in values]
    n = len(m)
    power = [row[:] for row in m]
    prev = (order([sum(r) for r in power]), order([sum(power[i][j] for i in range(n)) for j in range(n)]))
    for k in range(2, max_power + 1):
        power = [[sum(power[i][t] * m[t][j] for t in range(n)) for j in range(n)] for i in range(n)]
        cur = (order([sum(r) for r in power]), order([sum(power[i][j] for i in range(n)) for j in range(n)]))
        if cur == prev:
            return k
        prev = cur
    return max_power


# --------------------------------------------------------------------------
# The method on small matrices computed by hand


def test_direct_sums_and_ranks_by_hand():
    # A -> B (3), B -> C (2), C -> A (1): influence 3, 2, 1; dependence 1, 3, 2.
    m = ImpactMatrix(("A", "B", "C"), np.array([[0, 3, 0], [0, 0, 2], [1, 0, 0]]))
    table = micmac(m).table
    assert list(table.columns) == list(COLUMNS)
    assert table["direct_influence"].tolist() == [3, 2, 1]
    assert table["direct_dependence"].tolist() == [1, 3, 2]
    assert table["direct_rank"].tolist() == [1, 2, 3]


def test_symmetric_matrix_is_stable_at_power_two():
    # M^2 = [[5,1,2],[1,5,2],[2,2,2]]: row sums 8, 8, 6 rank like M's 3, 3, 2.
    m = np.array([[0, 2, 1], [2, 0, 1], [1, 1, 0]])
    k, power, stable = stabilise(m)
    assert (k, stable) == (2, True)
    assert np.allclose(power / power.max(), np.array([[5, 1, 2], [1, 5, 2], [2, 2, 2]]) / 5)
    table = micmac(ImpactMatrix(("A", "B", "C"), m)).table
    assert table["indirect_rank"].tolist() == [1, 1, 3]  # the tie survives floating point
    # Indirect values share the direct total.
    assert table["indirect_influence"].sum() == pytest.approx(m.sum())


@pytest.mark.parametrize("seed", range(6))
def test_stabilisation_power_matches_exact_integer_powers(seed):
    rng = np.random.default_rng(seed)
    m = rng.integers(0, 4, (6, 6))
    np.fill_diagonal(m, 0)
    k, _, stable = stabilise(m)
    assert k == exact_k(m)
    assert stable == (k < 20 or exact_k(m, 21) == 20)


def test_a_later_power_is_needed_when_rankings_change():
    m = np.array([[0, 3, 0, 1], [0, 0, 2, 0], [1, 0, 0, 3], [2, 1, 0, 0]])
    assert stabilise(m)[0] == exact_k(m) == 5


def test_unstable_rankings_are_reported_at_the_cap():
    # A 2-cycle A <-> B with C fed by A alone: powers alternate, rankings flip every step.
    m = np.array([[0, 3, 1], [1, 0, 0], [0, 0, 0]])
    k, _, stable = stabilise(m, max_power=9)
    assert (k, stable) == (9, False)
    assert micmac(ImpactMatrix(("A", "B", "C"), m), max_power=9).stable is False


def test_classes_by_hand():
    # means: influence 5, dependence 5; sd 4.47 on both axes.
    infl = np.array([10, 10, 0, 0, 5])
    dep = np.array([0, 10, 10, 0, 5])
    assert classify(infl, dep) == ["driving", "relay", "dependent", "autonomous", "regulating"]


def test_invariant_under_reordering():
    matrix = read_matrix(SHIPPED)
    rng = np.random.default_rng(7)
    shuffled = matrix.reordered([matrix.names[i] for i in rng.permutation(len(matrix.names))])
    a, b = micmac(matrix), micmac(shuffled)
    assert a.k == b.k
    left = a.table.set_index("variable").sort_index()
    right = b.table.set_index("variable").sort_index()
    np.testing.assert_allclose(left.select_dtypes("number").to_numpy(float),
                               right.select_dtypes("number").to_numpy(float), rtol=1e-9)
    assert left["class"].tolist() == right["class"].tolist()


def test_rank_shifts_and_strongest_links():
    m = ImpactMatrix(("A", "B", "C"), np.array([[0, 3, 0], [0, 0, 2], [1, 0, 0]]))
    assert strongest_links(m) == [("A", "B", 3.0)]
    assert len(strongest_links(m, minimum=1)) == 3
    table = micmac(m).table.assign(indirect_rank=[3, 2, 1])
    shifts = rank_shifts(table)
    assert shifts["variable"].tolist() == ["A", "C"]
    assert shifts["shift"].tolist() == [-2, 2]


def test_ranks_ties_share_the_best_rank():
    assert ranks(np.array([2.0, 5.0, 5.0, 1.0])).tolist() == [3, 1, 1, 4]


# --------------------------------------------------------------------------
# Refusals name the file and the cell


@pytest.mark.parametrize("rows, message", [
    ([[0, 1, 4], [0, 0, 0], [0, 0, 0]], 'row "A", column "C": 4 is outside 0-3'),
    ([[0, 1, -1], [0, 0, 0], [0, 0, 0]], 'row "A", column "C": -1 is outside 0-3'),
    ([[0, 1, 0], [0, 0, 1.5], [0, 0, 0]], 'row "B", column "C": 1.5 is not an integer'),
    ([[0, 1, 0], [0, 0, "x"], [0, 0, 0]], "row \"B\", column \"C\": 'x' is not a score"),
    ([[0, 1, 0], [0, 2, 0], [0, 0, 0]], 'row "B", column "B": 2 on the diagonal'),
    ([[0, 1, 0], [0, 0], [0, 0, 0]], "row 'B' has 2 scores, expected 3"),
])
def test_bad_cells_are_refused_with_the_cell_named(tmp_path, rows, message):
    path = write_matrix(tmp_path / "m.csv", ["A", "B", "C"], rows)
    with pytest.raises(InputError) as err:
        read_matrix(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_not_square_is_refused(tmp_path):
    path = write_matrix(tmp_path / "m.csv", ["A", "B"], [[0, 1, 0], [0, 0, 1]],
                        header=["variable", "A", "B", "C"])
    with pytest.raises(InputError, match="not square: 2 rows, 3 columns"):
        read_matrix(path)


def test_duplicate_names_are_refused(tmp_path):
    path = write_matrix(tmp_path / "m.csv", ["A", "A"], [[0, 1], [1, 0]], header=["variable", "A", "B"])
    with pytest.raises(InputError, match="duplicate row 'A' \\(rows 1 and 2\\)"):
        read_matrix(path)
    path = write_matrix(tmp_path / "n.csv", ["A", "B"], [[0, 1], [1, 0]], header=["variable", "B", "B"])
    with pytest.raises(InputError, match="duplicate column 'B'"):
        read_matrix(path)


def test_mismatched_names_are_refused(tmp_path):
    path = write_matrix(tmp_path / "m.csv", ["A", "B"], [[0, 1], [1, 0]], header=["variable", "B", "A"])
    with pytest.raises(InputError, match="row 1 is 'A' but column 1 is 'B'"):
        read_matrix(path)


def test_header_must_start_with_variable_or_nothing(tmp_path):
    path = write_matrix(tmp_path / "m.csv", ["A", "B"], [[0, 1], [1, 0]], header=["name", "A", "B"])
    with pytest.raises(InputError, match="first column must be named 'variable' or have an empty header cell, "
                                         "got 'name'"):
        read_matrix(path)


def test_a_matrix_written_by_pandas_reads_back(tmp_path):
    """pandas (like Excel and LibreOffice) leaves the top-left cell of an indexed table empty."""
    import pandas as pd

    scores = [[0, 3, 1], [0, 0, 2], [1, 0, 0]]
    frame = pd.DataFrame(scores, index=["A", "B", "C"], columns=["A", "B", "C"])
    path = tmp_path / "m.csv"
    frame.to_csv(path)
    assert path.read_text().splitlines()[0] == ",A,B,C"  # the case this test is about
    matrix = read_matrix(path)
    assert matrix.names == ("A", "B", "C")
    np.testing.assert_array_equal(matrix.values, scores)
    named = read_matrix(write_matrix(tmp_path / "named.csv", ["A", "B", "C"], scores))
    np.testing.assert_array_equal(named.values, matrix.values)


def test_command_reads_a_pandas_matrix(tmp_path):
    import pandas as pd

    names = ["A", "B", "C"]
    pd.DataFrame([[0, 2, 1], [2, 0, 1], [1, 1, 0]], index=names, columns=names).to_csv(tmp_path / "m.csv")
    assert main(["micmac", str(tmp_path / "m.csv"), "-o", str(tmp_path / "out")]) == 0
    table = pd.read_csv(tmp_path / "out" / "micmac" / "micmac.csv")
    assert sorted(table["variable"]) == names


# --------------------------------------------------------------------------
# The shipped matrix


def test_shipped_matrix_is_valid_and_every_three_is_justified():
    matrix = read_matrix(SHIPPED)
    assert 12 <= len(matrix.names) <= 16
    threes = {(a, b) for a, b, _ in strongest_links(matrix, minimum=3)}
    with (ROOT / "models" / "impact_matrix_notes.csv").open(newline="") as handle:
        notes = list(csv.DictReader(handle))
    justified = {(n["from"], n["to"]) for n in notes if n["score"] == "3" and n["justification"].strip()}
    assert threes and threes == justified


# --------------------------------------------------------------------------
# The command


@pytest.fixture(scope="module")
def shipped_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("results") / "micmac"
    assert main(["micmac", "-o", str(out.parent)]) == 0
    return out


def test_command_writes_table_summary_figures_and_report(shipped_run):
    for name in ("micmac.csv", "summary.json", "micmac_map.png", "micmac_map.svg", "micmac_graph.png",
                 "experts_vs_model.md", "experts_vs_model.csv", "model_matrix.csv"):
        assert (shipped_run / name).stat().st_size > 0, name
    header = (shipped_run / "micmac.csv").read_text().splitlines()[0]
    assert header == ",".join(COLUMNS)
    summary = json.loads((shipped_run / "summary.json").read_text())
    assert summary["k"] == micmac(read_matrix(SHIPPED)).k and summary["stable"] is True
    assert "experts_vs_model" in summary


def test_command_refuses_to_overwrite_without_force(shipped_run, capsys):
    before = (shipped_run / "micmac.csv").read_bytes()
    assert main(["micmac", "-o", str(shipped_run.parent)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (shipped_run / "micmac.csv").read_bytes() == before


def test_command_on_a_bad_matrix_exits_2_naming_the_cell(tmp_path, capsys):
    path = write_matrix(tmp_path / "m.csv", ["A", "B"], [[0, 4], [1, 0]])
    assert main(["micmac", str(path), "-o", str(tmp_path / "out")]) == 2
    assert 'row "A", column "B": 4 is outside 0-3' in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_command_on_another_matrix_without_mapping_skips_the_model_check(tmp_path):
    path = write_matrix(tmp_path / "m.csv", ["A", "B", "C"], [[0, 2, 1], [2, 0, 1], [1, 1, 0]])
    out = tmp_path / "out" / "micmac"
    assert main(["micmac", str(path), "-o", str(out.parent)]) == 0
    assert json.loads((out / "summary.json").read_text())["k"] == 2
    assert not (out / "experts_vs_model.md").exists()


def test_command_refuses_a_bad_mapping_or_a_model_without_mapping(tmp_path, capsys):
    bad = tmp_path / "mapping.yaml"
    bad.write_text("Sanctions on Iran: [Sanctions Presure]\n")
    assert main(["micmac", "--mapping", str(bad), "-o", str(tmp_path / "a")]) == 2
    assert "did you mean 'Sanctions Pressure'" in capsys.readouterr().err
    path = write_matrix(tmp_path / "m.csv", ["A", "B"], [[0, 1], [1, 0]])
    assert main(["micmac", str(path), "--model", str(ROOT / "models" / "iran_russia.mdl"),
                 "-o", str(tmp_path / "b")]) == 2
    assert "needs --mapping" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
