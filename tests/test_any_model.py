"""End to end: ``defdip run --model`` and ``defdip describe --model`` on any model PySD runs.

A subscripted Vensim model and the teacup as XMILE and as Stella, through the real command
line: the results are checked against the vendored reference output and between the engines;
the ensemble engine's refusals must name the construct and point to PySD (exit 2, nothing written).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from test_golden_models import mismatches, read_expected, read_trajectories

from defdip.cli.main import main

GOLDEN = Path(__file__).resolve().parent / "models" / "golden"
SUBSCRIPTED = GOLDEN / "subscript_2d_arrays" / "test_subscript_2d_arrays.mdl"
TEACUP_XMILE = GOLDEN / "teacup" / "teacup.xmile"
TEACUP_STMX = GOLDEN / "teacup" / "teacup.stmx"
RTOL, ATOL = 1e-3, 1e-6  # as in test_golden_models: the reference files hold six digits


def cli(capsys, *args) -> tuple[int, str, str]:
    """Run the command line in-process: exit status, stdout, stderr."""
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_run_subscripted_model_writes_one_column_per_element(tmp_path, capsys):
    code, out, err = cli(capsys, "run", "--model", SUBSCRIPTED, "-o", tmp_path)
    assert code == 0, err
    assert "wrote" in out
    frame = read_trajectories(tmp_path)
    stock = [c for c in frame.columns if c.startswith("Stock A[")]
    assert len(stock) == 6 and "Stock A[Entry 3,Column 2]" in stock  # PySD's flattened names
    assert not mismatches(frame, read_expected(SUBSCRIPTED.parent / "output.tab"), RTOL, ATOL)


def test_set_applies_to_every_element_of_a_subscripted_constant(tmp_path, capsys):
    code, _, err = cli(capsys, "run", "--model", SUBSCRIPTED, "-o", tmp_path, "--set", "Rate A=0.5")
    assert code == 0, err
    frame = read_trajectories(tmp_path)
    rates = frame[[c for c in frame.columns if c.startswith("Rate A[")]]
    assert rates.shape[1] == 6 and (rates == 0.5).all().all()
    # Stock A[Entry 1,Column 1] starts at 1 and gains 0.5 per month
    assert frame.loc[10.0, "Stock A[Entry 1,Column 1]"] == pytest.approx(6.0)


def test_describe_subscripted_model(capsys):
    code, out, err = cli(capsys, "describe", "--model", SUBSCRIPTED)
    assert code == 0, err
    assert "stocks (1):\n    Stock A" in out and "Initial Values, Rate A" in out
    code, out, err = cli(capsys, "describe", "--model", SUBSCRIPTED, "stock a")
    assert code == 0, err
    assert out.startswith("Stock A[One Dimensional Subscript, Second Dimension Subscript]  (stock)")
    assert "equation: INTEG ( Inflow A[" in out


@pytest.mark.parametrize("model", [TEACUP_XMILE, TEACUP_STMX], ids=lambda p: p.name)
def test_run_xmile_and_stella_files(model, tmp_path, capsys):
    code, _, err = cli(capsys, "run", "--model", model, "-o", tmp_path)
    assert code == 0, err
    frame = read_trajectories(tmp_path)
    assert "teacup temperature" in frame.columns.str.lower()  # Stella writes the names in lower case
    assert not mismatches(frame, read_expected(model.parent / "output.csv"), RTOL, ATOL)


def test_describe_xmile_file(capsys):
    code, out, err = cli(capsys, "describe", "--model", TEACUP_XMILE)
    assert code == 0, err
    assert "stocks (1):\n    Teacup Temperature" in out
    assert "Room Temperature, Characteristic Time" in out
    code, out, err = cli(capsys, "describe", "--model", TEACUP_XMILE, "Teacup Temperature")
    assert code == 0, err
    assert 'equation: INTEG(-"Heat Loss to Room", 180)' in out
    assert "The average temperature of the tea and the cup" in out


def test_ensemble_engine_refuses_by_name(tmp_path, capsys):
    out_dir = tmp_path / "out"
    code, _, err = cli(capsys, "run", "--model", TEACUP_STMX, "-o", out_dir, "--engine", "ensemble")
    assert code == 2, err
    assert "'teacup temperature' is a non-negative INTEG" in err and "--engine pysd runs it" in err, err
    assert "internal error" not in err
    assert not out_dir.exists()


def _both_engines(tmp_path, capsys, *args) -> dict:
    runs = {}
    for engine in ("pysd", "ensemble"):
        code, _, err = cli(capsys, "run", "--model", SUBSCRIPTED, "-o", tmp_path / engine, "--engine", engine, *args)
        assert code == 0, err
        runs[engine] = read_trajectories(tmp_path / engine)
    return runs


def test_the_ensemble_engine_runs_a_subscripted_model_as_pysd_does(tmp_path, capsys):
    runs = _both_engines(tmp_path, capsys)
    pd.testing.assert_frame_equal(runs["pysd"], runs["ensemble"], rtol=1e-12, atol=0, check_dtype=False)


def test_set_one_element_on_both_engines(tmp_path, capsys):
    """``--set "Rate A[Entry 2,Column 1]=0.5"`` changes that element only, the same on both engines."""
    runs = _both_engines(tmp_path, capsys, "--set", "rate a[entry 2, column 1]=0.5", "--set", "Rate A=0.25")
    for frame in runs.values():
        rates = frame[[c for c in frame.columns if c.startswith("Rate A[")]].iloc[0]
        assert rates["Rate A[Entry 2,Column 1]"] == 0.5  # the element wins over the whole array
        assert (rates.drop("Rate A[Entry 2,Column 1]") == 0.25).all()
    pd.testing.assert_frame_equal(runs["pysd"], runs["ensemble"], rtol=1e-12, atol=0, check_dtype=False)


def test_set_an_element_the_variable_lacks(tmp_path, capsys):
    code, _, err = cli(capsys, "run", "--model", SUBSCRIPTED, "-o", tmp_path, "--set", "Rate A[Entry 9,Column 1]=1")
    assert code == 2
    assert "'Rate A' has no such element" in err and "Rate A[Entry 1,Column 1]" in err, err


def test_the_ensemble_engine_runs_a_scalar_xmile_model_as_pysd_does(tmp_path, capsys):
    runs = {}
    for engine in ("pysd", "ensemble"):
        code, _, err = cli(capsys, "run", "--model", TEACUP_XMILE, "-o", tmp_path / engine, "--engine", engine)
        assert code == 0, err
        runs[engine] = pd.read_csv(next((tmp_path / engine).glob("*/trajectories.csv")), index_col="time")
    pd.testing.assert_frame_equal(runs["pysd"], runs["ensemble"], rtol=1e-12, atol=0, check_dtype=False)


def test_a_file_of_another_format_is_refused(tmp_path, capsys):
    model = tmp_path / "model.txt"
    model.write_text("not a model", encoding="utf-8")
    code, _, err = cli(capsys, "describe", "--model", model)
    assert code == 2
    assert "model.txt" in err and all(s in err for s in (".mdl", ".xmile", ".stmx")), err


def test_a_file_pysd_cannot_read_is_refused_with_pysds_reason(tmp_path, capsys):
    model = tmp_path / "broken.xmile"
    model.write_text('<xmile xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0"><sim_specs>'
                     "<start>0</start><stop>1</stop><dt>1</dt></sim_specs><model><variables>"
                     '<aux name="x"><eqn>(((</eqn></aux></variables></model></xmile>', encoding="utf-8")
    code, _, err = cli(capsys, "run", "--model", model, "-o", tmp_path / "out")
    assert code == 2, err
    assert "broken.xmile: PySD could not parse the model" in err
    assert not (tmp_path / "out").exists()


def test_trajectories_keep_pysds_column_order(tmp_path, capsys):
    """One column per element, grouped by variable as PySD returns them, time as the index."""
    code, _, err = cli(capsys, "run", "--model", SUBSCRIPTED, "-o", tmp_path)
    assert code == 0, err
    frame = read_trajectories(tmp_path)
    variables = pd.unique(pd.Series([c.split("[")[0] for c in frame.columns]))
    assert list(variables) == ["Initial Values", "Stock A", "Inflow A", "Rate A"]
    assert frame.index.name == "time" and frame.index[0] == 0.0 and frame.index[-1] == 100.0
