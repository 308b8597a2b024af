"""Result folders written atomically: everything appears at once, or nothing does.

A result folder is assembled in a hidden temporary sibling and renamed into place.
An existing folder is replaced only with ``force``; a failure leaves no trace.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from defdip.core.errors import InputError


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


@contextmanager
def atomic_file(target: Path, overwrite: bool = False, what: str = "file"):
    """Yield a temporary path beside ``target`` that takes its name when the block succeeds.

    The temporary file is in the same folder, named ``.tmp-<pid>-<random><suffix>`` (same
    suffix, so writers that add one find it), and is removed if the block fails.

    Raises
    ------
    InputError
        If ``target`` exists and ``overwrite`` is false, or is a folder.
    """
    target = Path(target)
    if target.is_dir():
        raise InputError(f"{target}: is a folder; give a file name")
    if target.exists() and not overwrite:
        raise InputError(f"{target}: {what} already exists; choose another name or allow overwriting")
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".tmp-{os.getpid()}-", suffix=target.suffix, dir=target.parent)
    os.close(handle)
    tmp = Path(name)
    try:
        yield tmp
        tmp.chmod(0o666 & ~_umask())  # mkstemp makes it private; results are ordinary files
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def copy_files(files, folder: Path, force: bool = False) -> list[Path]:
    """Copy ``files`` into ``folder`` (created if needed); returns the new paths.

    Every name is checked before anything is copied, and each copy is written under a temporary
    name and renamed, so an existing file is never half-replaced.

    Raises
    ------
    InputError
        If ``folder`` is a file, or holds a file of the same name and ``force`` is false.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: is a file; --copy needs a folder")
    targets = [folder / Path(f).name for f in files]
    clashes = [t.name for t in targets if t.exists()]
    if clashes and not force:
        raise InputError(f"{folder}: already holds {', '.join(clashes)}; use --force to overwrite them "
                         "or choose another folder")
    folder.mkdir(parents=True, exist_ok=True)
    for source, target in zip(files, targets):
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    return targets


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
