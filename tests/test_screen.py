"""`defdip sweep --vary all`: every ranged constant in the problem, and the screen table of a Morris run."""
import numpy as np
import pandas as pd
import pytest
from conftest import SCENARIOS

from defdip.core.errors import InputError
from defdip.core.model import model_info
from defdip.core.scenario import load_scenario
from defdip.sweep.sampling import VARY_ALL, VARY_EVERYTHING, build_problem, parse_vary


def test_vary_all_is_parsed_and_must_stand_alone():
    assert parse_vary(["all"]) == VARY_ALL and parse_vary([" ALL "]) == VARY_ALL
    assert parse_vary(["everything"]) == VARY_EVERYTHING
    with pytest.raises(InputError, match="--vary all: give it alone"):
        parse_vary(["all", "escalation rate=1:8"])


def test_vary_all_keeps_the_scenarios_uncertainties_and_adds_every_ranged_constant():
    scenario = load_scenario(SCENARIOS / "baseline.yaml")
    problem = build_problem(scenario, VARY_ALL)
    ranged = {v.name for v in model_info(scenario.model).constants.values()
              if v.low is not None and v.high is not None and v.low < v.high}
    # left out unless asked (--vary everything): the record's dates and the verdict's definitions,
    # written out by hand from the model file
    left_out = {"war start year", "nk supply start year", "treaty year", "strategic threshold",
                "transition persistence", "index aggregation"}
    assert left_out <= ranged and not left_out & set(problem.names)
    assert not {n for n in problem.names if n.endswith("year")} - set(scenario.uncertainties)
    everything = build_problem(scenario, VARY_EVERYTHING)
    assert set(everything.names) == ranged | set(scenario.uncertainties)
    assert set(problem.names) < set(everything.names)
    assert len(problem.names) > 120 and problem.source == "all ranged constants"
    own = list(scenario.uncertainties)
    assert list(problem.names[:len(own)]) == own  # first, with their own distributions
    info = model_info(scenario.model)
    assert list(problem.uncertainties[:len(own)]) == [scenario.uncertainties[n] for n in own]
    # which is not the declared range: e.g. war end year is sampled over 2027-2043, declared [2010, 2100]
    declared = {n: (info.variables[n].low, info.variables[n].high) for n in own}
    assert any((u.low, u.high) != declared[u.name] for u in problem.uncertainties[:len(own)])
    others = problem.uncertainties[len(own):]
    assert all(u.dist == "uniform" and (u.low, u.high) == (info.variables[u.name].low, info.variables[u.name].high)
               for u in others)


@pytest.mark.slow
def test_morris_vary_all_writes_the_screen(tmp_path, capsys):
    from defdip.cli.main import main

    out = tmp_path / "sweeps"
    assert main(["sweep", str(SCENARIOS / "baseline.yaml"), "--method", "morris", "--vary", "all", "--samples", "4",
                 "--no-figures", "-o", str(out)]) == 0
    screen = pd.read_csv(out / "baseline-morris" / "screen.csv")
    indices = pd.read_csv(out / "baseline-morris" / "indices.csv")
    assert list(screen.columns[:7]) == ["outcome", "constant", "mu_star", "mu_star_conf", "sigma",
                                        "in_uncertainties", "changes_verdict"]
    scenario = load_scenario(SCENARIOS / "baseline.yaml")
    assert set(screen.loc[screen["in_uncertainties"], "constant"]) == set(scenario.uncertainties)
    # the screen is the Morris indices, rearranged: same mu_star per outcome and constant
    mu = indices[indices["index"] == "mu_star"].set_index(["outcome", "parameter"])["value"]
    np.testing.assert_allclose(screen.set_index(["outcome", "constant"])["mu_star"].to_numpy(),
                               mu.reindex(screen.set_index(["outcome", "constant"]).index).to_numpy())
    verdict = screen[screen["outcome"] == "strategic by 2030"]
    assert (verdict["changes_verdict"].astype(bool) == (verdict["mu_star"] > 0)).all()
    assert screen[screen["outcome"] == "transition year"]["changes_verdict"].isna().all()
    assert "screen:" in capsys.readouterr().out
