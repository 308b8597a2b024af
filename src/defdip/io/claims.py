"""One writer per result folder: a lock beside it, held from the command's check to its publish.

:func:`claim` takes ``fcntl.flock`` on ``PARENT/.<name>.lock`` (non-blocking: a second process
aimed at the same folder is refused at once, naming the holder's process id); :func:`release`
gives it up and removes the lock file. A lock ends with its process however that ends, so a
killed command never leaves a folder locked. :mod:`defdip.io.folders` claims every result
folder it checks; the command line releases what is left when a command ends.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from defdip.core.errors import InputError

LOCK_SUFFIX = ".lock"


@dataclass
class Claim:
    """A result folder this process holds: its lock file's descriptor and the parents it made."""

    target: Path
    lock: Path
    fd: int | None
    created: list[Path] = field(default_factory=list)


_CLAIMS: dict[Path, Claim] = {}  # result folders held by this process, by absolute path


def claim(target: Path) -> Claim:
    """Lock the result folder ``target`` for this process (again: the same claim).

    The lock is ``fcntl.flock`` on ``PARENT/.<name>.lock``, so it ends with the process however
    that ends. Missing parent folders are created, and removed again by :func:`release` unless
    the result was published.

    Raises
    ------
    InputError
        If another process holds it.
    """
    target = Path(target)
    key = Path(os.path.abspath(target))
    if key in _CLAIMS:
        return _CLAIMS[key]
    created = _make_parents(target.parent)
    lock = target.with_name(f".{target.name}{LOCK_SUFFIX}")
    try:
        fd = _lock(lock, target)
    except BaseException:
        _remove_empty(created)
        raise
    _CLAIMS[key] = held = Claim(target, lock, fd, created)
    return held


def is_claimed(target: Path) -> bool:
    """Whether this process holds ``target``."""
    return Path(os.path.abspath(target)) in _CLAIMS


def release(target: Path, published: bool = False) -> None:
    """Give up the claim on ``target``; unless it was published, remove the parents the claim made."""
    held = _CLAIMS.pop(Path(os.path.abspath(target)), None)
    if held is None:
        return
    if held.fd is not None:
        held.lock.unlink(missing_ok=True)  # while still locked: no one else locks this inode meanwhile
        _unlock(held.fd)
    if not published:
        _remove_empty(held.created)


def release_all() -> None:
    """Release every claim of this process (the command line calls it when a command ends)."""
    for key in reversed(list(_CLAIMS)):  # the first claim made the parent folders: released last
        release(key)


def _lock(path: Path, target: Path) -> int | None:
    try:
        import fcntl
    except ImportError:  # no flock on this platform: folders are still atomic, just not locked
        return None
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except FileNotFoundError:  # another command's failure removed the empty parent meanwhile
            path.parent.mkdir(parents=True, exist_ok=True)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise InputError(f"{target}: another defdip command (process {holder}) is writing this result "
                             "folder; wait for it to finish or choose another -o") from None
        try:
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = None
        if current == os.fstat(fd).st_ino:  # not unlinked by the previous holder meanwhile
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        os.close(fd)


def _unlock(fd: int) -> None:
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)  # also for worker processes that inherited the descriptor
    os.close(fd)


def _make_parents(parent: Path) -> list[Path]:
    """Create ``parent`` and its missing ancestors; return those created, outermost first."""
    missing = []
    while not parent.exists() and parent != parent.parent:
        missing.append(parent)
        parent = parent.parent
    created = []
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        created.append(folder)
    return created


def _remove_empty(folders: list[Path]) -> None:
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:  # not empty: something else was put there meanwhile
            return
