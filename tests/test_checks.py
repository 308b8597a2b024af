"""Reality checks: each predicate type on small frames, parse errors, the shipped file."""
import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

from defdip.core.errors import InputError
from defdip.validation.checks import evaluate, load_checks
from defdip.validation.checks_file import Condition, Predicate, coverage

TIME = pd.Index(np.arange(2010, 2020.25, 0.25), name="time")
RISING = pd.DataFrame({"x": np.linspace(0, 1, len(TIME))}, index=TIME)
FALLING = pd.DataFrame({"x": np.linspace(1, 0, len(TIME))}, index=TIME)


@pytest.mark.parametrize("pred, frame, expected", [
    (Predicate("greater_than", "x", 2012, 2020, value=0.1), RISING, True),
    (Predicate("greater_than", "x", 2010, 2020, value=0.1), RISING, False),
    (Predicate("less_than", "x", 2010, 2015, value=0.51), RISING, True),
    (Predicate("less_than", "x", None, None, value=0.99), RISING, False),
    (Predicate("within", "x", low=0, high=1), RISING, True),
    (Predicate("within", "x", low=0.2, high=1), RISING, False),
    (Predicate("monotone", "x", direction="increasing"), RISING, True),
    (Predicate("monotone", "x", direction="increasing"), FALLING, False),
    (Predicate("monotone", "x", direction="decreasing"), FALLING, True),
    (Predicate("reaches", "x", 2010, value=0.5, by=2016, direction="up"), RISING, True),
    (Predicate("reaches", "x", 2010, value=0.5, by=2014, direction="up"), RISING, False),
    (Predicate("reaches", "x", 2010, value=0.2, by=2019, direction="down"), FALLING, True),
], ids=lambda v: getattr(v, "kind", None))
def test_each_predicate_type(pred, frame, expected):
    assert evaluate(pred, frame).passed is expected


def test_window_edges_and_reaches_time():
    result = evaluate(Predicate("reaches", "x", 2010, value=0.5, by=2016, direction="up"), RISING)
    assert result.observed == pytest.approx(2015.0)


@pytest.mark.parametrize("relation, statistic, margin, expected", [
    ("greater", "mean", 0.0, True), ("greater", "mean", 0.7, False), ("less", "mean", 0.0, False),
    ("greater", "all", 0.1, True), ("greater", "all", 0.3, False), ("greater", "final", 0.5, True),
])
def test_compare_to(relation, statistic, margin, expected):
    pred = Predicate("compare_to", "x", 2016, 2020, reference=Condition(), relation=relation,
                     statistic=statistic, margin=margin)
    assert evaluate(pred, RISING, FALLING).passed is expected


def test_nan_fails():
    frame = RISING.copy()
    frame.iloc[5, 0] = np.nan
    assert not evaluate(Predicate("within", "x", low=0, high=1), frame).passed


def _write(tmp_path, text):
    path = tmp_path / "checks.yaml"
    path.write_text(text)
    return path


GOOD = """checks:
  - name: a
    covers: [R1]
    condition: {set: {war start year: 2100}}
    expect:
      - {type: less_than, variable: Arms Transfers Iran to Russia, value: 0.05, to: 2035}
"""


@pytest.mark.parametrize("bad, words", [
    (GOOD.replace("covers", "cover"), ["check 'a'", "cover", "allowed"]),
    (GOOD.replace("Arms Transfers Iran to Russia", "Arms Transfer Iran to Russia"),
     ["check 'a'", "expect[0].variable", "did you mean", "Arms Transfers Iran to Russia"]),
    (GOOD.replace("less_than", "less_then"), ["expect[0].type", "less_than", "allowed"]),
    (GOOD.replace("war start year", "war start yaer"), ["condition.set", "war start year"]),
    (GOOD.replace("[R1]", "[R9]"), ["covers", "R9", "allowed"]),
    (GOOD.replace("value: 0.05, ", ""), ["expect[0].value", "required"]),
    (GOOD.replace("to: 2035", "to: 2035, colour: red"), ["expect[0].colour", "unknown key"]),
    (GOOD.replace("{set: {war start year: 2100}}", "{scenario: nowhere.yaml}"), ["scenario file not found"]),
    # the value rules of scenario files: within the declared range, for set and series alike
    (GOOD.replace("war start year: 2100", "war fatigue rate: 7"), ["condition.set.war fatigue rate", "outside",
                                                                  "allowed: [0, 0.15]"]),
    (GOOD.replace("{set: {war start year: 2100}}", "{series: {war fatigue rate: [[2010, 0], [2020, 9]]}}"),
     ["condition.series.war fatigue rate[1] value", "outside", "allowed: [0, 0.15]"]),
])
def test_parse_errors_name_file_check_and_key(tmp_path, bad, words):
    path = _write(tmp_path, bad)
    with pytest.raises(InputError) as err:
        load_checks(path)
    message = str(err.value)
    assert str(path) in message
    for word in words:
        assert word in message


def test_good_file_parses(tmp_path):
    (check,) = load_checks(_write(tmp_path, GOOD))
    assert check.condition.sets == (("war start year", 2100.0),)
    assert check.expect[0].end == 2035


def test_shipped_checks_cover_every_loop_and_driver():
    checks = load_checks(ROOT / "models" / "iran_russia.checks.yaml")
    assert len(checks) >= 15
    assert all(names for names in coverage(checks).values())
