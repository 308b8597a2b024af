"""Options that were accepted without a word although they cannot mean what was asked: refused, exit 2."""
import numpy as np
import pandas as pd
import pytest

from defdip.cli.main import main, parse_sets
from defdip.core.errors import InputError


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize("spec", ["Strategic Commitment@2050", "strategic by 2040", "Reciprocity@2009"])
def test_an_outcome_outside_the_runs_years_is_refused(tmp_path, capsys, spec):
    status = main(["sweep", "baseline", "--method", "mc", "--samples", "4", "--outcome", spec,
                   "-o", str(tmp_path)])
    assert status == 2
    assert "is outside the runs' years; allowed: 2010 to 2035" in one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_an_outcome_on_the_horizon_is_accepted():
    from defdip.analysis.outcomes import parse_outcomes
    from defdip.core.model import DEFAULT_MODEL, model_info

    (outcome,) = parse_outcomes(["Reciprocity@2035"], model_info(DEFAULT_MODEL), (2010, 2035))
    assert outcome.year == 2035


@pytest.mark.parametrize("items", [["war end year=2030", "war end year=2031"],
                                   ["war end year=2030", "War_End  Year=2030"]], ids=["same", "spelled-apart"])
def test_set_twice_for_one_name_is_refused(items):
    with pytest.raises(InputError, match="is already set by --set 'war end year=2030'"):
        parse_sets(items)


def test_report_refuses_a_sweep_folder_that_is_not_one(tmp_path, capsys):
    notsweep = tmp_path / "notsweep"
    notsweep.mkdir()
    status = main(["report", "baseline", "--sweep", str(notsweep), "-o", str(tmp_path / "out")])
    assert status == 2
    assert f"--sweep {notsweep}: no samples.csv; is it the result folder of `defdip sweep`?" in one_error_line(capsys)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("step", [99999, -1])
def test_a_box_off_the_trajectory_is_refused_even_when_prim_finds_nothing(step):
    pytest.importorskip("ema_workbench", reason="the discover extra is not installed")
    from defdip.analysis.discovery import discover

    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.random((400, 2)), columns=["a", "b"], index=pd.RangeIndex(400, name="run"))
    y = pd.DataFrame({"hit": rng.random(400) < 0.05}, index=x.index)  # no box is 0.99 dense
    last = len(discover(x, y, "hit", threshold=0.99).tradeoff) - 1  # the whole peeling trajectory, always
    with pytest.raises(InputError, match=f"--box {step}: the trajectory has steps 0 to {last}"):
        discover(x, y, "hit", threshold=0.99, step=step)


def test_a_misspelt_shipped_scenario_gets_a_did_you_mean(tmp_path, capsys):
    """The README's promise: `defdip run ceasfire_2027` names the scenario meant."""
    assert main(["run", "ceasfire_2027", "-o", str(tmp_path)]) == 2
    assert "ceasfire_2027: scenario file not found, and no shipped scenario has that name; did you mean " \
           "'ceasefire_2027' or 'partners_ceasefire_2027'?" in one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []
