"""Range checks at a bound of 0, by every way a value comes in: --set, constants:, series:,
uncertainties: and --vary. 87 of the model's 177 constants have a lower bound of 0, which a check
written as ``if var.low and x < var.low`` would silently drop."""
import pytest
from conftest import SCENARIOS

from defdip.cli.main import main
from defdip.core.errors import InputError
from defdip.core.model import DEFAULT_MODEL, model_info
from defdip.core.scenario import load_scenario
from defdip.sweep.sampling import build_problem, parse_vary

NAME = "war fatigue rate"  # declared [0, 0.15], default 0.03
BELOW = -0.01
REFUSED = f"is outside the declared range of '{NAME}'; allowed: [0, 0.15]"


def test_the_constant_has_a_lower_bound_of_0():
    var = model_info(DEFAULT_MODEL).variables[NAME]
    assert (var.low, var.high) == (0, 0.15) and var.value > 0


def scenario_file(tmp_path, body):
    path = tmp_path / "zero.yaml"
    path.write_text(f"name: zero\ndescription: a bound of 0\n{body}")
    return path


SECTIONS = {
    "constants": lambda x: f"constants:\n  {NAME}: {x}\n",
    "series": lambda x: f"series:\n  {NAME}: [[2010, {x}], [2030, 0.05]]\n",
    "uncertainties-low": lambda x: f"uncertainties:\n  {NAME}: {{dist: uniform, low: {x}, high: 0.1}}\n",
    "uncertainties-triangular": lambda x: (f"uncertainties:\n  {NAME}: {{dist: triangular, low: {x}, "
                                           "mode: 0.05, high: 0.1}\n"),
}


@pytest.mark.parametrize("section", SECTIONS)
def test_a_file_value_below_0_is_refused(tmp_path, section):
    with pytest.raises(InputError, match=f"zero.yaml.*{BELOW:g} {REFUSED}".replace("[", r"\[")):
        load_scenario(scenario_file(tmp_path, SECTIONS[section](BELOW)))


@pytest.mark.parametrize("section", SECTIONS)
def test_a_file_value_of_exactly_0_is_accepted(tmp_path, section):
    scenario = load_scenario(scenario_file(tmp_path, SECTIONS[section](0)))
    if section == "constants":
        assert scenario.constants[NAME] == 0
    elif section == "series":
        assert scenario.series[NAME][0] == (2010, 0)
    else:
        assert scenario.uncertainties[NAME].low == 0


def test_set_below_0_is_refused_by_the_command(tmp_path, capsys):
    assert main(["run", "--set", f"{NAME}={BELOW}", "-o", str(tmp_path)]) == 2
    assert f"--set {NAME}: {BELOW:g} {REFUSED}" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_set_of_exactly_0_is_accepted():
    scenario = load_scenario(SCENARIOS / "baseline.yaml").with_overrides({NAME: 0.0})
    assert scenario.constants[NAME] == 0


def test_vary_below_0_is_refused_by_the_command(tmp_path, capsys):
    assert main(["sweep", "baseline", "--method", "mc", "--samples", "4", "--vary", f"{NAME}={BELOW}:0.1",
                 "-o", str(tmp_path)]) == 2
    assert f"{BELOW:g} {REFUSED}" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_vary_from_exactly_0_is_accepted():
    problem = build_problem(load_scenario(SCENARIOS / "baseline.yaml"), parse_vary([f"{NAME}=0:0.1"]))
    (uncertainty,) = problem.uncertainties
    assert (uncertainty.name, uncertainty.low, uncertainty.high) == (NAME, 0, 0.1)
