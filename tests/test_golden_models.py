"""Golden tests: canonical models run by defdip against the simulators' own output.

The models and their expected outputs are cases of SDXorg/test-models, vendored under
``tests/models/golden`` with their licence (``ORIGIN.md`` there says where from). Each case
is one model file (Vensim ``.mdl``, XMILE ``.xmile`` or Stella ``.stmx``) and one engine. A
case either runs the model as ``defdip run --model`` does (:func:`scenario_from_model`, then
:func:`simulate`) and compares every variable present in the expected output, at the times
present in both, or it is listed as refused: then the real command line must exit with
status 2 and a message naming the reason, and write nothing. The command line's run path
itself is tested end to end in ``test_any_model.py`` and by :func:`test_console_entry_point`.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from defdip.cli.main import main
from defdip.core.model import CONTROL_NAMES, VENSIM_SUFFIXES, XMILE_SUFFIXES, model_info
from defdip.core.scenario import scenario_from_model
from defdip.engines.simulate import ENGINES, simulate

TEST_MODELS = Path(__file__).resolve().parent / "models" / "golden"

# PySD's integration tests use the same defaults. The expected files hold about six
# significant digits, so a tighter rtol would test the export format, not the model.
RTOL = 1e-3
ATOL = 1e-6
TIME_DECIMALS = 9  # times are matched after rounding, so 0.1 * 3 meets 0.3

# What a refusal must say (each phrase is part of the message the refusing code builds).
ORDER_FROM_EQUATION = "takes its order from the equation"
MACROS = "macros are not supported"
NO_VARIABLES = "PySD found no variables"
PYSD_PARSE = "PySD could not parse the model"
NOT_SUPPORTED = "is not supported by the ensemble engine"
NON_NEGATIVE = "is a non-negative INTEG"


@dataclass(frozen=True)
class Case:
    """One model file, its expected output and what each engine is held to.

    Any tolerance looser than ``RTOL``/``ATOL`` must say why in ``why``.

    Attributes
    ----------
    path : str
        ``folder/file`` under ``tests/models/golden``.
    expected : str
        The expected output's file name in the folder (default: ``output.csv`` or ``output.tab``).
    ensemble : str
        Empty when the ensemble engine runs the model; else what its refusal names.
    refused : str
        Empty when PySD runs the model; else what defdip's refusal (either engine) names.
    """

    path: str
    expected: str = ""
    rtol: float = RTOL
    atol: float = ATOL
    why: str = ""
    ensemble: str = ""
    refused: str = ""

    @property
    def model_path(self) -> Path:
        return TEST_MODELS / self.path

    @property
    def expected_path(self) -> Path:
        folder = self.model_path.parent
        if self.expected:
            return folder / self.expected
        found = [folder / n for n in ("output.csv", "output.tab") if (folder / n).is_file()]
        assert len(found) == 1, f"{folder}: expected exactly one of output.csv, output.tab; found {found}"
        return found[0]

    def refusal(self, engine: str) -> str:
        """What a refusal by ``engine`` must name, or ``""`` when the engine runs the model."""
        if self.refused:
            return self.refused
        return self.ensemble if engine == "ensemble" else ""


CASES = (
    # --- scalar Vensim models: both engines -----------------------------------------------------
    Case("abs/test_abs.mdl"),
    Case("builtin_max/builtin_max.mdl"),
    Case("builtin_min/builtin_min.mdl"),
    Case("case_sensitive_extension/teacup-upper.MDL"),
    Case("chained_initialization/test_chained_initialization.mdl"),
    Case("constant_expressions/test_constant_expressions.mdl"),
    Case("delay_fixed/test_delay_fixed.mdl"),
    Case("euler_step_vs_saveper/test_euler_step_vs_saveper.mdl"),
    Case("exponentiation/exponentiation.mdl"),  # -2^2 is -4
    Case("if_stmt/if_stmt.mdl"),
    Case("initial_function/test_initial.mdl"),
    Case("input_functions/test_inputs.mdl"),
    Case("line_continuation/test_line_continuation.mdl"),
    Case("ln/test_ln.mdl"),
    Case("log/test_log.mdl"),
    Case("logicals/test_logicals.mdl"),
    Case("lookups/test_lookups.mdl"),
    Case("lookups_inline/test_lookups_inline.mdl"),
    Case("number_handling/test_number_handling.mdl"),
    Case("parentheses/test_parens.mdl"),
    Case("reference_capitalization/test_reference_capitalization.mdl"),
    Case("smooth_and_stock/test_smooth_and_stock.mdl"),
    Case("sqrt/test_sqrt.mdl"),
    Case("teacup/teacup.mdl"),
    Case("time/test_time.mdl"),
    Case("trend/test_trend.mdl"),
    Case("trig/test_trig.mdl"),
    Case("xidz_zidz/xidz_zidz.mdl"),
    Case("zeroled_decimals/test_zeroled_decimals.mdl"),
    # --- subscripted Vensim models: both engines (the compiled one writes each element out) --------
    Case("arithmetics/test_arithmetics.mdl"),
    Case("array_with_line_break/test_array_with_line_break.mdl"),
    Case("conditional_subscripts/test_conditional_subscripts.mdl"),  # a range as a number
    Case("except/test_except.mdl"),
    Case("except_multiple/test_except_multiple.mdl"),
    Case("except_subranges/test_except_subranges.mdl"),
    Case("power/power.mdl"),
    Case("repeated_subscript/test_repeated_subscript.mdl"),
    Case("sample_if_true/test_sample_if_true.mdl"),
    Case("subscript_1d_arrays/test_subscript_1d_arrays.mdl"),
    Case("subscript_2d_arrays/test_subscript_2d_arrays.mdl"),
    Case("subscript_3d_arrays/test_subscript_3d_arrays.mdl"),
    Case("subscript_3d_arrays_lengthwise/test_subscript_3d_arrays_lengthwise.mdl"),
    Case("subscript_3d_arrays_widthwise/test_subscript_3d_arrays_widthwise.mdl"),
    Case("subscript_aggregation/test_subscript_aggregation.mdl"),
    Case("subscript_constant_call/test_subscript_constant_call.mdl"),
    Case("subscript_copy/test_subscript_copy.mdl"),
    Case("subscript_copy/test_subscript_copy2.mdl"),  # the copy declared before its range
    Case("subscript_definition/test_subscript_definition.mdl"),  # ranges inside ranges; ELMCOUNT
    Case("subscript_docs/subscript_docs.mdl"),
    Case("subscript_element_name/test_subscript_element_name.mdl"),
    Case("subscript_individually_defined_1_of_2d_arrays/subscript_individually_defined_1_of_2d_arrays.mdl"),
    Case("subscript_individually_defined_1_of_2d_arrays_from_floats/"
         "subscript_individually_defined_1_of_2d_arrays_from_floats.mdl"),
    Case("subscript_individually_defined_1d_arrays/subscript_individually_defined_1d_arrays.mdl"),
    Case("subscript_individually_defined_stocks/test_subscript_individually_defined_stocks.mdl"),
    Case("subscript_logicals/test_subscript_logicals.mdl"),
    Case("subscript_mapping_simple/test_subscript_mapping_simple.mdl"),
    Case("subscript_mapping_vensim/test_subscript_mapping_vensim.mdl"),
    Case("subscript_mixed_assembly/test_subscript_mixed_assembly.mdl"),
    Case("subscript_multiples/test_multiple_subscripts.mdl"),
    Case("subscript_numeric_range/test_subscript_numeric_range.mdl"),
    Case("subscript_selection/subscript_selection.mdl"),
    Case("subscript_subranges/test_subscript_subrange.mdl"),
    Case("subscript_subranges_equal/test_subscript_subrange_equal.mdl"),
    Case("subscript_switching/subscript_switching.mdl"),
    Case("subscript_transposition/test_subscript_transposition.mdl"),
    Case("subscript_updimensioning/test_subscript_updimensioning.mdl"),
    Case("subscripted_delays/test_subscripted_delays.mdl", atol=1e-5,
         why="'Stock DelayN' is a residue near 0 of two flows of 5: PySD's DELAY N leaves 6e-6 in it where "
             "Vensim leaves none (both engines agree to 1e-12, test_compiled_engine_matches_pysd)"),
    Case("subscripted_flows/test_subscripted_flows.mdl"),
    Case("subscripted_if_then_else/test_subscripted_if_then_else.mdl"),
    Case("subscripted_logicals/test_subscripted_logicals.mdl"),
    Case("subscripted_lookups/test_subscripted_lookups.mdl"),
    Case("subscripted_ramp_step/test_subscripted_ramp_step.mdl"),
    Case("subscripted_round/test_subscripted_round.mdl"),  # QUANTUM, and MODULO of negative numbers
    Case("subscripted_trend/test_subscripted_trend.mdl"),
    Case("subscripted_trig/test_subscripted_trig.mdl"),
    Case("subscripted_xidz/test_subscripted_xidz.mdl"),
    Case("tabbed_arrays/tabbed_arrays.mdl"),
    # --- Vensim models with what the ensemble engine does not implement: PySD only ---------------
    Case("delays/test_delays.mdl", ensemble=ORDER_FROM_EQUATION),
    Case("smooth/test_smooth.mdl", ensemble=ORDER_FROM_EQUATION),
    Case("subscripted_smooth/test_subscripted_smooth.mdl", ensemble=ORDER_FROM_EQUATION),
    Case("macro_stock/test_macro_stock.mdl", ensemble=MACROS),
    Case("vector_select/test_vector_select.mdl", ensemble="VECTOR_SELECT over dim1!, dim2! " + NOT_SUPPORTED),
    # --- XMILE and Stella files: PySD's XMILE translator -----------------------------------------
    Case("abs/test_abs.xmile"),
    Case("abs/test_abs.stmx"),
    Case("builtin_max/builtin_max.xmile"),
    Case("builtin_max/builtin_max.stmx"),
    Case("chained_initialization/test_chained_initialization.xmile"),
    Case("comparisons/comparisons.xmile"),
    Case("eval_order/eval_order.xmile"),
    Case("exponentiation/exponentiation.xmile"),
    Case("if_stmt/if_stmt.xmile"),
    Case("logicals/test_logicals_caseinsensitive.xmile"),
    Case("lookups/test_lookups.xmile"),
    Case("lookups/test_lookups_xscale.xmile"),
    Case("min_max_1arg/test_min_max_1arg.xmile"),  # MIN(x[dim]): XMILE's array minimum
    Case("pi/test_pi.xmile"),
    Case("subscript_individually_defined_1d_arrays/subscript_individually_defined_1d_arrays.xmile"),
    Case("subscript_individually_defined_1d_arrays/subscript_individually_defined_1d_arrays.stmx"),
    Case("subscripted_trig/test_subscripted_trig.xmile"),
    Case("teacup/teacup.xmile"),
    Case("teacup/teacup.stmx", ensemble=NON_NEGATIVE),
    Case("xidz_zidz/xidz_zidz.xmile"),
    Case("zeroled_decimals/test_zeroled_decimals.xmile"),
    # --- refused by defdip whatever the engine --------------------------------------------------
    Case("control_vars/test_control_vars.mdl", refused="a time setting must be a number"),
    Case("comparisons/comparisons.stmx", refused=NO_VARIABLES),  # Stella 10's XML namespace
    Case("subscript_1d_arrays/test_subscript_1d_arrays.xmile", refused=PYSD_PARSE),  # '???' equations
    Case("macro_stock/test_macro_stock.xmile", refused=PYSD_PARSE),  # PySD reads no XMILE macros
)


PARAMS = [pytest.param(case, engine, id=f"{case.path}-{engine}") for case in CASES for engine in ENGINES]


# --- reading the expected files ---------------------------------------------------------------

def canonical(name: str) -> str:
    """A variable name with case, spaces, underscores and quotes ignored."""
    return "".join(ch for ch in str(name).lower() if ch not in " \t_\"'")


def _all_numbers(cells: pd.Series) -> bool:
    return len(cells) > 0 and pd.to_numeric(cells, errors="coerce").notna().all()


def read_expected(path: Path) -> pd.DataFrame:
    """An exported run as a frame indexed by time, one column per variable.

    Reads both layouts the tools write: time down the first column with the variables
    across, and the transposed one with a leading column of variable names and the
    times across the first row. ``.tab`` files are tab-separated, ``.csv`` comma-separated.
    Cells that are not numbers (blank, ``:NA:``) are NaN.
    """
    sep = "\t" if path.suffix.lower() == ".tab" else ","
    raw = pd.read_csv(path, sep=sep, header=None, dtype=str, keep_default_na=False)
    raw = raw.apply(lambda column: column.str.strip())
    raw = raw.loc[raw.iloc[:, 0] != "", raw.iloc[0] != ""]  # trailing separators, blank rows
    if not _all_numbers(raw.iloc[1:, 0]):
        if not _all_numbers(raw.iloc[0, 1:]):
            raise ValueError(f"{path}: neither the first column nor the first row holds the times")
        raw = raw.T
    frame = raw.iloc[1:, 1:].apply(pd.to_numeric, errors="coerce")  # e.g. ":NA:" -> NaN
    frame.columns = list(raw.iloc[0, 1:])
    frame.index = pd.Index(pd.to_numeric(raw.iloc[1:, 0]).to_numpy(float), name="time")
    return frame


def read_trajectories(out_dir: Path) -> pd.DataFrame:
    """The one ``trajectories.csv`` a run wrote under ``out_dir``."""
    found = sorted(out_dir.glob("*/trajectories.csv"))
    assert len(found) == 1, f"expected one result folder under {out_dir}, found {found}"
    return pd.read_csv(found[0], index_col="time")


# --- comparing --------------------------------------------------------------------------------

def mismatches(actual: pd.DataFrame, expected: pd.DataFrame, rtol: float, atol: float) -> list[str]:
    """One line per variable that differs beyond tolerance (empty when all agree).

    Only the expected file's numbers are compared: Vensim writes a constant once, at the
    first saved time, and leaves its later cells blank.
    """
    actual = actual.set_axis(np.round(actual.index.to_numpy(float), TIME_DECIMALS), axis=0)
    expected = expected.set_axis(np.round(expected.index.to_numpy(float), TIME_DECIMALS), axis=0)
    times = expected.index.intersection(actual.index)
    assert len(times) >= 2, f"fewer than two common times: {list(times)}"
    assert times[0] == expected.index[0] and times[-1] == expected.index[-1], (
        f"the run covers [{actual.index[0]}, {actual.index[-1]}], the expected output "
        f"[{expected.index[0]}, {expected.index[-1]}]")

    ours = {canonical(c): c for c in actual.columns}
    theirs = {canonical(c): c for c in expected.columns}
    # defdip writes model variables, not the control settings; anything else missing is a bug.
    controls = {canonical(c) for c in CONTROL_NAMES} | {"time"}
    missing = sorted(theirs[k] for k in theirs.keys() - ours.keys() - controls)
    assert not missing, f"variables in the expected output but not in the trajectories: {missing}"
    shared = sorted(theirs.keys() & ours.keys())
    assert shared, f"no variable in common; ours {list(actual.columns)}, theirs {list(expected.columns)}"

    lines = []
    for key in shared:
        want = expected.loc[times, theirs[key]].to_numpy(float)
        recorded = ~np.isnan(want)
        got = actual.loc[times, ours[key]].to_numpy(float)
        bad = recorded & ~np.isclose(got, want, rtol=rtol, atol=atol)
        if bad.any():
            i = int(np.argmax(np.where(bad, np.abs(got - want), -np.inf)))
            lines.append(f"{theirs[key]!r}: {int(bad.sum())}/{int(recorded.sum())} times differ; worst at "
                         f"t={times[i]}: got {got[i]:.6g}, expected {want[i]:.6g}")
    return lines


# --- tests ------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize(("case", "engine"), PARAMS)
def test_matches_expected_output(case: Case, engine: str, tmp_path, capsys):
    assert case.rtol == RTOL and case.atol == ATOL or case.why, \
        f"{case.path}: a loosened tolerance needs a reason"
    assert case.model_path.is_file(), f"{case.model_path}: listed model file is missing"
    if case.refusal(engine):
        assert_refused(case, engine, tmp_path, capsys)
        return
    result = simulate(scenario_from_model(case.model_path), engine)
    problems = mismatches(result.trajectories, read_expected(case.expected_path), case.rtol, case.atol)
    assert not problems, f"{case.path} (rtol={case.rtol}, atol={case.atol}):\n" + "\n".join(problems)


def assert_refused(case: Case, engine: str, tmp_path, capsys) -> None:
    """``defdip run --model`` exits 2 naming the reason (and PySD, for the ensemble), writing nothing."""
    out = tmp_path / "out"
    code = main(["run", "--model", str(case.model_path), "-o", str(out), "--engine", engine])
    err = capsys.readouterr().err
    assert code == 2, f"exit {code}: {err}"
    assert case.refusal(engine) in err, err
    assert "internal error" not in err and "Traceback" not in err, err
    if not case.refused:
        assert "--engine pysd" in err, err
    assert not out.exists()


def test_every_vendored_model_is_a_case():
    """Each model file under tests/models/golden is listed once, and each listed one is there."""
    suffixes = VENSIM_SUFFIXES + XMILE_SUFFIXES
    vendored = sorted(p.relative_to(TEST_MODELS).as_posix() for p in TEST_MODELS.glob("*/*")
                      if p.suffix.lower() in suffixes)
    listed = [c.path for c in CASES]
    assert len(listed) == len(set(listed)), "a model is listed twice"
    assert sorted(listed) == vendored, (f"listed but missing: {sorted(set(listed) - set(vendored))}; "
                                        f"vendored but not listed: {sorted(set(vendored) - set(listed))}")
    for case in CASES:
        assert case.expected_path.is_file(), case.expected_path


def test_golden_set_covers_what_defdip_claims():
    """At least 30 folders, subscripted models for PySD, XMILE and Stella files."""
    folders = {c.path.split("/")[0] for c in CASES}
    assert len(folders) >= 30
    assert sum(not c.ensemble and not c.refused and _subscripted(c) for c in CASES) >= 40
    for suffix in (".xmile", ".stmx"):
        assert sum(c.path.endswith(suffix) and not c.refused for c in CASES) >= 3, suffix


def _subscripted(case: Case) -> bool:
    return any(v.elements for v in model_info(case.model_path).variables.values())


ENGINES_AGREE = [pytest.param(c, id=c.path) for c in CASES if not c.ensemble and not c.refused]


@pytest.mark.slow
@pytest.mark.parametrize("case", ENGINES_AGREE)
def test_compiled_engine_matches_pysd(case: Case):
    """Every element the compiled engine writes out equals PySD's to 1e-12 relative, same columns."""
    scenario = scenario_from_model(case.model_path)
    pysd_run = simulate(scenario, "pysd").trajectories
    compiled = simulate(scenario, "ensemble").trajectories
    assert list(compiled.columns) == list(pysd_run.columns)
    pd.testing.assert_frame_equal(compiled, pysd_run, rtol=1e-12, atol=1e-300, check_dtype=False)


def test_console_entry_point(tmp_path):
    """``python -m defdip run --model`` in a fresh interpreter writes the same trajectories."""
    case = next(c for c in CASES if c.path == "teacup/teacup.mdl")
    done = subprocess.run(
        [sys.executable, "-m", "defdip", "run", "--model", str(case.model_path), "-o", str(tmp_path)],
        check=False, capture_output=True, text=True, cwd=tmp_path, env=dict(os.environ), timeout=600)
    assert done.returncode == 0, f"exit {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}"
    assert "wrote" in done.stdout
    problems = mismatches(read_trajectories(tmp_path), read_expected(case.expected_path),
                          case.rtol, case.atol)
    assert not problems, "\n".join(problems)


# --- the reader and the comparison themselves -------------------------------------------------

@pytest.mark.parametrize("layout", ["time_down", "transposed"])
@pytest.mark.parametrize("suffix", [".csv", ".tab"])
def test_read_expected_layouts(tmp_path, layout, suffix):
    sep = "\t" if suffix == ".tab" else ","
    rows = [["Time", "0", "0.5", "1"], ["Stock A", "1", "2", "3"], ['"Flow, B"', "4", ":NA:", "6"]]
    if layout == "time_down":
        rows = [list(r) for r in zip(*rows)]
    path = tmp_path / f"output{suffix}"
    path.write_text("\r".join(sep.join(r) for r in rows) + "\r", encoding="utf-8")  # Mac line ends
    frame = read_expected(path)
    assert list(frame.index) == [0.0, 0.5, 1.0]
    assert [canonical(c) for c in frame.columns] == ["stocka", "flow,b"]
    np.testing.assert_array_equal(frame.iloc[:, 0], [1, 2, 3])
    np.testing.assert_array_equal(frame.iloc[:, 1], [4, np.nan, 6])


def test_mismatch_is_reported():
    expected = pd.DataFrame({"Stock A": [1.0, 2.0, 3.0], "FINAL TIME": 1.0},
                            index=pd.Index([0.0, 0.5, 1.0], name="time"))
    actual = pd.DataFrame({"stock_a": [1.0, 2.0, 3.1]}, index=expected.index)
    (line,) = mismatches(actual, expected, RTOL, ATOL)
    assert "'Stock A'" in line and "t=1.0" in line
    assert mismatches(actual.assign(stock_a=[1.0, 2.0, 3.0]), expected, RTOL, ATOL) == []


def test_subscripted_columns_and_blank_cells():
    """``x[a,b]`` columns match PySD's flattened names; a blank expected cell is not compared."""
    index = pd.Index([0.0, 1.0], name="time")
    expected = pd.DataFrame({"Stock[Entry 1,Col 1]": [1.0, np.nan], "Rate[Entry 1]": [0.5, 0.5]}, index=index)
    actual = pd.DataFrame({"Stock[Entry 1,Col 1]": [1.0, 7.0], "Rate[Entry 1]": [0.5, 0.6]}, index=index)
    (line,) = mismatches(actual, expected, RTOL, ATOL)
    assert line.startswith("'Rate[Entry 1]': 1/2 times differ")
    with pytest.raises(AssertionError, match=r"Stock\[Entry 1,Col 1\]"):
        mismatches(actual.drop(columns="Stock[Entry 1,Col 1]"), expected, RTOL, ATOL)
