"""Atomic result folders: all or nothing, never overwriting without force."""
import pytest

from defdip.core.errors import InputError
from defdip.io.folders import atomic_folder


def test_failure_leaves_no_trace(tmp_path):
    target = tmp_path / "run"
    with pytest.raises(RuntimeError):
        with atomic_folder(target) as work:
            (work / "half.csv").write_text("1,2")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_existing_results_need_force(tmp_path):
    target = tmp_path / "run"
    target.mkdir()
    (target / "old.csv").write_text("old")
    with pytest.raises(InputError, match="--force"):
        with atomic_folder(target):
            pass
    assert (target / "old.csv").read_text() == "old"


def test_failure_with_force_keeps_the_earlier_result(tmp_path):
    target = tmp_path / "run"
    target.mkdir()
    (target / "old.csv").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_folder(target, force=True) as work:
            (work / "new.csv").write_text("new")
            raise RuntimeError("boom")
    assert [p.name for p in target.iterdir()] == ["old.csv"]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_success_with_force_replaces(tmp_path):
    target = tmp_path / "run"
    target.mkdir()
    (target / "old.csv").write_text("old")
    with atomic_folder(target, force=True) as work:
        (work / "new.csv").write_text("new")
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert [p.name for p in target.iterdir()] == ["new.csv"]
