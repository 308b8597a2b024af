"""Loops and link polarity from the equations: test models, a model with known loops, the shipped model."""
import itertools
import math
import re
from pathlib import Path

import networkx as nx
import numpy as np
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
from defdip.analysis.structure import named_loops
from defdip.cli.main import main
from defdip.core.errors import InputError
from defdip.core.model import DEFAULT_MODEL
from defdip.core.names import canonical

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


# --- the ten named loops of the shipped model, against a derivation by hand --------------------
#
# Each loop as the .About group of models/iran_russia.mdl documents it: (variable, sign of the link
# from it to the next variable; the last links back to the first). The signs are read by hand from
# the equations in the .mdl, with the constants at their values there (all >= 0); a stock's inflow
# counts +, its outflow -. The loop's polarity is the product: R if +, B if -.
#
# One link's sign depends on the state: Reciprocity = (1 - ABS(RI - IR) / (RI + IR)) * MIN(1,
# MIN(RI, IR) / floor), i.e. 2 RI / (RI + IR) * ... while RI < IR: it rises with RI (+) while Russia
# delivers less than Iran, and falls with it (2 IR / (RI + IR), -) once Russia delivers more. The
# documented R of R1 and R3 holds in the first regime, the two-sided phase the loops describe; that
# is the sign written here, marked "(RI < IR)". The .About group notes the flip for R1 and R3 and labels
# both by their reinforcing regime.
_RI, _IR = "Arms Transfers Russia to Iran", "Arms Transfers Iran to Russia"
HAND_LOOPS = {
    "R1": [  # + + + + + + + + + + + + + + : 14 x (+) = + -> R
        (_IR, +1),                                # Reliance = Iran to Russia Transfer Index = IR / (IR + ref)
        ("Russian Reliance on Iran", +1),         # Willingness = (0.5 + 0.5 * Trust) * (1 + 1 * Reliance)
        ("Russian Willingness to Supply", +1),    # Gate = 1 / (1 + EXP(25 * (Cost - 1.25 * Willingness)))
        ("Russian Delivery Gate", +1),            # MIN(Backlog * Gate / release time, capacity)
        ("ri production starts", +1),             # inflow of RI Arms in Preparation
        ("RI Arms in Preparation", +1),           # RI = RI Arms in Preparation / preparation time
        (_RI, +1),                                # Reciprocity, (RI < IR): see above
        ("Reciprocity", +1),                      # indicated trust = MIN(1, ... + 0.3 * Reciprocity + ...)
        ("indicated trust", +1),                  # building = MAX(0, indicated - Mutual Trust) / 3
        ("trust building", +1),                   # inflow of Mutual Trust
        ("Mutual Trust", +1),                     # Willingness = MIN(1, Trust / 0.5) * MIN(1, 0.2 + 0.8 * Need)
        ("Iran Willingness to Supply", +1),       # contracting = Demand * Willingness * 600 * Capacity
        ("ir contracting", +1),                   # inflow of IR Supply Pipeline
        ("IR Supply Pipeline", +1),               # IR = IR Supply Pipeline / ir shipment time
    ],
    "R2": [  # 10 x (+) = + -> R
        (_IR, +1),                                # IR index = IR / (IR + ref)
        ("Iran to Russia Transfer Index", +1),    # MIN(0.25, 0.2 * (IR index + 0.5 * RI index))
        ("sanctions for arms trade", +1),         # indicated = MIN(1, ... + sanctions for arms trade)
        ("indicated sanctions pressure", +1),     # imposition = MAX(0, indicated - Sanctions Pressure) / 0.25
        ("sanctions imposition", +1),             # inflow of Sanctions Pressure
        ("Sanctions Pressure", +1),               # Need = MIN(1, 0.6 * SP + ...) * (1 - 0.5 * transition)
        ("Iran Need for Russia", +1),             # Willingness = MIN(1, Trust / 0.5) * MIN(1, 0.2 + 0.8 * Need)
        ("Iran Willingness to Supply", +1),       # contracting = Demand * Willingness * ...
        ("ir contracting", +1),                   # inflow of IR Supply Pipeline
        ("IR Supply Pipeline", +1),               # IR = pipeline / shipment time
    ],
    "R3": [  # 12 x (+) = + -> R
        ("Strategic Commitment", +1),             # Release = MAX(0, MIN(1, (SC - 0.45) / (0.75 - 0.45)))
        ("Top Tier Release", +1),                 # contracting = Requests * Release * Supply Gate / 0.58
        ("top tier contracting", +1),             # inflow of RI Order Backlog
        ("RI Order Backlog", +1),                 # MIN(Backlog * Gate / release time, capacity)
        ("ri production starts", +1),             # inflow of RI Arms in Preparation
        ("RI Arms in Preparation", +1),           # RI = RI Arms in Preparation / preparation time
        (_RI, +1),                                # Reciprocity, (RI < IR): see above
        ("Reciprocity", +1),                      # update = (Reciprocity - Sustained) / 2
        ("reciprocity memory update", +1),        # net inflow of Sustained Reciprocity
        ("Sustained Reciprocity", +1),            # grounds (mean, cw 1) * (1 - 0.3 * RDI), RDI <= 1
        ("indicated commitment", +1),             # building = MAX(0, indicated - SC) / 4
        ("commitment building", +1),              # inflow of Strategic Commitment
    ],
    "R4": [  # + + - + + - + + + : two (-) = + -> R
        ("Strategic Commitment", +1),             # level = MAX(0, MIN(1, 0.2 + 0.8 * SC - 0.4 * RDI))
        ("crisis support level", +1),             # Support = Iran Attacked * level
        ("Russian Crisis Support", -1),           # letdown = Iran Attacked * MAX(0, Expected - Support)
        ("crisis letdown", +1),                   # defection rate = ... + 2 * letdown
        ("defection rate", +1),                   # erosion = ... + Trust * rate * (1 - 0.5 * SC)
        ("trust erosion", -1),                    # outflow of Mutual Trust
        ("Mutual Trust", +1),                     # grounds (mean, cw 1) * (1 - 0.3 * RDI)
        ("indicated commitment", +1),             # building = MAX(0, indicated - SC) / 4
        ("commitment building", +1),              # inflow of Strategic Commitment
    ],
    "R5": [  # 5 x (+) = + -> R
        ("Mutual Trust", +1),                     # MAX(0, framework - Inst) * (0.1 + 0.8 * Trust * Depth)
        ("institution building", +1),             # inflow of Institutionalisation
        ("Institutionalisation", +1),             # indicated trust = MIN(1, ... + 0.25 * Inst + ...)
        ("indicated trust", +1),                  # building = MAX(0, indicated - Mutual Trust) / 3
        ("trust building", +1),                   # inflow of Mutual Trust
    ],
    "B1": [  # one (-) = - -> B
        (_RI, +1),                                # RI index = RI / (RI + ref)
        ("Russia to Iran Transfer Index", +1),    # MIN(0.25, 0.2 * (IR index + 0.5 * RI index))
        ("sanctions for arms trade", +1),         # indicated = MIN(1, ... + sanctions for arms trade)
        ("indicated sanctions pressure", +1),     # imposition = MAX(0, indicated - Sanctions Pressure) / 0.25
        ("sanctions imposition", +1),             # inflow of Sanctions Pressure
        ("Sanctions Pressure", +1),               # Cost = 1 * RWR * SP * (1 - JCPOA) + ..., RWR >= 0
        ("Russian Delivery Cost", -1),            # Gate = 1 / (1 + EXP(25 * (Cost - ...)))
        ("Russian Delivery Gate", +1),            # MIN(Backlog * Gate / release time, capacity)
        ("ri production starts", +1),             # inflow of RI Arms in Preparation
        ("RI Arms in Preparation", +1),           # RI = RI Arms in Preparation / preparation time
    ],
    "B2": [  # one (-) = - -> B
        (_RI, +1),                                # RI index = RI / (RI + ref)
        ("Russia to Iran Transfer Index", +1),    # rise = RI index * (1 - Alarm) / 0.5, Alarm <= 1
        ("alarm rise", +1),                       # inflow of Regional Alarm
        ("Regional Alarm", +1),                   # Cost = ... + 0.5 * (base restraint + Alarm)
        ("Russian Delivery Cost", -1),            # Gate = 1 / (1 + EXP(25 * (Cost - ...)))
        ("Russian Delivery Gate", +1),            # MIN(Backlog * Gate / release time, capacity)
        ("ri production starts", +1),             # inflow of RI Arms in Preparation
        ("RI Arms in Preparation", +1),           # RI = RI Arms in Preparation / preparation time
    ],
    "B3": [  # one (-) = - -> B
        ("Russian Military Demand", +1),          # MIN(1, TIE/0.3) * MIN(1, Demand/0.2) * (0.45 - RLP)/1.5
        ("localisation growth", +1),              # inflow of Russian Localised Production
        ("Russian Localised Production", -1),     # gap = MAX(0, consumption - 0.35 - RLP - NK)
        ("munitions gap", +1),                    # build up = MAX(0, gap - Demand) / 0.25
        ("demand build up", +1),                  # inflow of Russian Military Demand
    ],
    "B4": [  # one (-) = - -> B
        ("Russian Military Demand", +1),          # decline = MAX(0, Demand - gap) / 0.25
        ("demand decline", -1),                   # outflow of Russian Military Demand
    ],
    "B5": [  # + + - - - : three (-) = - -> B
        ("Russian Military Demand", +1),          # growth = open * Demand * MAX(0, 0.3 - NK) / 1
        ("nk supply growth", +1),                 # inflow of North Korean Supply to Russia
        ("North Korean Supply to Russia", -1),    # gap = MAX(0, consumption - 0.35 - RLP - NK)
        ("munitions gap", -1),                    # decline = MAX(0, Demand - gap) / 0.25
        ("demand decline", -1),                   # outflow of Russian Military Demand
    ],
}
HAND_POLARITY = {code: "R" if math.prod(sign for _, sign in links) > 0 else "B"
                 for code, links in HAND_LOOPS.items()}

# R3 and R4 are dormant in the baseline, so their polarity cannot be read there: Strategic Commitment
# stays below top tier release onset (0.45), so Top Tier Release is 0 throughout (R3), and Iran
# expects less support than Russia gives in the 2025 and 2026 wars, so crisis letdown is 0 (R4).
# They are read in a run that wakes them, with two constants at ends of their declared ranges.
AWAKE = {"top tier release onset": 0.2, "expected support from institutions": 1.5}
READ_IN = {"R3": "awake", "R4": "awake"}


@pytest.fixture(scope="module")
def awake_effects():
    return link_effects(DEFAULT_MODEL, params=AWAKE)


def test_hand_derivation_covers_the_documented_chains_and_labels():
    loops = named_loops(DEFAULT_MODEL)
    assert [label.split()[0] for label in loops] == list(HAND_LOOPS)
    for label, chain in loops.items():
        code = label.split()[0]
        assert [canonical(name) for name, _ in HAND_LOOPS[code]] == [canonical(name) for name in chain], label
        assert HAND_POLARITY[code] == code[0], label  # the hand derivation agrees with the R/B label


def _link_signs(effects, a: str, b: str) -> np.ndarray:
    """Sign of the documented link a -> b at each sample time: the product along the shortest path,
    as check_named_loops walks it (0 where a link of the path is inactive)."""
    path = nx.shortest_path(effects.graph, a, b)
    return np.prod([effects.signs(u, v) for u, v in itertools.pairwise(path)], axis=0)


# R1 and R3 run through Arms Transfers Russia to Iran -> Reciprocity, whose sign is the state's (above):
# their polarity is checked time by time against the regime, R while RI < IR and B once RI > IR.
STATE_DEPENDENT = ("R1", "R3")


@pytest.mark.parametrize("code", STATE_DEPENDENT)
def test_reciprocity_loops_are_reinforcing_while_iran_sends_more_and_balancing_after(
        shipped_effects, awake_effects, code):
    effects = awake_effects if READ_IN.get(code) == "awake" else shipped_effects
    links = HAND_LOOPS[code]
    sign = np.prod([_link_signs(effects, a, b) for (a, _), (b, _) in zip(links, links[1:] + links[:1])], axis=0)
    ri, ir = effects.values[_RI].to_numpy(float), effects.values[_IR].to_numpy(float)
    expected = np.where(ri < ir, +1, -1)
    active = sign != 0
    assert active.any() and (ri[active] < ir[active]).any(), code  # the reinforcing regime is on the run
    np.testing.assert_array_equal(sign[active], expected[active], err_msg=code)


@pytest.mark.parametrize("code", [c for c in HAND_LOOPS if c not in STATE_DEPENDENT])
def test_named_loop_has_its_documented_polarity(shipped_effects, awake_effects, code):
    effects = awake_effects if READ_IN.get(code) == "awake" else shipped_effects
    check = next(c for c in check_named_loops(effects, DEFAULT_MODEL) if c.label.split()[0] == code)
    assert check.missing == [], check.label
    links = HAND_LOOPS[code]
    disagree = []
    for (a, sign), (b, _) in zip(links, links[1:] + links[:1]):
        signs = _link_signs(effects, a, b)
        if (signs == -sign).any():
            disagree.append(f"{a} -> {b}: hand {sign:+d}, computed {int((signs > 0).sum())}x +, "
                            f"{int((signs < 0).sum())}x - of {signs.size} sample times")
    assert check.loop.polarity == HAND_POLARITY[code] == check.documented, (
        f"{check.label}: documented {check.documented}, derived by hand {HAND_POLARITY[code]}, computed "
        f"{check.loop.polarity} (active at {check.loop.active_share:.0%} of the run); links against the "
        f"hand signs: {disagree or 'none'}")


def test_every_named_loop_is_an_enumerated_cycle(shipped_effects):
    from defdip.analysis.loops import _cycle_key

    checks = check_named_loops(shipped_effects, DEFAULT_MODEL)
    assert [c.label.split()[0] for c in checks] == list(HAND_LOOPS)
    loops = {lp.nodes for lp in find_loops(shipped_effects)}
    for check in checks:
        assert check.missing == [], check.label
        assert _cycle_key(check.loop.nodes) in loops, check.label


def test_loops_command_prints_and_writes(tmp_path, population, capsys):
    out = tmp_path / "loops"  # -o is the parent folder; loops names its own
    assert main(["loops", "--model", str(population), "-o", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "3 feedback loops" in printed and "1 R, 2 B" in printed
    table = pd.read_csv(out / "loops.csv")
    assert sorted(table["polarity"]) == ["B", "B", "R"]
    assert (out / "links.csv").is_file() and (out / "named_loops.csv").is_file()
    assert main(["loops", "--model", str(population), "-o", str(tmp_path)]) == 2  # no overwrite without --force
    assert main(["loops", "--model", str(population), "--max-length", "0"]) == 2


def test_loops_command_prints_the_named_and_shortest_loops_and_says_where_the_rest_are(tmp_path, capsys):
    from defdip.cli.micmac import LOOPS_PRINTED

    assert main(["loops", "-o", str(tmp_path)]) == 0
    printed = capsys.readouterr().out.splitlines()
    listed = [line for line in printed if re.match(r"^ *L\d+ [RB?] len", line)]
    total = len(pd.read_csv(tmp_path / "loops" / "loops.csv"))
    named = [line for line in listed if "  [" in line]
    assert total > LOOPS_PRINTED + len(HAND_LOOPS)  # the shipped model has more loops than are printed
    assert len(named) == len(HAND_LOOPS) and len(listed) <= LOOPS_PRINTED + len(named)
    assert f"... and {total - len(listed)} more loops not printed (all of them in {tmp_path / 'loops' / 'loops.csv'}" \
        in "\n".join(printed)
    assert main(["loops", "--all"]) == 0
    assert len([line for line in capsys.readouterr().out.splitlines() if re.match(r"^ *L\d+ [RB?] len", line)]) == total


def test_loops_table_columns(population_effects):
    table = loops_table(find_loops(population_effects))
    assert list(table.columns) == ["loop", "polarity", "mixed", "active_share", "length", "named", "variables"]
    assert table["variables"].str.count("->").tolist() == [2, 2, 3]
