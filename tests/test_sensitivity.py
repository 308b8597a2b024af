"""The SALib wrappers on functions whose indices are known analytically."""
import numpy as np
import pytest

from defdip.analysis.sensitivity import (
    COLUMNS,
    morris_indices,
    oat_swings,
    sobol_indices,
)
from defdip.core.scenario import Uncertainty
from defdip.sweep.sampling import Problem, oat_sample, unit_sample


def ishigami(x, a=7.0, b=0.1):
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_sobol_recovers_ishigami_indices():
    problem = Problem(tuple(Uncertainty(f"x{i}", "uniform", -np.pi, np.pi) for i in (1, 2, 3)),
                      (0.0, 0.0, 0.0), "test")
    unit = unit_sample(problem, "sobol", 4096, seed=1)
    Y = ishigami(problem.scale(unit).to_numpy())
    table = sobol_indices(problem, unit, Y, seed=1)
    assert tuple(table.columns) == COLUMNS
    value = table.set_index(["index", "parameter", "parameter_2"])["value"]
    # Analytical values (Ishigami and Homma 1990; Saltelli et al. 2008).
    for name, s1, st in (("x1", 0.3139, 0.5576), ("x2", 0.4424, 0.4424), ("x3", 0.0, 0.2437)):
        assert value["S1", name, ""] == pytest.approx(s1, abs=0.03)
        assert value["ST", name, ""] == pytest.approx(st, abs=0.03)
    assert value["S2", "x1", "x3"] == pytest.approx(0.2437, abs=0.06)
    assert (table["conf"] > 0).all()
    assert sobol_indices(problem, unit, Y, seed=1).equals(table)


def test_morris_and_oat_on_a_linear_function():
    problem = Problem((Uncertainty("a", "uniform", 0.0, 2.0), Uncertainty("b", "uniform", 5.0, 6.0),
                       Uncertainty("c", "uniform", 0.0, 1.0)), (1.0, 5.5, 0.5), "test")

    def f(x):
        return 3.0 * x[:, 0] - 4.0 * x[:, 1] + 0.0 * x[:, 2]

    unit = unit_sample(problem, "morris", 20, seed=2)
    table = morris_indices(problem, unit, f(problem.scale(unit).to_numpy()), seed=2)
    value = table.set_index(["index", "parameter"])["value"]
    # Effects per full range: 3 x 2, -4 x 1, 0; a linear function has sigma 0.
    assert value["mu_star", "a"] == pytest.approx(6.0) and value["mu", "b"] == pytest.approx(-4.0)
    assert value["mu_star", "c"] == pytest.approx(0.0, abs=1e-12)
    assert value["sigma", "a"] == pytest.approx(0.0, abs=1e-9)
    oat = oat_sample(problem, 5)
    swings = oat_swings(problem, oat.to_numpy(), f(oat.to_numpy())).set_index(["index", "parameter"])["value"]
    assert swings["swing", "a"] == pytest.approx(6.0) and swings["swing", "b"] == pytest.approx(-4.0)
    assert swings["base", "c"] == pytest.approx(3.0 - 22.0)
    with pytest.raises(ValueError, match="one outcome per run"):
        oat_swings(problem, oat.to_numpy(), np.zeros(3))


@pytest.mark.parametrize("differ, defined", [(0, False), (1, False), (100, True)])
def test_sobol_of_an_outcome_that_nearly_never_varies_is_not_a_number(differ, defined):
    """One run in thousands away from 2035 gave ST 1.44: such indices are NaN with a stated reason."""
    problem = Problem(tuple(Uncertainty(f"x{i}", "uniform", 0.0, 1.0) for i in (1, 2, 3)), (0.5,) * 3, "test")
    unit = unit_sample(problem, "sobol", 1024, seed=1)
    Y = np.full(len(unit), 2035.0)
    Y[np.argsort(unit[:, 0])[:differ]] = 2030.0  # the runs with the lowest x1 reach it earlier
    table = sobol_indices(problem, unit, Y, seed=1)
    assert table["value"].notna().all() == defined and table["conf"].notna().all() == defined
    note = table["note"].iloc[0]
    assert (table["note"] == note).all()
    if differ == 0:
        assert note == "does not vary: 2035 in every run"
    elif not defined:
        assert note.startswith(f"not defined: 1 of {len(unit):,} runs differ from 2035")
    else:
        assert note == ""


def test_ranking_lists_no_constant_when_every_index_is_zero():
    from types import SimpleNamespace

    import pandas as pd

    from defdip.sweep.report import ranking

    table = pd.DataFrame({"outcome": "o", "index": "mu_star", "parameter": ["a", "b"], "value": [0.0, 0.0]})
    assert ranking(SimpleNamespace(method="morris"), None, table, "o") == []
    table["value"] = [0.0, 0.3]
    assert ranking(SimpleNamespace(method="morris"), None, table, "o") == [{"constant": "b", "mu_star": 0.3}]
