"""Sampling: seeds, bounds, distributions, designs and --vary validation."""
import numpy as np
import pytest
import yaml
from conftest import SCENARIOS

from defdip.core.errors import InputError
from defdip.core.model import model_info
from defdip.core.scenario import Uncertainty, load_scenario, scenario_from_model
from defdip.sweep.sampling import (
    Problem,
    build_problem,
    oat_sample,
    parse_vary,
    sample,
    unit_sample,
)


@pytest.fixture(scope="module")
def baseline_scenario():
    return load_scenario(SCENARIOS / "baseline.yaml")


@pytest.fixture(scope="module")
def problem(baseline_scenario):
    return build_problem(baseline_scenario)


@pytest.mark.parametrize("method", ["mc", "lhs", "sobol", "morris"])
def test_same_seed_same_bits_other_seed_other_sample(problem, method):
    a, b = sample(problem, method, 16, seed=7), sample(problem, method, 16, seed=7)
    assert a.to_numpy().tobytes() == b.to_numpy().tobytes()
    assert list(a.columns) == list(problem.names) and a.index.name == "run"
    assert not np.array_equal(a.to_numpy(), sample(problem, method, 16, seed=8).to_numpy())


# Runs for N = 16 and k sampled constants: Saltelli N(2k + 2), Morris N(k + 1), OAT 1 + kN.
@pytest.mark.parametrize("method, runs", [("mc", lambda k: 16), ("lhs", lambda k: 16),
                                          ("sobol", lambda k: 16 * (2 * k + 2)),
                                          ("morris", lambda k: 16 * (k + 1)), ("oat", lambda k: 1 + k * 16)],
                         ids=["mc", "lhs", "sobol", "morris", "oat"])
def test_sizes_and_bounds(baseline_scenario, problem, method, runs):
    # k read from the file itself, not from the sampler (27 when written)
    k = len(yaml.safe_load((SCENARIOS / "baseline.yaml").read_text())["uncertainties"])
    table = sample(problem, method, 16, seed=1)
    assert len(table) == runs(k)
    info = model_info(baseline_scenario.model)
    for u in problem.uncertainties:
        inside = table[u.name].between(u.low, u.high)
        if method == "oat":
            # OAT holds the others at the scenario's own value, which may lie outside the range a sweep
            # samples (war end year: 2100, sampled over 2027-2043)
            own = baseline_scenario.constants.get(u.name, info.variables[u.name].value)
            inside |= table[u.name] == own
        assert inside.all(), u.name


def test_distributions_are_mapped():
    tri = Uncertainty("a", "triangular", 0.0, 3.0, mode=0.5)
    log = Uncertainty("b", "loguniform", 1.0, 100.0)
    uni = Uncertainty("c", "uniform", 10.0, 20.0)
    problem = Problem((tri, log, uni), (0.5, 10.0, 15.0), "test")
    table = sample(problem, "lhs", 4000, seed=3)
    assert table["a"].mean() == pytest.approx((0 + 0.5 + 3) / 3, abs=0.02)
    assert table["a"].median() < 1.2  # skewed towards the mode, far below the uniform's 1.5
    assert np.median(table["b"]) == pytest.approx(10.0, rel=0.03)  # geometric midpoint
    assert table["c"].mean() == pytest.approx(15.0, abs=0.05)
    unit = unit_sample(problem, "lhs", 4000, seed=3)
    assert np.array_equal(problem.scale(unit)["b"].to_numpy(), table["b"].to_numpy())


def test_problem_source_order(baseline_scenario):
    vary = build_problem(baseline_scenario, {"Escalation Rate": (2.0, 3.0)})
    assert vary.names == ("escalation rate",) and vary.source == "--vary"
    assert vary.uncertainties[0].dist == "uniform" and vary.baseline == (4.0,)
    assert build_problem(baseline_scenario).source == "scenario uncertainties"
    bare = build_problem(scenario_from_model(baseline_scenario.model))
    assert bare.source == "declared ranges" and len(bare.names) > 50
    assert all(u.low < u.high for u in bare.uncertainties)


def test_oat_layout(problem):
    table = oat_sample(problem, 3)
    assert table.iloc[0].tolist() == list(problem.baseline)
    first = problem.uncertainties[0]
    assert table.iloc[1:4][first.name].tolist() == [first.low, first.ppf(0.5), first.high]
    assert (table.iloc[1:4].drop(columns=first.name) == table.iloc[0].drop(first.name)).all().all()


@pytest.mark.parametrize("item, message", [
    ("escalation rat=1:2", "did you mean 'escalation rate'"),
    ("Cooperation Depth=0:1", "only constants can be varied"),
    ("escalation rate=3:2", "must be below HIGH"),
    ("escalation rate=0:20", "allowed: [0.1, 12]"),
    ("escalation rate=1-2", "expected NAME=LOW:HIGH"),
    ("escalation rate=a:2", "must be numbers"),
])
def test_vary_is_validated(baseline_scenario, item, message):
    with pytest.raises(InputError) as err:
        build_problem(baseline_scenario, parse_vary([item]))
    assert message in str(err.value)


def test_bad_method_and_size(problem):
    with pytest.raises(InputError, match="allowed: oat, mc, lhs, sobol, morris"):
        sample(problem, "grid", 10)
    with pytest.raises(InputError, match="at least 2"):
        sample(problem, "sobol", 1)
