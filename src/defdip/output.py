"""Write a run's results atomically: everything appears at once, or nothing does.

A result folder is assembled in a hidden temporary sibling and renamed into place.
An existing folder is replaced only with ``force``; a failure leaves no trace.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from defdip.errors import InputError
from defdip.model import file_hash

PACKAGES = ("defdip", "pysd", "numpy", "pandas", "scipy", "xarray", "matplotlib", "pyyaml")


def check_writable(target: Path, force: bool) -> None:
    """Refuse before anything runs if ``target`` holds an earlier result and ``force`` is off."""
    if target.exists() and not force:
        raise InputError(f"{target}: results already exist; use --force to overwrite or -o to choose another folder")


@contextmanager
def atomic_folder(target: Path, force: bool = False):
    """Yield a temporary folder that replaces ``target`` when the block succeeds.

    Raises
    ------
    InputError
        If ``target`` exists and ``force`` is false.
    """
    target = Path(target)
    check_writable(target, force)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield work
        work.chmod(0o777 & ~_umask())  # mkdtemp makes it private; results are ordinary folders
        replace_folder(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def replace_folder(work: Path, target: Path) -> None:
    """Rename the finished folder ``work`` to ``target``, replacing an earlier one.

    The earlier folder is moved aside first and put back if the rename fails, so
    ``target`` is always either the old result or the new one.
    """
    if not target.exists():
        os.replace(work, target)
        return
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    os.replace(target, old)
    try:
        os.replace(work, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: Path, data) -> None:
    """JSON with sorted-free, indented, UTF-8 output."""
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=_jsonable) + "\n", encoding="utf-8")


def _jsonable(obj):
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if hasattr(obj, "items"):
        return dict(obj.items())
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def versions() -> dict[str, str]:
    """Installed versions of the packages a result depends on."""
    import platform  # here, not at import: a run reaches this while its figure is being drawn
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def scenario_record(scenario) -> dict:
    """The resolved scenario as plain data for the manifest."""
    return {
        "name": scenario.name,
        "description": scenario.description,
        "source": str(scenario.source) if scenario.source else None,
        "model": str(scenario.model),
        "time": asdict(scenario.time),
        "constants": dict(scenario.constants),
        "series": {k: [list(p) for p in v] for k, v in scenario.series.items()},
        "uncertainties": {k: asdict(u) for k, u in scenario.uncertainties.items()},
        "outputs": list(scenario.outputs),
    }


def manifest(result, command_line: list[str]) -> dict:
    """Provenance of one run: what ran, on what, how, and how long it took."""
    scenario = result.scenario
    return {
        "scenario": scenario_record(scenario),
        "model_file": str(scenario.model),
        "model_sha256": file_hash(scenario.model),
        "versions": versions(),
        "engine": result.engine,
        "dt": scenario.time.dt,
        "saveper": scenario.time.saveper,
        "command_line": command_line,
        "wall_time_s": round(result.wall_time, 4),
    }


def write_run(work: Path, result, summary: dict, command_line: list[str]) -> None:
    """Write trajectories.csv, summary.json and manifest.json into ``work``."""
    result.trajectories.to_csv(work / "trajectories.csv", index_label="time")
    write_json(work / "summary.json", summary)
    write_json(work / "manifest.json", manifest(result, command_line))
