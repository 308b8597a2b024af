"""The --where grammar: parsing, evaluation against hand-computed truth, and its error messages."""
import json

import numpy as np
import pandas as pd
import pytest

from defdip.analysis.where import parse_where
from defdip.cli.main import main
from defdip.core.errors import InputError

OUTCOMES = ("transition year", "strategic by 2030", "years in phase 3", "Reciprocity@2030",
            "Technical and Industrial Exchange@2030")
BOOLEANS = ("strategic by 2030",)
TABLE = pd.DataFrame({"transition year": [2027.0, 2031.5, np.nan, 2033.0],
                      "strategic by 2030": [1.0, 0.0, 0.0, 0.0],
                      "years in phase 3": [8.0, 3.5, 0.0, 2.0],
                      "Reciprocity@2030": [0.8, 0.4, 0.2, 0.6],
                      "Technical and Industrial Exchange@2030": [0.5, 0.1, 0.3, 0.9]})
NEVER = {"transition year": np.inf}


def evaluate(text, missing=NEVER):
    return parse_where(text, OUTCOMES, BOOLEANS).evaluate(TABLE, missing).tolist()


@pytest.mark.parametrize("text, expected", [
    ("transition year <= 2032", [True, True, False, False]),
    ("transition year > 2032", [False, False, True, True]),          # no transition: later than any year
    ("2027 < transition year <= 2033", [False, True, False, True]),  # a chain is a conjunction
    ("strategic by 2030", [True, False, False, False]),
    ("not strategic by 2030 and Reciprocity@2030 >= 0.4", [False, True, False, True]),
    ("strategic by 2030 or years in phase 3 == 2", [True, False, False, True]),
    ("not (transition year <= 2032 or Reciprocity@2030 < 0.3)", [False, False, False, True]),
    ("Reciprocity@2030 > 0.5 and years in phase 3 > 5 or transition year == 2033",
     [True, False, False, True]),  # and binds tighter than or
    ("Technical and Industrial Exchange@2030 > 0.4", [True, False, False, True]),  # 'and' inside a name
    ("TRANSITION   Year != 2027", [False, True, True, True]),             # case and spacing forgiven
    ("'years in phase 3' >= 3.5", [True, True, False, False]),
    ("Reciprocity@2030 > 5e-1", [True, False, False, True]),
])
def test_conditions_evaluate_as_written(text, expected):
    assert evaluate(text) == expected


def test_without_missing_value_a_nan_comparison_is_false():
    assert evaluate("transition year > 2032", missing={}) == [False, False, False, True]


def test_names_read_are_listed_once_in_order():
    where = parse_where("Reciprocity@2030 > 0.5 or transition year < 2030 and Reciprocity@2030 < 0.9", OUTCOMES)
    assert where.names == ("Reciprocity@2030", "transition year")


@pytest.mark.parametrize("text, message", [
    ("transition yr <= 2032", "unknown outcome 'transition yr'; did you mean 'transition year'"),
    ("strategic by 2031", "unknown outcome 'strategic by 2031'"),
    ("transition year <= ", "ends too early"),
    ("transition year <= 2032)", "unexpected ')'"),
    ("(transition year <= 2032", "expected ')'"),
    ("transition year = 2032", "'=' at character 17 is not an operator"),
    ("transition year <= 2032 and", "ends too early"),
    ("'transition year <= 2032", "quote at character 1 is not closed"),
    ("2030 < 2032", "compares two numbers"),
    ("", "empty condition"),
])
def test_bad_syntax_and_unknown_names_are_refused(text, message):
    with pytest.raises(InputError, match=None) as err:
        parse_where(text, OUTCOMES, BOOLEANS)
    assert message in str(err.value)
    assert str(err.value).startswith(f"--where {text!r}")


@pytest.mark.parametrize("text, message", [
    ("transition year", "'transition year' is not boolean"),
    ("not years in phase 3", "'years in phase 3' is not boolean"),
    ("strategic by 2030 and Reciprocity@2030", "'Reciprocity@2030' is not boolean"),
    ("2032", "the number 2032 is not a condition"),
    ("strategic by 2030 or 1", "the number 1 is not a condition"),
])
def test_non_boolean_expressions_are_refused(text, message):
    with pytest.raises(InputError) as err:
        parse_where(text, OUTCOMES, BOOLEANS)
    assert message in str(err.value)


@pytest.fixture
def sweep_folder(tmp_path):
    """A sweep folder's three tables (as `defdip sweep` writes them), from made-up numbers."""
    folder = tmp_path / "toy-lhs"
    folder.mkdir()
    rng = np.random.default_rng(1)
    samples = pd.DataFrame({"escalation rate": rng.uniform(1, 8, 40), "war fatigue rate": rng.uniform(0, 0.1, 40)},
                           index=pd.RangeIndex(40, name="run"))
    outcomes = pd.DataFrame({"transition year": np.where(samples["war fatigue rate"] < 0.05, 2028.0, np.nan),
                             "strategic by 2030": (samples["war fatigue rate"] < 0.05).astype(float)},
                            index=samples.index)
    samples.to_csv(folder / "samples.csv")
    samples.join(outcomes).to_csv(folder / "outcomes.csv")
    (folder / "summary.json").write_text(json.dumps({
        "scenario": "toy", "method": "lhs", "outcomes": {k: {} for k in outcomes},
        "problem": {"constants": [{"name": "escalation rate", "low": 1, "high": 8},
                                  {"name": "war fatigue rate", "low": 0, "high": 0.1}]}}))
    return folder


@pytest.mark.parametrize("where, message", [
    ("transition yr <= 2032", "unknown outcome 'transition yr'"),
    ("transition year <=", "ends too early"),
    ("transition year", "is not boolean"),
])
def test_cli_refuses_bad_where_with_exit_2(sweep_folder, tmp_path, capsys, where, message):
    status = main(["discover", str(sweep_folder), "--where", where, "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
