"""Atomic result folders: all or nothing, never overwriting without force, one writer at a time."""
import subprocess
import sys

import pytest

from defdip.core.errors import InputError
from defdip.io.claims import claim, release
from defdip.io.folders import MARKER, atomic_folder, check_writable, marker_command


def names(folder):
    return sorted(p.name for p in folder.iterdir())


def made_by(target, kind, name="old.csv"):
    """A result folder written by the command ``kind``, holding one file."""
    with atomic_folder(target, kind=kind) as work:
        (work / name).write_text("old")
    return target


def test_failure_leaves_no_trace(tmp_path):
    target = tmp_path / "run"
    with pytest.raises(RuntimeError):
        with atomic_folder(target, kind="run") as work:
            (work / "half.csv").write_text("1,2")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_failure_leaves_no_parent_it_made(tmp_path):
    target = tmp_path / "new" / "deeper" / "run"
    with pytest.raises(RuntimeError):
        with atomic_folder(target, kind="run"):
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_existing_results_need_force(tmp_path):
    target = made_by(tmp_path / "run", "run")
    with pytest.raises(InputError, match="--force"):
        with atomic_folder(target, kind="run"):
            pass
    assert (target / "old.csv").read_text() == "old"


def test_failure_with_force_keeps_the_earlier_result(tmp_path):
    target = made_by(tmp_path / "run", "run")
    with pytest.raises(RuntimeError):
        with atomic_folder(target, force=True, kind="run") as work:
            (work / "new.csv").write_text("new")
            raise RuntimeError("boom")
    assert names(target) == sorted([MARKER, "old.csv"])
    assert names(tmp_path) == ["run"]


def test_success_with_force_replaces(tmp_path):
    target = made_by(tmp_path / "run", "run")
    with atomic_folder(target, force=True, kind="run") as work:
        (work / "new.csv").write_text("new")
    assert names(tmp_path) == ["run"]  # no lock, no work folder, no .old-PID left
    assert names(target) == sorted([MARKER, "new.csv"])
    assert marker_command(target) == "run"


def test_force_never_replaces_a_file(tmp_path):
    target = tmp_path / "f"
    target.write_text("precious\n")
    with pytest.raises(InputError, match="is a file"):
        with atomic_folder(target, force=True, kind="trends"):
            pass
    assert target.read_text() == "precious\n" and names(tmp_path) == ["f"]


def test_force_never_replaces_a_folder_the_command_did_not_write(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    other = made_by(tmp_path / "other", "run")
    for target in (mine, other):
        with pytest.raises(InputError, match=f"not a result folder of `defdip trends`.*{MARKER}"):
            with atomic_folder(target, force=True, kind="trends"):
                pass
    assert (mine / "thesis.tex").read_text() == "years of work" and names(other) == sorted([MARKER, "old.csv"])
    assert names(tmp_path) == ["mine", "other"]


def test_force_replaces_an_empty_folder(tmp_path):
    target = tmp_path / "run"
    target.mkdir()
    with atomic_folder(target, force=True, kind="run") as work:
        (work / "new.csv").write_text("new")
    assert names(target) == sorted([MARKER, "new.csv"])


@pytest.mark.parametrize("below", ["f", "f/deeper"])
def test_a_file_in_the_way_is_refused_before_anything_runs(tmp_path, below):
    (tmp_path / "f").write_text("precious\n")
    with pytest.raises(InputError, match=f"{tmp_path / 'f'}: is a file"):
        check_writable(tmp_path / below / "run", False, kind="run")
    assert (tmp_path / "f").read_text() == "precious\n" and names(tmp_path) == ["f"]


def test_a_killed_writers_work_folders_are_removed_by_the_next(tmp_path):
    target = made_by(tmp_path / "run", "run")
    for stale in (".run.tmp-abc123", ".run.tmp-old-xyz"):  # as a SIGKILL mid-write would leave them
        (tmp_path / stale).mkdir()
        (tmp_path / stale / "half.csv").write_text("1,2")
    (tmp_path / ".running.tmp-abc").mkdir()  # another folder's: not touched
    with atomic_folder(target, force=True, kind="run") as work:
        (work / "new.csv").write_text("new")
    assert names(tmp_path) == [".running.tmp-abc", "run"]


def test_a_second_claim_in_the_same_process_is_the_same(tmp_path):
    target = tmp_path / "run"
    assert claim(target) is claim(target)
    release(target)
    assert list(tmp_path.iterdir()) == []


HOLDER = """
import sys
from pathlib import Path
from defdip.io.folders import check_writable
check_writable(Path(sys.argv[1]), False, kind=sys.argv[2])
print("held", flush=True)
sys.stdin.read()
"""


def test_a_second_process_refuses_a_folder_being_written(tmp_path):
    """A real `defdip run` while another process holds its result folder; then after that one has gone."""
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out / "baseline"), "run"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        second = subprocess.run([sys.executable, "-m", "defdip", "run", "-o", str(out)], capture_output=True,
                                text=True)
        assert second.returncode == 2 and len(second.stderr.splitlines()) == 1, second.stderr
        assert "another defdip command" in second.stderr and f"process {holder.pid}" in second.stderr
        assert str(out / "baseline") in second.stderr
    finally:
        holder.communicate("")
    assert not (out / "baseline").exists()
    # the holder ended without releasing (as a killed one would): its lock ended with it
    third = subprocess.run([sys.executable, "-m", "defdip", "run", "-o", str(out)], capture_output=True, text=True)
    assert third.returncode == 0, third.stderr
    assert names(out) == ["baseline"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 exchange is Linux's")
def test_force_swaps_the_folders_so_the_result_never_goes_missing(tmp_path, monkeypatch):
    """Every rename made while replacing leaves a whole result at the target (old or new)."""
    import os

    import defdip.io.folders as folders

    target = made_by(tmp_path / "run", "run")
    renames = []

    def checked(source, destination):
        os.rename(source, destination)
        renames.append(destination)
        assert marker_command(target) == "run", f"{target} missing after renaming {source} to {destination}"

    monkeypatch.setattr(folders.os, "replace", checked)
    with atomic_folder(target, force=True, kind="run") as work:
        (work / "new.csv").write_text("new")
    assert renames and names(target) == sorted([MARKER, "new.csv"]) and names(tmp_path) == ["run"]
