"""Loops and link polarity from the equations: test models, a model with known loops, the shipped model."""
from pathlib import Path

import pandas as pd
import pytest

from defdip.analysis.loops import (
    MINUS,
    check_max_length,
    check_named_loops,
    find_loops,
    link_effects,
    loops_table,
)
from defdip.cli.main import main
from defdip.core.errors import InputError
from defdip.core.model import DEFAULT_MODEL

TEST_MODELS = Path(__file__).resolve().parent / "models" / "golden"
needs_test_models = pytest.mark.skipif(not TEST_MODELS.is_dir(), reason=f"no test models at {TEST_MODELS.resolve()}")

# Population with births (R), deaths (B) and crowding that cuts births (B);
# a second stock fed through a SMOOTH, with no loop.
POPULATION = """{UTF-8}
Population = INTEG(births - deaths, 100)
	~	people
	~	|
births = Population * birth rate * (1 - crowding)
	~	people/Year
	~	|
deaths = Population / lifetime
	~	people/Year
	~	|
crowding = Population / capacity
	~	Dmnl
	~	|
birth rate = 0.1
	~	1/Year
	~	|
lifetime = 40
	~	Year
	~	|
capacity = 1000
	~	people
	~	|
Smoothed Births = SMOOTH(births, 2)
	~	people/Year
	~	|
INITIAL TIME = 0
	~	Year
	~	|
FINAL TIME = 20
	~	Year
	~	|
TIME STEP = 0.25
	~	Year
	~	|
SAVEPER = 1
	~	Year
	~	|
"""


@pytest.fixture(scope="module")
def population(tmp_path_factory):
    path = tmp_path_factory.mktemp("loops") / "population.mdl"
    path.write_text(POPULATION)
    return path


@pytest.fixture(scope="module")
def population_effects(population):
    return link_effects(population, samples=11)


def test_link_signs_of_the_small_model(population_effects):
    pol = population_effects.polarity
    assert pol("births", "Population") == "+"       # inflow
    assert pol("deaths", "Population") == MINUS     # outflow
    assert pol("Population", "births") == "+"
    assert pol("Population", "deaths") == "+"
    assert pol("Population", "crowding") == "+"
    assert pol("crowding", "births") == MINUS
    assert pol("births", "Smoothed Births") == "+"  # through the SMOOTH's state


def test_known_loops_and_polarities(population_effects):
    loops = {lp.nodes: lp.polarity for lp in find_loops(population_effects)}
    assert loops == {("Population", "births"): "R", ("Population", "deaths"): "B",
                     ("Population", "crowding", "births"): "B"}


def test_partial_derivative_value(population_effects):
    # d births / d crowding = -Population * birth rate, at every sample time.
    d = population_effects.derivative[("crowding", "births")]
    population = population_effects.values["Population"].to_numpy()
    assert d == pytest.approx(-0.1 * population, rel=1e-5)


def test_loop_length_bound(population_effects):
    assert {lp.length for lp in find_loops(population_effects, max_length=2)} == {2}
    with pytest.raises(InputError, match="--max-length"):
        check_max_length(0)


@needs_test_models
def test_teacup_has_one_balancing_loop():
    effects = link_effects(TEST_MODELS / "teacup" / "teacup.mdl", samples=11)
    assert effects.polarity("Heat Loss to Room", "Teacup Temperature") == MINUS
    assert effects.polarity("Teacup Temperature", "Heat Loss to Room") == "+"
    loops = find_loops(effects)
    assert [(lp.nodes, lp.polarity, lp.active_share) for lp in loops] == [
        (("Heat Loss to Room", "Teacup Temperature"), "B", 1.0)]


@needs_test_models
@pytest.mark.parametrize("case", ["smooth/test_smooth.mdl", "delays/test_delays.mdl", "lookups/test_lookups.mdl"])
def test_links_through_statefuls_and_lookups_are_positive(case):
    effects = link_effects(TEST_MODELS / case, samples=11)
    table = effects.table()
    from_input = table[table["source"].isin(["Input", "lookup function call", "rate"])]
    assert len(from_input) and set(from_input["polarity"]) <= {"+", "\u00b1"}
    assert (from_input["share_positive"] > 0.9).all()
    assert find_loops(effects) == []


@pytest.fixture(scope="module")
def shipped_effects():
    return link_effects(DEFAULT_MODEL)


def test_six_named_loops_found_with_their_documented_polarity(shipped_effects):
    checks = check_named_loops(shipped_effects, DEFAULT_MODEL)
    assert [c.label.split()[0] for c in checks] == ["R1", "R2", "B1", "B2", "B3", "B4"]
    for check in checks:
        assert check.missing == [], check.label
        assert check.loop.polarity == check.documented, check.label
    loops = {lp.nodes for lp in find_loops(shipped_effects)}
    from defdip.analysis.loops import _cycle_key
    for check in checks:  # every named loop is one of the enumerated simple cycles
        assert _cycle_key(check.loop.nodes) in loops, check.label


def test_loops_command_prints_and_writes(tmp_path, population, capsys):
    out = tmp_path / "loops"
    assert main(["loops", "--model", str(population), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "3 feedback loops" in printed and "1 R, 2 B" in printed
    table = pd.read_csv(out / "loops.csv")
    assert sorted(table["polarity"]) == ["B", "B", "R"]
    assert (out / "links.csv").is_file() and (out / "named_loops.csv").is_file()
    assert main(["loops", "--model", str(population), "-o", str(out)]) == 2  # no overwrite without --force
    assert main(["loops", "--model", str(population), "--max-length", "0"]) == 2


def test_loops_table_columns(population_effects):
    table = loops_table(find_loops(population_effects))
    assert list(table.columns) == ["loop", "polarity", "mixed", "active_share", "length", "named", "variables"]
    assert table["variables"].str.count("->").tolist() == [2, 2, 3]
