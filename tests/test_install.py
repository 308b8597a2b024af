"""The package as a user installs it: a wheel carries the model, scenarios and data, and runs
from a folder with nothing else in it; shipped scenarios can be copied, edited and named."""
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, SCENARIOS

from defdip.cli.main import main
from defdip.core.resources import scenario_path, shipped

SHIPPED = {"models": ROOT / "models", "scenarios": ROOT / "scenarios", "data": ROOT / "data"}


def test_the_resources_are_the_repository_files():
    for folder, source in SHIPPED.items():
        for file in source.iterdir():
            if file.suffix in (".mdl", ".yaml", ".csv"):
                assert shipped(folder, file.name).read_bytes() == file.read_bytes(), file


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                    "-w", str(out), str(ROOT)], check=True, capture_output=True)
    (path,) = out.glob("defdip-*.whl")
    return path


@pytest.mark.slow
def test_the_wheel_carries_every_shipped_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, source in SHIPPED.items():
        for file in source.iterdir():
            if file.suffix in (".mdl", ".yaml", ".csv"):
                assert f"defdip/shipped/{folder}/{file.name}" in names, file


@pytest.mark.slow
def test_the_unpacked_wheel_runs_the_baseline_from_an_empty_folder(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path / "elsewhere"
    work.mkdir()
    # Only the unpacked wheel (and the dependencies already installed) on the path: no source tree.
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONSAFEPATH": "1"}
    done = subprocess.run([sys.executable, "-c", "import defdip, sys; print(defdip.__file__); "
                           "from defdip.cli.main import main; sys.exit(main(['run', 'ceasefire_2027']))"],
                          cwd=work, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith(str(site))
    summary = json.loads((work / "results" / "ceasefire_2027" / "summary.json").read_text())
    assert summary["scenario"] == "ceasefire_2027"


def test_copied_scenarios_run_and_their_extends_resolve(tmp_path, capsys):
    copies = tmp_path / "mine"
    assert main(["scenarios", "--copy", str(copies)]) == 0
    assert sorted(p.name for p in copies.glob("*.yaml")) == sorted(p.name for p in SCENARIOS.glob("*.yaml"))
    edited = copies / "ceasefire_2027.yaml"
    text = edited.read_text()
    assert "war end year: 2027.5" in text
    edited.write_text(text.replace("war end year: 2027.5", "war end year: 2031"))
    assert main(["run", str(edited), "-o", str(tmp_path / "out")]) == 0
    frame = (tmp_path / "out" / "ceasefire_2027" / "manifest.json").read_text()
    assert json.loads(frame)["scenario"]["constants"]["war end year"] == 2031


def test_copy_refuses_to_overwrite_and_writes_nothing(tmp_path, capsys):
    copies = tmp_path / "mine"
    copies.mkdir()
    (copies / "baseline.yaml").write_text("mine\n")
    assert main(["scenarios", "--copy", str(copies)]) == 2
    err = capsys.readouterr().err
    assert "baseline.yaml" in err and "--force" in err
    assert [p.name for p in copies.iterdir()] == ["baseline.yaml"]
    assert (copies / "baseline.yaml").read_text() == "mine\n"
    assert main(["scenarios", "--copy", str(copies), "--force"]) == 0
    assert (copies / "baseline.yaml").read_bytes() == (SCENARIOS / "baseline.yaml").read_bytes()


@pytest.mark.parametrize("arg", ["no_war", "no_war.yaml", "scenarios/no_war.yaml"])
def test_shipped_scenarios_are_found_by_name_from_anywhere(arg, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert scenario_path(arg) == shipped("scenarios", "no_war.yaml")


def test_an_existing_file_wins_over_a_shipped_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("no_war.yaml").write_text("name: mine\n")
    assert scenario_path("no_war.yaml") == Path("no_war.yaml")
    assert scenario_path("unknown") == Path("unknown")


def test_the_readme_paths_name_shipped_files_from_any_folder(tmp_path, monkeypatch):
    from defdip.core.resources import MODELS_DIR, model_path, shipped_glob, shipped_scenarios

    monkeypatch.chdir(tmp_path)
    assert model_path("models/iran_russia.mdl") == MODELS_DIR / "iran_russia.mdl"
    assert model_path("elsewhere/iran_russia.mdl") == Path("elsewhere/iran_russia.mdl")
    assert shipped_glob(["scenarios/*.yaml", "x.yaml"]) == [*shipped_scenarios(), Path("x.yaml")]
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "*.yaml").write_text("")  # a file of that name is that file
    assert shipped_glob(["scenarios/*.yaml"]) == [Path("scenarios/*.yaml")]


def test_validate_of_another_model_skips_the_shipped_models_checks_and_record(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    teacup = ROOT / "tests" / "models" / "golden" / "teacup" / "teacup.mdl"
    assert main(["validate", "--model", str(teacup), "--skip", "extremes,convergence"]) == 0
    assert "ALL PASS" in capsys.readouterr().out


def test_a_copy_of_the_shipped_checks_runs_from_another_folder(tmp_path, monkeypatch):
    from defdip.core.resources import CHECKS_FILE
    from defdip.validation.checks_file import load_checks

    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_checks.yaml").write_bytes(CHECKS_FILE.read_bytes())
    assert load_checks(tmp_path / "my_checks.yaml")
