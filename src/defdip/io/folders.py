"""Result folders written atomically: everything appears at once, or nothing does.

A command writes one result folder, ``PARENT/<name>``, where ``PARENT`` is its ``-o`` folder and the
name is the command's own. While a command holds a result folder it holds a lock on it
(``PARENT/.<name>.lock``, :func:`defdip.io.claims.claim`), so a second command aimed at the same folder refuses instead
of replacing it. The folder is assembled in a hidden temporary sibling and swapped into place by
one rename; it carries a marker, :data:`MARKER`, naming the command that wrote it. An existing
folder is replaced only with ``force``, and only when its marker names the same command: never a
file, never a folder some other command or person made. A failure leaves no trace.
"""
from __future__ import annotations

import errno
import glob
import json
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from defdip.core.errors import InputError
from defdip.io.claims import claim, is_claimed, release

MARKER = ".defdip-result.json"  # {"command": ...}: which command wrote the folder
TEMPORARY = ".tmp-"  # a work folder is ``.<name>.tmp-<random>`` beside its target


def marker_command(folder: Path) -> str | None:
    """The command named by ``folder``'s marker, or ``None`` when it has no readable one."""
    try:
        return json.loads((Path(folder) / MARKER).read_text(encoding="utf-8")).get("command")
    except (OSError, ValueError, AttributeError):
        return None


def write_marker(folder: Path, kind: str) -> None:
    """Mark ``folder`` as the result of the command ``kind``."""
    write_json(Path(folder) / MARKER, {"command": kind})


def check_target(target: Path) -> None:
    """Refuse a result folder that cannot be written: below a file, a file itself, or read-only.

    Raises
    ------
    InputError
        Naming the path and what is wrong, before anything runs.
    """
    target = Path(target)
    if target.is_symlink():
        raise InputError(f"{target}: is a symbolic link, not a result folder; give another -o or remove the link")
    if target.exists() and not target.is_dir():
        raise InputError(f"{target}: is a file, not a result folder; -o names the folder that holds "
                         "the results (give another -o or move the file away)")
    ancestor = target.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise InputError(f"{ancestor}: is a file; -o needs a folder (give another -o)")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise InputError(f"{ancestor}: is not writable; give -o a folder you can write to")


def check_writable(target: Path, force: bool, *, kind: str) -> None:
    """Claim ``target`` for the command ``kind`` and refuse, before anything runs, what it may not replace.

    Parameters
    ----------
    target : Path
        The result folder.
    force : bool
        Replace an earlier result of the same command.
    kind : str
        The command writing it (``"run"``, ``"trends"``, ...), recorded in its marker.

    Raises
    ------
    InputError
        If ``target`` is a file or below one, another command is writing it, it holds an earlier
        result and ``force`` is off, or it is a folder ``kind`` did not write.
    """
    target = Path(target)
    check_target(target)
    new = not is_claimed(target)
    claim(target)
    if new:
        _remove_stale(target)  # only the claim's holder may
    try:
        _check_replaceable(target, force, kind)
    except InputError:
        if new:
            release(target)
        raise


def _remove_stale(target: Path) -> None:
    """Remove work folders a killed command left beside ``target`` (only its claim's holder may)."""
    for stale in target.parent.glob(f".{glob.escape(target.name)}{TEMPORARY}*"):
        shutil.rmtree(stale, ignore_errors=True)


def _check_replaceable(target: Path, force: bool, kind: str) -> None:
    if not target.exists():
        return
    if not force:
        raise InputError(f"{target}: results already exist; use --force to overwrite or -o to choose another folder")
    if any(target.iterdir()) and marker_command(target) != kind:
        raise InputError(f"{target}: not a result folder of `defdip {kind}` (no {MARKER} naming it); "
                         "--force replaces only those: move it away or choose another -o")


@contextmanager
def atomic_folder(target: Path, force: bool = False, *, kind: str):
    """Yield a temporary folder that replaces ``target`` when the block succeeds.

    Parameters
    ----------
    target : Path
        The result folder.
    force : bool
        Replace an earlier result of the same command.
    kind : str
        The command writing it, recorded in the folder's marker.

    Raises
    ------
    InputError
        As :func:`check_writable`.
    """
    with atomic_folders([target], force, kind=kind) as (work,):
        yield work


@contextmanager
def atomic_folders(targets: list[Path], force: bool = False, *, kind: str):
    """Yield one temporary folder per target; all replace their targets together when the block succeeds.

    Every target is checked and claimed before anything is written, and nothing is published
    until the block has finished every folder: a failure or Ctrl-C in any of them leaves none
    behind. Publishing is then one rename per folder.

    Parameters
    ----------
    targets : list of Path
        The result folders.
    force : bool
        Replace earlier results of the same command.
    kind : str
        The command writing them, recorded in each folder's marker.

    Raises
    ------
    InputError
        As :func:`check_writable`, for the first target that fails it.
    """
    targets = [Path(t) for t in targets]
    published: set[Path] = set()
    works: list[Path] = []
    try:
        for target in targets:
            check_writable(target, force, kind=kind)
        for target in targets:
            works.append(Path(tempfile.mkdtemp(prefix=f".{target.name}{TEMPORARY}", dir=target.parent)))
        yield list(works)
        for work in works:
            finish(work, kind)
        for work, target in zip(works, targets):
            replace_folder(work, target)
            published.add(target)
    except BaseException:
        for work in works:
            shutil.rmtree(work, ignore_errors=True)  # a published one is no longer there
        raise
    finally:
        for target in reversed(targets):  # the first claim made the parent folders: released last
            release(target, target in published)


def publish(work: Path, target: Path, kind: str) -> None:
    """Mark the finished folder ``work`` as ``kind``'s and swap it into place at ``target``."""
    finish(work, kind)
    replace_folder(work, target)


def finish(work: Path, kind: str) -> None:
    """Mark the finished folder ``work`` as ``kind``'s and give it ordinary permissions."""
    write_marker(work, kind)
    work.chmod(0o777 & ~_umask())  # mkdtemp makes it private; results are ordinary folders


def replace_folder(work: Path, target: Path) -> None:
    """Rename the finished folder ``work`` to ``target``, replacing an earlier one in one step.

    On Linux the two are exchanged by ``renameat2(RENAME_EXCHANGE)``, so ``target`` is at every
    instant either the old result or the new one; elsewhere the old one is moved aside first and
    put back if the rename fails. The old result is then deleted under a temporary name, which a
    later claim removes if this process is killed meanwhile.
    """
    work, target = Path(work), Path(target)
    if not target.exists():
        os.replace(work, target)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}{TEMPORARY}old-", dir=target.parent))
    if _exchange(work, target):
        os.replace(work, aside)  # ``work`` now holds the old result
    else:
        os.replace(target, aside)
        try:
            os.replace(work, target)
        except BaseException:
            os.replace(aside, target)
            raise
    shutil.rmtree(aside, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); ``False`` where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # a file system without exchange
        return False
    raise OSError(code, os.strerror(code), str(b))


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
