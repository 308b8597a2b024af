"""Comparing runs: gathering, alignment or refusal, the metrics table and the dated events."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from defdip.analysis.phases import summarise, summary_of
from defdip.compare.gather import (
    ComparedRun,
    build_comparison,
    event_positions,
    from_result,
    gather_runs,
    metrics_table,
    read_result_folder,
)
from defdip.compare.text import table_text
from defdip.core.errors import InputError
from defdip.core.model import DEFAULT_MODEL, model_info
from defdip.io.pipeline import write_run


def synthetic(name, time, phase_switch=None, level=0.0, sha="a" * 64, dt=0.0625):
    """A run with known numbers: linear indicators, a phase stepping to 3 at ``phase_switch``."""
    time = np.asarray(time, float)
    phase = np.where(time >= phase_switch, 3.0, 1.0) if phase_switch is not None else np.ones_like(time)
    frame = pd.DataFrame({
        "Cooperation Depth": level + 0.01 * (time - 2010),
        "Reciprocity": np.full_like(time, level),
        "Strategic Partnership Index": 0.02 * (time - 2010),
        "Strategic Commitment": 0.03 * (time - 2010),
        "Partnership Phase": phase,
        "Cumulative Transfer Value Russia to Iran": 10.0 * (time - 2010) * (1 + level),
    }, index=pd.Index(time, name="time"))
    return ComparedRun(name=name, description=f"synthetic {name}", source=DEFAULT_MODEL, kind="scenario",
                       trajectories=frame, summary=summarise(frame, name), model=DEFAULT_MODEL, model_sha256=sha,
                       dt=dt, engine="test", constants={"war start year": 2022.0})


GRID = np.arange(2010, 2035.001, 0.25)


def test_table_holds_known_values_and_differences():
    runs = [synthetic("low", GRID, 2030, level=0.0), synthetic("baseline", GRID, 2020, level=0.5)]
    comparison = build_comparison(runs)
    assert comparison.reference == "baseline"  # baseline wins over the first run
    table = metrics_table(comparison)
    assert list(table.index) == ["low", "baseline"]
    assert table.loc["baseline", "reference"] and not table.loc["low", "reference"]
    assert table.loc["low", "transition_year"] == 2030 and table.loc["baseline", "transition_year"] == 2020
    assert table.loc["low", "transition_year diff"] == 10
    assert table.loc["low", "years_phase_3"] == 5 and table.loc["baseline", "years_phase_3"] == 15
    assert table.loc["low", "years_phase_1 diff"] == 10
    assert table.loc["low", "cumulative_ri_value_2010_2024"] == pytest.approx(150)
    assert table.loc["low", "cumulative_ri_value_2010_2024 diff"] == pytest.approx(-75)
    assert table.loc["low", "Reciprocity 2030 diff"] == pytest.approx(-0.5)
    assert table.loc["low", "Cooperation Depth 2035"] == pytest.approx(0.25)
    assert table.loc["baseline", "Cooperation Depth 2035 diff"] == 0
    diffs = comparison.differences("Reciprocity")
    assert list(diffs.columns) == ["low"] and np.allclose(diffs["low"], -0.5)


def test_reference_defaults_to_the_first_run_without_a_baseline_and_can_be_chosen():
    runs = [synthetic("a", GRID, 2030), synthetic("b", GRID, 2020)]
    assert build_comparison(runs).reference == "a"
    assert build_comparison(runs, reference="b").reference == "b"
    with pytest.raises(InputError, match=r"--reference 'c'.*allowed: a, b"):
        build_comparison(runs, reference="c")


def test_vars_resolve_forgivingly_and_unknown_names_suggest():
    runs = [synthetic("a", GRID, 2030)]
    assert build_comparison(runs, variables=["reciprocity"]).variables == ("Reciprocity",)
    with pytest.raises(InputError, match="--vars.*did you mean 'Reciprocity'"):
        build_comparison(runs, variables=["Reciprocty"])
    with pytest.raises(InputError, match="--vars.*has no 'Mutual Trust'"):
        build_comparison(runs, variables=["Mutual Trust"])


def test_different_time_grids_are_refused_naming_both_runs():
    runs = [synthetic("fine", GRID, 2030), synthetic("coarse", np.arange(2010, 2035.001, 0.5), 2030)]
    with pytest.raises(InputError, match=r"'fine'.*'coarse'.*time grids differ.*--align"):
        build_comparison(runs)


def test_align_interpolates_onto_the_common_grid_and_says_so():
    runs = [synthetic("fine", GRID, 2030.1), synthetic("coarse", np.arange(2012, 2035.001, 0.5), 2030, level=0.5)]
    comparison = build_comparison(runs, align=True)
    assert comparison.notes and "--align" in comparison.notes[-1]
    time = comparison.time
    assert time[0] == 2012 and time[-1] == 2035 and np.allclose(np.diff(time), 0.5)
    depth = comparison.frame("Cooperation Depth")
    assert np.allclose(depth["fine"], 0.01 * (time - 2010))  # linear data interpolate exactly
    phase = comparison.frame("Partnership Phase")["fine"]
    assert set(phase.unique()) <= {1.0, 3.0}  # the phase is held, never averaged
    assert phase.loc[2030.0] == 1.0 and phase.loc[2030.5] == 3.0
    # the table still reports each run's own summary
    table = metrics_table(comparison)
    assert table.loc["fine", "transition_year"] == pytest.approx(2030.25)


@pytest.mark.parametrize("change, message", [
    ({"dt": 0.125}, "time steps differ"),
    ({"sha": "b" * 64}, "models differ"),
])
def test_different_time_step_or_model_is_refused(change, message):
    runs = [synthetic("one", GRID, 2030), synthetic("two", GRID, 2030, **change)]
    with pytest.raises(InputError, match=message):
        build_comparison(runs)
    assert message in build_comparison(runs, align=True).notes[0]


# --- real runs ---------------------------------------------------------------------------------


def write_folder(folder, result):
    folder.mkdir(parents=True)
    write_run(folder, result, summary_of(result), ["test"])
    return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory, run_scenario):
    root = tmp_path_factory.mktemp("runs")
    return {"baseline": write_folder(root / "a" / "baseline", run_scenario("baseline")),
            "nowar": write_folder(root / "b" / "baseline", run_scenario("baseline", **{"war start year": 2100}))}


def test_result_folders_are_read_with_their_provenance(folders):
    run = read_result_folder(folders["baseline"])
    manifest = json.loads((folders["baseline"] / "manifest.json").read_text())
    assert run.kind == "result" and run.name == "baseline"
    assert run.model_sha256 == manifest["model_sha256"] == model_info(DEFAULT_MODEL).sha256
    assert run.dt == manifest["dt"]
    assert run.constants["war start year"] == model_info(DEFAULT_MODEL).constants["war start year"].value


def test_table_numbers_equal_the_runs_summaries(folders):
    runs = gather_runs([folders["baseline"], folders["nowar"]])
    assert [r.name for r in runs][0] == "baseline" and runs[1].name.startswith("baseline (")  # made unique
    comparison = build_comparison(runs)
    table = metrics_table(comparison)
    for run, folder in zip(runs, folders.values()):
        summary = json.loads((folder / "summary.json").read_text())
        row = table.loc[run.name]
        assert _same(row["transition_year"], summary["transition_year"])
        assert row["cumulative_ri_value_2010_2024"] == pytest.approx(summary["cumulative_ri_value_2010_2024"])
        frame = pd.read_csv(folder / "trajectories.csv", index_col="time")
        held = pd.Series(frame.index, index=frame.index).diff().shift(-1).fillna(0.0)  # each save holds until the next
        for phase in (1, 2, 3):
            assert row[f"years_phase_{phase}"] == pytest.approx(held[frame["Partnership Phase"] == phase].sum())
        for name in comparison.variables:
            for year in ("2025", "2030", "2035"):
                assert row[f"{name} {year}"] == pytest.approx(summary["indicators"][name][year])
    # the war made the difference the article claims: no war, no reciprocity, no two-sided phase.
    # Without the war Russia needs no Iranian munitions, Iran->Russia stays 0 and Reciprocity
    # = 1 - |RI - 0| / RI = 0, below the two sided threshold: phase 2 cannot occur.
    nowar, base = table.loc[runs[1].name], table.loc["baseline"]
    assert nowar["Reciprocity 2025"] == 0 and nowar["years_phase_2"] == 0
    assert base["Reciprocity 2025"] > 0 and base["years_phase_2"] > 0  # two-sided in 2025 (the baseline's finding)
    assert nowar["Reciprocity 2025 diff"] == pytest.approx(-base["Reciprocity 2025"])
    assert nowar["cumulative_ri_value_2010_2024 diff"] < 0


def test_scenario_and_result_folder_of_the_same_run_agree(folders, baseline):
    runs = [from_result(baseline, summary_of(baseline)), read_result_folder(folders["baseline"])]
    runs[1] = type(runs[1])(**{**runs[1].__dict__, "name": "from folder"})
    table = metrics_table(build_comparison(runs))
    numbers = table.drop(columns="reference").astype(float)
    assert np.allclose(numbers.loc["baseline"], numbers.loc["from folder"], equal_nan=True)


def test_result_folders_with_different_dt_or_model_are_refused(folders, tmp_path):
    import shutil

    for key, value, message in (("dt", 0.125, "time steps differ"), ("model_sha256", "0" * 64, "models differ")):
        copy = tmp_path / key / "baseline"
        shutil.copytree(folders["baseline"], copy)
        manifest = json.loads((copy / "manifest.json").read_text())
        manifest[key] = value
        (copy / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(InputError, match=message):
            build_comparison(gather_runs([folders["baseline"], copy]))


def test_events_follow_each_runs_constants(run_scenario):
    runs = [from_result(r, summary_of(r)) for r in (run_scenario("baseline"),
                                                    run_scenario("baseline", **{"war start year": 2024}),
                                                    run_scenario("baseline", **{"war start year": 2100}))]
    runs = [runs[0]] + [type(r)(**{**r.__dict__, "name": n}) for r, n in zip(runs[1:], ("late", "never"))]
    events = event_positions(build_comparison(runs))
    wars = [e for e in events if e["label"] == "war"]
    assert {(round(e["year"], 2), tuple(e["runs"]), e["reference"]) for e in wars} == {
        (2022.15, ("baseline",), True), (2024.0, ("late",), False)}  # 2100 lies beyond the horizon
    labels = {e["label"] for e in events}
    assert {"UNSCR 1929", "JCPOA", "US JCPOA exit", "treaty", "snapback", "war on Iran"} <= labels
    # dated by the model file's constants, the same in every run: jcpoa implementation year = 2016.04
    jcpoa = next(e for e in events if e["label"] == "JCPOA")
    assert jcpoa["year"] == pytest.approx(2016.04) and set(jcpoa["runs"]) == {"baseline", "late", "never"}


def test_gather_refuses_missing_paths_and_foreign_folders(tmp_path):
    with pytest.raises(InputError, match="no such file or folder"):
        gather_runs([tmp_path / "missing.yaml"])
    with pytest.raises(InputError, match=r"not a result folder.*missing trajectories.csv"):
        gather_runs([tmp_path])
    with pytest.raises(InputError, match="at least one"):
        gather_runs([])


def test_table_text_is_fixed_width_with_the_reference_marked(folders):
    comparison = build_comparison(gather_runs([folders["baseline"], folders["nowar"]]))
    text = table_text(metrics_table(comparison), comparison.variables, comparison.reference)
    lines = text.splitlines()
    assert lines[0] == "Overview" and any(line.startswith("baseline *") for line in lines)
    assert "none (-)" in text  # the run without a transition
    block = text.split("\n\n")[1].splitlines()
    assert block[0] == "Cooperation Depth" and len({len(line) for line in block[1:]}) == 1


def _same(a, b):
    return (b is None and math.isnan(a)) or a == pytest.approx(b)
