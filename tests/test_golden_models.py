"""Golden tests: ``defdip run --model`` on canonical models against the tools' own output.

The models and their expected outputs are cases of SDXorg/test-models, kept in
``shared/test-models`` beside the repository (CI clones the repo next to ``../shared``).
Each case runs through the real command line and compares ``trajectories.csv`` with
the expected file: every variable present in both, at the times present in both.
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
from defdip.core.model import CONTROL_NAMES

TEST_MODELS = Path(__file__).resolve().parent / "models" / "golden"

pytestmark = pytest.mark.skipif(
    not TEST_MODELS.is_dir(),
    reason=f"golden models not found at {TEST_MODELS.resolve()} (clone the repo beside shared/)")

# PySD's integration tests use the same defaults. The expected files hold about six
# significant digits, so a tighter rtol would test the export format, not the model.
RTOL = 1e-3
ATOL = 1e-6
TIME_DECIMALS = 9  # times are matched after rounding, so 0.1 * 3 meets 0.3


@dataclass(frozen=True)
class Case:
    """One canonical model, its expected output and the tolerances it is held to.

    Any tolerance looser than ``RTOL``/``ATOL`` must say why in ``why``.
    """

    folder: str
    model: str
    expected: str
    rtol: float = RTOL
    atol: float = ATOL
    why: str = ""
    ensemble_refuses: str = ""  # what the ensemble engine names when it declines the model

    @property
    def model_path(self) -> Path:
        return TEST_MODELS / self.folder / self.model

    @property
    def expected_path(self) -> Path:
        return TEST_MODELS / self.folder / self.expected


CASES = (
    Case("abs", "test_abs.mdl", "output.csv"),
    Case("builtin_max", "builtin_max.mdl", "output.csv"),
    Case("delays", "test_delays.mdl", "output.tab", ensemble_refuses="takes its order from the equation"),
    Case("if_stmt", "if_stmt.mdl", "output.csv"),
    Case("input_functions", "test_inputs.mdl", "output.csv"),
    Case("lookups", "test_lookups.mdl", "output.tab"),
    Case("smooth", "test_smooth.mdl", "output.tab", ensemble_refuses="takes its order from the equation"),
    Case("teacup", "teacup.mdl", "output.csv"),
    Case("xidz_zidz", "xidz_zidz.mdl", "output.tab"),
)


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
    """One line per variable that differs beyond tolerance (empty when all agree)."""
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
    assert not missing, f"variables in the expected output but not in trajectories.csv: {missing}"
    shared = sorted(theirs.keys() & ours.keys())
    assert shared, f"no variable in common; ours {list(actual.columns)}, theirs {list(expected.columns)}"

    lines = []
    for key in shared:
        got = actual.loc[times, ours[key]].to_numpy(float)
        want = expected.loc[times, theirs[key]].to_numpy(float)
        bad = ~np.isclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
        if bad.any():
            i = int(np.argmax(np.where(bad, np.abs(got - want), -np.inf)))
            lines.append(f"{theirs[key]!r}: {int(bad.sum())}/{len(times)} times differ; worst at "
                         f"t={times[i]}: got {got[i]:.6g}, expected {want[i]:.6g}")
    return lines


def run_cli(model: Path, out_dir: Path, engine: str = "pysd") -> None:
    code = main(["run", "--model", str(model), "-o", str(out_dir), "--engine", engine])
    assert code == 0, f"defdip run --model {model} --engine {engine} exited with {code}"


# --- tests ------------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ["pysd", "ensemble"])
@pytest.mark.parametrize("case", CASES, ids=[c.folder for c in CASES])
def test_matches_expected_output(case: Case, engine: str, tmp_path, capsys):
    assert case.rtol == RTOL and case.atol == ATOL or case.why, \
        f"{case.folder}: a loosened tolerance needs a reason"
    if engine == "ensemble" and case.ensemble_refuses:
        assert_refused(case, tmp_path, capsys)
        return
    run_cli(case.model_path, tmp_path, engine)
    problems = mismatches(read_trajectories(tmp_path), read_expected(case.expected_path),
                          case.rtol, case.atol)
    assert not problems, f"{case.folder} (rtol={case.rtol}, atol={case.atol}):\n" + "\n".join(problems)


def assert_refused(case: Case, tmp_path, capsys) -> None:
    """The ensemble engine declines the model by name, points to PySD, and writes nothing."""
    code = main(["run", "--model", str(case.model_path), "-o", str(tmp_path / "out"), "--engine", "ensemble"])
    err = capsys.readouterr().err
    assert code == 2 and case.ensemble_refuses in err and "--engine pysd" in err, err
    assert not (tmp_path / "out").exists()


def test_console_entry_point(tmp_path):
    """``python -m defdip run --model`` in a fresh interpreter writes the same trajectories."""
    case = next(c for c in CASES if c.folder == "teacup")
    done = subprocess.run(
        [sys.executable, "-m", "defdip", "run", "--model", str(case.model_path), "-o", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, env=dict(os.environ), timeout=600)
    assert done.returncode == 0, f"exit {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}"
    assert "wrote" in done.stdout
    problems = mismatches(read_trajectories(tmp_path), read_expected(case.expected_path),
                          case.rtol, case.atol)
    assert not problems, "\n".join(problems)


# --- the reader itself ------------------------------------------------------------------------

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


def test_mismatch_is_reported(tmp_path):
    expected = pd.DataFrame({"Stock A": [1.0, 2.0, 3.0], "FINAL TIME": 1.0},
                            index=pd.Index([0.0, 0.5, 1.0], name="time"))
    actual = pd.DataFrame({"stock_a": [1.0, 2.0, 3.1]}, index=expected.index)
    (line,) = mismatches(actual, expected, RTOL, ATOL)
    assert "'Stock A'" in line and "t=1.0" in line
    assert mismatches(actual.assign(stock_a=[1.0, 2.0, 3.0]), expected, RTOL, ATOL) == []
