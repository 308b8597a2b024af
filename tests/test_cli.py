"""The command line end to end: outputs, exit codes, and nothing lost on bad input."""
import json
import os
import subprocess
import sys

import pytest
from conftest import SCENARIOS

from defdip.cli.main import main

SUMMARY_KEYS = {"scenario", "phase_by_year", "phase_changes", "transition_year",
                "cumulative_ri_value_2010_2024", "indicators"}
OUTPUTS = ("trajectories.csv", "summary.json", "trajectories.png", "trajectories.svg", "manifest.json")


@pytest.fixture(scope="module")
def baseline_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    assert main(["run", "-o", str(out)]) == 0
    return out / "baseline"


def test_default_run_writes_the_four_outputs(baseline_dir):
    for name in OUTPUTS:
        assert (baseline_dir / name).stat().st_size > 0, name
    summary = json.loads((baseline_dir / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(summary)
    assert set(summary["phase_by_year"].values()) <= {1, 2, 3}
    manifest = json.loads((baseline_dir / "manifest.json").read_text())
    assert {"scenario", "model_sha256", "versions", "engine", "dt", "command_line", "wall_time_s"} <= set(manifest)
    header = (baseline_dir / "trajectories.csv").read_text().splitlines()[0].split(",")
    assert header[0] == "time" and "Strategic Partnership Index" in header and "Strategic Commitment" in header


def test_rerun_without_force_is_refused_and_keeps_the_results(baseline_dir, capsys):
    before = (baseline_dir / "summary.json").read_bytes()
    assert main(["run", "-o", str(baseline_dir.parent)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (baseline_dir / "summary.json").read_bytes() == before


def test_force_overwrites(tmp_path):
    assert main(["run", "-o", str(tmp_path)]) == 0
    (tmp_path / "baseline" / "marker").write_text("old")
    assert main(["run", "-o", str(tmp_path), "--force"]) == 0
    assert not (tmp_path / "baseline" / "marker").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_set_changes_the_run_and_is_recorded(tmp_path, baseline_dir):
    assert main(["run", "-o", str(tmp_path), "--set", "war start year=2100"]) == 0
    summary = json.loads((tmp_path / "baseline" / "summary.json").read_text())
    # Without the war Iran never supplies Russia: Reciprocity = 1 - |RI - 0| / RI = 0, so the
    # two-sided phase the baseline reaches in 2025 never comes
    assert json.loads((baseline_dir / "summary.json").read_text())["phase_by_year"]["2025"] == 2
    assert summary["indicators"]["Reciprocity"]["2025"] == 0
    assert 2 not in summary["phase_by_year"].values() and summary["transition_year"] is None
    manifest = json.loads((tmp_path / "baseline" / "manifest.json").read_text())
    assert manifest["scenario"]["constants"]["war start year"] == 2100


def test_several_scenarios_in_one_call(tmp_path):
    files = [str(SCENARIOS / "baseline.yaml"), str(SCENARIOS / "no_war.yaml")]
    assert main(["run", *files, "-o", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == {"baseline", "no_war"}


@pytest.mark.parametrize("args, fragment", [
    pytest.param(["--set", "war start yaer=2100"], "did you mean 'war start year'", id="misspelt-set"),
    pytest.param(["--set", "war start year=soon"], "not a number", id="set-not-number"),
    pytest.param(["--set", "war start year=1900"], "war start year", id="set-out-of-range"),
    pytest.param(["--set", "Mutual Trust=0.5"], "Mutual Trust", id="set-a-stock"),
    pytest.param(["--engine", "warp"], "engine", id="unknown-engine"),
    pytest.param(["missing.yaml"], "missing.yaml", id="missing-scenario"),
    pytest.param(["--model", "nothing.mdl"], "nothing.mdl", id="missing-model"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, args, fragment):
    out = tmp_path / "out"
    assert main(["run", "-o", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())


def test_invalid_scenario_file_is_named_with_its_key(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nconstants:\n  escalaton rate: 2\n")
    assert main(["run", str(bad), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "escalaton rate" in err and "escalation rate" in err
    assert not (tmp_path / "out").exists()


def test_model_run_uses_the_models_own_settings(tmp_path):
    from conftest import ROOT
    teacup = ROOT / "tests" / "models" / "golden" / "teacup" / "teacup.mdl"
    if not teacup.exists():
        pytest.skip("shared test models not present next to the repository")
    assert main(["run", "--model", str(teacup), "-o", str(tmp_path)]) == 0
    lines = (tmp_path / "teacup" / "trajectories.csv").read_text().splitlines()
    assert lines[1].startswith("0.0,") and lines[-1].startswith("30.0,")


def test_describe_and_scenarios(capsys):
    assert main(["describe", "war start year"]) == 0
    out = capsys.readouterr().out
    # the model file cites its sources by date (events.csv 2022-02-24), not by row
    assert "2022.15" in out and "Year" in out and "events.csv 2022-02-24" in out
    assert main(["describe", "war strat year"]) == 2
    capsys.readouterr()
    assert main(["scenarios"]) == 0
    listed = [line.split(" (")[0] for line in capsys.readouterr().out.splitlines()
              if line and not line.startswith((" ", "Scenarios of"))]
    # names `defdip run NAME` takes: the default model's, then the other models' (scenarios/partners/)
    assert listed == (sorted(p.stem for p in SCENARIOS.glob("*.yaml"))
                      + sorted(p.stem for p in SCENARIOS.glob("*/*.yaml")))


def test_python_dash_m_entry_point(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "defdip", "describe", "Reciprocity"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "Dmnl" in proc.stdout


@pytest.mark.parametrize("argv", [["--debug", "run", "--set", "x=1"], ["run", "--debug", "--set", "x=1"]],
                         ids=["before-subcommand", "after-subcommand"])
def test_debug_shows_the_traceback(tmp_path, argv):
    from defdip.core.errors import InputError
    with pytest.raises(InputError):
        main(argv + ["-o", str(tmp_path)])


def test_minus_o_is_the_parent_folder_in_every_command(tmp_path, capsys):
    """`defdip run` then the other commands with the same -o and --force: each writes its own folder
    beside the run's and the run's is untouched."""
    from conftest import ROOT

    assert main(["run", "-o", str(tmp_path)]) == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "baseline").iterdir()}
    matrix = tmp_path.parent / f"{tmp_path.name}-matrix.csv"
    matrix.write_text(",A,B,C\nA,0,2,1\nB,2,0,1\nC,1,1,0\n")
    commands = {
        "trends": ["trends"],
        "micmac": ["micmac", str(matrix)],
        "loops": ["loops", "--model", str(ROOT / "tests" / "models" / "ltm" / "bass.mdl")],
        "compare": ["compare", str(tmp_path / "baseline")],
        "report": ["report", str(tmp_path / "baseline")],
    }
    for name, argv in commands.items():
        assert main([*argv, "-o", str(tmp_path), "--force"]) == 0, name
        assert str(tmp_path / name) in capsys.readouterr().out, name
    assert {p.name for p in tmp_path.iterdir()} == {"baseline", *commands}
    assert {p.name: p.read_bytes() for p in (tmp_path / "baseline").iterdir()} == before


@pytest.mark.parametrize("command", [["run"], ["trends"], ["micmac"]])
def test_force_onto_a_file_is_refused_and_keeps_it(tmp_path, capsys, command):
    """`echo precious > f; defdip CMD -o DIR --force` where the result folder's name is taken by a file,
    and with -o itself a file: exit 2, one line naming the file, the file kept, nothing else written."""
    name = {"run": "baseline"}.get(command[0], command[0])
    (tmp_path / name).write_text("precious\n")
    assert main([*command, "-o", str(tmp_path), "--force"]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / name}: is a file" in err and len(err.strip().splitlines()) == 1
    assert main([*command, "-o", str(tmp_path / name), "--force"]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / name}: is a file" in err and len(err.strip().splitlines()) == 1
    assert (tmp_path / name).read_text() == "precious\n"
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no .old-PID, no lock, no work folder


def test_force_never_replaces_a_folder_another_command_wrote(tmp_path, capsys):
    assert main(["run", "--set", "war start year=2100", "-o", str(tmp_path)]) == 0
    (tmp_path / "baseline").rename(tmp_path / "trends")  # a run's folder where trends writes
    mine = tmp_path / "micmac"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    before = {p.name: p.read_bytes() for p in (tmp_path / "trends").iterdir()}
    assert main(["trends", "-o", str(tmp_path), "--force"]) == 2
    assert "not a result folder of `defdip trends`" in capsys.readouterr().err
    assert main(["micmac", "-o", str(tmp_path), "--force"]) == 2
    assert "not a result folder of `defdip micmac`" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in (tmp_path / "trends").iterdir()} == before
    assert (mine / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["micmac", "trends"]


def test_two_identical_runs_at_once_one_writes_the_other_refuses(tmp_path):
    """Two real processes, started together, into one folder: never both 0, never an internal error."""
    argv = [sys.executable, "-m", "defdip", "run", "-o", str(tmp_path / "same")]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert sorted(code for code, _ in results) == [0, 2], results
    (err,) = [err for code, err in results if code == 2]
    assert len(err.strip().splitlines()) == 1
    assert "another defdip command" in err or "already exist" in err
    assert [p.name for p in (tmp_path / "same").iterdir()] == ["baseline"]


def must_not_run(*args, **kwargs):
    raise AssertionError("the model ran before the output folder was checked")


NOTHING_RUNS = {"run": "defdip.io.pipeline.simulate", "sweep": "defdip.sweep.executors.simulate_batch",
                "dominance": "defdip.io.dominance_folder.dominance", "compare": "defdip.compare.gather.simulate"}
COMMANDS = {"run": ["run"], "sweep": ["sweep", "baseline", "--method", "mc", "--samples", "4"],
            "dominance": ["dominance"], "compare": ["compare", str(SCENARIOS / "baseline.yaml")]}


@pytest.mark.parametrize("command", ["run", "sweep", "dominance"])
@pytest.mark.parametrize("below", ["", "deeper"])
def test_minus_o_a_file_or_below_one_is_refused_before_running(tmp_path, capsys, monkeypatch, command, below):
    monkeypatch.setattr(NOTHING_RUNS[command], must_not_run)
    (tmp_path / "f").write_text("precious\n")
    assert main([*COMMANDS[command], "-o", str(tmp_path / "f" / below)]) == 2
    err = capsys.readouterr().err
    assert err == f"defdip: error: {tmp_path / 'f'}: is a file; -o needs a folder (give another -o)\n"
    assert (tmp_path / "f").read_text() == "precious\n" and [p.name for p in tmp_path.iterdir()] == ["f"]


@pytest.mark.skipif(os.geteuid() == 0, reason="permissions do not bind root")
@pytest.mark.parametrize("command", ["run", "sweep", "compare"])
def test_a_read_only_output_folder_is_refused_before_running(tmp_path, capsys, monkeypatch, command):
    monkeypatch.setattr(NOTHING_RUNS[command], must_not_run)
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert main([*COMMANDS[command], "-o", str(locked)]) == 2
        assert capsys.readouterr().err == (f"defdip: error: {locked}: is not writable; give -o a folder you can "
                                           "write to\n")
        assert not any(locked.iterdir())
    finally:
        locked.chmod(0o755)


@pytest.mark.parametrize("argv, message", [
    (["--seed", "-1"], "--seed: -1 is not allowed; give a whole number from 0 to 4294967295"),
    (["--samples", "1000000000000"], "--samples 1000000000000: the mc design over 27 constants would be "
                                     "1,000,000,000,000 runs; at most 10,000,000 are allowed"),
])
def test_a_sweep_too_big_or_a_negative_seed_is_refused_before_running(tmp_path, capsys, monkeypatch, argv,
                                                                      message):
    monkeypatch.setattr(NOTHING_RUNS["sweep"], must_not_run)
    assert main(["sweep", "baseline", "--method", "mc", *argv, "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.splitlines()) == 1
    assert not any(tmp_path.iterdir())


def test_run_says_in_words_what_it_found_and_which_files_to_open(tmp_path, capsys):
    from defdip.cli.main import main

    assert main(["run", "baseline", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "open trajectories.png" in out and "trajectories.csv" in out
    assert "  phases: 1 tactical, one-sided 2010-2024; 2 tactical, two-sided 2025-" in out
    assert ("  verdict: the partnership never becomes strategic (phase 3 reached and held 2 years never "
            "happens); transition year: none") in out
    assert "arms delivered Russia->Iran 2010-2024: 569 (million SIPRI TIV)" in out


def test_the_files_the_code_cites_exist():
    """A docstring that sends the reader to ``design/interface.md`` sent them nowhere."""
    import re

    from conftest import ROOT

    cited = re.compile(r"(?<![\w./-])((?:[\w-]+/)+[\w.-]+\.(?:md|txt|csv|yaml|mdl|json|py))\b")
    refs = {(path.relative_to(ROOT).as_posix(), ref) for path in (ROOT / "src" / "defdip").rglob("*.py")
            for ref in cited.findall(path.read_text(encoding="utf-8"))}
    assert refs, "the pattern finds the citations (data/series.csv and the like)"
    assert [(where, ref) for where, ref in sorted(refs) if not (ROOT / ref).exists()] == []


@pytest.mark.parametrize("command", ["validate", "calibrate", "sweep"])
def test_engine_help_promises_no_fallback(command):
    """The many-run commands default to the compiled engine and refuse what it cannot compile."""
    from defdip.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command" or getattr(a, "choices", None))
    engine = next(a for a in sub.choices[command]._actions if "--engine" in a.option_strings)
    assert "available" not in engine.help and "ensemble" in engine.help and "refused" in engine.help
    assert engine.default is None
