"""The project's error type: bad input is reported, never a traceback."""


class DefdipError(Exception):
    """A failure the command line reports in one line; ``exit_code`` is its status."""

    exit_code = 1


class InputError(DefdipError, ValueError):
    """Bad input from a user's file or command line (exit status 2).

    Messages name the file, the key and what is allowed.
    """

    exit_code = 2


class Unsupported(InputError):
    """A model uses something an engine does not implement; the message names it and what runs it."""


RESOURCES = {  # errno name -> what ran out, and what the user can do
    "ENOSPC": "no space left on the device; free some space or give -o a folder on another disk",
    "EDQUOT": "disk quota exceeded; free some space or give -o a folder on another disk",
    "EROFS": "the file system is read-only; give -o a folder you can write to",
    "EACCES": "permission denied; give -o a folder you can write to",
    "EMFILE": "too many open files; raise the limit (ulimit -n) or run fewer workers",
    "ENOMEM": "out of memory; run fewer runs or workers at once",
}


def resource_error(exc: BaseException) -> InputError | None:
    """The one-line error for a resource that ran out (full disk, no memory...), or ``None``.

    ``exc`` is an ``OSError`` whose ``errno`` is one of :data:`RESOURCES`, or a ``MemoryError``;
    anything else is not a resource error.
    """
    import errno

    if isinstance(exc, MemoryError):
        return InputError(RESOURCES["ENOMEM"])
    if not isinstance(exc, OSError) or exc.errno is None:
        return None
    name = errno.errorcode.get(exc.errno)
    if name not in RESOURCES:
        return None
    where = f"{exc.filename}: " if exc.filename else ""
    return InputError(f"{where}{RESOURCES[name]}")
