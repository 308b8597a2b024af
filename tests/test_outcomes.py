"""Outcomes over runs, against the one-run functions of defdip.analysis.phases, on synthetic arrays."""
import numpy as np
import pytest

from defdip.analysis.outcomes import (
    evaluate,
    for_indices,
    parse_outcome,
    parse_outcomes,
    sentinel,
)
from defdip.analysis.phases import transition_years, values_at, years_in_phase
from defdip.core.errors import InputError
from defdip.core.model import DEFAULT_MODEL, model_info

TIME = np.arange(2010, 2035.001, 0.25)


def reference_transition(time, phase, persistence, end=None):
    """The rule as the interface states it, one stretch at a time in plain Python (the oracle)."""
    end = time[-1] if end is None else end
    i = 0
    while i < len(time):
        if round(phase[i]) != 3:
            i += 1
            continue
        j = i
        while j + 1 < len(time) and round(phase[j + 1]) == 3:
            j += 1
        stop = time[j + 1] if j + 1 < len(time) else end
        if stop - time[i] >= persistence - 1e-9:
            return float(time[i])
        i = j + 1
    return None


def random_phases(runs, seed=0):
    rng = np.random.default_rng(seed)
    # Runs of random lengths in random phases, so stretches of every length occur.
    phase = np.ones((runs, len(TIME)))
    for r in range(runs):
        i = 0
        while i < len(TIME):
            length = rng.integers(1, 16)
            phase[r, i:i + length] = rng.integers(1, 4)
            i += length
    return phase


@pytest.mark.parametrize("persistence", [0.0, 0.25, 2.0, 3.5])
def test_transition_years_match_the_stated_rule(persistence):
    phase = random_phases(300, seed=int(persistence * 4))
    got = transition_years(TIME, phase, persistence)
    for r in range(len(phase)):
        want = reference_transition(TIME, phase[r], persistence)
        assert (np.isnan(got[r]) and want is None) or got[r] == want, r
    assert np.isnan(got).any() and (~np.isnan(got)).any()  # both cases were exercised


def test_persistence_per_run_and_final_time():
    phase = np.ones((2, len(TIME)))
    phase[:, -9:] = 3  # strategic for the last 2 years (8 intervals) of the saved times
    got = transition_years(TIME, phase, np.array([2.0, 2.5]))
    assert got[0] == TIME[-9] and np.isnan(got[1])
    assert transition_years(TIME, phase, 2.5, final_time=2035.5)[0] == TIME[-9]


def test_values_at_interpolates_linearly():
    values = np.sin(TIME / 3)[None, :] * np.arange(1, 4)[:, None]
    for year in (2010, 2022.1, 2030, 2035):
        assert values_at(TIME, values, year)[1] == pytest.approx(np.interp(year, TIME, values[1]), rel=1e-12)
    assert values_at(TIME, values, 2030)[2] == values[2, TIME.tolist().index(2030)]
    assert np.isnan(values_at(TIME, values, 2040)).all()


def test_years_in_phase_add_up_to_the_horizon():
    phase = random_phases(50, seed=3)
    total = sum(years_in_phase(TIME, phase, p) for p in (1, 2, 3))
    assert np.allclose(total, TIME[-1] - TIME[0])
    one = np.ones((1, len(TIME)))
    one[0, :4] = 3  # 2010.00-2010.75 in phase 3: four saved steps of 0.25
    assert years_in_phase(TIME, one, 3)[0] == 1.0


def test_evaluate_and_sentinel():
    info = model_info(DEFAULT_MODEL)
    outcomes = parse_outcomes(["transition year", "strategic by 2030", "years in phase 3",
                               "strategic partnership index@2030"], info)
    phase = np.ones((3, len(TIME)))
    phase[0, TIME >= 2028] = 3
    phase[1, TIME >= 2031] = 3
    spi = np.tile(np.linspace(0, 1, len(TIME)), (3, 1))
    got = evaluate(outcomes, TIME, {"Partnership Phase": phase, "Strategic Partnership Index": spi})
    assert got["transition year"][:2].tolist() == [2028.0, 2031.0] and np.isnan(got["transition year"][2])
    assert got["strategic by 2030"].tolist() == [1.0, 0.0, 0.0]
    assert got["years in phase 3"].tolist() == [7.0, 4.0, 0.0]
    assert got["Strategic Partnership Index@2030"] == pytest.approx([0.8] * 3)
    filled = for_indices(outcomes[0], got["transition year"], TIME, 2.0)
    assert filled[2] == sentinel(TIME, 2.0) == 2037.0 and filled[0] == 2028.0


@pytest.mark.parametrize("spec, message", [("Coopration Depth@2030", "did you mean"),
                                           ("Cooperation Depth@soon", "not a number"),
                                           ("years in phase 4", "not an outcome")])
def test_bad_outcome_specs(spec, message):
    with pytest.raises(InputError, match=message):
        parse_outcome(spec, model_info(DEFAULT_MODEL))


# ------------------------------------------------------------- a phase per element (two partners)
PARTNERS_MODEL = DEFAULT_MODEL.parent / "russia_partners.mdl"


@pytest.fixture(scope="module")
def partners_info():
    return model_info(PARTNERS_MODEL)


def test_verdict_outcomes_name_an_element_of_a_subscripted_phase(partners_info):
    outcome = parse_outcome("strategic by 2030 [DPRK]", partners_info)
    assert (outcome.spec, outcome.kind, outcome.year, outcome.element) == (
        "strategic by 2030[DPRK]", "strategic_by", 2030.0, "DPRK")
    assert outcome.needs == "Partnership Phase[DPRK]"
    assert parse_outcome("years in phase 2[Iran]", partners_info).needs == "Partnership Phase[Iran]"
    defaults = [o.spec for o in parse_outcomes(None, partners_info)]
    assert {"transition year[Iran]", "transition year[DPRK]", "strategic by 2030[DPRK]",
            "Strategic Commitment[Iran]@2030"} <= set(defaults)
    assert "transition year" not in defaults


@pytest.mark.parametrize("spec, message", [
    ("transition year", "subscripted; name one element"),
    ("transition year[Syria]", "not an element of 'Partnership Phase'; allowed: Iran, DPRK"),
])
def test_a_subscripted_phase_needs_a_known_element(partners_info, spec, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse_outcome(spec, partners_info)


def test_an_element_of_a_scalar_phase_is_refused():
    with pytest.raises(InputError, match="is not subscripted; allowed: 'transition year'"):
        parse_outcome("transition year[Iran]", model_info(DEFAULT_MODEL))


def test_each_element_is_read_from_its_own_phase_column(partners_info):
    """Two partners with different phase paths: each outcome equals the one-run rule on its own
    column (the oracle), never the other's."""
    iran = np.where(TIME >= 2030, 3.0, 1.0)[None, :]
    dprk = np.where(TIME >= 2025, 3.0, 2.0)[None, :]
    data = {"Partnership Phase[Iran]": iran, "Partnership Phase[DPRK]": dprk}
    specs = ["transition year[Iran]", "transition year[DPRK]", "strategic by 2026[Iran]",
             "strategic by 2026[DPRK]", "years in phase 2[DPRK]"]
    got = evaluate(parse_outcomes(specs, partners_info), TIME, data, persistence=2.0)
    assert got["transition year[Iran]"][0] == reference_transition(TIME, iran[0], 2.0) == 2030.0
    assert got["transition year[DPRK]"][0] == reference_transition(TIME, dprk[0], 2.0) == 2025.0
    assert (got["strategic by 2026[Iran]"][0], got["strategic by 2026[DPRK]"][0]) == (0.0, 1.0)
    assert got["years in phase 2[DPRK]"][0] == pytest.approx(15.0)
